// Reading the date-time forms vendor systems write: "2026-11-02 09:30", "2026-11-02T09:30:15",
// "2026/11/02 09:30:15.250", with an optional "Z" or "+08:00". Without a zone the time is local
// to the source and the daemon resolves it in the source's configured time zone.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "propbridge/sdk/event.h"

namespace propbridge::sdk {

namespace detail {

// Exactly `digits` decimal digits: no sign, so "-1:30" is no time of day.
inline bool ReadNumber(std::string_view& s, int digits, int& out) {
  if (s.size() < static_cast<size_t>(digits)) return false;
  out = 0;
  for (int i = 0; i < digits; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  s.remove_prefix(digits);
  return true;
}

inline bool Expect(std::string_view& s, std::string_view any_of) {
  if (s.empty() || any_of.find(s.front()) == std::string_view::npos) return false;
  s.remove_prefix(1);
  return true;
}

}  // namespace detail

// Returns nullopt for text that is not a date-time or names an impossible one (2026-02-30).
inline std::optional<EventTime> ParseDateTime(std::string_view s) {
  using namespace std::chrono;
  int y, mo, d, h = 0, mi = 0, sec = 0, micros = 0;
  if (!detail::ReadNumber(s, 4, y) || !detail::Expect(s, "-/") || !detail::ReadNumber(s, 2, mo) ||
      !detail::Expect(s, "-/") || !detail::ReadNumber(s, 2, d)) {
    return std::nullopt;
  }
  if (!s.empty() && (s.front() == ' ' || s.front() == 'T')) {
    s.remove_prefix(1);
    if (!detail::ReadNumber(s, 2, h) || !detail::Expect(s, ":") || !detail::ReadNumber(s, 2, mi)) {
      return std::nullopt;
    }
    if (!s.empty() && s.front() == ':') {
      s.remove_prefix(1);
      if (!detail::ReadNumber(s, 2, sec)) return std::nullopt;
      if (!s.empty() && s.front() == '.') {
        s.remove_prefix(1);
        int scale = 100000, digits = 0;
        while (!s.empty() && s.front() >= '0' && s.front() <= '9' && digits < 6) {
          micros += (s.front() - '0') * scale;
          scale /= 10;
          ++digits;
          s.remove_prefix(1);
        }
        if (digits == 0) return std::nullopt;
      }
    }
  }
  year_month_day date{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!date.ok() || h > 23 || mi > 59 || sec > 59) return std::nullopt;
  auto since_midnight = hours{h} + minutes{mi} + seconds{sec} + microseconds{micros};

  if (s.empty()) return LocalTime{local_days{date} + since_midnight};
  int offset_minutes = 0;
  if (s == "Z") {
    s.remove_prefix(1);
  } else {
    int sign = s.front() == '-' ? -1 : 1;
    int oh, om;
    if (!detail::Expect(s, "+-") || !detail::ReadNumber(s, 2, oh) || !detail::Expect(s, ":") ||
        !detail::ReadNumber(s, 2, om) || !s.empty() || oh > 14 || om > 59) {
      return std::nullopt;
    }
    offset_minutes = sign * (oh * 60 + om);
  }
  return UtcTime{sys_days{date} + since_midnight - minutes{offset_minutes}};
}

}  // namespace propbridge::sdk
