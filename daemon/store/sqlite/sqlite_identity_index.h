// The SQLite store's IdentityIndex: the identifiers, customers, merges and occupancy tables of
// sqlite_schema.h, read and written on the writer connection inside the writer's transaction.
#pragma once

#include <sqlite3.h>

#include <memory>

#include "daemon/store/identity_index.h"

namespace propbridge::store {

// On `db`, the writer connection, which must outlive the index. Its statements are prepared
// on first use and kept; used by one thread at a time, like the connection.
std::unique_ptr<IdentityIndex> NewSqliteIdentityIndex(sqlite3* db);

}  // namespace propbridge::store
