// The API of the real daemon over TLS, mutual TLS and plaintext loopback, with tokens and
// client certificates made at test time: every method the daemon serves, as its reflection
// lists them, is called with no credential, a wrong token and each role, and must answer as
// the role table (daemon/api/access.cc) says, so that a method without a role fails here.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/descriptor_database.h>
#include <google/protobuf/unknown_field_set.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "daemon/api/access.h"
#include "daemon/api/grpc_server.h"
#include "daemon/auth/token.h"
#include "daemon/store/store.h"
#include "propbridge/v1/admin.pb.h"
#include "propbridge/v1/customer.grpc.pb.h"
#include "propbridge/v1/timeline.grpc.pb.h"
#include "tests/auth/test_certificates.h"
#include "tests/support/daemon_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_store.h"
#include "tests/support/wait_until.h"
#include "tests/support/wire_fields.h"

namespace propbridge::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using auth::Role;
using google::protobuf::UnknownFieldSet;

constexpr char kReflection[] = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";

struct Outcome {
  grpc::Status status;
  std::vector<std::string> messages;
};

// Calls `method` as a stream of one request message (which serves unary and streaming
// methods alike on the wire) and reads every answer until the call ends or `timeout` passes.
Outcome Call(grpc::Channel& channel, const std::string& method, const std::string& token,
             const std::string& request = "", std::chrono::milliseconds timeout = 1000ms) {
  grpc::GenericStub stub(std::shared_ptr<grpc::Channel>(&channel, [](grpc::Channel*) {}));
  grpc::CompletionQueue queue;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
  auto call = stub.PrepareCall(&context, method, &queue);
  auto step = [&queue]() {
    void* tag = nullptr;
    bool ok = false;
    EXPECT_TRUE(queue.Next(&tag, &ok));
    return ok;
  };
  Outcome outcome;
  call->StartCall(nullptr);
  if (step()) {
    grpc::Slice slice(request);
    call->Write(grpc::ByteBuffer(&slice, 1), nullptr);
    if (step()) {
      call->WritesDone(nullptr);
      step();
    }
    grpc::ByteBuffer answer;
    for (call->Read(&answer, nullptr); step(); call->Read(&answer, nullptr)) {
      std::vector<grpc::Slice> slices;
      EXPECT_TRUE(answer.Dump(&slices).ok());
      std::string& bytes = outcome.messages.emplace_back();
      for (const grpc::Slice& s : slices) {
        bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
      }
    }
  }
  call->Finish(&outcome.status, nullptr);
  step();
  queue.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (queue.Next(&tag, &ok)) {
  }
  return outcome;
}

// A ServerReflectionRequest with the string field `field` set.
std::string ReflectionRequest(int field, const std::string& value) {
  UnknownFieldSet request;
  request.AddLengthDelimited(field, value);
  std::string bytes;
  EXPECT_TRUE(request.SerializeToString(&bytes));
  return bytes;
}

// Every method the daemon serves, "/<service>/<method>", from the services its reflection
// lists and the schemas it sends for them.
std::vector<std::string> ServedMethods(grpc::Channel& channel, const std::string& token) {
  constexpr int kListServices = 7, kListServicesResponse = 6;
  constexpr int kFileContainingSymbol = 4, kFileDescriptorResponse = 4;
  Outcome listed = Call(channel, kReflection, token, ReflectionRequest(kListServices, "*"), 10s);
  EXPECT_TRUE(listed.status.ok()) << listed.status.error_message();
  std::vector<std::string> services;
  for (const std::string& message : listed.messages) {
    for (const std::string& list : LengthDelimitedFields(message, kListServicesResponse)) {
      for (const std::string& service : LengthDelimitedFields(list, 1)) {
        for (const std::string& name : LengthDelimitedFields(service, 1)) services.push_back(name);
      }
    }
  }
  google::protobuf::SimpleDescriptorDatabase schemas;
  std::set<std::string> added;
  for (const std::string& service : services) {
    Outcome files =
        Call(channel, kReflection, token, ReflectionRequest(kFileContainingSymbol, service), 10s);
    for (const std::string& message : files.messages) {
      for (const std::string& response : LengthDelimitedFields(message, kFileDescriptorResponse)) {
        for (const std::string& bytes : LengthDelimitedFields(response, 1)) {
          google::protobuf::FileDescriptorProto file;
          EXPECT_TRUE(file.ParseFromString(bytes));
          if (added.insert(file.name()).second) schemas.Add(file);
        }
      }
    }
  }
  google::protobuf::DescriptorPool pool(&schemas);
  std::vector<std::string> methods;
  for (const std::string& service : services) {
    const google::protobuf::ServiceDescriptor* descriptor = pool.FindServiceByName(service);
    EXPECT_NE(descriptor, nullptr) << "no schema for " << service;
    if (descriptor == nullptr) continue;
    for (int i = 0; i < descriptor->method_count(); ++i) {
      methods.push_back("/" + service + "/" + descriptor->method(i)->name());
    }
  }
  return methods;
}

