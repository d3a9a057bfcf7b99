#include "daemon/service/service_manager.h"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

namespace propbridge::service {
namespace {

class Systemd final : public ServiceManager {
 public:
  void Ready() override { Send("READY=1"); }

  // systemd 253 and later want the monotonic time with RELOADING=1 (Type=notify-reload);
  // earlier versions ignore it.
  void Reloading() override {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    Send("RELOADING=1\nMONOTONIC_USEC=" +
         std::to_string(static_cast<std::uint64_t>(now.tv_sec) * 1000000 +
                        static_cast<std::uint64_t>(now.tv_nsec) / 1000));
  }

  void Stopping() override { Send("STOPPING=1"); }

  // One line: a newline would end the status and begin a field of the protocol.
  void SetStatus(std::string_view line) override {
    std::string message = "STATUS=";
    for (char c : line) message += (c == '\n' || c == '\r') ? ' ' : c;
    Send(message);
  }

  void Alive() override { Send("WATCHDOG=1"); }

  std::optional<std::chrono::microseconds> WatchdogTimeout() const override {
    std::uint64_t usec = 0;
    // Positive only when WATCHDOG_USEC is set and WATCHDOG_PID, if set, is this process.
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
    return std::chrono::microseconds(usec);
  }

 private:
  // A failure is logged, not returned: the daemon serves whether or not systemd hears of it,
  // and a manager that misses READY=1 says so itself when its start timeout passes.
  static void Send(const std::string& message) {
    int sent = sd_notify(0, message.c_str());
    if (sent < 0) {
      spdlog::warn("cannot tell systemd '{}': {}", message.substr(0, message.find('=')),
                   std::strerror(-sent));
    }
  }
};

}  // namespace

std::unique_ptr<ServiceManager> ServiceManager::FromEnvironment() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  if (socket == nullptr || *socket == '\0') return nullptr;
  return std::make_unique<Systemd>();
}

}  // namespace propbridge::service
