// The SQLite store's identity reads, for the API on a read connection and for the identity
// index on the writer's: the customer an identifier names, the root a merged customer belongs
// to, and merges as rows. Resolution itself is daemon/customers/resolver.h, over the tables
// through sqlite_identity_index.h.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "daemon/identity/identifier.h"
#include "daemon/store/customer.h"
#include "daemon/store/event.h"
#include "daemon/store/sqlite/sqlite_support.h"
#include "propbridge/sdk/status.h"

namespace propbridge::store {

// The merges table's columns in the order MergeFromRow reads them, without a table prefix.
inline constexpr const char* kMergeColumns =
    "id, at, kept, absorbed, cause, event_id, actor, reason, undone_at, undone_by, undone_reason";
MergeRecord MergeFromRow(sqlite3_stmt* stmt);

// Follows merged_into from `customer` to the customer that stands alone; nullopt when
// `customer` does not exist.
Result<std::optional<std::int64_t>> QueryRoot(StatementCache& statements, std::int64_t customer);
// The customer `id` names at `at` (a unit: its occupant then, else its own customer), and
// every customer it names at any time; both as roots.
Result<std::optional<std::int64_t>> QueryCustomerFor(StatementCache& statements,
                                                     const identity::Identifier& id,
                                                     const identity::IdentityRules& rules,
                                                     Micros at);
Result<std::vector<std::int64_t>> QueryCustomersFor(StatementCache& statements,
                                                    const identity::Identifier& id,
                                                    const identity::IdentityRules& rules);

}  // namespace propbridge::store
