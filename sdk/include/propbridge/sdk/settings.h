// A plugin instance's own configuration section, flattened to "key" and "table.key" strings.
// Immutable once the plugin starts; safe to read from any thread.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>

#include "propbridge/sdk/status.h"

namespace propbridge::sdk {

class Settings {
 public:
  Settings() = default;
  explicit Settings(std::map<std::string, std::string> values) : values_(std::move(values)) {}

  const std::map<std::string, std::string>& values() const { return values_; }

  std::optional<std::string> Get(const std::string& key) const {
    auto it = values_.find(key);
    if (it == values_.end()) return std::nullopt;
    return it->second;
  }

  std::string GetString(const std::string& key, std::string fallback) const {
    return Get(key).value_or(std::move(fallback));
  }

  // An error names the key and the value, so a plugin can return it from Start unchanged.
  Result<std::int64_t> GetInt(const std::string& key, std::int64_t fallback) const {
    auto text = Get(key);
    if (!text) return fallback;
    errno = 0;
    char* end = nullptr;
    long long v = std::strtoll(text->c_str(), &end, 10);
    if (text->empty() || *end != '\0' || errno == ERANGE) {
      return InvalidArgument("setting '" + key + "' must be a whole number, not '" + *text + "'");
    }
    return static_cast<std::int64_t>(v);
  }

  Result<bool> GetBool(const std::string& key, bool fallback) const {
    auto text = Get(key);
    if (!text) return fallback;
    if (*text == "true") return true;
    if (*text == "false") return false;
    return InvalidArgument("setting '" + key + "' must be true or false, not '" + *text + "'");
  }

 private:
  std::map<std::string, std::string> values_;
};

}  // namespace propbridge::sdk
