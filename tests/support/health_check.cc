#include "tests/support/health_check.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <future>

namespace propbridge::testing {

std::optional<bool> CheckServing(const std::string& address) {
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  // An empty HealthCheckRequest asks about the whole server.
  grpc::Slice no_bytes(std::string{});
  grpc::ByteBuffer empty(&no_bytes, 1), reply;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", {}, &empty, &reply,
                 [&](grpc::Status s) { done.set_value(s); });
  if (!done.get_future().get().ok()) return std::nullopt;
  grpc::Slice slice;
  if (!reply.TrySingleSlice(&slice).ok()) return std::nullopt;
  // HealthCheckResponse{status: SERVING} is field 1, varint 1.
  return std::string(reinterpret_cast<const char*>(slice.begin()), slice.size()) ==
         std::string("\x08\x01", 2);
}

}  // namespace propbridge::testing