// Whether the daemon let the call through to its handler, which answers an empty request as
// it may (INVALID_ARGUMENT, NOT_FOUND, ...; a watch runs until the deadline).
bool Reached(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::UNIMPLEMENTED:
      return false;
    default:
      return true;
  }
}

std::string Describe(const grpc::Status& status) {
  return "code " + std::to_string(status.error_code()) + ": " + status.error_message();
}

std::shared_ptr<grpc::Channel> TlsChannel(const std::string& address,
                                          const TestCertificates& certificates,
                                          const KeyPair* client = nullptr) {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = ReadText(certificates.ca);
  if (client != nullptr) {
    options.pem_cert_chain = ReadText(client->cert);
    options.pem_private_key = ReadText(client->key);
  }
  // A connection of its own: a channel must see the certificate served now, not share a
  // connection that another channel made before a renewal.
  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, grpc::SslCredentials(options), arguments);
}

std::shared_ptr<grpc::Channel> PlainChannel(const std::string& address) {
  return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
}

// An event from the billing source, named by `identifiers`.
store::Event BillingEvent(const std::string& id, std::vector<identity::Identifier> identifiers) {
  store::Event event;
  event.source = "billing";
  event.source_event_id = id;
  event.identifiers = std::move(identifiers);
  event.kind = "billing.charge.posted";
  event.step = sdk::Step::kUnderstand;
  event.occurred_at = event.ingested_at = store::MicrosNow();
  return event;
}

// Stores `events` in the store a daemon will open in `data_dir`, before it starts.
void SeedStore(const std::filesystem::path& data_dir, std::vector<store::Event> events) {
  std::filesystem::create_directories(data_dir);
  auto store = OpenTestStore(data_dir / "propbridge.db");
  ASSERT_TRUE(store);
  store::Batch batch;
  batch.source = "billing";
  batch.events = std::move(events);
  store::BatchOutcome outcome = store->Write({&batch, 1})[0];
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.message();
}

// A [api.auth.tokens.<name>] table for a new token, which is written to `dir`/<name>.
std::string TokenTable(const std::filesystem::path& dir, const std::string& name, Role role,
                       bool personal_data = true) {
  std::string token = *auth::NewToken();
  WriteFile(dir / name, token + "\n");
  return "[api.auth.tokens." + name + "]\nrole = \"" + std::string(auth::RoleName(role)) +
         "\"\nsha256 = \"" + auth::ToHex(auth::HashToken(token)) + "\"\n" +
         (personal_data ? "" : "personal_data = false\n");
}

// A daemon with a token for each role, serving TLS (GetParam()) or plaintext on loopback.
class RoleTable : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    certificates_ = TestCertificates::Make(dir_.path());
    std::string config = "listen = \"127.0.0.1:0\"\ndata_dir = \"data\"\n";
    if (GetParam()) {
      config += "[api.tls]\ncert_file = \"server.crt\"\nkey_file = \"server.key\"\n";
    }
    for (Role role : {Role::kReader, Role::kOperator, Role::kAdmin}) {
      std::string token = *auth::NewToken();
      tokens_[role] = token;
      config += "[api.auth.tokens." + std::string(auth::RoleName(role)) + "-app]\nrole = \"" +
                std::string(auth::RoleName(role)) + "\"\nsha256 = \"" +
                auth::ToHex(auth::HashToken(token)) + "\"\n";
    }
    std::string error;
    daemon_ = DaemonProcess::Start(dir_.path(), config, dir_ / "data", error);
    ASSERT_TRUE(daemon_) << error;
    channel_ = GetParam() ? TlsChannel(daemon_->address(), certificates_)
                          : PlainChannel(daemon_->address());
  }

  TempDir dir_;
  TestCertificates certificates_;
  std::map<Role, std::string> tokens_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_P(RoleTable, EveryMethodAnswersEachCallerAsTheTableSays) {
  std::vector<std::string> methods = ServedMethods(*channel_, tokens_[Role::kAdmin]);
  ASSERT_GE(methods.size(), api::MethodTable().size());
  for (const std::string& method : methods) {
    SCOPED_TRACE(method);
    const api::MethodAccess* access = api::FindMethod(method);
    ASSERT_NE(access, nullptr) << method << " is served but has no role in daemon/api/access.cc";
    for (const std::string& token : {std::string(), std::string("not-a-token")}) {
      Outcome outcome = Call(*channel_, method, token);
      if (access->role) {
        EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
            << "token '" << token << "': " << Describe(outcome.status);
      } else {
        EXPECT_TRUE(Reached(outcome.status)) << Describe(outcome.status);
      }
    }
    for (const auto& [role, token] : tokens_) {
      Outcome outcome = Call(*channel_, method, token);
      if (!access->role || role >= *access->role) {
        EXPECT_TRUE(Reached(outcome.status))
            << auth::RoleName(role) << ": " << Describe(outcome.status);
      } else {
        EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
            << auth::RoleName(role) << ": " << Describe(outcome.status);
      }
    }
  }
  std::string log = daemon_->Log();
  for (const auto& [role, token] : tokens_) EXPECT_EQ(log.find(token), std::string::npos);
}

