// How long to wait before trying the platform again, and waiting for it. Backoff is not
// thread-safe; the functions are.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <stop_token>
#include <string_view>

namespace propbridge::homeservice {

// Exponential backoff with jitter: the wait before retry n (1 for the first) is a random time
// between half and all of min(cap, base * 2^(n-1)), so that many clients that failed together
// do not come back together.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap, std::uint64_t seed);

  std::chrono::milliseconds Delay(int retry);

 private:
  std::chrono::milliseconds base_;
  std::chrono::milliseconds cap_;
  std::mt19937_64 random_;
};

// A Retry-After header's wait: delay-seconds ("120") or an HTTP date
// ("Wed, 21 Oct 2026 07:28:00 GMT", counted from `now`; a past date is no wait). nullopt for
// anything else.
std::optional<std::chrono::milliseconds> ParseRetryAfter(std::string_view value,
                                                         std::chrono::system_clock::time_point now);

// Sleeps for `duration`, or less when `stop` is requested: false then.
bool SleepUnlessStopped(std::chrono::milliseconds duration, std::stop_token stop);

}  // namespace propbridge::homeservice
