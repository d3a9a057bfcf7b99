// What identity resolution reads and writes, as a store backend keeps it: identifiers and the
// customer each names, customers and their merges, occupancy periods of units. Primitives
// only: which identifier links, merges or demotes is decided above it, once for every backend
// (daemon/customers/resolver.h); an index stores and indexes.
//
// Every call runs inside the transaction of the store's writer that owns the index, which
// begins, commits and rolls back around it: the index never does. A failed call leaves that
// transaction to its owner. Not thread-safe: the writer uses it from one thread at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/identity/identifier.h"
#include "daemon/store/customer.h"
#include "daemon/store/event.h"
#include "propbridge/sdk/status.h"

namespace propbridge::store {

// The actor of the merges and splits that resolution makes, as MergeRecord keeps it.
inline constexpr std::string_view kResolverActor = "propbridged";

// What an identifier does for resolution, as the index keeps it beside the identifier. The
// numbers are stored.
enum class IdentifierRole {
  kWeak = 0,     // kept and searchable, never links
  kStrong = 1,   // links, on any number of customers
  kLimited = 2,  // links, on at most its type's max_customers customers
};

// An identifier the index knows.
struct IndexedIdentifier {
  std::int64_t home = 0;  // the customer it was first seen on; follow Root to whom it names now
  IdentifierRole role = IdentifierRole::kWeak;
  bool demoted = false;  // went over its type's limit; it links no one any more
};

// A merge that has not been undone.
struct StandingMerge {
  std::int64_t id = 0;
  std::int64_t kept = 0;
  std::int64_t absorbed = 0;
};

// Who made a merge or its undoing, and why.
struct MergeNote {
  std::string_view actor;
  std::string_view reason;
  Micros at;
};

// One period in which a customer occupied a unit.
struct IndexedPeriod {
  std::int64_t id = 0;
  std::int64_t customer = 0;  // a home: follow Root to whom it belongs now
  bool inferred = false;      // opened by an ordinary event, not a handover or move-in
};

class IdentityIndex {
 public:
  virtual ~IdentityIndex() = default;

  // A hint, once per batch before its events are resolved: an index whose every call is a
  // network round trip loads here what those events' identifiers need (the identifiers, the
  // roots of their homes) in one query, and serves the calls that follow from memory, in step
  // with its own writes; it must forget what it loaded when the transaction it was read in
  // rolls back. Correct without it.
  virtual Status Prefetch(std::span<const Event> events) {
    static_cast<void>(events);
    return Status::Ok();
  }

  // Identifiers.
  virtual Result<std::optional<IndexedIdentifier>> Lookup(const identity::Identifier& id) = 0;
  // Keeps `id` on `home`, unless the index knows it already: then nothing changes.
  virtual Status Attach(const identity::Identifier& id, std::int64_t home, IdentifierRole role,
                        Micros first_seen) = 0;
  virtual Status Demote(const identity::Identifier& id) = 0;
  // How many of `customers` hold a kStrong identifier (as its home).
  virtual Result<std::size_t> CountHoldingStrong(std::span<const std::int64_t> customers) = 0;

  // Customers.
  virtual Result<std::int64_t> CreateCustomer(Micros created_at) = 0;
  // The customer that `customer` belongs to now, following merged_into to the one that stands
  // alone; nullopt when there is no such customer. DATA_LOSS for a cycle.
  virtual Result<std::optional<std::int64_t>> Root(std::int64_t customer) = 0;

  // Merges. `kept` and `absorbed` stand alone. Points `absorbed` at `kept`, moves the events
  // whose customer is `absorbed` to `kept`, and records the merge with `cause` (an identifier's
  // Text, or empty) and no event yet; returns the merge's id.
  virtual Result<std::int64_t> Merge(std::int64_t kept, std::int64_t absorbed,
                                     std::string_view cause, const MergeNote& note) = 0;
  // Undoes a standing merge: `merge.absorbed` stands alone again, every event whose home lies
  // under it (through merges that still stand) goes back to it, and the merge is marked undone.
  virtual Status Unmerge(const StandingMerge& merge, const MergeNote& note) = 0;
  // Names `event_id` as the event that made each of `merges`.
  virtual Status SetMergeEvent(std::span<const std::int64_t> merges, std::int64_t event_id) = 0;
  virtual Result<std::optional<MergeRecord>> ReadMerge(std::int64_t merge_id) = 0;
  // The standing merges that `cause` made, newest first.
  virtual Result<std::vector<StandingMerge>> StandingMergesBy(std::string_view cause) = 0;
  // Whether a merge of `a` and `b` (either way round) was undone by someone other than
  // kResolverActor.
  virtual Result<bool> SplitByAdmin(std::int64_t a, std::int64_t b) = 0;

  // Occupancy, by canonical unit text.
  // The period that covers `at`: the latest begun at or before it and not ended by then.
  virtual Result<std::optional<IndexedPeriod>> PeriodAt(const std::string& unit, Micros at) = 0;
  // The first period to begin after `at`.
  virtual Result<std::optional<IndexedPeriod>> PeriodAfter(const std::string& unit, Micros at) = 0;
  // A period of `customer` from `from`, ending where the unit's next period begins (open when
  // none does). `community` is the unit's, empty when it names none.
  virtual Status OpenPeriod(const std::string& unit, std::string_view community,
                            std::int64_t customer, Micros from, bool inferred) = 0;
  virtual Status EndPeriod(std::int64_t period, Micros to) = 0;
  // Marks an inferred period as seen from a handover or move-in.
  virtual Status ConfirmPeriod(std::int64_t period) = 0;
  virtual Status MovePeriodStart(std::int64_t period, Micros from, bool inferred) = 0;
};

}  // namespace propbridge::store
