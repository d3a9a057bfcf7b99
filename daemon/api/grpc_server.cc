#include "daemon/api/grpc_server.h"

#include <google/protobuf/generated_message_reflection.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <grpcpp/server_builder.h>

#include "grpc/health/v1/health.pb.h"

namespace propbridge::api {
namespace {

std::shared_ptr<grpc::ServerCredentials> CredentialsFor(const std::string& listen,
                                                        const std::optional<ServedTls>& tls,
                                                        const AccessControl& access) {
  std::shared_ptr<grpc::ServerCredentials> credentials;
  if (tls) {
    // gRPC 1.51 negotiates TLS 1.2 or 1.3 and nothing older.
    const std::string identity = tls->identity_file().string();
    const std::string client_ca = tls->client_ca_file().string();
    auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
        identity, identity, client_ca, static_cast<unsigned>(kTlsFilesRefresh.count()));
    grpc::experimental::TlsServerCredentialsOptions options(provider);
    options.watch_identity_key_cert_pairs();
    if (!client_ca.empty()) options.watch_root_certs();
    options.set_cert_request_type(client_ca.empty()
                                      ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                      : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    credentials = grpc::experimental::TlsServerCredentials(options);
  } else if (access.enabled()) {
    // Plaintext on loopback, the only place the configuration allows auth without TLS. gRPC
    // runs no processor on insecure credentials; local ones, which plaintext clients reach
    // alike, run it, and refuse connections from other hosts besides.
    credentials = grpc::experimental::LocalServerCredentials(
        listen.starts_with("unix") ? grpc_local_connect_type::UDS
                                   : grpc_local_connect_type::LOCAL_TCP);
  } else {
    return grpc::InsecureServerCredentials();
  }
  if (access.enabled()) credentials->SetAuthMetadataProcessor(access.Processor());
  return credentials;
}

}  // namespace

void GrpcServer::UseOptions(const TimelineServiceOptions& options, const outreach::Rules& outreach,
                            const ScanLimits& scans) {
  timeline_.UseOptions(options);
  customers_.UseOptions({.identity = options.identity, .outreach = outreach, .scans = scans});
  admin_.UseIdentity(options.identity);
}

Status GrpcServer::UseTls(const auth::TlsMaterial& material) const {
  if (!served_tls_) return FailedPrecondition("the gRPC port serves no TLS");
  return served_tls_->Replace(material);
}

Result<std::unique_ptr<GrpcServer>> GrpcServer::Start(
    const std::string& listen, store::Store& store, feed::ChangeFeed& feed,
    const PageTokens& tokens, PluginControl* plugins, TimelineServiceOptions options,
    outreach::Rules outreach, ScanLimits scans, const ServerSecurity& security) {
  grpc::EnableDefaultHealthCheckService(true);
  // Reflection serves schemas from protobuf's generated pool; gRPC's health service brings
  // none, so the daemon links in its own copy of the standard health.proto.
  google::protobuf::LinkMessageReflection<grpc::health::v1::HealthCheckRequest>();
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  std::unique_ptr<GrpcServer> server(
      new GrpcServer(store, feed, tokens, plugins, options, outreach, scans, security.auth));
  if (security.tls) {
    auto served = ServedTls::Write(security.tls_folder, *security.tls);
    if (!served.ok()) return served.status();
    server->served_tls_ = std::move(*served);
  }
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen, CredentialsFor(listen, server->served_tls_, server->access_),
                           &server->port_);
  builder.RegisterService(&server->timeline_);
  builder.RegisterService(&server->customers_);
  builder.RegisterService(&server->admin_);
  builder.SetMaxReceiveMessageSize(1 << 20);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(server->requests_.InterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  server->server_ = builder.BuildAndStart();
  if (!server->server_ || server->port_ == 0) {
    return Unavailable("cannot listen on " + listen +
                       ": the address is in use or not an address of this machine");
  }
  return server;
}

std::shared_ptr<grpc::Channel> GrpcServer::InProcessChannel() const {
  return server_->InProcessChannel(grpc::ChannelArguments());
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
