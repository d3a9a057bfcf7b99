#include "tools/propbridgectl/connection.h"

#include <grpcpp/support/client_interceptor.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

namespace propbridge::ctl {
namespace {

bool ReadFile(const std::string& option, const std::string& file, std::string& out,
              std::string& error) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || in.bad()) {
    error = "cannot read " + option + " " + file + ": " + std::strerror(errno);
    return false;
  }
  out = text.str();
  return true;
}

// Adds the bearer token to every call, on plaintext and TLS channels alike (gRPC's call
// credentials travel over TLS only, and a daemon on loopback may take tokens without it).
class BearerToken final : public grpc::experimental::Interceptor {
 public:
  explicit BearerToken(const std::string& header) : header_(header) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace("authorization", header_);
    }
    methods->Proceed();
  }

 private:
  const std::string& header_;
};

class BearerTokenFactory final : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerTokenFactory(std::string token) : header_("Bearer " + std::move(token)) {}

  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new BearerToken(header_);
  }

 private:
  const std::string header_;
};

}  // namespace

std::shared_ptr<grpc::Channel> OpenChannel(const Connection& connection, std::string& error) {
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (!connection.tls_ca.empty() || !connection.tls_cert.empty() || !connection.tls_key.empty()) {
    if (connection.tls_cert.empty() != connection.tls_key.empty()) {
      error = "--tls-cert and --tls-key go together: a client certificate and its key";
      return nullptr;
    }
    grpc::SslCredentialsOptions options;
    if (!connection.tls_ca.empty() &&
        !ReadFile("--tls-ca", connection.tls_ca, options.pem_root_certs, error)) {
      return nullptr;
    }
    if (!connection.tls_cert.empty() &&
        (!ReadFile("--tls-cert", connection.tls_cert, options.pem_cert_chain, error) ||
         !ReadFile("--tls-key", connection.tls_key, options.pem_private_key, error))) {
      return nullptr;
    }
    credentials = grpc::SslCredentials(options);
  }
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> interceptors;
  if (!connection.token_file.empty()) {
    std::string token;
    if (!ReadFile("--token-file", connection.token_file, token, error)) return nullptr;
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
    if (token.empty() || token.find_first_of(" \t\r\n") != std::string::npos) {
      error = "--token-file " + connection.token_file +
              " must hold the token alone, as propbridgectl auth hash-token printed it";
      return nullptr;
    }
    interceptors.push_back(std::make_unique<BearerTokenFactory>(std::move(token)));
  }
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      connection.address, credentials, grpc::ChannelArguments(), std::move(interceptors));
}

}  // namespace propbridge::ctl
