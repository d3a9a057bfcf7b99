#include "plugins/homeservice/backoff.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

namespace propbridge::homeservice {
namespace {

using namespace std::chrono_literals;

TEST(HomeServiceBackoffTest, DoublesUpToTheCapWithJitterInTheUpperHalf) {
  Backoff backoff(100ms, 1000ms, 42);
  const std::chrono::milliseconds ceilings[] = {100ms, 200ms, 400ms, 800ms, 1000ms, 1000ms};
  for (int retry = 1; retry <= 6; ++retry) {
    std::set<std::chrono::milliseconds::rep> seen;
    for (int i = 0; i < 200; ++i) {
      std::chrono::milliseconds delay = backoff.Delay(retry);
      EXPECT_GE(delay, ceilings[retry - 1] / 2) << "retry " << retry;
      EXPECT_LE(delay, ceilings[retry - 1]) << "retry " << retry;
      seen.insert(delay.count());
    }
    EXPECT_GT(seen.size(), 10u) << "no jitter at retry " << retry;
  }
  EXPECT_LE(backoff.Delay(1000), 1000ms);
}

TEST(HomeServiceBackoffTest, ReadsRetryAfterInSecondsOrAsADate) {
  auto now = std::chrono::sys_days{std::chrono::year{2026} / 11 / 26} + 7h + 28min;
  EXPECT_EQ(ParseRetryAfter("120", now), 120s);
  EXPECT_EQ(ParseRetryAfter(" 0 ", now), 0s);
  EXPECT_EQ(ParseRetryAfter("Thu, 26 Nov 2026 07:28:30 GMT", now), 30s);
  EXPECT_EQ(ParseRetryAfter("Thu, 26 Nov 2026 07:00:00 GMT", now), 0ms);
  EXPECT_EQ(ParseRetryAfter("99999999999999999999999", now), std::chrono::milliseconds::max());
  EXPECT_EQ(ParseRetryAfter("", now), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("-5", now), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("1.5", now), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("soon", now), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("Thu, 31 Nov 2026 07:28:30 GMT", now), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("Thursday, 26-Nov-26 07:28:30 GMT", now), std::nullopt);
}

TEST(HomeServiceBackoffTest, ASleepEndsWhenStopIsRequested) {
  std::stop_source stop;
  auto started = std::chrono::steady_clock::now();
  std::thread stopper([&] {
    std::this_thread::sleep_for(50ms);
    stop.request_stop();
  });
  EXPECT_FALSE(SleepUnlessStopped(10s, stop.get_token()));
  stopper.join();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_TRUE(SleepUnlessStopped(1ms, std::stop_source().get_token()));
}

}  // namespace
}  // namespace propbridge::homeservice
