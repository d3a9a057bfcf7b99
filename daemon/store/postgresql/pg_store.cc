#include "daemon/store/postgresql/pg_store.h"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "daemon/customers/customer_view.h"
#include "daemon/customers/merge_generation.h"
#include "daemon/customers/outreach.h"
#include "daemon/customers/resolver.h"
#include "daemon/store/connection_pool.h"
#include "daemon/store/event_codec.h"
#include "daemon/store/postgresql/pg_connection.h"
#include "daemon/store/postgresql/pg_customer_rows.h"
#include "daemon/store/postgresql/pg_customers.h"
#include "daemon/store/postgresql/pg_identity_index.h"
#include "daemon/store/postgresql/pg_schema.h"
#include "daemon/store/postgresql/pg_text.h"
#include "daemon/store/sql_queries.h"
#include "daemon/store/store.h"
#include "daemon/sync/mutex.h"
#include "daemon/sync/replaceable.h"

namespace propbridge::store {
namespace {

constexpr std::string_view kEventColumns[] = {
    "id",         "customer",        "home",      "occurred_at",  "ingested_at",
    "source",     "source_event_id", "step",      "kind",         "initiative",
    "contact",    "channel",         "matter_id", "matter_state", "summary",
    "attributes", "identifiers"};

// How the connections are made again once the server has lost them.
struct Connector {
  std::string connection_string;
  std::optional<std::filesystem::path> password_file;

  Result<std::unique_ptr<PgConnection>> Open() const {
    return PgConnection::Open(connection_string, password_file);
  }
};

// A read connection of a pool; replaced by a new one when the server lost it.
struct PgReader {
  std::unique_ptr<PgConnection> connection;
};

// A built query's parameters as PostgreSQL takes them. Its text parameters are stored text
// (pg_text.h): the one that a column holds encoded is a matter id, and kinds and sources, which
// the normaliser and the API check, hold neither NUL nor U+2400, so encoding them changes
// nothing. Borrows `sql`, which must outlive it.
class BoundSql {
 public:
  explicit BoundSql(const Sql& sql) {
    texts_.reserve(sql.params.size());
    for (const auto& param : sql.params) {
      if (const auto* number = std::get_if<std::int64_t>(&param)) {
        params_.emplace_back(*number);
      } else {
        params_.emplace_back(PgStoredText(std::get<std::string>(param), texts_.emplace_back()));
      }
    }
  }
  std::span<const PgParam> params() const { return params_; }

 private:
  std::vector<std::string> texts_;  // reserved: views into it stay valid
  std::vector<PgParam> params_;
};

// Reads the columns of sql_queries.h's event queries into views that point into the row and
// the scratch: valid until the next row.
class EventRows {
 public:
  Status View(const PgRow& row, EventView& event) {
    event.id = row.Int64(0);
    event.customer = row.Int64(1);
    event.occurred_at = row.Time(2);
    event.ingested_at = row.Time(3);
    event.source = row.Text(4);
    event.source_event_id = PgReadText(row.Text(5), source_event_id_);
    event.step = static_cast<sdk::Step>(row.Int64(6));
    event.kind = row.Text(7);
    event.initiative = static_cast<sdk::Initiative>(row.Int64(8));
    event.contact = row.Bool(9);
    event.channel = PgReadText(row.Text(10), channel_);
    event.matter_id = PgReadText(row.Text(11), matter_id_);
    event.matter_state = static_cast<sdk::MatterState>(row.Int64(12));
    event.summary = PgReadText(row.Text(13), summary_);
    if (Status s = DecodeAttributes(row.Text(14), attributes_); !s.ok()) {
      return Status(s.code(), "event " + std::to_string(event.id) + ": " + s.message());
    }
    event.attributes = attributes_.Views();
    return Status::Ok();
  }

  Status Append(const PgRow& row, std::vector<Event>& events) {
    EventView view;
    if (Status s = View(row, view); !s.ok()) return s;
    Event& event = events.emplace_back();
    if (Status s = ParseIdentifierLines(row.Text(15), event.identifiers); !s.ok()) {
      return Status(s.code(), "event " + std::to_string(view.id) + ": " + s.message());
    }
    event.id = view.id;
    event.customer = view.customer;
    event.step = view.step;
    event.kind = view.kind;
    event.occurred_at = view.occurred_at;
    event.ingested_at = view.ingested_at;
    event.source = view.source;
    event.source_event_id = view.source_event_id;
    event.initiative = view.initiative;
    event.contact = view.contact;
    event.channel = view.channel;
    event.matter_id = view.matter_id;
    event.matter_state = view.matter_state;
    event.summary = view.summary;
    event.attributes.reserve(view.attributes.size());
    for (const auto& [key, value] : view.attributes) event.attributes.emplace_back(key, value);
    return Status::Ok();
  }

