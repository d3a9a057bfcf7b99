#include "daemon/plugin_host/host_environment.h"

#include <string_view>

extern char** environ;

namespace propbridge::plugin_host {
namespace {

// sd_notify(3), sd_listen_fds(3) and sd_watchdog_enabled(3): meant for the main process.
constexpr std::string_view kDaemonsOwn[] = {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID",
                                            "LISTEN_FDS",    "LISTEN_PID",    "LISTEN_FDNAMES"};

bool IsDaemonsOwn(std::string_view entry) {
  const std::string_view name = entry.substr(0, entry.find('='));
  for (std::string_view own : kDaemonsOwn) {
    if (name == own) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> HostEnvironment() {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (!IsDaemonsOwn(*e)) env.emplace_back(*e);
  }
  return env;
}

}  // namespace propbridge::plugin_host
