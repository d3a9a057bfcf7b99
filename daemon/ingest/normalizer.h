// Turns one source's raw batch into what the store keeps: validates each event, places it on
// a step, resolves its time and derives its customer key. An invalid event is quarantined
// with its reason and its raw form, never dropped. Immutable; safe to share between threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "daemon/identity/identifier.h"
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
  // A quarantined record keeps at most this much of its raw text, and says how much it had.
  std::size_t max_quarantined_raw_bytes = 64 * 1024;
  // Events from before this, or more than max_future after ingest, are impossible.
  store::Micros earliest =
      store::Micros{std::chrono::sys_days{std::chrono::year{1990} / std::chrono::January / 1}};
  std::chrono::hours max_future{24};
};

// How a source's identifiers are read: the daemon's identity rules, and the community (estate)
// whose units the source names, unless an event names its own in a "community" attribute.
struct SourceIdentity {
  std::shared_ptr<const identity::IdentityRules> rules =
      std::make_shared<const identity::IdentityRules>(identity::IdentityRules::Defaults());
  std::string community;
};

// Identifiers a source sent that name no one: values that are not in a form of their type
// ("unit: not a unit address"), and placeholders ("0", "null"). Counted whether or not another
// identifier of the event named its customer.
struct IdentifierProblems {
  std::uint64_t unreadable = 0;
  std::uint64_t placeholders = 0;
};

class Normalizer {
 public:
  Normalizer(std::string source, StepMapping mapping, TimeZone time_zone,
             SourceIdentity identity = {}, EventLimits limits = {});

  // `now` stamps ingested_at and bounds the future. Adds the batch's identifier problems to
  // `problems`, when given.
  store::Batch Normalize(sdk::Batch batch, store::Micros now,
                         IdentifierProblems* problems = nullptr) const;

  const std::string& source() const { return source_; }

 private:
  // The reason the event cannot go on the timeline, or empty when it can.
  std::string Check(const sdk::RawEvent& event) const;
  // The event's identifiers in canonical form, without placeholders and duplicates; the reason
  // when none is left. Values that cannot be read are named in `problems`.
  std::string Canonical(const sdk::RawEvent& event, std::vector<identity::Identifier>& out,
                        std::string& problems, IdentifierProblems& counts) const;

  std::string source_;
  StepMapping mapping_;
  TimeZone time_zone_;
  SourceIdentity identity_;
  EventLimits limits_;
};

// The raw event as JSON, as it is kept in quarantine.
std::string RawEventJson(const sdk::RawEvent& event);

}  // namespace propbridge::ingest
