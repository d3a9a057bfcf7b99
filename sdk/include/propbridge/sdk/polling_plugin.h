// A base for plugins that look for new work on an interval (a folder, a vendor API, a
// database): one thread calls Poll, then sleeps until the next interval or until Stop.
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
    thread_ = std::thread([this, &context] { Loop(context); });
    return Status::Ok();
  }

  void Stop(Deadline) final {
    {
      std::lock_guard lock(mu_);
      stop_requested_ = true;
    }
    wake_.notify_all();
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
  }

  std::chrono::milliseconds interval_{1000};
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_requested_ = false;
  std::thread thread_;
};

}  // namespace propbridge::sdk
