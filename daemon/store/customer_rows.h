// What the customer reads (daemon/customers) need of a store backend: its customers,
// identifiers, occupancy, merges and events as rows, with no rule of the reads in them. One
// object is one read snapshot: every call sees the same committed state. Each call can be
// served by one query however many customers or rows it covers, so that a backend across a
// network answers a read in a few round trips (SQLite, in process, may run one per customer
// where that is cheaper). Not thread-safe: one thread, one read; the backend's connection
// outlives it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/store/customer.h"
#include "daemon/store/event.h"
#include "propbridge/sdk/event.h"
#include "propbridge/sdk/status.h"

namespace propbridge::store {

// A customer merged into no one: the root of the tree of those merged into it.
struct RootCustomer {
  std::int64_t id = 0;
  Micros created_at;
};

// An occupancy period of a customer of `root`'s tree.
struct OccupancyRow {
  std::int64_t root = 0;
  OccupancyPeriod period;  // period.customer: the customer of the tree that occupied the unit
  std::string community;   // the unit's ("" when its address named none)
};

// A customer with an occupancy period in a community.
struct CommunityRoot {
  std::string community;
  std::int64_t root = 0;
};

// What the figures need of one event. The text points into the backend's buffers and is valid
// only during the call that receives it.
struct EventFacts {
  std::int64_t customer = 0;  // the customer it is stored under
  sdk::Step step = sdk::Step::kUnspecified;
  sdk::Initiative initiative = sdk::Initiative::kUnspecified;
  bool contact = false;
  Micros occurred_at;
  std::string_view matter_id;  // empty: no matter
  sdk::MatterState matter_state = sdk::MatterState::kUnspecified;
  std::string_view kind;
};

// Returns false to stop the visit.
using EventFactsVisitor = std::function<bool(const EventFacts&)>;

class CustomerRows {
 public:
  virtual ~CustomerRows() = default;

  // The customer `id`, or the end of its merged_into chain. nullopt for an unknown id;
  // DATA_LOSS when the chain has no end (a cycle, which no merge writes).
  virtual Result<std::optional<RootCustomer>> FindRoot(std::int64_t id) = 0;

  // `root`'s tree is `root` and every customer whose merged_into chain reaches it.

  // The identifiers held by the customers of `root`'s tree, by type, then value.
  virtual Result<std::vector<CustomerIdentifier>> TreeIdentifiers(std::int64_t root) = 0;
  // The merges that kept a customer of `root`'s tree, undone ones too, newest first (by time,
  // then by id).
  virtual Result<std::vector<MergeRecord>> TreeMerges(std::int64_t root) = 0;
  // The occupancy periods of the trees of `roots`: by root in the order of `roots`, each tree's
  // newest first (by start, then the latest written first).
  virtual Result<std::vector<OccupancyRow>> TreeOccupancy(std::span<const std::int64_t> roots) = 0;

  // The events stored under each of `customers` (a root's tree's events are stored under the
  // root), handed to `visit` by customer in the order of `customers`, each customer's in
  // (occurred_at, id) order, until `visit` returns false. `visit` must not call this object.
  virtual Status VisitEvents(std::span<const std::int64_t> customers,
                             const EventFactsVisitor& visit) = 0;

  // Up to `limit` roots with an id above `after`, by id.
  virtual Result<std::vector<std::int64_t>> RootsAfter(std::int64_t after, std::size_t limit) = 0;
  // The roots of the trees with an occupancy period that began at or before `at` in
  // `community`, or in any community but "" when `community` is empty: each (community, root)
  // pair once, by community, then root.
  virtual Result<std::vector<CommunityRoot>> CommunityRoots(const std::string& community,
                                                            Micros at) = 0;
};

}  // namespace propbridge::store
