#include "daemon/service/heartbeat.h"

#include <gtest/gtest.h>

#include <atomic>

#include "daemon/sync/mutex.h"
#include "tests/support/wait_until.h"

namespace propbridge::service {
namespace {

using namespace std::chrono_literals;

// Counts what it is told; its watchdog timeout is the test's.
class FakeManager final : public ServiceManager {
 public:
  explicit FakeManager(std::optional<std::chrono::microseconds> watchdog) : watchdog_(watchdog) {}

  void Ready() override {}
  void Reloading() override {}
  void Stopping() override {}
  void SetStatus(std::string_view line) override ABSL_LOCKS_EXCLUDED(mu_) {
    sync::MutexLock lock(mu_);
    statuses_.emplace_back(line);
  }
  void Alive() override { pings_++; }
  std::optional<std::chrono::microseconds> WatchdogTimeout() const override { return watchdog_; }

  int pings() const { return pings_; }
  std::vector<std::string> statuses() const ABSL_LOCKS_EXCLUDED(mu_) {
    sync::MutexLock lock(mu_);
    return statuses_;
  }

 private:
  const std::optional<std::chrono::microseconds> watchdog_;
  std::atomic<int> pings_{0};
  mutable sync::Mutex mu_;
  std::vector<std::string> statuses_ ABSL_GUARDED_BY(mu_);
};

TEST(HeartbeatTest, PingsOnlyWhileTheDaemonAnswers) {
  FakeManager manager(100ms);  // a ping every 50 ms
  std::atomic<bool> answers{true};
  std::atomic<int> probes{0};
  Heartbeat heartbeat(manager,
                      {.alive =
                           [&](auto) {
                             probes++;
                             return answers ? Status::Ok() : DeadlineExceeded("the writer hangs");
                           },
                       .status = [] { return std::string("serving"); }},
                      1h);
  ASSERT_TRUE(testing::WaitUntil([&] { return manager.pings() >= 3; }, 10s));

  answers = false;
  int probed = probes;
  ASSERT_TRUE(testing::WaitUntil([&] { return probes >= probed + 2; }, 10s));
  // One probe may have been answered as the flag changed; none after it.
  int stalled_at = manager.pings();
  ASSERT_TRUE(testing::WaitUntil([&] { return probes >= probed + 5; }, 10s));
  EXPECT_EQ(manager.pings(), stalled_at);

  answers = true;
  EXPECT_TRUE(testing::WaitUntil([&] { return manager.pings() > stalled_at; }, 10s));
  EXPECT_EQ(manager.statuses(), std::vector<std::string>{"serving"});
}

TEST(HeartbeatTest, WithoutAWatchdogOnlyTheStatusIsRefreshed) {
  FakeManager manager(std::nullopt);
  std::atomic<int> probes{0};
  {
    Heartbeat heartbeat(manager,
                        {.alive =
                             [&](auto) {
                               probes++;
                               return Status::Ok();
                             },
                         .status = [] { return std::string("serving"); }},
                        20ms);
    ASSERT_TRUE(testing::WaitUntil([&] { return manager.statuses().size() >= 3; }, 10s));
  }
  EXPECT_EQ(probes, 0);
  EXPECT_EQ(manager.pings(), 0);
}

}  // namespace
}  // namespace propbridge::service
