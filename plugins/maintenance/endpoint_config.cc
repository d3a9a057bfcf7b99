#include "endpoint_config.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string_view>

namespace propbridge::maintenance {
namespace {

constexpr std::size_t kMinSecretBytes = 16;
constexpr std::array<std::string_view, 15> kKnownKeys = {"bind_address",
                                                         "port",
                                                         "path",
                                                         "secret",
                                                         "secret_file",
                                                         "replay_window_s",
                                                         "require_timestamp",
                                                         "tls_cert_file",
                                                         "tls_key_file",
                                                         "max_body_bytes",
                                                         "max_in_flight",
                                                         "max_connections",
                                                         "max_connections_per_address",
                                                         "request_timeout_ms",
                                                         "port_file"};
constexpr std::int64_t kMaxConnections = 65536;
constexpr std::size_t kDefaultConnectionsPerAddress = 32;

Result<std::int64_t> GetIntInRange(const sdk::Settings& settings, const std::string& key,
                                   std::int64_t fallback, std::int64_t min, std::int64_t max) {
  Result<std::int64_t> value = settings.GetInt(key, fallback);
  if (value.ok() && (*value < min || *value > max)) {
    return InvalidArgument("setting '" + key + "' must be between " + std::to_string(min) +
                           " and " + std::to_string(max) + ", not " + std::to_string(*value));
  }
  return value;
}

// Letters, digits and "/-_." only, starting with "/": the path is matched literally.
bool IsPlainPath(std::string_view path) {
  if (path.empty() || path.front() != '/') return false;
  return std::all_of(path.begin(), path.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' ||
           c == '-' || c == '_' || c == '.';
  });
}

Result<std::string> ReadSecret(const sdk::Settings& settings) {
  std::optional<std::string> inline_secret = settings.Get("secret");
  std::optional<std::string> file = settings.Get("secret_file");
  if (inline_secret && file) {
    return InvalidArgument("settings 'secret' and 'secret_file' are exclusive: give one");
  }
  std::string secret;
  if (file) {
    std::ifstream in(*file, std::ios::binary);
    if (!in) return InvalidArgument("setting 'secret_file': cannot read '" + *file + "'");
    std::ostringstream text;
    text << in.rdbuf();
    secret = text.str();
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  } else if (inline_secret) {
    secret = *inline_secret;
  } else {
    return InvalidArgument(
        "setting 'secret' (or 'secret_file') is required: the key the maintenance system signs "
        "its deliveries with");
  }
  if (secret.size() < kMinSecretBytes) {
    return InvalidArgument("the webhook secret must be at least " +
                           std::to_string(kMinSecretBytes) + " characters long");
  }
  return secret;
}

}  // namespace

Result<EndpointConfig> ReadEndpointConfig(const sdk::Settings& settings) {
  for (const auto& [key, value] : settings.values()) {
    if (std::find(kKnownKeys.begin(), kKnownKeys.end(), key) == kKnownKeys.end()) {
      return InvalidArgument("unknown setting '" + key +
                             "'; the maintenance plugin knows bind_address, port, path, secret, "
                             "secret_file, max_body_bytes, max_in_flight, max_connections, "
                             "max_connections_per_address, request_timeout_ms and port_file");
    }
  }
  EndpointConfig config;
  config.bind_address = settings.GetString("bind_address", config.bind_address);
  if (config.bind_address.empty()) return InvalidArgument("setting 'bind_address' is empty");
  config.path = settings.GetString("path", config.path);
  if (!IsPlainPath(config.path)) {
    return InvalidArgument(
        "setting 'path' must start with '/' and hold only letters, digits and "
        "/-_., not '" +
        config.path + "'");
  }
  Result<std::int64_t> port = GetIntInRange(settings, "port", config.port, 0, 65535);
  if (!port.ok()) return port.status();
  config.port = static_cast<int>(*port);
  Result<std::int64_t> max_body =
      GetIntInRange(settings, "max_body_bytes", static_cast<std::int64_t>(config.max_body_bytes),
                    1024, 64 * 1024 * 1024);
  if (!max_body.ok()) return max_body.status();
  config.max_body_bytes = static_cast<std::size_t>(*max_body);
  Result<std::int64_t> max_in_flight = GetIntInRange(
      settings, "max_in_flight", static_cast<std::int64_t>(config.max_in_flight), 1, 1024);
  if (!max_in_flight.ok()) return max_in_flight.status();
  config.max_in_flight = static_cast<std::size_t>(*max_in_flight);
  Result<std::int64_t> max_connections =
      GetIntInRange(settings, "max_connections", static_cast<std::int64_t>(config.max_connections),
                    1, kMaxConnections);
  if (!max_connections.ok()) return max_connections.status();
  config.max_connections = static_cast<std::size_t>(*max_connections);
  // The default share is cut to max_connections when that is smaller; a share given larger is
  // a mistake.
  Result<std::int64_t> per_address = GetIntInRange(
      settings, "max_connections_per_address",
      static_cast<std::int64_t>(std::min(kDefaultConnectionsPerAddress, config.max_connections)), 1,
      *max_connections);
  if (!per_address.ok()) return per_address.status();
  config.max_connections_per_address = static_cast<std::size_t>(*per_address);
  Result<std::int64_t> request_timeout =
      GetIntInRange(settings, "request_timeout_ms", config.request_timeout.count(), 100, 600000);
  if (!request_timeout.ok()) return request_timeout.status();
  config.request_timeout = std::chrono::milliseconds(*request_timeout);
  config.port_file = settings.GetString("port_file", "");
  Result<std::int64_t> replay_window =
      GetIntInRange(settings, "replay_window_s", config.signature.replay_window.count(), 1, 86400);
  if (!replay_window.ok()) return replay_window.status();
  config.signature.replay_window = std::chrono::seconds(*replay_window);
  Result<bool> require_timestamp =
      settings.GetBool("require_timestamp", config.signature.require_timestamp);
  if (!require_timestamp.ok()) return require_timestamp.status();
  config.signature.require_timestamp = *require_timestamp;
  config.tls_cert_file = settings.GetString("tls_cert_file", "");
  config.tls_key_file = settings.GetString("tls_key_file", "");
  if (config.tls_cert_file.empty() != config.tls_key_file.empty()) {
    return InvalidArgument(
        "settings 'tls_cert_file' and 'tls_key_file' go together: give both to serve HTTPS, or "
        "neither");
  }
  Result<std::string> secret = ReadSecret(settings);
  if (!secret.ok()) return secret.status();
  config.secret = std::move(*secret);
  return config;
}

}  // namespace propbridge::maintenance
