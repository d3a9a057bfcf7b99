#include "daemon/api/grpc_server.h"

#include <google/protobuf/generated_message_reflection.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "grpc/health/v1/health.pb.h"

namespace propbridge::api {

Result<std::unique_ptr<GrpcServer>> GrpcServer::Start(const std::string& listen,
                                                      store::Store& store, feed::ChangeFeed& feed,
                                                      const PageTokens& tokens,
                                                      PluginControl* plugins,
                                                      TimelineServiceOptions options,
                                                      outreach::Rules outreach, ScanLimits scans) {
  grpc::EnableDefaultHealthCheckService(true);
  // Reflection serves schemas from protobuf's generated pool; gRPC's health service brings
  // none, so the daemon links in its own copy of the standard health.proto.
  google::protobuf::LinkMessageReflection<grpc::health::v1::HealthCheckRequest>();
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  std::unique_ptr<GrpcServer> server(
      new GrpcServer(store, feed, tokens, plugins, options, outreach, scans));
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &server->port_);
  builder.RegisterService(&server->timeline_);
  builder.RegisterService(&server->customers_);
  builder.RegisterService(&server->admin_);
  builder.SetMaxReceiveMessageSize(1 << 20);
  server->server_ = builder.BuildAndStart();
  if (!server->server_ || server->port_ == 0) {
    return Unavailable("cannot listen on " + listen +
                       ": the address is in use or not an address of this machine");
  }
  return server;
}

GrpcServer::~GrpcServer() {
  if (server_) Shutdown(std::chrono::system_clock::now());
}

void GrpcServer::Shutdown(std::chrono::system_clock::time_point deadline) {
  if (!server_) return;
  // Health checks answer NOT_SERVING from here on, so balancers move away first.
  if (auto* health = server_->GetHealthCheckService()) health->Shutdown();
  server_->Shutdown(deadline);
  server_->Wait();
  server_.reset();
}

}  // namespace propbridge::api
