// Server reflection of the real daemon, asked as generic tools (buf curl, grpcurl, Postman)
// ask it: every service it lists, the standard health service among them, has a schema it
// can send. Spoken on gRPC's generic stub, as gRPC installs no reflection client.
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/unknown_field_set.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/api/api_daemon.h"
#include "tests/support/wire_fields.h"

namespace propbridge::testing {
namespace {

using namespace std::chrono_literals;
using google::protobuf::FileDescriptorProto;
using google::protobuf::UnknownFieldSet;

constexpr char kReflectionMethod[] =
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";

// ServerReflectionRequest and ServerReflectionResponse field numbers (reflection.proto).
constexpr int kFileContainingSymbol = 4;
constexpr int kListServices = 7;
constexpr int kFileDescriptorResponse = 4;
constexpr int kListServicesResponse = 6;
constexpr int kErrorResponse = 7;

// What the daemon answered to one reflection request: its files or services, or its error.
struct Answer {
  std::vector<FileDescriptorProto> files;
  std::vector<std::string> services;
  std::string error;  // "code N: message"
};

// Sends one request (the string field `field` set to `value`) on a reflection stream.
Answer Reflect(const std::string& address, int field, const std::string& value) {
  grpc::GenericStub stub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::CompletionQueue queue;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 30s);
  auto call = stub.PrepareCall(&context, kReflectionMethod, &queue);
  auto await = [&queue](int tag) {
    void* got = nullptr;
    bool ok = false;
    EXPECT_TRUE(queue.Next(&got, &ok));
    EXPECT_EQ(got, reinterpret_cast<void*>(tag));
    return ok;
  };
  call->StartCall(reinterpret_cast<void*>(1));
  EXPECT_TRUE(await(1));

  UnknownFieldSet request;
  request.AddLengthDelimited(field, value);
  std::string request_bytes;
  EXPECT_TRUE(request.SerializeToString(&request_bytes));
  grpc::Slice slice(request_bytes);
  call->Write(grpc::ByteBuffer(&slice, 1), reinterpret_cast<void*>(2));
  EXPECT_TRUE(await(2));
  call->WritesDone(reinterpret_cast<void*>(3));
  EXPECT_TRUE(await(3));

  Answer answer;
  grpc::ByteBuffer response;
  call->Read(&response, reinterpret_cast<void*>(4));
  if (await(4)) {
    std::vector<grpc::Slice> slices;
    EXPECT_TRUE(response.Dump(&slices).ok());
    std::string bytes;
    for (const grpc::Slice& s : slices)
      bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    for (const std::string& files : LengthDelimitedFields(bytes, kFileDescriptorResponse)) {
      for (const std::string& file : LengthDelimitedFields(files, 1)) {
        EXPECT_TRUE(answer.files.emplace_back().ParseFromString(file));
      }
    }
    for (const std::string& list : LengthDelimitedFields(bytes, kListServicesResponse)) {
      for (const std::string& service : LengthDelimitedFields(list, 1)) {
        for (const std::string& name : LengthDelimitedFields(service, 1))
          answer.services.push_back(name);
      }
    }
    for (const std::string& error : LengthDelimitedFields(bytes, kErrorResponse)) {
      UnknownFieldSet fields;
      EXPECT_TRUE(fields.ParseFromString(error));
      for (int i = 0; i < fields.field_count(); ++i) {
        const auto& f = fields.field(i);
        answer.error += f.type() == google::protobuf::UnknownField::TYPE_VARINT
                            ? "code " + std::to_string(f.varint()) + ": "
                            : f.length_delimited();
      }
    }
  } else {
    ADD_FAILURE() << "the reflection stream sent no answer";
  }
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  await(5);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return answer;
}

const FileDescriptorProto* FileNamed(const Answer& answer, const std::string& name) {
  for (const FileDescriptorProto& file : answer.files) {
    if (file.name() == name) return &file;
  }
  return nullptr;
}

class ApiReflection : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_ = ApiDaemon::Start(dir_, "");
    ASSERT_TRUE(daemon_);
  }

  TempDir dir_;
  std::unique_ptr<ApiDaemon> daemon_;
};

TEST_F(ApiReflection, ServesTheStandardHealthServicesSchema) {
  const Answer answer =
      Reflect(daemon_->process().address(), kFileContainingSymbol, "grpc.health.v1.Health");
  EXPECT_EQ(answer.error, "");
  const FileDescriptorProto* health = FileNamed(answer, "grpc/health/v1/health.proto");
  ASSERT_NE(health, nullptr) << "no grpc/health/v1/health.proto among " << answer.files.size()
                             << " files";
  EXPECT_EQ(health->package(), "grpc.health.v1");
  ASSERT_EQ(health->service_size(), 1);
  const auto& service = health->service(0);
  EXPECT_EQ(service.name(), "Health");
  ASSERT_EQ(service.method_size(), 2);
  EXPECT_EQ(service.method(0).name(), "Check");
  EXPECT_EQ(service.method(0).input_type(), ".grpc.health.v1.HealthCheckRequest");
  EXPECT_EQ(service.method(0).output_type(), ".grpc.health.v1.HealthCheckResponse");
  EXPECT_FALSE(service.method(0).server_streaming());
  EXPECT_EQ(service.method(1).name(), "Watch");
  EXPECT_TRUE(service.method(1).server_streaming());
  // The wire format the health service really speaks: status is field 1, SERVING is 1.
  ASSERT_EQ(health->message_type_size(), 2);
  const auto& response = health->message_type(1);
  EXPECT_EQ(response.name(), "HealthCheckResponse");
  ASSERT_EQ(response.field_size(), 1);
  EXPECT_EQ(response.field(0).number(), 1);
  ASSERT_EQ(response.enum_type_size(), 1);
  EXPECT_EQ(response.enum_type(0).value(1).name(), "SERVING");
  EXPECT_EQ(response.enum_type(0).value(1).number(), 1);
}

TEST_F(ApiReflection, EveryListedServiceHasASchema) {
  const Answer listed = Reflect(daemon_->process().address(), kListServices, "*");
  EXPECT_EQ(listed.error, "");
  EXPECT_NE(std::find(listed.services.begin(), listed.services.end(), "grpc.health.v1.Health"),
            listed.services.end());
  EXPECT_GE(listed.services.size(), 5u);  // three of propbridge.v1, health, reflection
  for (const std::string& service : listed.services) {
    const Answer answer = Reflect(daemon_->process().address(), kFileContainingSymbol, service);
    EXPECT_EQ(answer.error, "") << service;
    EXPECT_FALSE(answer.files.empty()) << service << " is listed, but has no schema";
  }
}

}  // namespace
}  // namespace propbridge::testing
