// How propbridgectl reaches the daemon: its address, TLS, and the bearer token every call
// carries. Not thread-safe.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

namespace propbridge::ctl {

struct Connection {
  std::string address;
  // PEM files; any of them turns TLS on. Without tls_ca the system's CAs verify the daemon.
  std::string tls_ca;
  std::string tls_cert;  // with tls_key: a client certificate, for a daemon that asks for one
  std::string tls_key;
  // A file that holds the token (and at most a line end), sent as "authorization: Bearer".
  std::string token_file;
};

// The channel for `connection`, or nullptr with the reason in `error` (a file that cannot be
// read, a certificate without its key).
std::shared_ptr<grpc::Channel> OpenChannel(const Connection& connection, std::string& error);

}  // namespace propbridge::ctl
