// A plugin that misbehaves on purpose, to test that the daemon survives vendor code. It emits
// `count` events ("f0", "f1", ... for accounts F0..F9), `batch_size` per batch, resuming from
// its checkpoint like a well-behaved source, and commits the fault named by `fault` once it has
// emitted `fault_after` events:
//
//   none             behave
//   segfault, abort, exit   crash the process in that way
//   freeze           stop the whole process (SIGSTOP): no heartbeats any more
//   leak             allocate and touch memory until the process dies of it
//   crash_mid_batch  abort while a batch is on its way to the daemon
//   spin             burn a core in a thread of its own, and go on emitting
//   garbage          emit batches of events the daemon must quarantine
//   flood            emit as fast as possible, ignoring refusals
//   giant            give event number `fault_after` a summary of 2 MiB, larger than any batch
//                    may be, and go on emitting
//   throw_start      throw from Start (before emitting anything)
//   spin_start       never return from Start
//   hang_stop        never return from Stop
//   throw_stop       throw from Stop
//
// With `once_file` set, the fault happens only while that file does not exist (it is created
// just before), so the run after the fault behaves. `event_bytes` pads every event with
// attributes of 4,000 bytes up to about that size, for batches of many megabytes.
#include <propbridge/sdk/sdk.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <thread>
#include <vector>

namespace {

using namespace propbridge;
using namespace std::chrono;

class FaultyPlugin final : public sdk::Plugin {
 public:
  Status Start(sdk::Context& context) override {
    const sdk::Settings& config = context.Config();
    auto count = config.GetInt("count", 1000);
    auto batch_size = config.GetInt("batch_size", 100);
    auto fault_after = config.GetInt("fault_after", 0);
    auto event_bytes = config.GetInt("event_bytes", 0);
    for (const auto* setting : {&count, &batch_size, &fault_after, &event_bytes}) {
      if (!setting->ok()) return setting->status();
    }
    count_ = *count;
    batch_size_ = *batch_size;
    fault_after_ = *fault_after;
    event_bytes_ = *event_bytes;
    fault_ = config.GetString("fault", "none");
    once_file_ = config.GetString("once_file", "");
    if (context.LastCheckpoint()) next_ = std::stoll(*context.LastCheckpoint());

    if (fault_ == "throw_start" && Arm()) throw std::runtime_error("vendor code failed in Start");
    if (fault_ == "spin_start" && Arm()) Spin();
    thread_ = std::thread([this, &context] { Run(context); });
    return Status::Ok();
  }

  void Stop(sdk::Deadline) override {
    stop_ = true;
    if (fault_ == "hang_stop") {
      while (true) std::this_thread::sleep_for(seconds(1));
    }
    if (thread_.joinable()) thread_.join();
    if (spinner_.joinable()) spinner_.join();
    if (fault_ == "throw_stop") throw std::runtime_error("vendor code failed in Stop");
  }

 private:
  // Whether to commit the fault now; with a once file, only the first time.
  bool Arm() {
    if (once_file_.empty()) return true;
    if (std::filesystem::exists(once_file_)) return false;
    if (std::FILE* f = std::fopen(once_file_.c_str(), "w")) std::fclose(f);
    return true;
  }

  [[noreturn]] static void Spin() {
    volatile std::uint64_t n = 0;
    while (true) n = n + 1;
  }

  sdk::Batch MakeBatch(std::int64_t from, std::int64_t to) const {
    const sdk::UtcTime base{sys_days{year{2026} / January / 1}};
    sdk::Batch batch;
    for (std::int64_t i = from; i < to; ++i) {
      sdk::EventBuilder event("crm.profile.updated", "f" + std::to_string(i));
      event.At(base + seconds(i))
          .Identify("account", "F" + std::to_string(i % 10))
          .Summary("Faulty plugin event number " + std::to_string(i));
      if (fault_ == "giant" && i == fault_after_) event.Summary(std::string(2 << 20, 'g'));
      for (std::int64_t padded = 0; padded < event_bytes_; padded += 4000) {
        event.Attribute("pad" + std::to_string(padded), std::string(3990, 'p'));
      }
      batch.events.push_back(event.Origin("event " + std::to_string(i)).Build());
    }
    batch.checkpoint = std::to_string(to);
    return batch;
  }

  void Run(sdk::Context& context) {
    bool faulted = false;
    while (!stop_ && next_ < count_) {
      if (!faulted && next_ >= fault_after_ && fault_ != "none") {
        faulted = true;
        if (Arm() && Fault(context)) return;
      }
      std::int64_t end = std::min(count_, next_ + batch_size_);
      Status status = context.Emit(MakeBatch(next_, end));
      if (status.ok()) {
        next_ = end;
      } else {
        std::this_thread::sleep_for(milliseconds(20));
      }
    }
  }

  // Commits the fault; true when the run should end here.
  bool Fault(sdk::Context& context) {
    if (fault_ == "segfault") {
      // Death by the signal itself, also where a sanitizer's handler would report and exit 1.
      signal(SIGSEGV, SIG_DFL);
      volatile int* nowhere = nullptr;
      *nowhere = 1;
    } else if (fault_ == "abort") {
      std::abort();
    } else if (fault_ == "exit") {
      std::exit(3);
    } else if (fault_ == "freeze") {
      raise(SIGSTOP);
    } else if (fault_ == "leak") {
      std::vector<char*> kept;
      while (true) {
        char* block = new char[16 << 20];
        std::memset(block, 1, 16 << 20);
        kept.push_back(block);
      }
    } else if (fault_ == "crash_mid_batch") {
      std::int64_t end = std::min(count_, next_ + batch_size_);
      std::thread([&context, batch = MakeBatch(next_, end)]() mutable {
        (void)context.Emit(std::move(batch));
      }).detach();
      std::this_thread::sleep_for(milliseconds(2));
      std::abort();
    } else if (fault_ == "spin") {
      spinner_ = std::thread([this] {
        volatile std::uint64_t n = 0;
        while (!stop_) n = n + 1;
      });
    } else if (fault_ == "garbage") {
      EmitGarbage(context);
    } else if (fault_ == "flood") {
      while (!stop_) (void)context.Emit(MakeBatch(0, batch_size_));
      return true;
    }
    return false;
  }

  void EmitGarbage(sdk::Context& context) {
    sdk::Batch batch;
    batch.events.push_back(sdk::EventBuilder("", "g-no-kind").At(sdk::UtcTime{}).Build());
    batch.events.push_back(sdk::EventBuilder("crm.profile.updated", "g-no-time").Build());
    batch.events.push_back(sdk::EventBuilder("crm.profile.updated", "g-bad-utf8")
                               .At(sdk::UtcTime{})
                               .Identify("account", "F1")
                               .Summary("\xff\xfe not text")
                               .Build());
    batch.events.push_back(sdk::EventBuilder("crm.profile.updated", "")
                               .At(sdk::UtcTime{})
                               .Identify("account", "F1")
                               .Build());
    batch.checkpoint = std::to_string(next_);
    (void)context.Emit(std::move(batch));
  }

  std::int64_t count_ = 0, batch_size_ = 0, fault_after_ = 0, event_bytes_ = 0, next_ = 0;
  std::string fault_, once_file_;
  std::atomic<bool> stop_{false};
  std::thread thread_, spinner_;
};

}  // namespace

PROPBRIDGE_REGISTER_PLUGIN(FaultyPlugin)
