#include "tools/propbridgectl/filter.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>

namespace propbridge::ctl {
namespace {

std::string Upper(std::string_view text) {
  std::string upper(text);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return std::toupper(c); });
  return upper;
}

// Reads exactly `digits` decimal digits at the front of `text` and drops them from it.
std::optional<int> TakeNumber(std::string_view& text, size_t digits) {
  if (text.size() < digits) return std::nullopt;
  int value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + digits, value);
  if (error != std::errc() || end != text.data() + digits) return std::nullopt;
  text.remove_prefix(digits);
  return value;
}

bool TakeChar(std::string_view& text, char c) {
  if (text.empty() || text.front() != c) return false;
  text.remove_prefix(1);
  return true;
}

// The offset from UTC in seconds of a trailing "Z", "+HH:MM" or "-HH:MM"; nullopt if
// `text` is anything else.
std::optional<long> TakeOffset(std::string_view text) {
  if (text == "Z" || text == "z") return 0;
  if (text.size() != 6 || (text[0] != '+' && text[0] != '-')) return std::nullopt;
  int sign = text[0] == '-' ? -1 : 1;
  text.remove_prefix(1);
  auto hours = TakeNumber(text, 2);
  if (!hours || !TakeChar(text, ':')) return std::nullopt;
  auto minutes = TakeNumber(text, 2);
  if (!minutes || !text.empty() || *hours > 23 || *minutes > 59) return std::nullopt;
  return sign * (*hours * 3600L + *minutes * 60L);
}

}  // namespace

v1::TimelineFilter FilterFlags::ToFilter() const {
  v1::TimelineFilter filter;
  for (const auto& step : steps) filter.add_steps(*ParseStep(step));
  for (const auto& kind : kinds) filter.add_kind_prefixes(kind);
  for (const auto& source : sources) filter.add_sources(source);
  if (!since.empty()) *filter.mutable_start_time() = *ParseTime(since);
  if (!until.empty()) *filter.mutable_end_time() = *ParseTime(until);
  filter.set_matter_id(matter);
  if (proactive) filter.set_initiative(v1::INITIATIVE_PROACTIVE);
  if (reactive) filter.set_initiative(v1::INITIATIVE_REACTIVE);
  filter.set_contacts_only(contacts);
  return filter;
}

std::optional<v1::Step> ParseStep(std::string_view name) {
  std::string upper = Upper(name);
  if (!upper.starts_with("STEP_")) upper = "STEP_" + upper;
  v1::Step step;
  if (upper == "STEP_UNSPECIFIED" || !v1::Step_Parse(upper, &step)) return std::nullopt;
  return step;
}

std::optional<v1::OutreachReason> ParseOutreachReason(std::string_view name) {
  std::string upper = Upper(name);
  if (!upper.starts_with("OUTREACH_REASON_")) upper = "OUTREACH_REASON_" + upper;
  v1::OutreachReason reason;
  if (upper == "OUTREACH_REASON_UNSPECIFIED" || !v1::OutreachReason_Parse(upper, &reason)) {
    return std::nullopt;
  }
  return reason;
}

std::optional<google::protobuf::Timestamp> ParseTime(std::string_view text) {
  std::tm tm{};
  auto year = TakeNumber(text, 4);
  if (!year || !TakeChar(text, '-')) return std::nullopt;
  auto month = TakeNumber(text, 2);
  if (!month || !TakeChar(text, '-')) return std::nullopt;
  auto day = TakeNumber(text, 2);
  if (!day) return std::nullopt;
  tm.tm_year = *year - 1900;
  tm.tm_mon = *month - 1;
  tm.tm_mday = *day;
  if (TakeChar(text, ' ') || TakeChar(text, 'T') || TakeChar(text, 't')) {
    auto hour = TakeNumber(text, 2);
    if (!hour || !TakeChar(text, ':')) return std::nullopt;
    auto minute = TakeNumber(text, 2);
    if (!minute) return std::nullopt;
    tm.tm_hour = *hour;
    tm.tm_min = *minute;
    if (TakeChar(text, ':')) {
      auto second = TakeNumber(text, 2);
      if (!second) return std::nullopt;
      tm.tm_sec = *second;
    }
  }
  std::optional<long> offset;
  if (!text.empty()) {
    offset = TakeOffset(text);
    if (!offset) return std::nullopt;
  }

  std::tm wanted = tm;
  tm.tm_isdst = -1;
  std::time_t seconds = offset ? timegm(&tm) - *offset : std::mktime(&tm);
  if (seconds == static_cast<std::time_t>(-1)) return std::nullopt;
  if (tm.tm_year != wanted.tm_year || tm.tm_mon != wanted.tm_mon || tm.tm_mday != wanted.tm_mday ||
      tm.tm_min != wanted.tm_min || tm.tm_sec != wanted.tm_sec) {
    return std::nullopt;
  }
  google::protobuf::Timestamp timestamp;
  timestamp.set_seconds(seconds);
  return timestamp;
}

}  // namespace propbridge::ctl
