// Customers as the store resolves them: the identifiers that name one person across vendors,
// the units they occupy, the merges that joined them, and the figures of the five-step method.
// Plain data.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/identity/identifier.h"
#include "daemon/outreach/rules.h"
#include "daemon/store/event.h"
#include "propbridge/sdk/event.h"

namespace propbridge::store {

// One identifier of a customer, as resolution keeps it.
struct CustomerIdentifier {
  identity::Identifier id;
  // Held by more customers than its type allows (a switchboard phone): kept, searchable, but no
  // longer linking anyone.
  bool demoted = false;
  Micros first_seen;
};

// A period in which a customer occupied a unit: from a handover or move-in (or, when no such
// event was seen, from the first event that named the customer with the unit) to a move-out
// or the next occupant's move-in.
struct OccupancyPeriod {
  std::string unit;  // canonical: "<community>/<building>-<entrance>-<room>"
  std::int64_t customer = 0;
  Micros from;
  std::optional<Micros> to;  // nullopt: still there
  bool inferred = false;     // opened by an ordinary event, not a handover or move-in
};

// Two customers joined into one: by an event whose identifiers sat on both, or by an admin.
struct MergeRecord {
  std::int64_t id = 0;
  Micros at;
  std::int64_t kept = 0;      // the customer that remains
  std::int64_t absorbed = 0;  // the customer whose events and identifiers moved to `kept`
  std::string cause;          // the linking identifier's text, or empty for an admin link
  std::int64_t event_id = 0;  // the event that linked them; 0 for an admin link
  std::string actor;          // "propbridged" for a merge made by resolution
  std::string reason;
  std::optional<Micros> undone_at;  // set once split again
  std::string undone_by;
  std::string undone_reason;
};

// One step of the five-step method for one customer (or one community).
struct StepFigures {
  sdk::Step step = sdk::Step::kUnspecified;
  std::int64_t events = 0;
  std::int64_t proactive = 0;  // events with initiative PROACTIVE
  std::optional<Micros> first;
  std::optional<Micros> last;
};

// A matter (work order, complaint, booking) whose last state is not CLOSED.
struct OpenMatter {
  std::string matter_id;
  sdk::Step step = sdk::Step::kUnspecified;
  std::string last_kind;
  Micros opened_at;       // its first event
  Micros last_at;         // its last event
  bool reopened = false;  // closed once and opened again
};

struct Customer {
  std::int64_t id = 0;
  Micros created_at;
  std::vector<CustomerIdentifier> identifiers;
  std::vector<OccupancyPeriod> occupancy;
  std::array<StepFigures, 5> steps;  // KNOW .. DELIGHT, in order
  std::vector<OpenMatter> open_matters;
  std::optional<std::chrono::microseconds> complaint_resolution_median;  // EMPATHIZE matters
  std::optional<Micros> last_proactive_contact;
  std::vector<MergeRecord> merges;  // that joined customers into this one, undone ones too
};

// A customer by its id in the public form "customer:<id>", which GetTimeline and the
// customer calls accept wherever they take an identifier.
inline constexpr std::string_view kCustomerIdType = "customer";
inline std::string CustomerKey(std::int64_t id) {
  return std::string(kCustomerIdType) + ":" + std::to_string(id);
}

// Why a customer needs a contact now.
enum class OutreachReason {
  kUnspecified = 0,
  kComplaintPastSla = 1,        // a complaint (EMPATHIZE matter) open longer than the SLA
  kNewOccupantNotWelcomed = 2,  // moved in within new_occupant_days, no proactive KNOW contact
  kNoProactiveContact = 3,      // no proactive contact for quiet_days
  kMatterReopened = 4,          // a matter closed once and open again
};

struct OutreachQuery {
  outreach::Rules rules;
  Micros now;
  std::string community;                // empty: every community
  std::vector<OutreachReason> reasons;  // empty: every reason
  std::int64_t after_customer = 0;      // keyset: customers with a larger id
  std::size_t limit = 50;
};

// One reason why a customer needs a contact, as facts: the API puts them in words.
struct OutreachItem {
  std::int64_t customer = 0;
  OutreachReason reason = OutreachReason::kUnspecified;
  std::string community;  // of the customer's current unit, if any
  Micros since;           // when the reason began (the complaint opened, the move-in, ...)
  std::chrono::microseconds elapsed{};  // from `since` to the query's now
  // The rule passed: complaint_sla, new_occupant_window or quiet_period; zero for
  // kMatterReopened, which has none.
  std::chrono::microseconds threshold{};
  // kComplaintPastSla and kMatterReopened: the matter that names the item, and how many more
  // have the same reason.
  std::string matter_id;
  std::size_t more_matters = 0;
  std::string unit;  // kNewOccupantNotWelcomed: the unit moved into
  // kNoProactiveContact: there never was one, and `since` is the customer's first event.
  bool never_contacted = false;
};

// One page of outreach.
struct OutreachPage {
  std::vector<OutreachItem> items;
  // Where the next page starts (OutreachQuery::after_customer); 0 when there is none.
  std::int64_t next_after_customer = 0;
};

// Per-community figures of the method.
struct CommunityFigures {
  std::string community;
  std::int64_t customers = 0;
  std::array<std::int64_t, 5> customers_reached{};  // customers with an event in each step
  std::int64_t events = 0;
  std::int64_t proactive = 0;
  std::optional<std::chrono::microseconds> complaint_resolution_median;
};

}  // namespace propbridge::store