 private:
  AttributeScratch attributes_;
  std::string source_event_id_;
  std::string channel_;
  std::string matter_id_;
  std::string summary_;
};

// A new event of a batch, resolved and given its id, not written yet.
struct HeldEvent {
  std::int64_t id = 0;
  std::int64_t customer = 0;
  std::int64_t home = 0;
  const Event* event = nullptr;
};

Status Stopped(std::string_view what) {
  return Status(StatusCode::kCancelled, std::string(what) + ": stopped as asked");
}

// PostgreSQL: Write commits on the writer connection in one transaction per group commit, a
// savepoint per batch; reads run on pooled connections, scans on a pool of their own. Write
// must not run concurrently with itself; every other method is thread-safe and waits a bounded
// time while all connections of its pool are in use. Owns its connections.
class PostgresStore final : public Store {
 public:
  PostgresStore(Connector connector, std::unique_ptr<PgConnection> writer,
                ConnectionPool<PgReader>::Options readers,
                ConnectionPool<PgReader>::Options scanners, identity::IdentityRules rules)
      : connector_(std::move(connector)),
        writer_(std::move(writer)),
        // Called by the index, which is only used under writer_mu_.
        index_(NewPgIdentityIndex(
            writer_, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return WriteHeldEvents(); })),
        resolver_(*index_, rules),
        rules_(std::move(rules)),
        readers_(std::move(readers)),
        scanners_(std::move(scanners)) {}

  std::vector<BatchOutcome> Write(std::span<const Batch> batches) override
      ABSL_LOCKS_EXCLUDED(writer_mu_);
  Result<std::optional<std::string>> LoadCheckpoint(const std::string& source) override;
  Result<std::vector<Event>> ReadTimeline(const TimelineQuery& query) override;
  Result<std::optional<std::int64_t>> VisitTimeline(const identity::Identifier& who,
                                                    TimelineQuery query,
                                                    const EventVisitor& visit) override;
  // In id order. Exact with one writer per database, as here: ids are taken in commit order.
  // With several daemons writing one database, sequence values commit out of order (a
  // transaction that took id 11 may commit after one that took 12), so a reader that has seen
  // 12 may later find 11 below it; a later change makes the change feed follow that.
  Result<std::vector<Event>> ReadChanges(const ChangesQuery& query) override;
  Result<std::vector<QuarantineRecord>> ReadQuarantine(const QuarantineQuery& query) override;
  Result<std::vector<CheckpointRecord>> ReadCheckpoints() override;
  Result<std::optional<std::int64_t>> FindCustomer(const identity::Identifier& id,
                                                   std::optional<Micros> at) override;
  Result<std::vector<std::int64_t>> FindCustomers(const identity::Identifier& id) override;
  void UseIdentityRules(identity::IdentityRules rules) override ABSL_LOCKS_EXCLUDED(writer_mu_) {
    {
      sync::MutexLock lock(writer_mu_);
      resolver_.UseRules(rules);
    }
    rules_.Replace(std::move(rules));
  }
  std::uint64_t MergeGeneration() const override { return merge_generation_.Get(); }
  Result<std::optional<Customer>> ReadCustomer(std::int64_t id, Micros now) override;
  Result<MergeRecord> LinkCustomers(std::int64_t a, std::int64_t b, const std::string& actor,
                                    const std::string& reason, AuditRecord audit) override;
  Result<MergeRecord> SplitMerge(std::int64_t merge_id, const std::string& actor,
                                 const std::string& reason, AuditRecord audit) override;
  Result<std::int64_t> RecordAudit(AuditRecord record) override ABSL_LOCKS_EXCLUDED(writer_mu_);
  Result<std::vector<AuditRecord>> ReadAudit(const AuditQuery& query) override;
  Result<BackupInfo> Backup(const std::filesystem::path& destination,
                            std::stop_token stop) override;
  Result<OutreachPage> ReadOutreach(const OutreachQuery& query, std::stop_token stop) override;
  Result<std::vector<CommunityFigures>> ReadCommunityFigures(const std::string& community,
                                                             Micros now,
                                                             std::stop_token stop) override;

