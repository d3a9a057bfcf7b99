// Turns one source's raw batch into what the store keeps: validates each event, places it on
// a step, resolves its time and derives its customer key. An invalid event is quarantined
// with its reason and its raw form, never dropped. Immutable; safe to share between threads.
#pragma once

#include <string>

#include "daemon/ingest/step_mapping.h"
#include "daemon/ingest/time_zone.h"
#include "daemon/store/store.h"
#include "propbridge/sdk/event.h"

namespace propbridge::ingest {

// Bounds on one event, so one oversized record cannot bloat the store or a client's page.
struct EventLimits {
  std::size_t max_id_bytes = 256;
  std::size_t max_kind_bytes = 128;
  std::size_t max_identifiers = 16;
  std::size_t max_identifier_bytes = 256;
  std::size_t max_summary_bytes = 1024;
  std::size_t max_attributes = 64;
  std::size_t max_attribute_bytes = 4096;
  std::size_t max_event_bytes = 64 * 1024;
  // Events from before this, or more than max_future after ingest, are impossible.
  store::Micros earliest =
      store::Micros{std::chrono::sys_days{std::chrono::year{1990} / std::chrono::January / 1}};
  std::chrono::hours max_future{24};
};

class Normalizer {
 public:
  Normalizer(std::string source, StepMapping mapping, TimeZone time_zone, EventLimits limits = {});

  // `now` stamps ingested_at and bounds the future.
  store::Batch Normalize(sdk::Batch batch, store::Micros now) const;

  const std::string& source() const { return source_; }

 private:
  // The reason the event cannot go on the timeline, or empty when it can.
  std::string Check(const sdk::RawEvent& event) const;

  std::string source_;
  StepMapping mapping_;
  TimeZone time_zone_;
  EventLimits limits_;
};

// A customer key from the event's identifiers: "<type>:<value>" of the first identifier whose
// value can identify anyone; empty when none can. Full identity resolution replaces this.
std::string CustomerKey(const std::vector<sdk::Identifier>& identifiers);

// Values vendors write when they do not know: they never identify a customer.
bool IsBlockedIdentifierValue(std::string_view value);

// The raw event as JSON, as it is kept in quarantine.
std::string RawEventJson(const sdk::RawEvent& event);

}  // namespace propbridge::ingest
