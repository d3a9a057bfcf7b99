// An event as the timeline holds it. Plain data.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "daemon/identity/identifier.h"
#include "propbridge/sdk/event.h"

namespace propbridge::store {

using Micros = std::chrono::sys_time<std::chrono::microseconds>;

// The wall clock, to the microsecond.
inline Micros MicrosNow() {
  return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
}

// An event as the timeline holds it, after validation and mapping.
struct Event {
  std::int64_t id = 0;  // assigned by the store on insert: the global sequence number
  // Assigned by the store on insert: the customer the identifiers resolve to (see customer.h).
  std::int64_t customer = 0;
  // Canonical, from the normaliser: placeholders and malformed values are gone.
  std::vector<identity::Identifier> identifiers;
  sdk::Step step = sdk::Step::kUnspecified;
  std::string kind;
  Micros occurred_at;
  Micros ingested_at;
  std::string source;
  std::string source_event_id;
  sdk::Initiative initiative = sdk::Initiative::kUnspecified;
  bool contact = false;
  std::string channel;
  std::string matter_id;
  sdk::MatterState matter_state = sdk::MatterState::kUnspecified;
  std::string summary;
  std::vector<std::pair<std::string, std::string>> attributes;
  // Not stored: carried from the store's Write to the change feed (0 on events read back). The
  // Store::MergeGeneration that `customer` was resolved under, counting the merges and splits
  // this event made itself: a watch that follows a customer by name tells by it whom the name
  // led to when the event was written.
  std::uint64_t merge_generation = 0;
};

}  // namespace propbridge::store
