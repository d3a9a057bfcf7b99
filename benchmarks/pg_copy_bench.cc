// propbridge_pg_copy_bench [rows=100000] [batch=1000]: how fast PostgreSQL takes event rows
// into the PostgreSQL store's events table (pg_schema.h), by each way a group commit can send
// them: the raw figure that the PostgreSQL store's ingest compares with, as ingest_bench's raw
// figure is SQLite's. The rows are ingest_bench's raw rows. The server is the tests' own
// (tests/support/postgres_server.h: fsync and synchronous commit on, loopback TCP), in a
// folder under TMPDIR; each way writes into a fresh database, a transaction per batch.
//
// copy:         COPY events FROM STDIN. A duplicate fails the whole batch, and no ids come
//               back: fast, but not what a replayed batch can use.
// copy+dedupe:  COPY into a temporary table, then INSERT INTO events SELECT ... ON CONFLICT DO
//               NOTHING RETURNING the ids: replay-safe, with the ids.
// insert:       one multi-row INSERT ... ON CONFLICT DO NOTHING RETURNING the ids per batch.
// row:          an INSERT per row: a round trip per event.
//
// And the same rows as events through the PostgreSQL store's Write (OpenPostgresStore), a batch
// per group commit, identifiers resolved, duplicates looked for, checkpoint stored, each into a
// fresh database; its pace over the COPY's is the store's cost:
// store:        each event names its account, one of 1,000 (ingest_bench's raw rows).
// store+units:  each event names its account, a phone (one per account) and its unit, which
//               the store resolves through occupancy as a billing export's rows do.
// store+new:    as store+units, but every event is a customer seen for the first time (a first
//               import): a customer, three identifiers and an occupancy period each.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "benchmarks/bench_support.h"
#include "daemon/store/postgresql/pg_connection.h"
#include "daemon/store/postgresql/pg_schema.h"
#include "daemon/store/postgresql/pg_store.h"
#include "daemon/store/store.h"
#include "tests/support/postgres_server.h"

namespace propbridge::bench {
namespace {

using namespace std::chrono;
using store::PgBytes;
using store::PgConnection;
using store::PgParam;
using store::PgRow;
using store::PgTime;

constexpr char kUsage[] = "propbridge_pg_copy_bench [rows=100000] [batch=1000]";
constexpr std::int64_t kCustomers = 1000;
// Bind parameters are at most 65535 per statement; a multi-row INSERT takes kColumns per row.
constexpr std::int64_t kMaxInsertRows = 4000;

constexpr std::string_view kColumns[] = {
    "customer",     "home",    "occurred_at", "ingested_at", "source",  "source_event_id",
    "step",         "kind",    "initiative",  "contact",     "channel", "matter_id",
    "matter_state", "summary", "attributes",  "identifiers"};
constexpr std::size_t kColumnCount = std::size(kColumns);

std::string ColumnList() {
  std::string list;
  for (std::string_view column : kColumns) {
    if (!list.empty()) list += ", ";
    list += column;
  }
  return list;
}

// One event row as ingest_bench's raw baseline writes it.
struct EventRow {
  std::int64_t customer;
  PgTime occurred_at;
  PgTime ingested_at;
  std::string source_event_id;
  std::string summary;
  std::string attributes;
  std::string identifiers;

