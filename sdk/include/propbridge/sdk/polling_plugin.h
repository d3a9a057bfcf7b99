// A base for plugins that look for new work on an interval (a folder, a vendor API, a
// database): one thread calls Poll, then sleeps until the next interval or until Stop. Stop
// wakes the thread and waits for the Poll in progress; a Poll that may run long should check
// StopRequested() between batches and bound its waits by StopDeadline().
#pragma once

#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <string>
#include <thread>

#include "propbridge/sdk/plugin.h"

namespace propbridge::sdk {

class PollingPlugin : public Plugin {
 public:
  Status Start(Context& context) final {
    Status prepared = Prepare(context);
    if (!prepared.ok()) return prepared;
    context_ = &context;
    thread_ = std::thread([this, &context] { Loop(context); });
    return Status::Ok();
  }

  void Stop(Deadline deadline) final {
    std::unique_lock lock(mu_);
    stop_requested_ = true;
    stop_deadline_ = deadline;
    wake_.notify_all();
    if (!wake_.wait_until(lock, deadline, [this] { return loop_done_; })) {
      // Returning now would let the daemon destroy the plugin under a running Poll: it waits
      // on, and the daemon, whose own deadline has passed, treats the plugin as hung.
      if (context_ != nullptr)
        context_->Log().Error("a poll was still running at the stop deadline");
      wake_.wait(lock, [this] { return loop_done_; });
    }
    lock.unlock();
    if (thread_.joinable()) thread_.join();
  }

 protected:
  // Reads settings and checks them; called once from Start, before the first Poll.
  virtual Status Prepare(Context& context) = 0;
  // One pass over whatever is new. Long passes should check StopRequested() between batches.
  virtual void Poll(Context& context) = 0;

  bool StopRequested() const {
    std::lock_guard lock(mu_);
    return stop_requested_;
  }
  // When Stop must have returned: far in the future until Stop is called.
  Deadline StopDeadline() const {
    std::lock_guard lock(mu_);
    return stop_deadline_;
  }
  void SetInterval(std::chrono::milliseconds interval) { interval_ = interval; }

 private:
  void Loop(Context& context) {
    while (!StopRequested()) {
      try {
        Poll(context);
      } catch (const std::exception& e) {
        context.Log().Error(std::string("poll failed: ") + e.what());
      } catch (...) {
        context.Log().Error("poll failed with an unknown exception");
      }
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, interval_, [this] { return stop_requested_; });
    }
    std::lock_guard lock(mu_);
    loop_done_ = true;
    wake_.notify_all();
  }

  std::chrono::milliseconds interval_{1000};
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_requested_ = false;
  bool loop_done_ = false;
  Deadline stop_deadline_ = Deadline::max();
  Context* context_ = nullptr;
  std::thread thread_;
};

}  // namespace propbridge::sdk
