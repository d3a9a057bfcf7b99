// Identity resolution: which customer a new event belongs to, and the merges, splits and
// occupancy periods that follow from it. Written once over a store's IdentityIndex, inside the
// writer's transaction, so resolution sees every event stored before and none after: one
// writer, no races between two events that name the same person.
//
// The rules, per event (identifiers in canonical form, see daemon/identity):
//  1. Strong identifiers without a per-type limit (account, contract, member) decide first.
//     Known ones that sit on different customers merge those customers; unknown ones join
//     the event's customer (a new one when none is known).
//  2. Strong identifiers with a limit (phone) link the same way, but every customer they join
//     is counted: once one would join more customers that hold an unlimited identifier than
//     its type allows, it is demoted and the merges it made are undone (a switchboard phone).
//  3. With no strong identifier, a unit names whoever occupied it at the event's time; with no
//     occupant, the unit's own customer (events about the unit before anyone was known).
//  4. Handover and move-in kinds open an occupancy period for the event's customer (closing
//     the previous occupant's); move-out kinds close it; any other event decided by a strong
//     identifier opens an inferred period when nobody occupied the unit at its time.
//  5. Weak identifiers never link; they are kept for search.
//
// Every merge is recorded with its cause; Split undoes one, and customers that an admin split
// are never merged again by resolution.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/identity/identifier.h"
#include "daemon/store/customer.h"
#include "daemon/store/event.h"
#include "daemon/store/identity_index.h"
#include "propbridge/sdk/status.h"

namespace propbridge::customers {

// Not thread-safe: used by the store's writer, under its lock, like its index.
class Resolver {
 public:
  // `index` must outlive the resolver.
  Resolver(store::IdentityIndex& index, identity::IdentityRules rules)
      : index_(index), rules_(std::move(rules)) {}

  struct Resolution {
    std::int64_t customer = 0;         // the customer the event belongs to now
    std::int64_t home = 0;             // the customer its identifiers resolved to
    std::vector<std::int64_t> merges;  // ids of the merges this event made
  };
  // Within a transaction, once per batch before its events are resolved: lets the index load
  // what they need (IdentityIndex::Prefetch).
  Status BeginBatch(std::span<const store::Event> events) { return index_.Prefetch(events); }
  // Within a transaction: resolves a new event, creating, merging and opening occupancy as
  // its identifiers require. Call before inserting it; then RecordMergeEvent.
  Result<Resolution> Resolve(const store::Event& event);
  // Names the inserted event as the cause of the merges its resolution made.
  Status RecordMergeEvent(const Resolution& resolution, std::int64_t event_id);

  // Within a transaction: an admin's link and split.
  Result<store::MergeRecord> Link(std::int64_t a, std::int64_t b, const std::string& actor,
                                  const std::string& reason, store::Micros now);
  Result<store::MergeRecord> Split(std::int64_t merge_id, const std::string& actor,
                                   const std::string& reason, store::Micros now);

  // The rules for the events resolved from now on.
  void UseRules(identity::IdentityRules rules) { rules_ = std::move(rules); }

  // How many merges and splits this resolver has made, committed or not; it only grows.
  std::uint64_t merges_made() const { return merges_made_; }

 private:
  // The root of a customer that must exist: DATA_LOSS when it does not.
  Result<std::int64_t> Root(std::int64_t customer);
  // Joins the customers that `a` and `b` belong to (unless an admin split them apart).
  Result<std::optional<std::int64_t>> Join(std::int64_t a, std::int64_t b, std::string_view cause,
                                           const store::MergeNote& note, bool respect_splits);
  Status Unmerge(const store::StandingMerge& merge, const store::MergeNote& note);
  // Links `home`'s customer and the one a limited identifier sits on, or demotes it.
  Status LinkThroughLimited(const identity::Identifier& id, const store::IndexedIdentifier& known,
                            std::int64_t home, store::Micros at, std::vector<std::int64_t>& merges);
  Status Occupy(const std::string& unit, std::int64_t home, store::Micros at, bool inferred);
  Status Vacate(const std::string& unit, std::int64_t home, store::Micros at);
  Result<store::MergeRecord> ReadMerge(std::int64_t merge_id);

  store::IdentityIndex& index_;
  identity::IdentityRules rules_;
  std::uint64_t merges_made_ = 0;
};

}  // namespace propbridge::customers
