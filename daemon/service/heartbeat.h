// While it lives, keeps the service manager told what the daemon does and that it works: a
// STATUS= line every `status_every` and, when the manager runs a watchdog, WATCHDOG=1 at half
// its timeout, each time only after `alive` has shown within a quarter of the timeout that the
// daemon still does its work. A daemon that stops working thus stops the pings, and the manager
// restarts it. Create and destroy from one thread; the probes run on a thread of its own.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "daemon/service/service_manager.h"
#include "daemon/sync/mutex.h"
#include "propbridge/sdk/status.h"

namespace propbridge::service {

struct HeartbeatProbes {
  // OK once the daemon has done real work (through each part that could hang) before the
  // deadline; else says which part did not answer. Must return by about the deadline.
  std::function<Status(std::chrono::steady_clock::time_point deadline)> alive;
  // The STATUS= line.
  std::function<std::string()> status;
};

class Heartbeat {
 public:
  // `manager`, and whatever the probes use, must outlive the heartbeat.
  Heartbeat(ServiceManager& manager, HeartbeatProbes probes,
            std::chrono::milliseconds status_every);
  // Returns once the thread has ended: at once, or when a probe running now returns.
  ~Heartbeat() ABSL_LOCKS_EXCLUDED(mu_);

  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;

 private:
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);
  // Pings when the daemon answers; logs when it stops and starts answering again.
  void Probe(std::chrono::steady_clock::time_point deadline, std::chrono::microseconds timeout);

  // Constant after construction.
  ServiceManager& manager_;
  const HeartbeatProbes probes_;
  const std::chrono::milliseconds status_every_;

  bool stalled_ = false;  // the loop's thread only

  sync::Mutex mu_;
  std::condition_variable wake_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  std::thread thread_;  // last: it uses everything above
};

}  // namespace propbridge::service
