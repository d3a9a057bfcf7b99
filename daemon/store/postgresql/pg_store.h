// The store on PostgreSQL, for companies that outgrow one machine: the same Store as SQLite's,
// on a database that several daemons can share (the schema of pg_schema.h). One writer
// connection commits the group commits and admins' changes, a pool of connections serves the
// short reads and a pool of its own the scans. Thread-safe as Store says; the store owns its
// connections. Not wired into the daemon's configuration here.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "daemon/identity/identifier.h"
#include "daemon/store/store.h"
#include "propbridge/sdk/status.h"

namespace propbridge::store {

struct PgStoreOptions {
  // libpq's "key=value ..." or a postgresql:// URI (PgConnection::Open), without the password,
  // which comes from `password_file` when the server asks for one.
  std::string connection;
  std::optional<std::filesystem::path> password_file;
  // As StoreOptions: connections for short reads, connections of their own for scans, how
  // reads wait for one, and how identifiers resolve.
  std::size_t reader_connections = 4;
  std::size_t scan_connections = 2;
  std::chrono::milliseconds connection_wait{1000};
  identity::IdentityRules identity = identity::IdentityRules::Defaults();
};

// What the database holds for every daemon that shares it.
struct PgStoreInfo {
  int schema_version = 0;
  // The key page tokens are signed with (kPageTokenKeyBytes bytes), the same for every daemon
  // of the database, so that any of them takes a token another gave out.
  std::string page_token_key;
};

// Connects, brings the database to the schema (pg_schema.h: PreparePgDatabase) and opens the
// store; `info`, when given, receives what PgStoreInfo says. Fails as PgConnection::Open and
// PreparePgDatabase do, or with INVALID_ARGUMENT for options it cannot use.
//
// What differs from SQLite's store, by what PostgreSQL is:
//  - Backup is PostgreSQL's own tools' work (pg_dump, pg_basebackup): FAILED_PRECONDITION.
//  - Ids come from sequences: they grow, but may skip values (a rolled-back batch, customer ids
//    reserved ahead), and of two daemons' transactions the one with the smaller event ids may
//    commit later (see ReadChanges).
//  - A connection that the server lost is opened again by the next call that needs it; the call
//    that found it lost fails with UNAVAILABLE.
Result<std::unique_ptr<Store>> OpenPostgresStore(const PgStoreOptions& options,
                                                 PgStoreInfo* info = nullptr);

}  // namespace propbridge::store
