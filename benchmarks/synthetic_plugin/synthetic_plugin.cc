// A plugin that makes up events: `count` of them, `batch_size` per batch, spread over
// `customers` customers ("account:C<n>"), resuming from its checkpoint (events emitted so far).
// Used by the tests and the benchmark to drive the real pipeline at full speed.
#include <propbridge/sdk/sdk.h>

#include <atomic>
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
    for (const auto* setting : {&count, &batch_size, &customers}) {
      if (!setting->ok()) return setting->status();
    }
    count_ = *count;
    batch_size_ = *batch_size;
    customers_ = *customers;
    kind_ = config.GetString("kind", "crm.profile.updated");
    if (context.LastCheckpoint()) next_ = std::stoll(*context.LastCheckpoint());
    thread_ = std::thread([this, &context] { Run(context); });
    return Status::Ok();
  }

  void Stop(sdk::Deadline) override {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Run(sdk::Context& context) {
    using namespace std::chrono;
    const sdk::UtcTime base{sys_days{year{2026} / January / 1}};
    while (!stop_ && next_ < count_) {
      sdk::Batch batch;
      std::int64_t end = std::min(count_, next_ + batch_size_);
      for (std::int64_t i = next_; i < end; ++i) {
        batch.events.push_back(sdk::EventBuilder(kind_, "e" + std::to_string(i))
                                   .At(base + seconds(i))
                                   .Identify("account", "C" + std::to_string(i % customers_))
                                   .Summary("Synthetic event number " + std::to_string(i))
                                   .Attribute("n", std::to_string(i))
                                   .Build());
      }
      batch.checkpoint = std::to_string(end);
      Status status = context.Emit(std::move(batch));
      if (status.ok()) {
        next_ = end;
      } else {
        context.Log().Warn("emit failed, retrying: " + status.message());
        std::this_thread::sleep_for(milliseconds(50));
      }
    }
  }

  std::int64_t count_ = 0, batch_size_ = 0, customers_ = 0, next_ = 0;
  std::string kind_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

PROPBRIDGE_REGISTER_PLUGIN(SyntheticPlugin)
