// The PostgreSQL store's identity reads, for the API on a read connection and for the identity
// index on the writer's: the customer an identifier names, the roots merged customers belong to,
// and merges as rows. Each is one statement, one round trip, however long the merge chains.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "daemon/identity/identifier.h"
#include "daemon/store/customer.h"
#include "daemon/store/event.h"
#include "daemon/store/postgresql/pg_connection.h"
#include "propbridge/sdk/status.h"

namespace propbridge::store {

// The merges table's columns in the order MergeFromPgRow reads them, without a table prefix.
inline constexpr const char* kPgMergeColumns =
    "id, at, kept, absorbed, cause, event_id, actor, reason, undone_at, undone_by, undone_reason";
// Reads the columns of kPgMergeColumns from `first` on.
MergeRecord MergeFromPgRow(const PgRow& row, int first = 0);

// Where following merged_into from a customer leads.
struct PgRootWalk {
  // The customer that stands alone at the end; nullopt when the start, or a customer on the
  // way, does not exist.
  std::optional<std::int64_t> root;
  bool cycle = false;  // the chain comes back on itself (which no merge writes)
};

// A statement that follows merged_into from each customer that the CTE `starts` selects
// ("starts(id) AS (...)", after any CTE it needs), then runs `select`, which may read the CTE
// walk(origin, root, cycle): per start, root is NULL when the start, or a customer on the way,
// does not exist. Each walk carries its path, so that a cycle ends it.
std::string PgRootWalkSql(std::string_view starts, std::string_view select);
inline constexpr std::string_view kPgWalkColumns = "SELECT origin, root, cycle FROM walk";
// Reads walk's root and cycle from `first` on.
PgRootWalk PgRootWalkFromRow(const PgRow& row, int first);

// Follows merged_into from each of `customers`, by start; one statement for all of them.
Result<std::unordered_map<std::int64_t, PgRootWalk>> QueryPgRoots(
    PgConnection& connection, std::span<const std::int64_t> customers);

// The customer `id` names at `at` (a unit: its occupant then, else its own customer), and
// every customer it names at any time, most recent first; both as roots. DATA_LOSS for a cycle.
Result<std::optional<std::int64_t>> QueryPgCustomerFor(PgConnection& connection,
                                                       const identity::Identifier& id,
                                                       const identity::IdentityRules& rules,
                                                       Micros at);
Result<std::vector<std::int64_t>> QueryPgCustomersFor(PgConnection& connection,
                                                      const identity::Identifier& id,
                                                      const identity::IdentityRules& rules);

}  // namespace propbridge::store
