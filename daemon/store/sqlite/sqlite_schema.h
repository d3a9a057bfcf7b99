// The SQLite store's schema, and how a database file is brought to it. The schema is shared
// with the benchmark, which inserts into the very same tables as its raw baseline.
#pragma once

#include <sqlite3.h>

#include <string>

#include "propbridge/sdk/status.h"

namespace propbridge::store {

// Kept in PRAGMA user_version. A database with a newer version is refused, never downgraded.
// Version 1 (before customers were resolved) is refused with a message: no release wrote it.
// Version 3 added the audit table to version 2, which is brought up to it at open.
inline constexpr int kSqliteSchemaVersion = 3;
inline constexpr int kOldestUpgradableSchemaVersion = 2;

// Idempotent. Times are microseconds since the Unix epoch, UTC. events.id is the rowid: the
// global sequence number, which breaks ties between events that occurred at the same time.
//
// Customers: every event has a `home`, the customer its identifiers resolved to when it was
// stored, and a `customer`, the customer that home belongs to now. A merge points the absorbed
// customer's merged_into at the kept one and moves the events; a split clears merged_into and
// moves back every event whose home lies under the absorbed customer. identifiers.home and
// occupancy.customer are homes too: follow merged_into to the customer they belong to now.
inline constexpr const char* kSqliteSchema = R"sql(
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY,
  customer INTEGER NOT NULL,
  home INTEGER NOT NULL,
  occurred_at INTEGER NOT NULL,
  ingested_at INTEGER NOT NULL,
  source TEXT NOT NULL,
  source_event_id TEXT NOT NULL,
  step INTEGER NOT NULL,
  kind TEXT NOT NULL,
  initiative INTEGER NOT NULL,
  contact INTEGER NOT NULL,
  channel TEXT NOT NULL,
  matter_id TEXT NOT NULL,
  matter_state INTEGER NOT NULL,
  summary TEXT NOT NULL,
  attributes TEXT NOT NULL, -- a JSON object of strings
  identifiers TEXT NOT NULL -- canonical "type:value" lines, as resolution saw them
);
CREATE UNIQUE INDEX IF NOT EXISTS events_by_source_event ON events (source, source_event_id);
CREATE INDEX IF NOT EXISTS events_by_customer_time ON events (customer, occurred_at, id);
CREATE INDEX IF NOT EXISTS events_by_home ON events (home);

CREATE TABLE IF NOT EXISTS customers (
  id INTEGER PRIMARY KEY,
  created_at INTEGER NOT NULL,
  merged_into INTEGER -- NULL while the customer stands on its own
);
CREATE INDEX IF NOT EXISTS customers_by_merged_into ON customers (merged_into)
  WHERE merged_into IS NOT NULL;

-- role: 0 weak (kept, searchable, never links), 1 strong, 2 strong with a per-type limit on
-- the customers it may join (a phone). demoted: went over that limit, now links no one.
CREATE TABLE IF NOT EXISTS identifiers (
  type TEXT NOT NULL,
  value TEXT NOT NULL,
  home INTEGER NOT NULL,
  role INTEGER NOT NULL,
  demoted INTEGER NOT NULL DEFAULT 0,
  first_seen INTEGER NOT NULL,
  PRIMARY KEY (type, value)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS identifiers_by_home ON identifiers (home);

-- cause: the identifier text that linked them, empty for an admin link.
CREATE TABLE IF NOT EXISTS merges (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  kept INTEGER NOT NULL,
  absorbed INTEGER NOT NULL,
  cause TEXT NOT NULL,
  event_id INTEGER NOT NULL,
  actor TEXT NOT NULL,
  reason TEXT NOT NULL,
  undone_at INTEGER,
  undone_by TEXT NOT NULL DEFAULT '',
  undone_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS merges_by_kept ON merges (kept);
CREATE INDEX IF NOT EXISTS merges_by_absorbed ON merges (absorbed);
CREATE INDEX IF NOT EXISTS merges_by_cause ON merges (cause) WHERE cause != '';

-- community: the unit's community (empty when its source named none), for per-community
-- figures and outreach.
CREATE TABLE IF NOT EXISTS occupancy (
  id INTEGER PRIMARY KEY,
  unit TEXT NOT NULL,
  community TEXT NOT NULL,
  customer INTEGER NOT NULL,
  from_at INTEGER NOT NULL,
  to_at INTEGER, -- NULL: still there
  inferred INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS occupancy_by_unit ON occupancy (unit, from_at);
CREATE INDEX IF NOT EXISTS occupancy_by_customer ON occupancy (customer);
CREATE INDEX IF NOT EXISTS occupancy_by_community ON occupancy (community, customer);

CREATE TABLE IF NOT EXISTS checkpoints (
  source TEXT PRIMARY KEY,
  checkpoint TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS quarantine (
  id INTEGER PRIMARY KEY,
  source TEXT NOT NULL,
  origin TEXT NOT NULL,
  reason TEXT NOT NULL,
  raw BLOB NOT NULL, -- the vendor's bytes, whatever their encoding
  quarantined_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS quarantine_by_source ON quarantine (source, id);

-- Changes asked for through the API (AuditRecord in store.h).
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  caller TEXT NOT NULL,
  actor TEXT NOT NULL,
  method TEXT NOT NULL,
  arguments TEXT NOT NULL, -- a JSON object of strings
  result TEXT NOT NULL
);
)sql";

// On the writer connection, before any other statement: brings the database at `path` to WAL,
// synchronous=FULL and kSqliteSchemaVersion, creating the schema in a new file and upgrading
// one of an older version in one transaction. FAILED_PRECONDITION, naming the file, for a
// version it cannot open: newer than this build, or older than kOldestUpgradableSchemaVersion.
Status PrepareDatabase(sqlite3* db, const std::string& path);

}  // namespace propbridge::store
