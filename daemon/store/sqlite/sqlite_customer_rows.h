// The SQLite store's CustomerRows (daemon/store/customer_rows.h): the customers, identifiers,
// merges, occupancy and events tables of sqlite_schema.h, read on a read connection for the
// customer reads of daemon/customers.
#pragma once

#include <memory>

#include "daemon/store/customer_rows.h"
#include "daemon/store/sqlite/sqlite_support.h"
#include "propbridge/sdk/status.h"

namespace propbridge::store {

// Rows read with the statements of `statements` (prepared there on first use and kept), inside
// one read transaction of its connection: the caller's when one is open, else one it begins
// now and ends when destroyed. `statements` outlives the rows, and its connection serves
// nothing else meanwhile.
Result<std::unique_ptr<CustomerRows>> OpenSqliteCustomerRows(StatementCache& statements);

}  // namespace propbridge::store
