// The maintenance system's webhook payload: one JSON object per delivery, describing one event
// of a work order, a rule violation or a complaint (the format is in README.md). What a
// delivery becomes on the timeline. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "propbridge/sdk/event.h"

namespace propbridge::maintenance {

// Why a delivery cannot become an event.
struct DeliveryError {
  // The delivery's event_id when the body named one; empty otherwise.
  std::string event_id;
  // Every problem found, joined by "; ". Names fields, never their values.
  std::string reason;
};

// The body of one delivery as a timeline event (source_event_id = event_id, kind =
// "maintenance." + event_type), or what is wrong with it.
std::variant<sdk::RawEvent, DeliveryError> ParseDelivery(std::string_view body);

}  // namespace propbridge::maintenance
