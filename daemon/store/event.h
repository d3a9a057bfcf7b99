// An event as the timeline holds it. Plain data.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "propbridge/sdk/event.h"

namespace propbridge::store {

using Micros = std::chrono::sys_time<std::chrono::microseconds>;

// An event as the timeline holds it, after validation and mapping.
struct Event {
  std::int64_t id = 0;  // assigned by the store on insert: the global sequence number
  std::string customer;
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
};

}  // namespace propbridge::store
