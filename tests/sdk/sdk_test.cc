// The SDK's own code, as a plugin runs it: the date-time reader vendors' text goes through, and
// the polling base's stop.
#include "propbridge/sdk/sdk.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace propbridge::sdk {
namespace {

using namespace std::chrono;

TEST(ParseDateTime, ReadsTheFormsVendorsWrite) {
  auto local = ParseDateTime("2026-11-02 09:30");
  ASSERT_TRUE(local);
  EXPECT_EQ(std::get<LocalTime>(*local),
            LocalTime{local_days{year{2026} / November / 2} + hours{9} + minutes{30}});
  auto utc = ParseDateTime("2026/11/02T09:30:15.250+08:00");
  ASSERT_TRUE(utc);
  EXPECT_EQ(std::get<UtcTime>(*utc), UtcTime{sys_days{year{2026} / November / 2} + hours{1} +
                                             minutes{30} + seconds{15} + milliseconds{250}});
  EXPECT_TRUE(ParseDateTime("2026-11-02"));
}

TEST(ParseDateTime, RefusesSignsAndImpossibleFields) {
  // Each once parsed as another time: a negative hour was the previous day.
  for (const char* text :
       {"2026-11-02 -1:30", "2026-11-02 09:-5", "2026-11-02 09:30:-1", "2026--1-02 09:30",
        "2026-11-+2 09:30", "+026-11-02", "2026-11-02 09:30+-8:00", "2026-11-02 09:30+08:-1",
        "2026-02-30 09:00", "2026-11-02 24:00", "2026-11-02 9:30", "2026-11-02 09:30Zjunk"}) {
    EXPECT_FALSE(ParseDateTime(text)) << text;
  }
}

// A context that keeps the log lines.
class LinesContext final : public Context, private Logger {
 public:
  const std::string& InstanceName() const noexcept override { return name_; }
  const Settings& Config() const noexcept override { return settings_; }
  const std::string& TimeZone() const noexcept override { return zone_; }
  Logger& Log() noexcept override { return *this; }
  Status Emit(Batch) noexcept override { return Status::Ok(); }
  const std::optional<std::string>& LastCheckpoint() const noexcept override { return checkpoint_; }
  std::vector<std::string> Lines() {
    std::lock_guard lock(mu_);
    return lines_;
  }

 private:
  void Log(LogLevel, std::string_view message) noexcept override {
    std::lock_guard lock(mu_);
    lines_.emplace_back(message);
  }
  std::string name_ = "test", zone_ = "UTC";
  Settings settings_;
  std::optional<std::string> checkpoint_;
  std::mutex mu_;
  std::vector<std::string> lines_;
};

// Polls until told how: a Poll that bounds its wait by StopDeadline(), or one that ignores it.
class WaitingPlugin final : public PollingPlugin {
 public:
  explicit WaitingPlugin(bool honours_deadline) : honours_deadline_(honours_deadline) {}
  std::atomic<bool> polling{false};

 protected:
  Status Prepare(Context&) override {
    SetInterval(milliseconds(1));
    return Status::Ok();
  }
  void Poll(Context&) override {
    polling = true;
    polling.notify_all();
    // A vendor call that does not return on its own for two seconds.
    const auto own_end = steady_clock::now() + seconds(2);
    while (steady_clock::now() < own_end) {
      if (honours_deadline_ && steady_clock::now() >= StopDeadline() - milliseconds(100)) return;
      std::this_thread::sleep_for(milliseconds(5));
    }
  }

 private:
  const bool honours_deadline_;
};

TEST(PollingPlugin, AStopDuringALongPollReturnsByTheDeadlineWhenThePollBoundsItsWait) {
  LinesContext context;
  WaitingPlugin plugin(true);
  ASSERT_TRUE(plugin.Start(context).ok());
  plugin.polling.wait(false);
  const auto deadline = steady_clock::now() + milliseconds(300);
  plugin.Stop(deadline);
  EXPECT_LT(steady_clock::now(), deadline + milliseconds(200));
  EXPECT_TRUE(context.Lines().empty());
}

TEST(PollingPlugin, APollRunningPastTheDeadlineIsLoggedAndStillWaitedFor) {
  LinesContext context;
  WaitingPlugin plugin(false);
  ASSERT_TRUE(plugin.Start(context).ok());
  plugin.polling.wait(false);
  plugin.Stop(steady_clock::now() + milliseconds(100));
  ASSERT_EQ(context.Lines().size(), 1u);
  EXPECT_EQ(context.Lines()[0], "a poll was still running at the stop deadline");
}

}  // namespace
}  // namespace propbridge::sdk
