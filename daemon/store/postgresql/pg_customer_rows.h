// The PostgreSQL store's CustomerRows (daemon/store/customer_rows.h): the customers,
// identifiers, merges, occupancy and events tables of pg_schema.h, read for the customer reads
// of daemon/customers. Every call is one statement, however many customers it covers.
#pragma once

#include <memory>
#include <stop_token>

#include "daemon/store/customer_rows.h"
#include "daemon/store/postgresql/pg_connection.h"

namespace propbridge::store {

// Rows read on `connection`, inside a transaction that the caller holds open for as long as the
// rows live, REPEATABLE READ so that every call sees one snapshot. Once `stop` is requested,
// every call fails with CANCELLED before it sends anything (the caller cancels what runs).
// `connection` outlives the rows and serves nothing else meanwhile.
std::unique_ptr<CustomerRows> NewPgCustomerRows(PgConnection& connection, std::stop_token stop);

}  // namespace propbridge::store
