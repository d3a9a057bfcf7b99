// The maintenance plugin's settings ([plugins.<name>.settings] in the daemon's configuration),
// read and checked once at start. A plain value.
#pragma once

#include <cstddef>
#include <string>

#include "propbridge/sdk/settings.h"
#include "propbridge/sdk/status.h"

namespace propbridge::maintenance {

struct EndpointConfig {
  std::string bind_address = "127.0.0.1";
  // 0 picks a free port; the one chosen is logged and written to port_file.
  int port = 8470;
  std::string path = "/webhooks/maintenance";
  // The shared secret the deliveries are signed with, from `secret` or read from `secret_file`.
  std::string secret;
  std::size_t max_body_bytes = 1024 * 1024;
  std::size_t max_in_flight = 16;
  // Where to write "HOST:PORT" once listening; empty for nowhere.
  std::string port_file;
};

// InvalidArgument naming the setting for anything missing, unknown or out of range.
Result<EndpointConfig> ReadEndpointConfig(const sdk::Settings& settings);

}  // namespace propbridge::maintenance
