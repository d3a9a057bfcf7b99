#include "daemon/service/heartbeat.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace propbridge::service {

namespace chrono = std::chrono;

Heartbeat::Heartbeat(ServiceManager& manager, HeartbeatProbes probes,
                     chrono::milliseconds status_every)
    : manager_(manager),
      probes_(std::move(probes)),
      status_every_(status_every),
      thread_([this] { Loop(); }) {}

Heartbeat::~Heartbeat() {
  {
    sync::MutexLock lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void Heartbeat::Loop() {
  const std::optional<chrono::microseconds> timeout = manager_.WatchdogTimeout();
  const auto ping_every =
      timeout ? std::max<chrono::microseconds>(*timeout / 2, chrono::milliseconds(1))
              : chrono::microseconds::max();
  auto next_status = chrono::steady_clock::now();
  auto next_ping = next_status;
  sync::MutexLock lock(mu_);
  while (!stopping_) {
    lock.Unlock();
    auto now = chrono::steady_clock::now();
    if (now >= next_status) {
      manager_.SetStatus(probes_.status());
      next_status = now + status_every_;
    }
    if (timeout && now >= next_ping) {
      Probe(now + ping_every / 2, *timeout);
      next_ping = now + ping_every;
    }
    lock.Lock();
    lock.WaitUntil(wake_, timeout ? std::min(next_status, next_ping) : next_status,
                   [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; });
  }
}

void Heartbeat::Probe(chrono::steady_clock::time_point deadline, chrono::microseconds timeout) {
  Status alive = probes_.alive(deadline);
  if (alive.ok()) {
    manager_.Alive();
    if (stalled_) spdlog::warn("watchdog: the daemon works again; systemd hears so again");
    stalled_ = false;
    return;
  }
  if (!stalled_) {
    spdlog::error(
        "watchdog: {}; systemd is not told that the daemon is alive, and stops it as hung if "
        "this lasts {} ms (WatchdogSec=)",
        alive.message(), chrono::duration_cast<chrono::milliseconds>(timeout).count());
  }
  stalled_ = true;
}

}  // namespace propbridge::service
