// The SDK's date-time parser, which every plugin uses on vendor text. What it accepts is a real
// date and time, and written back in its own form it reads as the same instant.
#include <chrono>
#include <cstdio>
#include <string>
#include <variant>

#include "fuzz/fuzz_check.h"
#include "propbridge/sdk/time.h"

namespace {

// "YYYY-MM-DDTHH:MM:SS.ffffff" for the micros since the epoch of a clock; empty for a year
// outside 0000..9999, which the parser cannot read.
std::string Format(std::chrono::microseconds since_epoch) {
  using namespace std::chrono;
  sys_time<microseconds> time{since_epoch};
  sys_days day = floor<days>(time);
  year_month_day date{day};
  hh_mm_ss clock{time - day};
  int year = static_cast<int>(date.year());
  if (year < 0 || year > 9999) return "";
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02d:%02d:%02d.%06d", year,
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                static_cast<int>(clock.hours().count()), static_cast<int>(clock.minutes().count()),
                static_cast<int>(clock.seconds().count()),
                static_cast<int>(clock.subseconds().count()));
  return text;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace propbridge::sdk;
  using propbridge::fuzz::Require;
  std::optional<EventTime> time = ParseDateTime(propbridge::fuzz::AsText(data, size));
  if (!time) return 0;
  Require(time->index() != 0, "a parsed time is a time");
  if (const auto* local = std::get_if<LocalTime>(&*time)) {
    std::string text = Format(local->time_since_epoch());
    Require(!text.empty(), "a local time keeps its four-digit year");
    std::optional<EventTime> again = ParseDateTime(text);
    Require(again && std::get_if<LocalTime>(&*again) && std::get<LocalTime>(*again) == *local,
            "a local time reads back as itself");
  } else {
    const UtcTime& utc = std::get<UtcTime>(*time);
    std::string text = Format(utc.time_since_epoch());
    if (text.empty()) return 0;  // a zone offset moved it out of the years the parser reads
    std::optional<EventTime> again = ParseDateTime(text + "Z");
    Require(again && std::get_if<UtcTime>(&*again) && std::get<UtcTime>(*again) == utc,
            "a UTC time reads back as itself");
  }
  return 0;
}
