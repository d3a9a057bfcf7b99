// The maintenance plugin's settings ([plugins.<name>.settings] in the daemon's configuration),
// read and checked once at start. A plain value.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "propbridge/sdk/settings.h"
#include "propbridge/sdk/status.h"
#include "signature.h"

namespace propbridge::maintenance {

struct EndpointConfig {
  std::string bind_address = "127.0.0.1";
  // 0 picks a free port; the one chosen is logged and written to port_file.
  int port = 8470;
  std::string path = "/webhooks/maintenance";
  // The shared secret the deliveries are signed with, from `secret` or read from `secret_file`.
  std::string secret;
  // The replay window for timestamped signatures, and whether a timestamp is required.
  SignaturePolicy signature;
  // PEM files of the certificate chain and its private key, when the endpoint serves HTTPS;
  // both empty for plain HTTP. Read by WebhookEndpoint::Start.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::size_t max_body_bytes = 1024 * 1024;
  std::size_t max_in_flight = 16;
  // Connections open at once, in all and from one client (an IPv4 address, or an IPv6 /64).
  std::size_t max_connections = 256;
  std::size_t max_connections_per_address = 32;
  // The time a request has to arrive in full, headers and body: from the connection, or on a
  // kept-alive connection from the request's first byte.
  std::chrono::milliseconds request_timeout{10000};
  // The memory the bodies being received and stored may hold in all; past it a delivery is
  // answered 503. Not a setting: fixed, but for tests.
  std::size_t max_body_memory_bytes = 256 * 1024 * 1024;
  // Where to write "HOST:PORT" once listening; empty for nowhere.
  std::string port_file;
};

// InvalidArgument naming the setting for anything missing, unknown or out of range.
Result<EndpointConfig> ReadEndpointConfig(const sdk::Settings& settings);

}  // namespace propbridge::maintenance
