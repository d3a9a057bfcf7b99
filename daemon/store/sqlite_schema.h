// The SQLite store's schema and the timeline queries its indexes are built for. Shared with
// the benchmark, which inserts into the very same tables as its raw baseline.
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

// A customer's newest events: ?1 customer, ?2 limit.
inline constexpr const char* kSqliteTimelineFirstPage = R"sql(
SELECT id, customer, occurred_at, ingested_at, source, source_event_id, step, kind, initiative,
       contact, channel, matter_id, matter_state, summary, attributes
FROM events WHERE customer = ?1
ORDER BY occurred_at DESC, id DESC LIMIT ?2
)sql";

// A customer's events strictly older than (?3 occurred_at, ?4 id): ?1 customer, ?2 limit.
// Not `(occurred_at, id) < (?3, ?4)`: SQLite 3.40 seeks such a row value only on occurred_at
// when id is the rowid, and then filters every event that shares the cursor's time. Split in
// two, each half seeks the index exactly and the merge keeps the index order, so a page costs
// the same however many events share a time stamp.
inline constexpr const char* kSqliteTimelineAfterCursor = R"sql(
SELECT id, customer, occurred_at, ingested_at, source, source_event_id, step, kind, initiative,
       contact, channel, matter_id, matter_state, summary, attributes
FROM events WHERE customer = ?1 AND occurred_at = ?3 AND id < ?4
UNION ALL
SELECT id, customer, occurred_at, ingested_at, source, source_event_id, step, kind, initiative,
       contact, channel, matter_id, matter_state, summary, attributes
FROM events WHERE customer = ?1 AND occurred_at < ?3
ORDER BY occurred_at DESC, id DESC LIMIT ?2
)sql";

}  // namespace propbridge::store