 private:
  // The writer connection, opened again when the server lost it.
  Status UsableWriter() ABSL_EXCLUSIVE_LOCKS_REQUIRED(writer_mu_);
  // Writes one batch inside its own savepoint, rolled back to if any part fails.
  BatchOutcome WriteBatch(const Batch& batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(writer_mu_);
  Status WriteBatchContents(const Batch& batch, BatchOutcome& outcome)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(writer_mu_);
  // Which of the batch's events (by index) are stored already, or repeat one before them.
  Result<std::vector<bool>> FindDuplicates(const Batch& batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(writer_mu_);
  // `count` new event ids, in increasing order.
  Result<std::vector<std::int64_t>> ReserveEventIds(std::size_t count)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(writer_mu_);
  // COPYs the held events into the table.
  Status WriteHeldEvents() ABSL_EXCLUSIVE_LOCKS_REQUIRED(writer_mu_);
  Status WriteQuarantine(const std::vector<QuarantineRecord>& records)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(writer_mu_);
  // Runs `change` (an admin's write) in a transaction of its own on the writer connection,
  // with `audit` and the change's result: in the change's transaction, or alone after a
  // failed change is rolled back.
  Result<MergeRecord> WriteAlone(
      const std::function<Result<MergeRecord>(customers::Resolver& resolver)>& change,
      AuditRecord audit) ABSL_LOCKS_EXCLUDED(writer_mu_);
  // Inserts `record` in the writer's open transaction, or in one of its own outside any.
  Result<std::int64_t> InsertAudit(AuditRecord& record) ABSL_EXCLUSIVE_LOCKS_REQUIRED(writer_mu_);

  // A connection of `pool`, opened again when the server lost it, for `read`.
  template <typename Read>
  auto OnConnection(ConnectionPool<PgReader>& pool, Read read)
      -> decltype(read(std::declval<PgConnection&>()));
  // Runs `read` on a scan connection in one snapshot; once `stop` is requested, what runs is
  // cancelled and the scan fails with CANCELLED.
  template <typename T>
  Result<T> Scan(std::stop_token stop, std::string_view what,
                 const std::function<Result<T>(CustomerRows& rows)>& read);
  // Runs a built query on a reader, handing each row to `row`.
  template <typename Row>
  Status Query(const Sql& sql, const std::string& what, Row row);
  static Status QueryOn(PgConnection& connection, const Sql& sql, const std::string& what,
                        const std::function<Status(const PgRow&)>& row);

  const Connector connector_;  // constant after construction
  // Write (the pipeline's writer thread) and admins' links and splits take turns on it.
  sync::Mutex writer_mu_;
  std::unique_ptr<PgConnection> writer_ ABSL_GUARDED_BY(writer_mu_);
  std::vector<HeldEvent> held_events_ ABSL_GUARDED_BY(writer_mu_);
  const std::unique_ptr<PgIdentityIndex> index_ ABSL_GUARDED_BY(writer_mu_);  // on writer_
  customers::Resolver resolver_ ABSL_GUARDED_BY(writer_mu_);
  customers::MergeGeneration merge_generation_;
  sync::Replaceable<identity::IdentityRules> rules_;  // for the reads
  // Thread-safe themselves.
  ConnectionPool<PgReader> readers_;
  ConnectionPool<PgReader> scanners_;
};

Status PostgresStore::UsableWriter() {
  if (!writer_->broken()) return Status::Ok();
  auto connection = connector_.Open();
  if (!connection.ok()) return connection.status();
  writer_ = std::move(connection).value();
  index_->Forget();
  return Status::Ok();
}

std::vector<BatchOutcome> PostgresStore::Write(std::span<const Batch> batches) {
  std::vector<BatchOutcome> outcomes(batches.size());
  auto fail_all = [&outcomes](const Status& status) {
    for (BatchOutcome& outcome : outcomes) outcome = {status, 0, 0, {}, {}, {}};
  };
  if (batches.empty()) return outcomes;
  sync::MutexLock lock(writer_mu_);
  customers::MergeGeneration::Write generation(merge_generation_, resolver_);
  if (Status s = UsableWriter(); !s.ok()) {
    fail_all(s);
    return outcomes;
  }
  std::optional<std::size_t> lost;  // the batch during which the transaction was lost
  Status committed = writer_->Transaction(
      [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(writer_mu_) -> Status {
        for (std::size_t i = 0; i < batches.size(); ++i) {
          outcomes[i] = WriteBatch(batches[i]);
          if (writer_->broken()) {
            lost = i;
            return outcomes[i].status;
          }
        }
        generation.Committing();
        return Status::Ok();
      },
      "commit a group of batches to PostgreSQL");
  index_->Forget();
  if (committed.ok()) return outcomes;
  if (lost) {
    // The connection went, and with it the batches before this one.
    Status cause = outcomes[*lost].status;
    fail_all(Status(cause.code(), "transaction rolled back: " + cause.message()));
    outcomes[*lost].status = cause;
    return outcomes;
  }
  fail_all(committed);
  return outcomes;
}

BatchOutcome PostgresStore::WriteBatch(const Batch& batch) {
  BatchOutcome outcome;
  index_->Forget();
  held_events_.clear();
  Status status = writer_->Savepoint([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(
                                         writer_mu_) { return WriteBatchContents(batch, outcome); },
                                     "write a batch");
  if (status.ok()) return outcome;
  index_->Forget();
  held_events_.clear();
  return {Status(status.code(), "batch from source \"" + batch.source + "\": " + status.message()),
          0,
          0,
          {},
          {},
          {}};
}

Status PostgresStore::WriteBatchContents(const Batch& batch, BatchOutcome& outcome) {
  for (const Event& event : batch.events) {
    if (event.source != batch.source) {
      return InvalidArgument("event \"" + event.source_event_id + "\" is from source \"" +
                             event.source + "\"");
    }
  }
  for (const QuarantineRecord& record : batch.quarantined) {
    if (record.source != batch.source) {
      return InvalidArgument("quarantined record \"" + record.origin + "\" is from source \"" +
                             record.source + "\"");
    }
  }
  // A replayed event changes nothing, not even who its identifiers belong to.
  auto duplicate = FindDuplicates(batch);
  if (!duplicate.ok()) return duplicate.status();
  std::size_t fresh = 0;
  for (bool d : *duplicate) fresh += d ? 0 : 1;
  auto ids = ReserveEventIds(fresh);
  if (!ids.ok()) return ids.status();

  if (Status s = resolver_.BeginBatch(batch.events); !s.ok()) return s;
  auto next_id = ids->begin();
  for (std::size_t i = 0; i < batch.events.size(); ++i) {
    if ((*duplicate)[i]) {
      ++outcome.duplicates;
      outcome.ids.push_back(0);
      outcome.customers.push_back(0);
      outcome.merge_generations.push_back(0);
      continue;
    }
    const Event& event = batch.events[i];
    auto resolution = resolver_.Resolve(event);
    if (!resolution.ok()) {
      return Status(resolution.status().code(), "resolve the customer of event \"" +
                                                    event.source_event_id +
                                                    "\": " + resolution.status().message());
    }
    const std::int64_t id = *next_id++;
    held_events_.push_back({id, resolution->customer, resolution->home, &event});
    if (Status s = resolver_.RecordMergeEvent(*resolution, id); !s.ok()) return s;
    ++outcome.inserted;
    outcome.ids.push_back(id);
    outcome.customers.push_back(resolution->customer);
    outcome.merge_generations.push_back(customers::MergeGeneration::Of(resolver_));
  }
  // The customers and identifiers the events made, then the events.
  if (Status s = index_->Flush(); !s.ok()) return s;
  if (Status s = WriteQuarantine(batch.quarantined); !s.ok()) return s;
  if (batch.checkpoint.empty()) return Status::Ok();
  return writer_
      ->Exec(
          "INSERT INTO checkpoints (source, checkpoint, updated_at) VALUES ($1, $2, $3) "
          "ON CONFLICT (source) DO UPDATE SET checkpoint = excluded.checkpoint, "
          "updated_at = excluded.updated_at",
          {batch.source, PgBytes{batch.checkpoint}, MicrosNow()}, "store checkpoint")
      .status();
}

Result<std::vector<bool>> PostgresStore::FindDuplicates(const Batch& batch) {
  std::vector<std::string> scratch(batch.events.size());
  std::vector<std::string_view> keys;
  keys.reserve(batch.events.size());
  for (std::size_t i = 0; i < batch.events.size(); ++i) {
    keys.push_back(PgStoredText(batch.events[i].source_event_id, scratch[i]));
  }
  std::unordered_set<std::string> stored;
  if (!keys.empty()) {
    Status s = writer_->Query(
        "SELECT e.source_event_id FROM unnest($2::text[]) AS k(id) JOIN events e ON "
        "e.source = $1 AND e.source_event_id = k.id",
        {batch.source, PgTextArray{keys}}, "look for the batch's events",
        [&](const PgRow& row) { stored.emplace(row.Text(0)); });
    if (!s.ok()) return s;
  }
  std::vector<bool> duplicate(keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    // An event twice in one batch is stored once, as when it comes again later.
    duplicate[i] = !stored.emplace(keys[i]).second;
  }
  return duplicate;
}

Result<std::vector<std::int64_t>> PostgresStore::ReserveEventIds(std::size_t count) {
  std::vector<std::int64_t> ids;
  if (count == 0) return ids;
  ids.reserve(count);
  Status s = writer_->Query(
      "SELECT nextval(pg_get_serial_sequence('events', 'id')) FROM generate_series(1, $1) "
      "ORDER BY 1",
      {static_cast<std::int64_t>(count)}, "reserve event ids",
      [&](const PgRow& row) { ids.push_back(row.Int64(0)); });
  if (!s.ok()) return s;
  if (ids.size() != count) return Internal("reserve event ids: the sequence gave too few");
  return ids;
}

Status PostgresStore::WriteHeldEvents() {
  if (held_events_.empty()) return Status::Ok();
  auto copy = writer_->CopyIn("events", kEventColumns, "store events");
  if (!copy.ok()) return copy.status();
  std::string source_event_id;
  std::string channel;
  std::string matter_id;
  std::string summary;
  for (const HeldEvent& held : held_events_) {
    const Event& e = *held.event;
    const std::string attributes = AttributesToJson(e.attributes);
    const std::string identifiers = IdentifierLines(e.identifiers);
    Status s = copy->AddRow({held.id, held.customer, held.home, e.occurred_at, e.ingested_at,
                             e.source, PgStoredText(e.source_event_id, source_event_id),
                             static_cast<std::int64_t>(e.step), e.kind,
                             static_cast<std::int64_t>(e.initiative), e.contact,
                             PgStoredText(e.channel, channel), PgStoredText(e.matter_id, matter_id),
                             static_cast<std::int64_t>(e.matter_state),
                             PgStoredText(e.summary, summary), attributes, identifiers});
    if (!s.ok()) return Status(s.code(), "event \"" + e.source_event_id + "\": " + s.message());
  }
  auto copied = copy->Finish();
  if (!copied.ok()) return copied.status();
  held_events_.clear();
  return Status::Ok();
}

Status PostgresStore::WriteQuarantine(const std::vector<QuarantineRecord>& records) {
  if (records.empty()) return Status::Ok();
  auto copy = writer_->CopyIn("quarantine", {"source", "origin", "reason", "raw", "quarantined_at"},
                              "quarantine records");
  if (!copy.ok()) return copy.status();
  for (const QuarantineRecord& r : records) {
    Status s = copy->AddRow(
        {r.source, PgBytes{r.origin}, PgBytes{r.reason}, PgBytes{r.raw}, r.quarantined_at});
    if (!s.ok()) return Status(s.code(), "quarantine record \"" + r.origin + "\": " + s.message());
  }
  return copy->Finish().status();
}

template <typename Read>
auto PostgresStore::OnConnection(ConnectionPool<PgReader>& pool, Read read)
    -> decltype(read(std::declval<PgConnection&>())) {
  auto lease = pool.Acquire();
  if (!lease.ok()) return lease.status();
  PgReader& reader = **lease;
  if (reader.connection->broken()) {
    auto connection = connector_.Open();
    if (!connection.ok()) return connection.status();
    reader.connection = std::move(connection).value();
  }
  return read(*reader.connection);
}

Status PostgresStore::QueryOn(PgConnection& connection, const Sql& sql, const std::string& what,
                              const std::function<Status(const PgRow&)>& row) {
  BoundSql bound(sql);
  return connection.Query(sql.text, bound.params(), what, [&](const PgRow& r) {
    if (Status s = row(r); !s.ok()) return Status(s.code(), what + ": " + s.message());
    return Status::Ok();
  });
}

template <typename Row>
Status PostgresStore::Query(const Sql& sql, const std::string& what, Row row) {
  return OnConnection(
      readers_, [&](PgConnection& connection) { return QueryOn(connection, sql, what, row); });
}

Result<std::optional<std::string>> PostgresStore::LoadCheckpoint(const std::string& source) {
  std::optional<std::string> checkpoint;
  Status s = OnConnection(readers_, [&](PgConnection& connection) {
    return connection.Query("SELECT checkpoint FROM checkpoints WHERE source = $1", {source},
                            "load checkpoint of source \"" + source + "\"",
                            [&](const PgRow& row) { checkpoint = std::string(row.Bytes(0)); });
  });
  if (!s.ok()) return s;
  return checkpoint;
}

Result<std::vector<CheckpointRecord>> PostgresStore::ReadCheckpoints() {
  std::vector<CheckpointRecord> records;
  Status s = OnConnection(readers_, [&](PgConnection& connection) {
    return connection.Query(
        "SELECT source, checkpoint, updated_at FROM checkpoints ORDER BY source", {},
        "read checkpoints", [&](const PgRow& row) {
          records.push_back({std::string(row.Text(0)), std::string(row.Bytes(1)), row.Time(2)});
        });
  });
  if (!s.ok()) return s;
  return records;
}

Result<std::vector<Event>> PostgresStore::ReadTimeline(const TimelineQuery& query) {
  std::vector<Event> events;
  if (query.limit == 0) return events;
  EventRows rows;
  Status s = Query(TimelineSql(query, SqlDialect::kPostgresql),
                   "read timeline of " + CustomerKey(query.customer),
                   [&](const PgRow& row) { return rows.Append(row, events); });
  if (!s.ok()) return s;
  return events;
}

Result<std::optional<std::int64_t>> PostgresStore::VisitTimeline(const identity::Identifier& who,
                                                                 TimelineQuery query,
                                                                 const EventVisitor& visit) {
  const auto rules = rules_.Get();
  std::optional<std::int64_t> customer;
  Status s = OnConnection(readers_, [&](PgConnection& connection) {
    // One snapshot for the customer and their page.
    return connection.Transaction(
        [&]() -> Status {
          auto found = QueryPgCustomerFor(connection, who, *rules, MicrosNow());
          if (!found.ok()) return found.status();
          customer = *found;
          if (!customer || query.limit == 0) return Status::Ok();
          query.customer = *customer;
          EventRows rows;
          EventView view;
          return QueryOn(connection, TimelineSql(query, SqlDialect::kPostgresql),
                         "read timeline of " + CustomerKey(query.customer), [&](const PgRow& row) {
                           if (Status v = rows.View(row, view); !v.ok()) return v;
                           visit(view);
                           return Status::Ok();
                         });
        },
        "read a timeline", PgIsolation::kRepeatableRead);
  });
  if (!s.ok()) return s;
  return customer;
}

Result<std::vector<Event>> PostgresStore::ReadChanges(const ChangesQuery& query) {
  std::vector<Event> events;
  if (query.limit == 0) return events;
  EventRows rows;
  Status s = Query(ChangesSql(query, SqlDialect::kPostgresql),
                   "read events after id " + std::to_string(query.after_id),
                   [&](const PgRow& row) { return rows.Append(row, events); });
  if (!s.ok()) return s;
  return events;
}

Result<std::vector<QuarantineRecord>> PostgresStore::ReadQuarantine(const QuarantineQuery& query) {
  std::vector<QuarantineRecord> records;
  if (query.limit == 0) return records;
  Status s = Query(QuarantineSql(query, SqlDialect::kPostgresql), "read quarantine",
                   [&](const PgRow& row) {
                     QuarantineRecord& r = records.emplace_back();
                     r.id = row.Int64(0);
                     r.source = row.Text(1);
                     r.origin = row.Bytes(2);
                     r.reason = row.Bytes(3);
                     r.raw = row.Bytes(4);
                     r.quarantined_at = row.Time(5);
                     return Status::Ok();
                   });
  if (!s.ok()) return s;
  return records;
}

Result<std::optional<std::int64_t>> PostgresStore::FindCustomer(const identity::Identifier& id,
                                                                std::optional<Micros> at) {
  const auto rules = rules_.Get();
  return OnConnection(readers_, [&](PgConnection& connection) {
    return QueryPgCustomerFor(connection, id, *rules, at.value_or(MicrosNow()));
  });
}

Result<std::vector<std::int64_t>> PostgresStore::FindCustomers(const identity::Identifier& id) {
  const auto rules = rules_.Get();
  return OnConnection(readers_, [&](PgConnection& connection) {
    return QueryPgCustomersFor(connection, id, *rules);
  });
}

Result<std::optional<Customer>> PostgresStore::ReadCustomer(std::int64_t id, Micros now) {
  std::optional<Customer> customer;
  Status s = OnConnection(readers_, [&](PgConnection& connection) {
    // One snapshot, so that a merge or split committed halfway through cannot show a
    // customer's identifiers from before it and its events from after.
    return connection.Transaction(
        [&]() -> Status {
          auto rows = NewPgCustomerRows(connection, {});
          auto read = customers::ReadCustomer(*rows, id, now);
          if (!read.ok()) return read.status();
          customer = std::move(read).value();
          return Status::Ok();
        },
        "read a customer", PgIsolation::kRepeatableRead);
  });
  if (!s.ok()) return s;
  return customer;
}

template <typename T>
Result<T> PostgresStore::Scan(std::stop_token stop, std::string_view what,
                              const std::function<Result<T>(CustomerRows& rows)>& read) {
  if (stop.stop_requested()) return Stopped(what);
  std::optional<T> result;
  Status s = OnConnection(scanners_, [&](PgConnection& connection) {
    // What runs when the caller gives up is cancelled; what comes next is not sent.
    std::stop_callback cancel(stop, [&connection] { connection.Cancel(); });
    return connection.Transaction(
        [&]() -> Status {
          auto rows = NewPgCustomerRows(connection, stop);
          auto scanned = read(*rows);
          if (!scanned.ok()) return scanned.status();
          result = std::move(scanned).value();
          return Status::Ok();
        },
        what, PgIsolation::kRepeatableRead);
  });
  if (s.ok()) return std::move(*result);
  if (stop.stop_requested() && s.code() != StatusCode::kCancelled) {
    return Status(StatusCode::kCancelled,
                  std::string(what) + ": stopped as asked (" + s.message() + ")");
  }
  return s;
}

Result<OutreachPage> PostgresStore::ReadOutreach(const OutreachQuery& query, std::stop_token stop) {
  return Scan<OutreachPage>(std::move(stop), "read outreach", [&](CustomerRows& rows) {
    return customers::ReadOutreach(rows, query);
  });
}

Result<std::vector<CommunityFigures>> PostgresStore::ReadCommunityFigures(
    const std::string& community, Micros now, std::stop_token stop) {
  return Scan<std::vector<CommunityFigures>>(
      std::move(stop), "read community figures",
      [&](CustomerRows& rows) { return customers::ReadCommunityFigures(rows, community, now); });
}

Result<MergeRecord> PostgresStore::WriteAlone(
    const std::function<Result<MergeRecord>(customers::Resolver& resolver)>& change,
    AuditRecord audit) {
  sync::MutexLock lock(writer_mu_);
  customers::MergeGeneration::Write generation(merge_generation_, resolver_);
  // The failure is what the caller learns; its record is kept if it can be.
  auto failed = [&](const Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(writer_mu_) {
    audit.result = status.ToString();
    InsertAudit(audit);
    return status;
  };
  if (Status s = UsableWriter(); !s.ok()) return failed(s);
  index_->Forget();
  Result<MergeRecord> result = Internal("no change was made");
  Status committed = writer_->Transaction(
      [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(writer_mu_) -> Status {
        result = change(resolver_);
        if (!result.ok()) return result.status();
        audit.result = "OK: merge " + std::to_string(result->id);
        if (auto recorded = InsertAudit(audit); !recorded.ok()) return recorded.status();
        generation.Committing();
        return Status::Ok();
      },
      "commit an admin's change to PostgreSQL");
  index_->Forget();
  if (!committed.ok()) return failed(committed);
  return result;
}

Result<MergeRecord> PostgresStore::LinkCustomers(std::int64_t a, std::int64_t b,
                                                 const std::string& actor,
                                                 const std::string& reason, AuditRecord audit) {
  return WriteAlone(
      [&](customers::Resolver& resolver) {
        return resolver.Link(a, b, actor, reason, MicrosNow());
      },
      std::move(audit));
}

Result<MergeRecord> PostgresStore::SplitMerge(std::int64_t merge_id, const std::string& actor,
                                              const std::string& reason, AuditRecord audit) {
  return WriteAlone(
      [&](customers::Resolver& resolver) {
        return resolver.Split(merge_id, actor, reason, MicrosNow());
      },
      std::move(audit));
}

Result<std::int64_t> PostgresStore::InsertAudit(AuditRecord& record) {
  record.at = MicrosNow();
  const std::string arguments = AttributesToJson(record.arguments);
  std::string actor;
  std::string method;
  Status s = writer_->Query(
      "INSERT INTO audit (at, caller, actor, method, arguments, result) "
      "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
      {record.at, PgBytes{record.caller}, PgStoredText(record.actor, actor),
       PgStoredText(record.method, method), arguments, PgBytes{record.result}},
      "record the audit of " + record.method, [&](const PgRow& row) { record.id = row.Int64(0); });
  if (!s.ok()) return s;
  return record.id;
}

Result<std::int64_t> PostgresStore::RecordAudit(AuditRecord record) {
  sync::MutexLock lock(writer_mu_);
  if (Status s = UsableWriter(); !s.ok()) return s;
  // One statement outside a transaction commits on its own.
  return InsertAudit(record);
}

Result<std::vector<AuditRecord>> PostgresStore::ReadAudit(const AuditQuery& query) {
  std::vector<AuditRecord> records;
  if (query.limit == 0) return records;
  std::string scratch;
  Status s = Query(AuditSql(query, SqlDialect::kPostgresql), "read audit records",
                   [&](const PgRow& row) -> Status {
                     AuditRecord& r = records.emplace_back();
                     r.id = row.Int64(0);
                     r.at = row.Time(1);
                     r.caller = row.Bytes(2);
                     r.actor = PgReadText(row.Text(3), scratch);
                     r.method = PgReadText(row.Text(4), scratch);
                     auto arguments = AttributesFromJson(row.Text(5));
                     if (!arguments.ok()) {
                       return DataLoss("audit record " + std::to_string(r.id) + ": " +
                                       arguments.status().message());
                     }
                     r.arguments = std::move(arguments).value();
                     r.result = row.Bytes(6);
                     return Status::Ok();
                   });
  if (!s.ok()) return s;
  return records;
}

Result<BackupInfo> PostgresStore::Backup(const std::filesystem::path& destination,
                                         std::stop_token stop) {
  static_cast<void>(destination);
  static_cast<void>(stop);
  return FailedPrecondition(
      "a PostgreSQL store is backed up with PostgreSQL's own tools, not by propbridged: pg_dump "
      "for a consistent copy of its database while the daemons run, pg_basebackup (with WAL "
      "archiving for recovery to a point in time) for the whole server");
}

}  // namespace

Result<std::unique_ptr<Store>> OpenPostgresStore(const PgStoreOptions& options, PgStoreInfo* info) {
  if (options.reader_connections == 0) {
    return InvalidArgument("open the PostgreSQL store: reader_connections must be at least 1");
  }
  if (options.scan_connections == 0) {
    return InvalidArgument("open the PostgreSQL store: scan_connections must be at least 1");
  }
  if (Status s = identity::ValidateRules(options.identity); !s.ok()) {
    return InvalidArgument("open the PostgreSQL store: identity rules: " + s.message());
  }
  Connector connector{options.connection, options.password_file};
  auto writer = connector.Open();
  if (!writer.ok()) return writer.status();
  auto database = PreparePgDatabase(**writer);
  if (!database.ok()) return database.status();
  auto open_readers = [&](std::size_t count) -> Result<std::vector<std::unique_ptr<PgReader>>> {
    std::vector<std::unique_ptr<PgReader>> readers;
    for (std::size_t i = 0; i < count; ++i) {
      auto connection = connector.Open();
      if (!connection.ok()) return connection.status();
      readers.push_back(std::make_unique<PgReader>(PgReader{std::move(connection).value()}));
    }
    return readers;
  };
  auto readers = open_readers(options.reader_connections);
  if (!readers.ok()) return readers.status();
  auto scanners = open_readers(options.scan_connections);
  if (!scanners.ok()) return scanners.status();
  if (info != nullptr) {
    info->schema_version = database->schema_version;
    info->page_token_key = database->page_token_key;
  }
  return std::unique_ptr<Store>(std::make_unique<PostgresStore>(
      std::move(connector), std::move(writer).value(),
      ConnectionPool<PgReader>::Options{"reader", std::move(readers).value(),
                                        options.connection_wait},
      ConnectionPool<PgReader>::Options{"scan", std::move(scanners).value(),
                                        options.connection_wait},
      options.identity));
}

}  // namespace propbridge::store