  std::vector<PgParam> Values() const {
    return {customer,
            customer,
            occurred_at,
            ingested_at,
            std::string_view("synthetic"),
            source_event_id,
            std::int64_t{2},
            std::string_view("crm.profile.updated"),
            std::int64_t{1},
            false,
            std::string_view(),
            std::string_view(),
            std::int64_t{0},
            summary,
            attributes,
            identifiers};
  }
};

std::vector<EventRow> MakeRows(std::int64_t count) {
  const PgTime first = time_point_cast<microseconds>(sys_days{year{2026} / January / 1});
  const PgTime now = time_point_cast<microseconds>(system_clock::now());
  std::vector<EventRow> rows;
  rows.reserve(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) {
    const std::string number = std::to_string(i);
    rows.push_back({i % kCustomers + 1, first + seconds(i), now, "e" + number,
                    "Synthetic event number " + number, "{\"n\":\"" + number + "\"}",
                    "account:C" + std::to_string(i % kCustomers)});
  }
  return rows;
}

// Writes one batch, rows [begin, end), inside its transaction.
using WriteBatch = std::function<Status(PgConnection&, std::span<const EventRow>)>;

Status Copy(PgConnection& connection, std::string_view table, std::span<const EventRow> rows) {
  auto copy = connection.CopyIn(table, kColumns, "copy events");
  if (!copy.ok()) return copy.status();
  for (const EventRow& row : rows) {
    if (Status s = copy->AddRow(row.Values()); !s.ok()) return s;
  }
  return copy->Finish().status();
}

Status CopyThenDedupe(PgConnection& connection, std::span<const EventRow> rows) {
  if (Status s = Copy(connection, "staged_events", rows); !s.ok()) return s;
  std::size_t returned = 0;
  Status s = connection.Query("INSERT INTO events (" + ColumnList() + ") SELECT " + ColumnList() +
                                  " FROM staged_events ON CONFLICT (source, source_event_id) DO "
                                  "NOTHING RETURNING id, source_event_id",
                              {}, "move staged events", [&](const PgRow&) { ++returned; });
  if (!s.ok()) return s;
  return returned == rows.size() ? Status::Ok() : Internal("some rows were not new");
}

Status InsertRows(PgConnection& connection, std::span<const EventRow> rows) {
  for (std::size_t start = 0; start < rows.size(); start += kMaxInsertRows) {
    std::span<const EventRow> part =
        rows.subspan(start, std::min<std::size_t>(kMaxInsertRows, rows.size() - start));
    std::string sql = "INSERT INTO events (" + ColumnList() + ") VALUES ";
    std::vector<PgParam> params;
    params.reserve(part.size() * kColumnCount);
    for (const EventRow& row : part) {
      sql += params.empty() ? "(" : ", (";
      for (std::size_t c = 0; c < kColumnCount; ++c) {
        sql += (c == 0 ? "$" : ", $") + std::to_string(params.size() + c + 1);
      }
      sql += ')';
      std::vector<PgParam> values = row.Values();
      params.insert(params.end(), values.begin(), values.end());
    }
    sql += " ON CONFLICT (source, source_event_id) DO NOTHING RETURNING id";
    std::size_t returned = 0;
    Status s = connection.Query(sql, params, "insert events", [&](const PgRow&) { ++returned; });
    if (!s.ok()) return s;
    if (returned != part.size()) return Internal("some rows were not new");
  }
  return Status::Ok();
}

Status InsertEachRow(PgConnection& connection, std::span<const EventRow> rows) {
  std::string sql = "INSERT INTO events (" + ColumnList() + ") VALUES (";
  for (std::size_t c = 0; c < kColumnCount; ++c)
    sql += (c == 0 ? "$" : ", $") + std::to_string(c + 1);
  sql += ')';
  for (const EventRow& row : rows) {
    if (Status s = connection.Exec(sql, row.Values(), "insert an event").status(); !s.ok())
      return s;
  }
  return Status::Ok();
}

double Measure(testing::PostgresServer& server, const std::string& database,
               const std::vector<EventRow>& rows, std::int64_t batch, const WriteBatch& write) {
  if (!server.CreateDatabase(database)) Fail("cannot create database " + database);
  auto connection = Check(
      PgConnection::Open(server.ConnectionString(database), server.password_file()), "connect");
  Check(store::PreparePgDatabase(*connection).status(), "prepare the database");
  Check(connection->ExecScript("CREATE TEMP TABLE staged_events ON COMMIT DELETE ROWS AS SELECT " +
                                   ColumnList() + " FROM events WITH NO DATA",
                               "create the staging table"),
        "create the staging table");
  const std::span<const EventRow> all(rows);
  const Clock::time_point start = Clock::now();
  for (std::size_t first = 0; first < all.size(); first += static_cast<std::size_t>(batch)) {
    std::span<const EventRow> part = all.subspan(
        first, std::min<std::size_t>(static_cast<std::size_t>(batch), all.size() - first));
    Check(connection->Transaction([&] { return write(*connection, part); }, "write a batch"),
          database);
  }
  const double rate = static_cast<double>(rows.size()) / SecondsSince(start);
  std::int64_t stored = 0;
  Check(connection->Query("SELECT count(*) FROM events", {}, "count",
                          [&](const PgRow& row) { stored = row.Int64(0); }),
        "count");
  if (stored != static_cast<std::int64_t>(rows.size())) {
    Fail(database + ": " + std::to_string(stored) + " rows stored of " +
         std::to_string(rows.size()));
  }
  return rate;
}

enum class Names { kAccount, kAccountPhoneUnit, kNewCustomers };

// The row as the pipeline hands it to the store: the same fields, its customer by account (and
// by phone and unit too, or as a customer of its own) instead of an id.
store::Event EventOf(const EventRow& row, std::int64_t index, Names names) {
  store::Event event;
  event.source = "synthetic";
  event.source_event_id = row.source_event_id;
  const std::string account = names == Names::kNewCustomers
                                  ? "N" + std::to_string(index)
                                  : row.identifiers.substr(row.identifiers.find(':') + 1);
  event.identifiers = {{"account", account}};
  if (names != Names::kAccount) {
    const std::int64_t n = names == Names::kNewCustomers ? index : row.customer;
    event.identifiers.push_back({"phone", "138" + std::to_string(10'000'000 + n)});
    event.identifiers.push_back({"unit", "阳光花园/" + std::to_string(n % 20 + 1) + "-" +
                                             std::to_string(n % 3 + 1) + "-" +
                                             std::to_string(n + 100)});
  }
  event.step = sdk::Step::kUnderstand;
  event.kind = "crm.profile.updated";
  event.occurred_at = row.occurred_at;
  event.ingested_at = row.ingested_at;
  event.initiative = sdk::Initiative::kProactive;
  event.summary = row.summary;
  event.attributes = {{"n", row.source_event_id.substr(1)}};
  return event;
}

// Events/s through OpenPostgresStore's Write, a batch of `batch` events per call.
double MeasureStore(testing::PostgresServer& server, const std::string& database,
                    const std::vector<EventRow>& rows, std::int64_t batch, Names names) {
  if (!server.CreateDatabase(database)) Fail("cannot create database " + database);
  store::PgStoreOptions options;
  options.connection = server.ConnectionString(database);
  options.password_file = server.password_file();
  std::unique_ptr<store::Store> pg = Check(store::OpenPostgresStore(options), "open the store");
  std::vector<store::Batch> batches;
  for (std::size_t first = 0; first < rows.size(); first += static_cast<std::size_t>(batch)) {
    store::Batch& b = batches.emplace_back();
    b.source = "synthetic";
    const std::size_t end = std::min(rows.size(), first + static_cast<std::size_t>(batch));
    for (std::size_t i = first; i < end; ++i) {
      b.events.push_back(EventOf(rows[i], static_cast<std::int64_t>(i), names));
    }
    b.checkpoint = std::to_string(end);
  }
  const Clock::time_point start = Clock::now();
  std::size_t stored = 0;
  for (const store::Batch& b : batches) {
    store::BatchOutcome outcome = pg->Write({&b, 1})[0];
    Check(outcome.status, database);
    stored += outcome.inserted;
  }
  const double rate = static_cast<double>(rows.size()) / SecondsSince(start);
  if (stored != rows.size()) {
    Fail(database + ": " + std::to_string(stored) + " events stored of " +
         std::to_string(rows.size()));
  }
  return rate;
}

int Main(int argc, char** argv) {
  const std::int64_t count = PositiveArgument(argc, argv, 1, 100'000, kUsage);
  const std::int64_t batch = PositiveArgument(argc, argv, 2, 1000, kUsage);
  std::string error;
  std::unique_ptr<testing::PostgresServer> server = testing::PostgresServer::Start(error);
  if (server == nullptr) Fail(error);
  const std::vector<EventRow> rows = MakeRows(count);
  const std::pair<const char*, WriteBatch> ways[] = {
      {"copy", [](PgConnection& c, std::span<const EventRow> r) { return Copy(c, "events", r); }},
      {"copy+dedupe", CopyThenDedupe},
      {"insert", InsertRows},
      {"row", InsertEachRow},
  };
  std::printf("%s rows, %s per transaction\n", WithThousands(static_cast<double>(count)).c_str(),
              WithThousands(static_cast<double>(batch)).c_str());
  int n = 0;
  double copy = 0;
  for (const auto& [name, write] : ways) {
    const double rate = Measure(*server, "bench_" + std::to_string(n++), rows, batch, write);
    if (copy == 0) copy = rate;
    std::printf("%-12s %s rows/s\n", name, WithThousands(rate).c_str());
  }
  for (const auto& [name, names] :
       {std::pair{"store", Names::kAccount}, std::pair{"store+units", Names::kAccountPhoneUnit},
        std::pair{"store+new", Names::kNewCustomers}}) {
    const double rate = MeasureStore(*server, "bench_" + std::to_string(n++), rows, batch, names);
    std::printf("%-12s %s events/s (%.2f of copy)\n", name, WithThousands(rate).c_str(),
                rate / copy);
  }
  return 0;
}

}  // namespace
}  // namespace propbridge::bench

int main(int argc, char** argv) { return propbridge::bench::Main(argc, argv); }
