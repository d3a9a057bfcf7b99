// Which events a reader wants: the same filter selects stored events (as SQL) and live ones
// (in memory), so a watch sees exactly what a read would. Plain data.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "daemon/store/event.h"

namespace propbridge::store {

// Every set field narrows; within a list, any value matches.
struct TimelineFilter {
  std::vector<sdk::Step> steps;
  std::vector<std::string> kind_prefixes;  // "billing.reminder" covers "billing.reminder.x"
  std::vector<std::string> sources;
  std::optional<Micros> start;  // occurred_at >= start
  std::optional<Micros> end;    // occurred_at < end
  std::string matter_id;
  sdk::Initiative initiative = sdk::Initiative::kUnspecified;
  bool contacts_only = false;

  bool empty() const;
  // A canonical text of the filter: equal filters give equal text.
  std::string Fingerprint() const;
};

bool Matches(const TimelineFilter& filter, const Event& event);

// Whether `prefix` covers `kind` on whole dotted segments.
bool KindCovers(std::string_view prefix, std::string_view kind);

}  // namespace propbridge::store
