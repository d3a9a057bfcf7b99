// What the command line says about which events to show, turned into the API's
// TimelineFilter, and which outreach reasons. Plain values; not thread-safe.
#pragma once

#include <google/protobuf/timestamp.pb.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "propbridge/v1/customer.pb.h"
#include "propbridge/v1/timeline.pb.h"

namespace propbridge::ctl {

// The filter flags shared by `timeline` and `watch`, as given; each value is checked by the
// parser with the functions below before ToFilter is called.
struct FilterFlags {
  std::vector<std::string> steps;
  std::vector<std::string> kinds;
  std::vector<std::string> sources;
  std::string since;
  std::string until;
  std::string matter;
  bool proactive = false;
  bool reactive = false;
  bool contacts = false;

  v1::TimelineFilter ToFilter() const;
};

// A step by its name, in any case: "know", "HELP"; with or without the "STEP_" prefix.
std::optional<v1::Step> ParseStep(std::string_view name);

// An outreach reason by its name, in any case: "complaint_past_sla", "MATTER_REOPENED"; with or
// without the "OUTREACH_REASON_" prefix.
std::optional<v1::OutreachReason> ParseOutreachReason(std::string_view name);

// "2026-11-01", "2026-11-01 09:00", "2026-11-01T09:00:15": a date-time in the local time
// zone (TZ). With a trailing "Z" or "+08:00" it is read in that offset instead.
std::optional<google::protobuf::Timestamp> ParseTime(std::string_view text);

}  // namespace propbridge::ctl
