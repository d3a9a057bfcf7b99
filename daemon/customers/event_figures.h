// What one customer's events add up to, as the customer reads fold them from the store's rows
// (daemon/store/customer_rows.h): the five steps' figures, the proactive contacts and the
// matters. Plain data.
//
// Matters: a matter's events (same non-empty matter_id, among the customer's events) are taken
// in (occurred_at, id) order. CLOSED closes it; OPENED after a CLOSED reopens it. UPDATED and
// unspecified states leave it as it was, because vendors send a follow-up call or a rating
// after the closing event (maintenance work_order.followed_up and .rated, a home-service
// feedback) without meaning to reopen it.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "daemon/store/customer.h"
#include "daemon/store/customer_rows.h"
#include "daemon/store/event.h"
#include "propbridge/sdk/event.h"

namespace propbridge::customers {

// A matter as its events, read in order, leave it.
struct MatterTrack {
  std::string id;
  sdk::Step step = sdk::Step::kUnspecified;  // of its first event
  store::Micros opened_at;
  store::Micros last_at;
  std::string last_kind;
  bool closed = false;
  std::optional<store::Micros> first_closed;
  std::optional<store::Micros> reopened_at;  // the latest OPENED that followed a CLOSED
};

// One customer's events, added in (occurred_at, id) order.
struct EventFigures {
  EventFigures();

  void Add(const store::EventFacts& event);

  // Not closed now, by first event, then id.
  std::vector<const MatterTrack*> OpenMatters() const;
  // From the first event to the first CLOSED, of each EMPATHIZE matter that is closed now.
  std::vector<std::chrono::microseconds> ComplaintResolutions() const;

  std::array<store::StepFigures, 5> steps;  // KNOW .. DELIGHT
  std::int64_t events = 0;
  std::int64_t proactive = 0;
  std::optional<store::Micros> first_event;
  std::optional<store::Micros> last_proactive_contact;
  std::optional<store::Micros> last_proactive_know_contact;
  std::map<std::string, MatterTrack, std::less<>> matters;  // by matter id
};

// The lower of the two middle values for an even count: a time some complaint really took,
// not the average of two. nullopt for none.
std::optional<std::chrono::microseconds> Median(std::vector<std::chrono::microseconds> times);

}  // namespace propbridge::customers
