#include "backoff.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <condition_variable>
#include <mutex>

namespace propbridge::homeservice {
namespace {

// Past this many doublings the wait is the cap anyway, and the shift would overflow.
constexpr int kMaxDoublings = 30;

bool ReadNumber(std::string_view text, int& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

// "Wed, 21 Oct 2026 07:28:00 GMT", the only form RFC 9110 lets a sender write.
std::optional<std::chrono::system_clock::time_point> ParseHttpDate(std::string_view text) {
  using namespace std::chrono;
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (text.size() != 29 || text.substr(3, 2) != ", " || text[7] != ' ' || text[11] != ' ' ||
      text[16] != ' ' || text[19] != ':' || text[22] != ':' || text.substr(25) != " GMT") {
    return std::nullopt;
  }
  auto month = std::find(kMonths.begin(), kMonths.end(), text.substr(8, 3));
  int d, y, h, mi, s;
  if (month == kMonths.end() || !ReadNumber(text.substr(5, 2), d) ||
      !ReadNumber(text.substr(12, 4), y) || !ReadNumber(text.substr(17, 2), h) ||
      !ReadNumber(text.substr(20, 2), mi) || !ReadNumber(text.substr(23, 2), s)) {
    return std::nullopt;
  }
  year_month_day date{year{y},
                      std::chrono::month{static_cast<unsigned>(month - kMonths.begin() + 1)},
                      day{static_cast<unsigned>(d)}};
  if (!date.ok() || h > 23 || mi > 59 || s > 60) return std::nullopt;
  return sys_days{date} + hours{h} + minutes{mi} + seconds{s};
}

}  // namespace

Backoff::Backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap, std::uint64_t seed)
    : base_(base), cap_(std::max(base, cap)), random_(seed) {}

std::chrono::milliseconds Backoff::Delay(int retry) {
  int doublings = std::clamp(retry - 1, 0, kMaxDoublings);
  std::chrono::milliseconds ceiling = base_;
  for (int i = 0; i < doublings && ceiling < cap_; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, cap_);
  std::uniform_int_distribution<std::int64_t> spread(ceiling.count() / 2, ceiling.count());
  return std::chrono::milliseconds(spread(random_));
}

std::optional<std::chrono::milliseconds> ParseRetryAfter(
    std::string_view value, std::chrono::system_clock::time_point now) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (value.front() >= '0' && value.front() <= '9') {
    std::int64_t seconds = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec == std::errc::result_out_of_range) return std::chrono::milliseconds::max();
    if (ec != std::errc() || end != value.data() + value.size()) return std::nullopt;
    if (seconds > std::chrono::milliseconds::max().count() / 1000) {
      return std::chrono::milliseconds::max();
    }
    return std::chrono::seconds(seconds);
  }
  std::optional<std::chrono::system_clock::time_point> date = ParseHttpDate(value);
  if (!date) return std::nullopt;
  if (*date <= now) return std::chrono::milliseconds(0);
  return std::chrono::ceil<std::chrono::milliseconds>(*date - now);
}

bool SleepUnlessStopped(std::chrono::milliseconds duration, std::stop_token stop) {
  std::mutex mu;
  std::condition_variable_any wake;
  std::unique_lock lock(mu);
  wake.wait_for(lock, stop, duration, [] { return false; });
  return !stop.stop_requested();
}

}  // namespace propbridge::homeservice
