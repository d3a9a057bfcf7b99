// The daemon's side of a running plugin, for tests of a plugin without a daemon: it keeps the
// batches the plugin emits and the lines it logs, answers each emit as the test decides, and
// can hold emits back as a full ingest queue does. Thread-safe, as the SDK asks.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/sync/mutex.h"
#include "propbridge/sdk/context.h"

namespace propbridge::testing {

struct FakeContextOptions {
  std::string instance_name = "test";
  std::map<std::string, std::string> settings;
  std::string time_zone = "Asia/Shanghai";
  std::optional<std::string> last_checkpoint;
};

class FakeContext final : public sdk::Context, private sdk::Logger {
 public:
  // An emit's outcome; a batch is kept only when it is OK.
  using Answer = std::function<Status(const sdk::Batch&)>;

  explicit FakeContext(FakeContextOptions options = {});

  // Every emit from now on is answered by `answer` (by default: OK).
  void AnswerWith(Answer answer) ABSL_LOCKS_EXCLUDED(mu_);
  // Emits wait from now on until ReleaseEmits.
  void HoldEmits() ABSL_LOCKS_EXCLUDED(mu_);
  void ReleaseEmits() ABSL_LOCKS_EXCLUDED(mu_);
  // Whether `count` emits wait at once, within `timeout`.
  bool WaitForHeldEmits(int count, std::chrono::milliseconds timeout) ABSL_LOCKS_EXCLUDED(mu_);
  // Whether `count` batches were kept, within `timeout`.
  bool WaitForBatches(std::size_t count, std::chrono::milliseconds timeout)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The batches kept, in the order they were emitted.
  std::vector<sdk::Batch> batches() const ABSL_LOCKS_EXCLUDED(mu_);
  // Every line logged, as "<level>: <message>", in order.
  std::vector<std::string> lines() const ABSL_LOCKS_EXCLUDED(mu_);

  // sdk::Context
  const std::string& InstanceName() const noexcept override { return options_.instance_name; }
  const sdk::Settings& Config() const noexcept override { return settings_; }
  const std::string& TimeZone() const noexcept override { return options_.time_zone; }
  sdk::Logger& Log() noexcept override { return *this; }
  Status Emit(sdk::Batch batch) noexcept override ABSL_LOCKS_EXCLUDED(mu_);
  const std::optional<std::string>& LastCheckpoint() const noexcept override {
    return options_.last_checkpoint;
  }

 private:
  // sdk::Logger
  void Log(sdk::LogLevel level, std::string_view message) noexcept override
      ABSL_LOCKS_EXCLUDED(mu_);

  // Constant after construction.
  const FakeContextOptions options_;
  const sdk::Settings settings_;

  mutable sync::Mutex mu_;
  std::condition_variable changed_;
  Answer answer_ ABSL_GUARDED_BY(mu_);
  bool held_ ABSL_GUARDED_BY(mu_) = false;
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<sdk::Batch> batches_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
};

}  // namespace propbridge::testing