TEST_P(RoleTable, RefusalsAreLoggedWithWhyButNeverTheToken) {
  constexpr char kLink[] = "/propbridge.v1.AdminService/LinkCustomers";
  EXPECT_EQ(Call(*channel_, kLink, "not-a-token").status.error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Call(*channel_, kLink, tokens_[Role::kOperator]).status.error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  std::string log = daemon_->Log();
  EXPECT_NE(log.find("refused /propbridge.v1.AdminService/LinkCustomers: the bearer token is not "
                     "one this daemon knows"),
            std::string::npos);
  EXPECT_NE(log.find("denied: /propbridge.v1.AdminService/LinkCustomers needs the admin role; "
                     "token operator-app is operator"),
            std::string::npos);
  for (const auto& [role, token] : tokens_) EXPECT_EQ(log.find(token), std::string::npos);
}

TEST_P(RoleTable, HandlersKnowTheCaller) {
  v1::RestartPluginRequest request;
  request.set_name("billing");
  Outcome outcome = Call(*channel_, "/propbridge.v1.AdminService/RestartPlugin",
                         tokens_[Role::kOperator], request.SerializeAsString());
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::NOT_FOUND) << Describe(outcome.status);
  EXPECT_NE(daemon_->Log().find("AdminService.RestartPlugin asked by token operator-app: "
                                "NOT_FOUND: no plugin instance is named 'billing'"),
            std::string::npos)
      << daemon_->Log();
}

