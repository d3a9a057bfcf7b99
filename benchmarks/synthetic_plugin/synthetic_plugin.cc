// A plugin that makes up events: `count` of them, `batch_size` per batch, spread over
// `customers` customers ("account:C<n>"), resuming from its checkpoint (events emitted so far).
// Event i occurs at 2026-01-01 + `time_offset_s` + i * `time_step_s` seconds, so two instances
// can interleave on one timeline. It emits at full speed, or pauses `interval_ms` after each
// batch to keep emitting for a while. Used by the tests and the benchmarks.
#include <propbridge/sdk/sdk.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace {

using namespace propbridge;

class SyntheticPlugin final : public sdk::Plugin {
 public:
  Status Start(sdk::Context& context) override {
    const auto& config = context.Config();
    auto count = config.GetInt("count", 1000);
    auto batch_size = config.GetInt("batch_size", 1000);
    auto customers = config.GetInt("customers", 10);
    auto time_step = config.GetInt("time_step_s", 1);
    auto time_offset = config.GetInt("time_offset_s", 0);
    auto interval = config.GetInt("interval_ms", 0);
    for (const auto* setting :
         {&count, &batch_size, &customers, &time_step, &time_offset, &interval}) {
      if (!setting->ok()) return setting->status();
    }
    count_ = *count;
    batch_size_ = *batch_size;
    customers_ = *customers;
    time_step_ = std::chrono::seconds(*time_step);
    time_offset_ = std::chrono::seconds(*time_offset);
    interval_ = std::chrono::milliseconds(*interval);
    kind_ = config.GetString("kind", "crm.profile.updated");
    if (context.LastCheckpoint()) next_ = std::stoll(*context.LastCheckpoint());
    thread_ = std::thread([this, &context] { Run(context); });
    return Status::Ok();
  }

  void Stop(sdk::Deadline) override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Run(sdk::Context& context) {
    using namespace std::chrono;
    const sdk::UtcTime base{sys_days{year{2026} / January / 1}};
    std::unique_lock lock(mu_);
    while (!stop_ && next_ < count_) {
      lock.unlock();
      sdk::Batch batch;
      std::int64_t end = std::min(count_, next_ + batch_size_);
      for (std::int64_t i = next_; i < end; ++i) {
        batch.events.push_back(sdk::EventBuilder(kind_, "e" + std::to_string(i))
                                   .At(base + time_offset_ + i * time_step_)
                                   .Identify("account", "C" + std::to_string(i % customers_))
                                   .Summary("Synthetic event number " + std::to_string(i))
                                   .Attribute("n", std::to_string(i))
                                   .Build());
      }
      batch.checkpoint = std::to_string(end);
      Status status = context.Emit(std::move(batch));
      milliseconds pause = interval_;
      if (status.ok()) {
        next_ = end;
      } else {
        context.Log().Warn("emit failed, retrying: " + status.message());
        pause = std::max(pause, milliseconds(50));
      }
      lock.lock();
      wake_.wait_for(lock, pause, [this] { return stop_; });
    }
  }

  std::int64_t count_ = 0, batch_size_ = 0, customers_ = 0, next_ = 0;
  std::chrono::seconds time_step_{1}, time_offset_{0};
  std::chrono::milliseconds interval_{0};
  std::string kind_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace

PROPBRIDGE_REGISTER_PLUGIN(SyntheticPlugin)
