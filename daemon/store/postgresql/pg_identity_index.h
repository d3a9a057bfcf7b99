// The PostgreSQL store's IdentityIndex: the identifiers, customers, merges and occupancy tables
// of pg_schema.h on the writer connection, inside the writer's transaction. Every call of an
// index is a network round trip on PostgreSQL, so this one works from memory where it can:
// Prefetch loads what a batch's identifiers need (the identifiers, the standing merges they
// made, the units' occupancy, the roots of every customer they name and whether those hold a
// strong identifier) in three queries; lookups are served from what it loaded; new customers
// and occupancy periods take ids reserved from their sequences ahead, and they and new
// identifiers are held back and written together by Flush. Merges, splits and changes to stored
// periods are written through at once.
#pragma once

#include <functional>
#include <memory>

#include "daemon/store/identity_index.h"
#include "daemon/store/postgresql/pg_connection.h"
#include "propbridge/sdk/status.h"

namespace propbridge::store {

class PgIdentityIndex : public IdentityIndex {
 public:
  // Writes what is held back: customers, identifiers, then the store's held events (the
  // store's `write_held_events`). Before the transaction or savepoint it was made in ends.
  virtual Status Flush() = 0;
  // Drops what it loaded and what it holds back: after a rollback, and before a transaction
  // whose state it has not seen. Ids it reserved stay reserved.
  virtual void Forget() = 0;
};

// On the connection `connection` points to, the writer's, which may be replaced by a new one
// between transactions; both must outlive the index. `write_held_events` writes the events the
// store holds back, and is called before anything that moves events between customers (a merge,
// a split), so that they move too. Not thread-safe, like the connection.
std::unique_ptr<PgIdentityIndex> NewPgIdentityIndex(const std::unique_ptr<PgConnection>& connection,
                                                    std::function<Status()> write_held_events);

}  // namespace propbridge::store