// A client that sends bad credentials in a loop cannot fill the journal.
TEST_P(RoleTable, RefusalsAreLoggedAtMostTwentyAMinute) {
  constexpr int kCalls = 60;
  for (int i = 0; i < kCalls; ++i) {
    EXPECT_EQ(Call(*channel_, "/propbridge.v1.TimelineService/GetTimeline", "not-a-token")
                  .status.error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  std::string log = daemon_->Log();
  int lines = 0;
  for (std::size_t at = log.find("refused /"); at != std::string::npos;
       at = log.find("refused /", at + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, 20) << log;
  EXPECT_NE(log.find("more than 20 calls refused within a minute: the rest of this minute's are "
                     "counted, not logged"),
            std::string::npos)
      << log;
}

INSTANTIATE_TEST_SUITE_P(Transports, RoleTable, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "Tls" : "PlaintextLoopback"; });

// A daemon that asks every client for a certificate signed by the test CA, and maps two of
// them to callers; an admin token besides.
class MutualTls : public ::testing::Test {
 protected:
  void SetUp() override {
    certificates_ = TestCertificates::Make(dir_.path());
    admin_token_ = *auth::NewToken();
    std::string error;
    daemon_ = DaemonProcess::Start(
        dir_.path(),
        "listen = \"127.0.0.1:0\"\ndata_dir = \"data\"\n"
        "[api.tls]\ncert_file = \"server.crt\"\nkey_file = \"server.key\"\n"
        "client_ca_file = \"ca.crt\"\n"
        "[api.auth.certificates.desk]\nsubject = \"CN=frontdesk\"\nrole = \"reader\"\n"
        "[api.auth.certificates.console]\nsubject = \"DNS:ops.example.com\"\n"
        "role = \"operator\"\n"
        "[api.auth.tokens.admin]\nrole = \"admin\"\nsha256 = \"" +
            auth::ToHex(auth::HashToken(admin_token_)) + "\"\n",
        dir_ / "data", error);
    ASSERT_TRUE(daemon_) << error;
  }

  grpc::StatusCode CodeOf(const KeyPair* client, const std::string& method,
                          const std::string& token = "") {
    auto channel = TlsChannel(daemon_->address(), certificates_, client);
    return Call(*channel, method, token).status.error_code();
  }

  TempDir dir_;
  TestCertificates certificates_;
  std::string admin_token_;
  std::unique_ptr<DaemonProcess> daemon_;
};

constexpr char kGetTimeline[] = "/propbridge.v1.TimelineService/GetTimeline";
constexpr char kListPlugins[] = "/propbridge.v1.AdminService/ListPlugins";
constexpr char kLinkCustomers[] = "/propbridge.v1.AdminService/LinkCustomers";
constexpr char kHealthCheck[] = "/grpc.health.v1.Health/Check";

TEST_F(MutualTls, ClientCertificatesNameTheirCallers) {
  // An empty GetTimeline request reaches the handler, which wants a customer.
  EXPECT_EQ(CodeOf(&certificates_.frontdesk, kGetTimeline), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(CodeOf(&certificates_.frontdesk, kListPlugins), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(CodeOf(&certificates_.operations, kListPlugins), grpc::StatusCode::OK);
  EXPECT_EQ(CodeOf(&certificates_.operations, kLinkCustomers), grpc::StatusCode::PERMISSION_DENIED);
  // A token, when sent, names the caller whatever the certificate.
  EXPECT_EQ(CodeOf(&certificates_.frontdesk, kLinkCustomers, admin_token_),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(CodeOf(&certificates_.operations, kListPlugins, "not-a-token"),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(daemon_->Log().find("denied: /propbridge.v1.AdminService/ListPlugins needs the "
                                "operator role; certificate desk is reader"),
            std::string::npos);
}

TEST_F(MutualTls, RefusesAForeignExpiredOrMissingCertificate) {
  for (const KeyPair* client : std::initializer_list<const KeyPair*>{
           &certificates_.foreign, &certificates_.expired, nullptr}) {
    SCOPED_TRACE(client == nullptr ? "no certificate" : client->cert.filename().string());
    EXPECT_EQ(CodeOf(client, kHealthCheck), grpc::StatusCode::UNAVAILABLE);
    EXPECT_EQ(CodeOf(client, kGetTimeline, admin_token_), grpc::StatusCode::UNAVAILABLE);
  }
  EXPECT_EQ(CodeOf(&certificates_.frontdesk, kHealthCheck), grpc::StatusCode::OK);
}

TEST_F(MutualTls, PlaintextAgainstTheTlsPortFails) {
  auto channel = PlainChannel(daemon_->address());
  EXPECT_EQ(Call(*channel, kHealthCheck, "").status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Call(*channel, kGetTimeline, admin_token_).status.error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

// The operator renews the certificate where [api.tls] names it, as certbot does (each file
// replaced whole), and reloads: the port serves the new one from the next connection on,
// without a restart. A renewal half done (a certificate beside the key of the old one) is
// refused by the reload and never served: the last good pair stays.
TEST(TlsRenewal, ARenewedCertificateIsServedWithoutARestartAndAHalfDoneOneIsNot) {
  TempDir dir;
  const TestCertificates first = TestCertificates::Make(dir.path());
  fs::create_directory(dir / "renewal");
  const TestCertificates renewed = TestCertificates::Make(dir / "renewal");  // another CA
  std::string error;
  auto daemon = DaemonProcess::Start(dir.path(),
                                     "listen = \"127.0.0.1:0\"\ndata_dir = \"data\"\n"
                                     "[api.tls]\ncert_file = \"server.crt\"\n"
                                     "key_file = \"server.key\"\n",
                                     dir / "data", error);
  ASSERT_TRUE(daemon) << error;
  auto trusted_by = [&](const TestCertificates& client_trusts) {
    return Call(*TlsChannel(daemon->address(), client_trusts), kHealthCheck, "").status.ok();
  };
  auto replace = [&](const fs::path& file, const fs::path& with) {
    fs::copy_file(with, dir / "incoming", fs::copy_options::overwrite_existing);
    fs::rename(dir / "incoming", file);
  };
  auto reload = [&](const std::string& logged) {
    ASSERT_EQ(kill(daemon->pid(), SIGHUP), 0);
    EXPECT_TRUE(WaitUntil([&] { return daemon->Log().find(logged) != std::string::npos; }, 10s))
        << daemon->Log();
  };
  ASSERT_TRUE(trusted_by(first));
  EXPECT_FALSE(trusted_by(renewed));

  replace(dir / "server.crt", renewed.server.cert);
  reload("does not belong to the certificate");
  EXPECT_NE(daemon->Log().find("reload rejected"), std::string::npos) << daemon->Log();
  // Longer than the port takes to read the files again: what it read, it did not serve.
  std::this_thread::sleep_for(api::kTlsFilesRefresh * 2);
  EXPECT_TRUE(trusted_by(first)) << daemon->Log();
  EXPECT_FALSE(trusted_by(renewed));

  replace(dir / "server.key", renewed.server.key);
  reload("the gRPC port serves them from its next handshake");
  EXPECT_TRUE(WaitUntil([&] { return trusted_by(renewed); }, 10s)) << daemon->Log();
  EXPECT_FALSE(trusted_by(first));
}

TEST_F(MutualTls, SpeaksTls12AndNothingOlder) {
  std::string port = daemon_->address().substr(daemon_->address().rfind(':') + 1);
  auto handshake = [&](const std::string& version) {
    std::string command =
        "openssl s_client -connect 127.0.0.1:" + port + " " + version +
        " -cipher DEFAULT@SECLEVEL=0 -cert '" + certificates_.frontdesk.cert.string() + "' -key '" +
        certificates_.frontdesk.key.string() + "' -alpn h2 < /dev/null > /dev/null 2>&1";
    return std::system(command.c_str()) == 0;
  };
  EXPECT_TRUE(handshake("-tls1_2"));
  EXPECT_FALSE(handshake("-tls1_1"));
  EXPECT_FALSE(handshake("-tls1"));
}

// The daemon refuses, or warns about, a port that other hosts reach unprotected.
class Exposure : public ::testing::Test {
 protected:
  TempDir dir_;
};

TEST_F(Exposure, OtherHostsWithoutTlsAndAuthStopTheStart) {
  auto exit = DaemonProcess::RunToExit(dir_.path(), "listen = \"0.0.0.0:0\"\ndata_dir = \"data\"\n",
                                       std::chrono::seconds(20));
  EXPECT_EQ(exit.code, 1) << exit.log;
  EXPECT_NE(exit.log.find("listen: '0.0.0.0:0' reaches other hosts, but the API has neither TLS "
                          "nor auth"),
            std::string::npos)
      << exit.log;
}

TEST_F(Exposure, AllowInsecureRemoteServesWithAWarning) {
  std::string error;
  auto daemon = DaemonProcess::Start(
      dir_.path(),
      "listen = \"0.0.0.0:0\"\ndata_dir = \"data\"\n[api]\nallow_insecure_remote = true\n",
      dir_ / "data", error);
  ASSERT_TRUE(daemon) << error;
  EXPECT_NE(daemon->Log().find("allow_insecure_remote: 0.0.0.0:0 serves other hosts in clear "
                               "text to anyone, as admin"),
            std::string::npos)
      << daemon->Log();
}

TEST_F(Exposure, AKeyThatIsNotTheCertificatesStopsTheStartNamingIt) {
  TestCertificates certificates = TestCertificates::Make(dir_.path());
  auto exit =
      DaemonProcess::RunToExit(dir_.path(),
                               "listen = \"127.0.0.1:0\"\ndata_dir = \"data\"\n"
                               "[api.tls]\ncert_file = \"server.crt\"\nkey_file = \"other.key\"\n",
                               std::chrono::seconds(20));
  EXPECT_EQ(exit.code, 1) << exit.log;
  EXPECT_NE(
      exit.log.find("api.tls: key_file " + certificates.other_key.string() +
                    " does not belong to the certificate in " + certificates.server.cert.string()),
      std::string::npos)
      << exit.log;
}

// propbridgectl with TLS, a client certificate and a token it made itself.
class SecureCtl : public ::testing::Test {
 protected:
  struct Run {
    int code = -1;
    std::string out;
    std::string err;
  };

  // Runs propbridgectl with `args` (shell words) after `environment` (NAME=value words).
  Run Ctl(const std::string& args, const std::string& environment = "") {
    std::filesystem::path err = dir_ / "ctl.err";
    std::string command =
        environment + " timeout 60 " PROPBRIDGECTL_PATH " " + args + " 2>" + err.string();
    FILE* out = popen(command.c_str(), "r");
    Run run;
    char buffer[4096];
    for (size_t n; (n = fread(buffer, 1, sizeof buffer, out)) > 0;) run.out.append(buffer, n);
    int status = pclose(out);
    run.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    run.err = ReadText(err);
    return run;
  }

  TempDir dir_;
};

TEST_F(SecureCtl, CallsWithTheTokenItMadeOverTls) {
  TestCertificates certificates = TestCertificates::Make(dir_.path());
  Run made = Ctl("auth hash-token");
  ASSERT_EQ(made.code, 0) << made.err;
  std::string token, sha256;
  std::istringstream lines(made.out);
  for (std::string label, value; lines >> label >> value;) {
    if (label == "token:") token = value;
    if (label == "sha256:") sha256 = value;
  }
  ASSERT_EQ(token.size(), 43u) << made.out;
  EXPECT_EQ(sha256, auth::ToHex(auth::HashToken(token)));
  EXPECT_NE(made.err.find("[api.auth.tokens.<name>]"), std::string::npos);
  WriteFile(dir_ / "token", token + "\n");

  std::string error;
  auto daemon =
      DaemonProcess::Start(dir_.path(),
                           "listen = \"127.0.0.1:0\"\ndata_dir = \"data\"\n"
                           "[api.tls]\ncert_file = \"server.crt\"\nkey_file = \"server.key\"\n"
                           "client_ca_file = \"ca.crt\"\n"
                           "[api.auth.tokens.ops]\nrole = \"operator\"\nsha256 = \"" +
                               sha256 + "\"\n",
                           dir_ / "data", error);
  ASSERT_TRUE(daemon) << error;
  const std::string tls =
      "--address " + daemon->address() + " --tls-ca " + certificates.ca.string() + " --tls-cert " +
      certificates.frontdesk.cert.string() + " --tls-key " + certificates.frontdesk.key.string();

  Run plugins = Ctl(tls + " --token-file " + (dir_ / "token").string() + " plugins --json");
  EXPECT_EQ(plugins.code, 0) << plugins.err;
  EXPECT_NE(plugins.out.find("\"plugins\""), std::string::npos) << plugins.out;
  EXPECT_EQ(Ctl(tls + " plugins", "PROPBRIDGE_TOKEN_FILE=" + (dir_ / "token").string()).code, 0);

  Run anonymous = Ctl(tls + " plugins");
  EXPECT_EQ(anonymous.code, 1);
  EXPECT_NE(anonymous.err.find("does not know who is calling"), std::string::npos) << anonymous.err;
  Run operator_links = Ctl(tls + " --token-file " + (dir_ / "token").string() +
                           " customers link customer:1 customer:2 --actor a --reason r");
  EXPECT_EQ(operator_links.code, 1);
  EXPECT_NE(operator_links.err.find("PERMISSION_DENIED"), std::string::npos) << operator_links.err;
  Run plaintext = Ctl("--address " + daemon->address() + " --token-file " +
                      (dir_ / "token").string() + " plugins");
  EXPECT_EQ(plaintext.code, 3) << plaintext.err;
  EXPECT_NE(plaintext.err.find("--tls-ca"), std::string::npos) << plaintext.err;
  Run no_key = Ctl("--tls-cert " + certificates.frontdesk.cert.string() + " plugins");
  EXPECT_EQ(no_key.code, 2);
  EXPECT_NE(no_key.err.find("--tls-cert and --tls-key go together"), std::string::npos);
}

// Every change is recorded with the identity that proved itself, beside the actor the request
// names, and only an admin reads the record.
TEST_F(SecureCtl, EveryChangeIsAuditedWithTheIdentityThatAskedIt) {
  SeedStore(dir_ / "data",
            {BillingEvent("A-1", {{"account", "A-1"}}), BillingEvent("B-1", {{"account", "B-1"}})});
  const std::string config = "listen = \"127.0.0.1:0\"\ndata_dir = \"data\"\n" +
                             TokenTable(dir_.path(), "ops-admin", Role::kAdmin) +
                             TokenTable(dir_.path(), "console", Role::kOperator);
  std::string error;
  auto daemon = DaemonProcess::Start(dir_.path(), config, dir_ / "data", error);
  ASSERT_TRUE(daemon) << error;
  const std::string admin =
      "--address " + daemon->address() + " --token-file " + (dir_ / "ops-admin").string();
  const std::string console =
      "--address " + daemon->address() + " --token-file " + (dir_ / "console").string();

  Run link = Ctl(admin +
                 " customers link account:A-1 account:B-1 --actor ops:li.wei"
                 " --reason 'one household' --json");
  ASSERT_EQ(link.code, 0) << link.err;
  Run split = Ctl(admin + " customers split 1 --actor ops:li.wei --reason 'two households'");
  ASSERT_EQ(split.code, 0) << split.err;
  EXPECT_EQ(Ctl(admin + " customers split 1 --actor ops:li.wei --reason again").code, 1);
  EXPECT_EQ(Ctl(console + " plugins stop billing").code, 1);  // no such instance

  Run audit = Ctl(admin + " audit --json");
  ASSERT_EQ(audit.code, 0) << audit.err;
  auto at = [&audit](const std::string& text) { return audit.out.find(text); };
  const auto restart = at(R"("caller":"token console","actor":"",)"
                          R"("method":"AdminService.StopPlugin","arguments":{"name":"billing"},)"
                          R"("result":"NOT_FOUND: no plugin instance is named 'billing'"})");
  const auto refused_split = at(R"("arguments":{"merge_id":"1","reason":"again"},)"
                                R"("result":"FAILED_PRECONDITION: merge 1 )");
  const auto done_split = at(R"("caller":"token ops-admin","actor":"ops:li.wei",)"
                             R"("method":"AdminService.SplitCustomer","arguments":{"merge_id":"1",)"
                             R"("reason":"two households"},"result":"OK: merge 1"})");
  const auto done_link = at(R"("caller":"token ops-admin","actor":"ops:li.wei",)"
                            R"("method":"AdminService.LinkCustomers","arguments":{"customer":)"
                            R"("account:A-1","other_customer":"account:B-1","reason":)"
                            R"("one household"},"result":"OK: merge 1"})");
  for (auto found : {restart, refused_split, done_split, done_link}) {
    EXPECT_NE(found, std::string::npos) << audit.out;
  }
  // Newest first.
  EXPECT_LT(restart, refused_split);
  EXPECT_LT(refused_split, done_split);
  EXPECT_LT(done_split, done_link);

  Run table = Ctl(admin + " audit --page-size 1");
  EXPECT_EQ(table.code, 0) << table.err;
  EXPECT_NE(table.out.find("token console"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("1 change (first page only"), std::string::npos) << table.out;
  Run not_admin = Ctl(console + " audit");
  EXPECT_EQ(not_admin.code, 1);
  EXPECT_NE(not_admin.err.find("PERMISSION_DENIED"), std::string::npos) << not_admin.err;
}

// A caller denied personal data reads names and phone numbers masked in every method; one with
// it reads them as stored.
class PersonalData : public ::testing::Test {
 protected:
  void SetUp() override {
    store::Event event = BillingEvent("B-1", {{"account", "A-1"}, {"phone", "13800138000"}});
    event.summary = "Reminder sent to 13800138000";
    event.attributes = {{"customer_name", "张三丰"}, {"amount_fen", "128000"}};
    SeedStore(dir_ / "data", {std::move(event)});
    std::string error;
    daemon_ = DaemonProcess::Start(dir_.path(),
                                   "listen = \"127.0.0.1:0\"\ndata_dir = \"data\"\n" +
                                       TokenTable(dir_.path(), "crm", Role::kReader, false) +
                                       TokenTable(dir_.path(), "desk", Role::kReader),
                                   dir_ / "data", error);
    ASSERT_TRUE(daemon_) << error;
    channel_ = PlainChannel(daemon_->address());
  }

  // A context that calls as the token in `dir_`/<name>.
  std::unique_ptr<grpc::ClientContext> As(const std::string& name) {
    auto context = std::make_unique<grpc::ClientContext>();
    std::string token = ReadText(dir_ / name);
    token.pop_back();  // its newline
    context->AddMetadata("authorization", "Bearer " + token);
    context->set_deadline(std::chrono::system_clock::now() + 10s);
    return context;
  }

  v1::Customer Customer(const std::string& caller) {
    v1::GetCustomerRequest request;
    request.set_customer("phone:13800138000");
    v1::GetCustomerResponse response;
    grpc::Status status =
        v1::CustomerService::NewStub(channel_)->GetCustomer(As(caller).get(), request, &response);
    EXPECT_TRUE(status.ok()) << Describe(status);
    return response.customer();
  }

  v1::TimelineEvent Timeline(const std::string& caller) {
    v1::GetTimelineRequest request;
    request.set_customer("phone:13800138000");
    v1::GetTimelineResponse response;
    grpc::Status status =
        v1::TimelineService::NewStub(channel_)->GetTimeline(As(caller).get(), request, &response);
    EXPECT_TRUE(status.ok()) << Describe(status);
    EXPECT_EQ(response.events_size(), 1);
    return response.events_size() > 0 ? response.events(0) : v1::TimelineEvent();
  }

  // The first event a watch from the start sends.
  v1::TimelineEvent Watched(const std::string& caller) {
    v1::WatchTimelineRequest request;
    request.set_customer("phone:13800138000");
    request.set_after_id(0);
    auto context = As(caller);
    auto reader = v1::TimelineService::NewStub(channel_)->WatchTimeline(context.get(), request);
    v1::WatchTimelineResponse response;
    EXPECT_TRUE(reader->Read(&response));
    context->TryCancel();
    reader->Finish();
    return response.event();
  }

  TempDir dir_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(PersonalData, IsMaskedInEveryMethodForACallerWithoutIt) {
  auto phone_of = [](const v1::Customer& customer) {
    for (const auto& id : customer.identifiers()) {
      if (id.type() == "phone") return id.value();
    }
    return std::string("none");
  };
  EXPECT_EQ(phone_of(Customer("crm")), "138****8000");
  EXPECT_EQ(phone_of(Customer("desk")), "13800138000");

  for (const v1::TimelineEvent& event : {Timeline("crm"), Watched("crm")}) {
    EXPECT_EQ(event.summary(), "Reminder sent to 138****8000");
    EXPECT_EQ(event.attributes().at("customer_name"), "张**");
    EXPECT_EQ(event.attributes().at("amount_fen"), "128000");
    EXPECT_EQ(event.source_event_id(), "B-1");
  }
  for (const v1::TimelineEvent& event : {Timeline("desk"), Watched("desk")}) {
    EXPECT_EQ(event.summary(), "Reminder sent to 13800138000");
    EXPECT_EQ(event.attributes().at("customer_name"), "张三丰");
  }
}

// The share of the watches each client may hold is each caller's once callers are known: two
// callers on one host have one share each.
TEST(FairShare, EachCallerHasItsOwnShareOfTheWatches) {
  TempDir dir;
  SeedStore(dir / "data", {BillingEvent("B-1", {{"account", "A-1"}})});
  std::string error;
  auto daemon = DaemonProcess::Start(dir.path(),
                                     "listen = \"127.0.0.1:0\"\ndata_dir = \"data\"\n"
                                     "[api]\nmax_watches = 8\nmax_watches_per_client = 2\n" +
                                         TokenTable(dir.path(), "crm", Role::kReader) +
                                         TokenTable(dir.path(), "desk", Role::kReader),
                                     dir / "data", error);
  ASSERT_TRUE(daemon) << error;
  auto stub = v1::TimelineService::NewStub(PlainChannel(daemon->address()));
  struct Watch {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<v1::WatchTimelineResponse>> reader;
    bool admitted = false;  // it delivered the stored event
  };
  std::vector<std::unique_ptr<Watch>> watches;
  // A watch of every customer from the first event, as `caller`: admitted when it delivers it.
  auto watch_as = [&](const std::string& caller) {
    auto& watch = watches.emplace_back(std::make_unique<Watch>());
    std::string token = ReadText(dir / caller);
    token.pop_back();
    watch->context.AddMetadata("authorization", "Bearer " + token);
    watch->context.set_deadline(std::chrono::system_clock::now() + 30s);
    v1::WatchTimelineRequest request;
    request.set_after_id(0);
    watch->reader = stub->WatchTimeline(&watch->context, request);
    v1::WatchTimelineResponse response;
    watch->admitted = watch->reader->Read(&response);
    return watch.get();
  };
  EXPECT_TRUE(watch_as("crm")->admitted);
  EXPECT_TRUE(watch_as("crm")->admitted);
  Watch* third = watch_as("crm");
  EXPECT_FALSE(third->admitted);
  grpc::Status refused = third->reader->Finish();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << Describe(refused);
  EXPECT_NE(refused.error_message().find("this client (token crm) has 2 watches open"),
            std::string::npos)
      << refused.error_message();
  EXPECT_TRUE(watch_as("desk")->admitted) << "another caller on the same host was refused";
  for (auto& watch : watches) {
    if (watch.get() == third) continue;
    watch->context.TryCancel();
    watch->reader->Finish();
  }
}

}  // namespace
}  // namespace propbridge::testing
