// What the daemon tells the service manager that started it (systemd's sd_notify protocol):
// that it is ready, reloading or stopping, a one-line status, and that it is alive for the
// watchdog. Thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string_view>

namespace propbridge::service {

class ServiceManager {
 public:
  // systemd's, when it started this process with a notification socket (NOTIFY_SOCKET);
  // nullptr otherwise, for there is nobody to tell. Reads the environment but leaves it.
  static std::unique_ptr<ServiceManager> FromEnvironment();

  virtual ~ServiceManager() = default;

  // READY=1: the daemon serves. Also ends a reload.
  virtual void Ready() = 0;
  // RELOADING=1: the configuration is being applied again; Ready() when it is done.
  virtual void Reloading() = 0;
  // STOPPING=1: shutting down; the watchdog no longer applies.
  virtual void Stopping() = 0;
  // STATUS=: what `systemctl status` shows, one line.
  virtual void SetStatus(std::string_view line) = 0;
  // WATCHDOG=1: the daemon was seen working just now.
  virtual void Alive() = 0;
  // How long the manager waits for Alive() before it takes the daemon for hung; nullopt when
  // it runs no watchdog for this process.
  virtual std::optional<std::chrono::microseconds> WatchdogTimeout() const = 0;
};

}  // namespace propbridge::service
