// The SQLite store's schema. Shared with the benchmark, which inserts into the very same
// tables as its raw baseline.
#pragma once

namespace propbridge::store {

// Kept in PRAGMA user_version. A database with a newer version is refused, never downgraded.
inline constexpr int kSqliteSchemaVersion = 1;

// Idempotent. Times are microseconds since the Unix epoch, UTC. events.id is the rowid: the
// global sequence number, which breaks ties between events that occurred at the same time.
inline constexpr const char* kSqliteSchema = R"sql(
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY,
  customer TEXT NOT NULL,
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
  attributes TEXT NOT NULL -- a JSON object of strings
);
CREATE UNIQUE INDEX IF NOT EXISTS events_by_source_event ON events (source, source_event_id);
CREATE INDEX IF NOT EXISTS events_by_customer_time ON events (customer, occurred_at, id);

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
)sql";

}  // namespace propbridge::store
