#include "daemon/supervisor/plugin_runner.h"

#include <spdlog/spdlog.h>

namespace propbridge::supervisor {

void LogPluginLine(const std::string& instance, sdk::LogLevel level,
                   std::string_view message) noexcept {
  static constexpr spdlog::level::level_enum kLevels[] = {spdlog::level::debug, spdlog::level::info,
                                                          spdlog::level::warn, spdlog::level::err};
  int index = static_cast<int>(level);
  if (index < 0 || index > 3) index = 1;
  try {
    spdlog::log(kLevels[index], "[{}] {}", instance, message);
  } catch (...) {
    // A log line that cannot be written is not worth failing the plugin's call for.
  }
}

}  // namespace propbridge::supervisor
