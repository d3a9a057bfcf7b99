#include "options.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string_view>

namespace propbridge::homeservice {
namespace {

constexpr std::array<std::string_view, 11> kKeys = {
    "base_url",       "api_token",          "api_token_file",     "poll_interval_ms",
    "page_size",      "connect_timeout_ms", "request_timeout_ms", "backoff_base_ms",
    "backoff_cap_ms", "max_retries",        "max_page_bytes"};

constexpr std::int64_t kDay = 24 * 60 * 60 * 1000;
constexpr std::int64_t kHour = 60 * 60 * 1000;
constexpr std::int64_t kMaxPageSize = 1000;

Status OutOfRange(const std::string& key, std::int64_t min, std::int64_t max, std::int64_t value) {
  return InvalidArgument("setting '" + key + "' must be between " + std::to_string(min) + " and " +
                         std::to_string(max) + ", not " + std::to_string(value));
}

// Reads an integer setting into `out`.
Status ReadInt(const sdk::Settings& settings, const std::string& key, std::int64_t fallback,
               std::int64_t min, std::int64_t max, std::int64_t& out) {
  Result<std::int64_t> value = settings.GetInt(key, fallback);
  if (!value.ok()) return value.status();
  if (*value < min || *value > max) return OutOfRange(key, min, max, *value);
  out = *value;
  return Status::Ok();
}

Status ReadMillis(const sdk::Settings& settings, const std::string& key,
                  std::chrono::milliseconds fallback, std::int64_t max,
                  std::chrono::milliseconds& out) {
  std::int64_t ms = 0;
  Status status = ReadInt(settings, key, fallback.count(), 1, max, ms);
  out = std::chrono::milliseconds(ms);
  return status;
}

bool HasControlOrSpace(std::string_view text) {
  return std::any_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) <= ' ' || c == 0x7f; });
}

// The URL without a trailing slash, or InvalidArgument.
Result<std::string> ReadBaseUrl(const sdk::Settings& settings) {
  std::string url = settings.GetString("base_url", "");
  if (url.empty()) {
    return InvalidArgument(
        "setting 'base_url' is required: the platform's API root, e.g. "
        "https://api.example.com/homeservice");
  }
  std::string_view rest = url;
  if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else {
    return InvalidArgument("setting 'base_url' must start with http:// or https://, not '" + url +
                           "'");
  }
  if (rest.empty() || rest.front() == '/' || HasControlOrSpace(url) ||
      url.find_first_of("?#") != std::string::npos) {
    return InvalidArgument("setting 'base_url' must be a URL with a host and no query, not '" +
                           url + "'");
  }
  while (url.back() == '/') url.pop_back();
  return url;
}

bool IsLoopback(std::string_view url) {
  for (std::string_view host :
       {"http://127.", "http://localhost:", "http://localhost/", "http://[::1]"}) {
    if (url.starts_with(host)) return true;
  }
  return url == "http://localhost";
}

Result<std::string> ReadToken(const sdk::Settings& settings) {
  std::optional<std::string> token = settings.Get("api_token");
  std::optional<std::string> file = settings.Get("api_token_file");
  if (token && file) {
    return InvalidArgument("settings 'api_token' and 'api_token_file' exclude each other");
  }
  if (!token && !file) {
    return InvalidArgument(
        "setting 'api_token' (or 'api_token_file', a file holding it) is required: the "
        "bearer token the platform issued");
  }
  if (file) {
    std::ifstream in(*file);
    if (!in.is_open()) {
      return InvalidArgument("setting 'api_token_file': cannot read '" + *file + "'");
    }
    std::ostringstream text;
    text << in.rdbuf();
    token = text.str();
    while (!token->empty() && (token->back() == '\n' || token->back() == '\r')) {
      token->pop_back();
    }
  }
  const char* key = file ? "api_token_file" : "api_token";
  if (token->empty())
    return InvalidArgument(std::string("setting '") + key + "': the token is empty");
  if (HasControlOrSpace(*token)) {
    return InvalidArgument(std::string("setting '") + key +
                           "': the token holds spaces or control characters");
  }
  return *token;
}

}  // namespace

Result<Options> ReadOptions(const sdk::Settings& settings) {
  for (const auto& [key, value] : settings.values()) {
    if (std::find(kKeys.begin(), kKeys.end(), key) == kKeys.end()) {
      std::string known;
      for (std::string_view k : kKeys) known += (known.empty() ? "" : ", ") + std::string(k);
      return InvalidArgument("unknown setting '" + key + "'; the homeservice plugin knows " +
                             known);
    }
  }
  Options options;
  ClientOptions& client = options.client;
  Result<std::string> url = ReadBaseUrl(settings);
  if (!url.ok()) return url.status();
  client.base_url = *url;
  Result<std::string> token = ReadToken(settings);
  if (!token.ok()) return token.status();
  client.api_token = *token;

  std::int64_t page_size = 0, max_retries = 0, max_page_bytes = 0;
  for (Status status : {
           ReadMillis(settings, "poll_interval_ms", options.poll_interval, kDay,
                      options.poll_interval),
           ReadInt(settings, "page_size", client.page_size, 1, kMaxPageSize, page_size),
           ReadMillis(settings, "connect_timeout_ms", client.http.connect_timeout, kHour,
                      client.http.connect_timeout),
           ReadMillis(settings, "request_timeout_ms", client.http.timeout, kHour,
                      client.http.timeout),
           ReadMillis(settings, "backoff_base_ms", client.backoff_base, kHour, client.backoff_base),
           ReadMillis(settings, "backoff_cap_ms", client.backoff_cap, kDay, client.backoff_cap),
           ReadInt(settings, "max_retries", client.max_retries, 0, 100, max_retries),
           ReadInt(settings, "max_page_bytes",
                   static_cast<std::int64_t>(client.http.max_body_bytes), 1024,
                   std::int64_t{1} << 30, max_page_bytes),
       }) {
    if (!status.ok()) return status;
  }
  if (client.backoff_cap < client.backoff_base) {
    return InvalidArgument("setting 'backoff_cap_ms' (" +
                           std::to_string(client.backoff_cap.count()) +
                           ") must not be below 'backoff_base_ms' (" +
                           std::to_string(client.backoff_base.count()) + ")");
  }
  client.page_size = static_cast<int>(page_size);
  client.max_retries = static_cast<int>(max_retries);
  client.http.max_body_bytes = static_cast<std::size_t>(max_page_bytes);

  if (client.base_url.starts_with("http://") && !IsLoopback(client.base_url)) {
    options.warnings.push_back("base_url " + client.base_url +
                               " is plain http: the api_token crosses the network unencrypted");
  }
  return options;
}

}  // namespace propbridge::homeservice
