#include "daemon/store/sqlite/sqlite_store.h"

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "daemon/customers/customer_view.h"
#include "daemon/customers/merge_generation.h"
#include "daemon/customers/outreach.h"
#include "daemon/customers/resolver.h"
#include "daemon/store/event_codec.h"
#include "daemon/store/private_file.h"
#include "daemon/store/sql_queries.h"
#include "daemon/store/sqlite/sqlite_backup.h"
#include "daemon/store/sqlite/sqlite_customer_rows.h"
#include "daemon/store/sqlite/sqlite_customers.h"
#include "daemon/store/sqlite/sqlite_identity_index.h"
#include "daemon/store/sqlite/sqlite_reader_pool.h"
#include "daemon/store/sqlite/sqlite_schema.h"
#include "daemon/store/sqlite/sqlite_support.h"
#include "daemon/store/store.h"
#include "daemon/sync/mutex.h"
#include "daemon/sync/replaceable.h"

namespace propbridge::store {
namespace {

// Column order of the event queries in sql_queries.h. The view points into the row and
// the scratch: valid until the next step of the statement or use of the scratch.
Status ViewRow(sqlite3_stmt* stmt, AttributeScratch& attributes, EventView& event) {
  event.id = sqlite3_column_int64(stmt, 0);
  event.customer = sqlite3_column_int64(stmt, 1);
  event.occurred_at = ColumnTime(stmt, 2);
  event.ingested_at = ColumnTime(stmt, 3);
  event.source = ColumnView(stmt, 4);
  event.source_event_id = ColumnView(stmt, 5);
  event.step = static_cast<sdk::Step>(sqlite3_column_int(stmt, 6));
  event.kind = ColumnView(stmt, 7);
  event.initiative = static_cast<sdk::Initiative>(sqlite3_column_int(stmt, 8));
  event.contact = sqlite3_column_int(stmt, 9) != 0;
  event.channel = ColumnView(stmt, 10);
  event.matter_id = ColumnView(stmt, 11);
  event.matter_state = static_cast<sdk::MatterState>(sqlite3_column_int(stmt, 12));
  event.summary = ColumnView(stmt, 13);
  if (Status s = DecodeAttributes(ColumnView(stmt, 14), attributes); !s.ok()) {
    return Status(s.code(), "event " + std::to_string(event.id) + ": " + s.message());
  }
  event.attributes = attributes.Views();
  return Status::Ok();
}

Status AppendEvent(sqlite3_stmt* stmt, AttributeScratch& attributes, std::vector<Event>& events) {
  EventView view;
  if (Status s = ViewRow(stmt, attributes, view); !s.ok()) return s;
  Event& event = events.emplace_back();
  if (Status s = ParseIdentifierLines(ColumnView(stmt, 15), event.identifiers); !s.ok()) {
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

// The writer connection and its statements, prepared once and reused for every batch.
struct Writer {
  Db db;
  Stmt begin;
  Stmt commit;
  Stmt rollback;
  Stmt savepoint;
  Stmt release;
  Stmt rollback_to;
  Stmt find_event;
  Stmt insert_event;
  Stmt insert_quarantine;
  Stmt upsert_checkpoint;
  Stmt insert_audit;
};

Result<Writer> OpenWriter(const std::string& path) {
  auto db = OpenConnection(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (!db.ok()) return db.status();
  if (Status s = PrepareDatabase(db->get(), path); !s.ok()) return s;
  Writer writer;
  writer.db = std::move(db).value();
  Status prepared = PrepareAll(
      writer.db.get(),
      {
          {&writer.begin, "BEGIN IMMEDIATE"},
          {&writer.commit, "COMMIT"},
          {&writer.rollback, "ROLLBACK"},
          {&writer.savepoint, "SAVEPOINT batch"},
          {&writer.release, "RELEASE batch"},
          {&writer.rollback_to, "ROLLBACK TO batch"},
          {&writer.find_event, "SELECT 1 FROM events WHERE source = ?1 AND source_event_id = ?2"},
          {&writer.insert_event,
           "INSERT INTO events (customer, home, occurred_at, ingested_at, source,"
           " source_event_id, step, kind, initiative, contact, channel, matter_id, matter_state,"
           " summary, attributes, identifiers)"
           " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"},
          {&writer.insert_quarantine,
           "INSERT INTO quarantine (source, origin, reason, raw, quarantined_at)"
           " VALUES (?1, ?2, ?3, ?4, ?5)"},
          {&writer.upsert_checkpoint,
           "INSERT INTO checkpoints (source, checkpoint, updated_at) VALUES (?1, ?2, ?3)"
           " ON CONFLICT (source) DO UPDATE SET checkpoint = excluded.checkpoint,"
           " updated_at = excluded.updated_at"},
          {&writer.insert_audit,
           "INSERT INTO audit (at, caller, actor, method, arguments, result)"
           " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
      });
  if (!prepared.ok()) return OpenFailed(path, prepared);
  return writer;
}

// SQLite in WAL mode: Write commits on the single writer connection, reads run on pooled
// read-only connections and see only committed groups; scans have a pool of their own. Write
// must not run concurrently with itself; every other method is thread-safe and waits a
// bounded time while all connections of its pool are in use. Owns its connections; the
// database file outlives it.
class SqliteStore final : public Store {
 public:
  SqliteStore(std::string path, Writer writer, ReaderPool::Options readers,
              ReaderPool::Options scanners, identity::IdentityRules rules)
      : path_(std::move(path)),
        writer_(std::move(writer)),
        index_(NewSqliteIdentityIndex(writer_.db.get())),
        resolver_(*index_, rules),
        rules_(std::move(rules)),
        readers_(std::move(readers)),
        scanners_(std::move(scanners)) {}

  std::vector<BatchOutcome> Write(std::span<const Batch> batches) override;
  Result<std::optional<std::string>> LoadCheckpoint(const std::string& source) override;
  Result<std::vector<Event>> ReadTimeline(const TimelineQuery& query) override;
  Result<std::optional<std::int64_t>> VisitTimeline(const identity::Identifier& who,
                                                    TimelineQuery query,
                                                    const EventVisitor& visit) override;
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
  Result<OutreachPage> ReadOutreach(const OutreachQuery& query, std::stop_token stop) override;
  Result<std::vector<CommunityFigures>> ReadCommunityFigures(const std::string& community,
                                                             Micros now,
                                                             std::stop_token stop) override;
  // On a connection of its own: it holds no pooled connection and no lock of the writer's.
  Result<BackupInfo> Backup(const std::filesystem::path& destination,
                            std::stop_token stop) override {
    return BackupSqliteDatabase(path_, destination, std::move(stop));
  }

 private:
  // Runs `change` (an admin's write) in a transaction of its own on the writer connection,
  // with `audit` and the change's result: in the change's transaction, or alone after a
  // failed change is rolled back.
  Result<MergeRecord> WriteAlone(
      const std::function<Result<MergeRecord>(customers::Resolver& resolver)>& change,
      AuditRecord audit) ABSL_LOCKS_EXCLUDED(writer_mu_);
  // Inserts `record` in the writer's open transaction, or in one of its own outside any.
  Result<std::int64_t> InsertAudit(AuditRecord& record) ABSL_EXCLUSIVE_LOCKS_REQUIRED(writer_mu_);
  // Runs a statement of the writer's that returns no rows.
  Status Run(sqlite3_stmt* stmt, std::string_view what) ABSL_EXCLUSIVE_LOCKS_REQUIRED(writer_mu_);
  // Writes one batch inside its own savepoint, rolled back to if any part fails.
  BatchOutcome WriteBatch(const Batch& batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(writer_mu_);
  Status WriteBatchContents(const Batch& batch, BatchOutcome& outcome)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(writer_mu_);
  // The new event's id and its customer; 0 for a duplicate of a stored one.
  Result<std::int64_t> InsertEvent(const Event& event, std::int64_t& customer)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(writer_mu_);
  // Runs a built query on a reader, handing each row to `row`.
  template <typename Row>
  Status Query(const Sql& sql, const std::string& what, Row row);
  template <typename Row>
  Status QueryOn(Reader& reader, const Sql& sql, const std::string& what, Row row);
  Status InsertQuarantine(const QuarantineRecord& record) ABSL_EXCLUSIVE_LOCKS_REQUIRED(writer_mu_);

  const std::string path_;  // constant after construction
  // Write (the pipeline's writer thread) and admins' links and splits take turns on it.
  sync::Mutex writer_mu_;
  Writer writer_ ABSL_GUARDED_BY(writer_mu_);
  const std::unique_ptr<IdentityIndex> index_ ABSL_GUARDED_BY(writer_mu_);  // on writer_.db
  customers::Resolver resolver_ ABSL_GUARDED_BY(writer_mu_);
  customers::MergeGeneration merge_generation_;
  sync::Replaceable<identity::IdentityRules> rules_;  // for the reads
  // Thread-safe themselves.
  ReaderPool readers_;
  ReaderPool scanners_;
};

Status SqliteStore::Run(sqlite3_stmt* stmt, std::string_view what) {
  return StepDone(writer_.db.get(), stmt, {}, what);
}

std::vector<BatchOutcome> SqliteStore::Write(std::span<const Batch> batches) {
  std::vector<BatchOutcome> outcomes(batches.size());
  auto fail_all = [&outcomes](const Status& status) {
    for (BatchOutcome& outcome : outcomes) outcome = {status, 0, 0, {}, {}, {}};
  };
  if (batches.empty()) return outcomes;
  sync::MutexLock lock(writer_mu_);
  customers::MergeGeneration::Write count(merge_generation_, resolver_);
  if (Status s = Run(writer_.begin.get(), "begin transaction on " + path_); !s.ok()) {
    fail_all(s);
    return outcomes;
  }
  for (std::size_t i = 0; i < batches.size(); ++i) {
    outcomes[i] = WriteBatch(batches[i]);
    if (sqlite3_get_autocommit(writer_.db.get()) != 0) {
      // SQLite gives up the whole transaction on some errors (I/O, disk full, out of memory),
      // taking the batches before this one with it.
      Status cause = outcomes[i].status;
      fail_all(Status(cause.code(), "transaction rolled back: " + cause.message()));
      outcomes[i].status = cause;
      return outcomes;
    }
  }
  count.Committing();
  if (Status s = Run(writer_.commit.get(), "commit to " + path_); !s.ok()) {
    if (sqlite3_get_autocommit(writer_.db.get()) == 0) Run(writer_.rollback.get(), "rollback");
    fail_all(s);
  }
  return outcomes;
}

BatchOutcome SqliteStore::WriteBatch(const Batch& batch) {
  BatchOutcome outcome;
  Status status = Run(writer_.savepoint.get(), "savepoint");
  if (status.ok()) status = WriteBatchContents(batch, outcome);
  if (status.ok()) {
    status = Run(writer_.release.get(), "release savepoint");
    if (status.ok()) return outcome;
    Run(writer_.rollback.get(), "rollback");
  } else if (sqlite3_get_autocommit(writer_.db.get()) == 0 &&
             (!Run(writer_.rollback_to.get(), "rollback to savepoint").ok() ||
              !Run(writer_.release.get(), "release savepoint").ok())) {
    Run(writer_.rollback.get(), "rollback");
  }
  return {Status(status.code(), "batch from source \"" + batch.source + "\": " + status.message()),
          0,
          0,
          {},
          {},
          {}};
}

Status SqliteStore::WriteBatchContents(const Batch& batch, BatchOutcome& outcome) {
  if (Status s = resolver_.BeginBatch(batch.events); !s.ok()) return s;
  for (const Event& event : batch.events) {
    if (event.source != batch.source) {
      return InvalidArgument("event \"" + event.source_event_id + "\" is from source \"" +
                             event.source + "\"");
    }
    std::int64_t customer = 0;
    auto id = InsertEvent(event, customer);
    if (!id.ok()) return id.status();
    ++(*id != 0 ? outcome.inserted : outcome.duplicates);
    outcome.ids.push_back(*id);
    outcome.customers.push_back(customer);
    outcome.merge_generations.push_back(*id != 0 ? customers::MergeGeneration::Of(resolver_) : 0);
  }
  for (const QuarantineRecord& record : batch.quarantined) {
    if (record.source != batch.source) {
      return InvalidArgument("quarantined record \"" + record.origin + "\" is from source \"" +
                             record.source + "\"");
    }
    if (Status s = InsertQuarantine(record); !s.ok()) return s;
  }
  if (batch.checkpoint.empty()) return Status::Ok();
  return StepDone(writer_.db.get(), writer_.upsert_checkpoint.get(),
                  {batch.source, batch.checkpoint, MicrosNow()}, "store checkpoint");
}

Result<std::int64_t> SqliteStore::InsertEvent(const Event& event, std::int64_t& customer) {
  // A replayed event changes nothing, not even who its identifiers belong to.
  {
    sqlite3_stmt* find = writer_.find_event.get();
    bool stored = false;
    Status s = StepRows(writer_.db.get(), find, {event.source, event.source_event_id},
                        "look for event \"" + event.source_event_id + "\"",
                        [&](sqlite3_stmt*) { stored = true; });
    if (!s.ok()) return s;
    if (stored) return 0;
  }
  auto resolution = resolver_.Resolve(event);
  if (!resolution.ok()) {
    return Status(resolution.status().code(), "resolve the customer of event \"" +
                                                  event.source_event_id +
                                                  "\": " + resolution.status().message());
  }
  const std::string attributes = AttributesToJson(event.attributes);
  const std::string identifiers = IdentifierLines(event.identifiers);
  Status inserted = StepDone(
      writer_.db.get(), writer_.insert_event.get(),
      {resolution->customer, resolution->home, event.occurred_at, event.ingested_at, event.source,
       event.source_event_id, static_cast<std::int64_t>(event.step), event.kind,
       static_cast<std::int64_t>(event.initiative), std::int64_t{event.contact ? 1 : 0},
       event.channel, event.matter_id, static_cast<std::int64_t>(event.matter_state), event.summary,
       attributes, identifiers},
      "insert event \"" + event.source_event_id + "\"");
  if (!inserted.ok()) return inserted;
  const std::int64_t id = sqlite3_last_insert_rowid(writer_.db.get());
  if (Status s = resolver_.RecordMergeEvent(*resolution, id); !s.ok()) return s;
  customer = resolution->customer;
  return id;
}

Status SqliteStore::InsertQuarantine(const QuarantineRecord& record) {
  return StepDone(
      writer_.db.get(), writer_.insert_quarantine.get(),
      {record.source, record.origin, record.reason, SqlBlob{record.raw}, record.quarantined_at},
      "quarantine record \"" + record.origin + "\"");
}

Result<std::optional<std::string>> SqliteStore::LoadCheckpoint(const std::string& source) {
  auto lease = readers_.Acquire();
  if (!lease.ok()) return lease.status();
  std::optional<std::string> checkpoint;
  Status s = StepRows((*lease)->db.get(), (*lease)->checkpoint.get(), {source},
                      "load checkpoint of source \"" + source + "\"",
                      [&checkpoint](sqlite3_stmt* row) { checkpoint = ColumnText(row, 0); });
  if (!s.ok()) return s;
  return checkpoint;
}

template <typename Row>
Status SqliteStore::Query(const Sql& sql, const std::string& what, Row row) {
  auto lease = readers_.Acquire();
  if (!lease.ok()) return lease.status();
  return QueryOn(**lease, sql, what, row);
}

template <typename Row>
Status SqliteStore::QueryOn(Reader& reader, const Sql& sql, const std::string& what, Row row) {
  auto stmt = reader.Statement(sql.text, what);
  if (!stmt.ok()) return stmt.status();
  std::vector<SqlParam> params;
  params.reserve(sql.params.size());
  for (const auto& param : sql.params) {
    std::visit([&params](const auto& value) { params.emplace_back(value); }, param);
  }
  return StepRows(reader.db.get(), *stmt, params, what, [&](sqlite3_stmt* r) {
    if (Status s = row(r); !s.ok()) return Status(s.code(), what + ": " + s.message());
    return Status::Ok();
  });
}

Result<std::vector<Event>> SqliteStore::ReadTimeline(const TimelineQuery& query) {
  std::vector<Event> events;
  if (query.limit == 0) return events;
  AttributeScratch attributes;
  auto add = [&](sqlite3_stmt* stmt) { return AppendEvent(stmt, attributes, events); };
  Status s = Query(TimelineSql(query, SqlDialect::kSqlite),
                   "read timeline of " + CustomerKey(query.customer), add);
  if (!s.ok()) return s;
  return events;
}

Result<std::optional<std::int64_t>> SqliteStore::VisitTimeline(const identity::Identifier& who,
                                                               TimelineQuery query,
                                                               const EventVisitor& visit) {
  auto lease = readers_.Acquire();
  if (!lease.ok()) return lease.status();
  Reader& reader = **lease;
  auto customer = QueryCustomerFor(*reader.built, who, *rules_.Get(), MicrosNow());
  if (!customer.ok() || !*customer || query.limit == 0) return customer;
  query.customer = **customer;
  AttributeScratch attributes;
  EventView view;
  auto row = [&](sqlite3_stmt* stmt) {
    if (Status s = ViewRow(stmt, attributes, view); !s.ok()) return s;
    visit(view);
    return Status::Ok();
  };
  Status read = QueryOn(reader, TimelineSql(query, SqlDialect::kSqlite),
                        "read timeline of " + CustomerKey(query.customer), row);
  if (!read.ok()) return read;
  return customer;
}

Result<std::vector<Event>> SqliteStore::ReadChanges(const ChangesQuery& query) {
  std::vector<Event> events;
  if (query.limit == 0) return events;
  AttributeScratch attributes;
  auto add = [&](sqlite3_stmt* stmt) { return AppendEvent(stmt, attributes, events); };
  Status s = Query(ChangesSql(query, SqlDialect::kSqlite),
                   "read events after id " + std::to_string(query.after_id), add);
  if (!s.ok()) return s;
  return events;
}

Result<std::vector<QuarantineRecord>> SqliteStore::ReadQuarantine(const QuarantineQuery& query) {
  std::vector<QuarantineRecord> records;
  if (query.limit == 0) return records;
  auto add = [&records](sqlite3_stmt* stmt) {
    QuarantineRecord& r = records.emplace_back();
    r.id = sqlite3_column_int64(stmt, 0);
    r.source = ColumnText(stmt, 1);
    r.origin = ColumnText(stmt, 2);
    r.reason = ColumnText(stmt, 3);
    r.raw = ColumnText(stmt, 4);
    r.quarantined_at = ColumnTime(stmt, 5);
    return Status::Ok();
  };
  Status s = Query(QuarantineSql(query, SqlDialect::kSqlite), "read quarantine", add);
  if (!s.ok()) return s;
  return records;
}

Result<std::vector<CheckpointRecord>> SqliteStore::ReadCheckpoints() {
  std::vector<CheckpointRecord> records;
  auto lease = readers_.Acquire();
  if (!lease.ok()) return lease.status();
  Status s =
      StepRows((*lease)->db.get(), (*lease)->checkpoints.get(), {}, "read checkpoints",
               [&records](sqlite3_stmt* row) {
                 records.push_back({ColumnText(row, 0), ColumnText(row, 1), ColumnTime(row, 2)});
               });
  if (!s.ok()) return s;
  return records;
}

}  // namespace

Result<std::optional<std::int64_t>> SqliteStore::FindCustomer(const identity::Identifier& id,
                                                              std::optional<Micros> at) {
  auto lease = readers_.Acquire();
  if (!lease.ok()) return lease.status();
  return QueryCustomerFor(*(*lease)->built, id, *rules_.Get(), at.value_or(MicrosNow()));
}

Result<std::vector<std::int64_t>> SqliteStore::FindCustomers(const identity::Identifier& id) {
  auto lease = readers_.Acquire();
  if (!lease.ok()) return lease.status();
  return QueryCustomersFor(*(*lease)->built, id, *rules_.Get());
}

Result<std::optional<Customer>> SqliteStore::ReadCustomer(std::int64_t id, Micros now) {
  auto lease = readers_.Acquire();
  if (!lease.ok()) return lease.status();
  auto rows = OpenSqliteCustomerRows(*(*lease)->built);
  if (!rows.ok()) return rows.status();
  return customers::ReadCustomer(**rows, id, now);
}

Result<OutreachPage> SqliteStore::ReadOutreach(const OutreachQuery& query, std::stop_token stop) {
  auto lease = scanners_.Acquire();
  if (!lease.ok()) return lease.status();
  InterruptOnStop interrupt((*lease)->db.get(), std::move(stop));
  auto rows = OpenSqliteCustomerRows(*(*lease)->built);
  if (!rows.ok()) return rows.status();
  return customers::ReadOutreach(**rows, query);
}

Result<std::vector<CommunityFigures>> SqliteStore::ReadCommunityFigures(
    const std::string& community, Micros now, std::stop_token stop) {
  auto lease = scanners_.Acquire();
  if (!lease.ok()) return lease.status();
  InterruptOnStop interrupt((*lease)->db.get(), std::move(stop));
  auto rows = OpenSqliteCustomerRows(*(*lease)->built);
  if (!rows.ok()) return rows.status();
  return customers::ReadCommunityFigures(**rows, community, now);
}

Result<MergeRecord> SqliteStore::WriteAlone(
    const std::function<Result<MergeRecord>(customers::Resolver& resolver)>& change,
    AuditRecord audit) {
  sync::MutexLock lock(writer_mu_);
  customers::MergeGeneration::Write count(merge_generation_, resolver_);
  auto rollback = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(writer_mu_) {
    if (sqlite3_get_autocommit(writer_.db.get()) == 0) Run(writer_.rollback.get(), "rollback");
  };
  // The failure is what the caller learns; its record is kept if it can be.
  auto failed = [&](const Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(writer_mu_) {
    rollback();
    audit.result = status.ToString();
    InsertAudit(audit);
    return status;
  };
  if (Status s = Run(writer_.begin.get(), "begin transaction on " + path_); !s.ok()) {
    return failed(s);
  }
  auto result = change(resolver_);
  if (!result.ok()) return failed(result.status());
  audit.result = "OK: merge " + std::to_string(result->id);
  if (auto recorded = InsertAudit(audit); !recorded.ok()) return failed(recorded.status());
  count.Committing();
  if (Status s = Run(writer_.commit.get(), "commit to " + path_); !s.ok()) return failed(s);
  return result;
}

Result<MergeRecord> SqliteStore::LinkCustomers(std::int64_t a, std::int64_t b,
                                               const std::string& actor, const std::string& reason,
                                               AuditRecord audit) {
  return WriteAlone(
      [&](customers::Resolver& resolver) {
        return resolver.Link(a, b, actor, reason, MicrosNow());
      },
      std::move(audit));
}

Result<MergeRecord> SqliteStore::SplitMerge(std::int64_t merge_id, const std::string& actor,
                                            const std::string& reason, AuditRecord audit) {
  return WriteAlone(
      [&](customers::Resolver& resolver) {
        return resolver.Split(merge_id, actor, reason, MicrosNow());
      },
      std::move(audit));
}

Result<std::int64_t> SqliteStore::InsertAudit(AuditRecord& record) {
  record.at = MicrosNow();
  const std::string arguments = AttributesToJson(record.arguments);
  if (Status s = StepDone(
          writer_.db.get(), writer_.insert_audit.get(),
          {record.at, record.caller, record.actor, record.method, arguments, record.result},
          "record the audit of " + record.method);
      !s.ok()) {
    return s;
  }
  record.id = sqlite3_last_insert_rowid(writer_.db.get());
  return record.id;
}

Result<std::int64_t> SqliteStore::RecordAudit(AuditRecord record) {
  sync::MutexLock lock(writer_mu_);
  // One statement outside a transaction commits on its own.
  return InsertAudit(record);
}

Result<std::vector<AuditRecord>> SqliteStore::ReadAudit(const AuditQuery& query) {
  std::vector<AuditRecord> records;
  if (query.limit == 0) return records;
  auto add = [&records](sqlite3_stmt* stmt) -> Status {
    AuditRecord& r = records.emplace_back();
    r.id = sqlite3_column_int64(stmt, 0);
    r.at = ColumnTime(stmt, 1);
    r.caller = ColumnText(stmt, 2);
    r.actor = ColumnText(stmt, 3);
    r.method = ColumnText(stmt, 4);
    auto arguments = AttributesFromJson(ColumnText(stmt, 5));
    if (!arguments.ok()) {
      return DataLoss("audit record " + std::to_string(r.id) + ": " + arguments.status().message());
    }
    r.arguments = std::move(arguments).value();
    r.result = ColumnText(stmt, 6);
    return Status::Ok();
  };
  Status s = Query(AuditSql(query, SqlDialect::kSqlite), "read audit records", add);
  if (!s.ok()) return s;
  return records;
}

namespace {

// The database, its -wal and its -shm are the daemon user's alone. The database is created
// 0600 before SQLite opens it, since SQLite gives a new database 0644 less the umask, and the
// -wal and -shm it creates the database's mode; those left by an earlier run are set to 0600
// like the database.
Status MakeStoreFilesPrivate(const StoreOptions& options) {
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::filesystem::path path = options.path;
    path += suffix;
    auto file = OpenPrivateFile(path, *suffix == '\0' ? IfMissing::kCreate : IfMissing::kSkip);
    if (!file.ok()) return file.status();
    if (file->tightened_from() && options.warn) {
      options.warn("store file " + path.string() + " had mode " +
                   ModeText(*file->tightened_from()) +
                   ", readable beyond the daemon's user; set to 0600");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const StoreOptions& options) {
  const std::string path = options.path.string();
  if (path.empty()) return InvalidArgument("open SQLite store: no database path");
  if (options.reader_connections == 0) {
    return InvalidArgument("open " + path + ": reader_connections must be at least 1");
  }
  if (options.scan_connections == 0) {
    return InvalidArgument("open " + path + ": scan_connections must be at least 1");
  }
  if (Status s = MakeStoreFilesPrivate(options); !s.ok()) return s;
  auto writer = OpenWriter(path);
  if (!writer.ok()) return writer.status();
  auto open_readers = [&](std::size_t count) -> Result<std::vector<std::unique_ptr<Reader>>> {
    std::vector<std::unique_ptr<Reader>> readers;
    for (std::size_t i = 0; i < count; ++i) {
      auto reader = OpenReader(path);
      if (!reader.ok()) return reader.status();
      readers.push_back(std::move(reader).value());
    }
    return readers;
  };
  auto readers = open_readers(options.reader_connections);
  if (!readers.ok()) return readers.status();
  auto scanners = open_readers(options.scan_connections);
  if (!scanners.ok()) return scanners.status();
  if (Status s = identity::ValidateRules(options.identity); !s.ok()) {
    return InvalidArgument("open " + path + ": identity rules: " + s.message());
  }
  return std::unique_ptr<Store>(std::make_unique<SqliteStore>(
      path, std::move(writer).value(),
      ReaderPool::Options{"reader", std::move(readers).value(), options.connection_wait},
      ReaderPool::Options{"scan", std::move(scanners).value(), options.connection_wait},
      options.identity));
}

}  // namespace propbridge::store
