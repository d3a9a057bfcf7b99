// The store: normalised events, quarantined records and checkpoints, durable together.
// An interface so that SQLite (embedded default) and, later, PostgreSQL sit behind it.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "propbridge/sdk/event.h"
#include "propbridge/sdk/status.h"

namespace propbridge::store {

using Micros = std::chrono::sys_time<std::chrono::microseconds>;

// An event as the timeline holds it, after validation and mapping.
struct Event {
  std::int64_t id = 0;  // assigned by the store on insert: the global sequence number
  std::string customer;
  sdk::Step step = sdk::Step::kUnspecified;
  std::string kind;
  Micros occurred_at;
  Micros ingested_at;
  std::string source;
  std::string source_event_id;
  sdk::Initiative initiative = sdk::Initiative::kUnspecified;
  bool contact = false;
  std::string channel;
  std::string matter_id;
  sdk::MatterState matter_state = sdk::MatterState::kUnspecified;
  std::string summary;
  std::vector<std::pair<std::string, std::string>> attributes;
};

// A record that did not make it onto the timeline, kept with its reason so it can be
// inspected and replayed.
struct QuarantineRecord {
  std::string source;
  std::string origin;  // where in the vendor's data: "charges.csv line 17"
  std::string reason;
  std::string raw;  // the record as the vendor sent it, or the raw event as JSON
  Micros quarantined_at;
};

// One plugin batch, ready to store: its events, its quarantined records and its checkpoint
// commit in one transaction or not at all.
struct Batch {
  std::string source;
  std::vector<Event> events;
  std::vector<QuarantineRecord> quarantined;
  std::string checkpoint;
};

struct BatchOutcome {
  Status status;
  std::size_t inserted = 0;    // new events
  std::size_t duplicates = 0;  // events whose (source, source_event_id) was already stored
};

// Keyset position in a timeline, newest first: events strictly older than (occurred_at, id).
struct TimelineCursor {
  Micros occurred_at;
  std::int64_t id = 0;
};

struct TimelineQuery {
  std::string customer;
  std::size_t limit = 50;
  std::optional<TimelineCursor> after;
};

struct StoreOptions {
  std::filesystem::path path;  // the database file; its folder must exist
  std::size_t reader_connections = 4;
};

// Thread-safety: Write is called by one writer thread at a time (the ingest pipeline);
// every other method is safe from any thread, concurrently with Write.
class Store {
 public:
  virtual ~Store() = default;

  // Group commit: all batches in one transaction, each in a savepoint of its own, so one
  // failing batch fails alone. Returns one outcome per batch, in order.
  virtual std::vector<BatchOutcome> Write(std::span<const Batch> batches) = 0;

  // The source's last committed checkpoint, or nullopt if it never committed one.
  virtual Result<std::optional<std::string>> LoadCheckpoint(const std::string& source) = 0;

  // Newest first: ORDER BY occurred_at DESC, id DESC.
  virtual Result<std::vector<Event>> ReadTimeline(const TimelineQuery& query) = 0;

  // The source's quarantined records, newest first.
  virtual Result<std::vector<QuarantineRecord>> ReadQuarantine(const std::string& source,
                                                               std::size_t limit) = 0;
};

// The embedded default: SQLite in WAL mode, one writer connection, a pool of readers.
Result<std::unique_ptr<Store>> OpenSqliteStore(const StoreOptions& options);

}  // namespace propbridge::store
