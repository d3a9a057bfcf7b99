// What only the PostgreSQL store has, beside the Store interface's own cases (store_test.cc):
// the key every daemon of a database shares, how it backs up, the plans PostgreSQL makes of
// its reads, connections the server lost, scans stopped while they run, and how its text columns
// keep a NUL.
#include "daemon/store/postgresql/pg_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "daemon/store/postgresql/pg_connection.h"
#include "daemon/store/postgresql/pg_schema.h"
#include "daemon/store/postgresql/pg_text.h"
#include "daemon/store/sql_queries.h"
#include "daemon/store/store.h"
#include "tests/support/postgres_server.h"
#include "tests/support/store_backend.h"
#include "tests/support/temp_dir.h"

namespace propbridge::store {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

const Micros kBase = Micros(seconds(1'700'000'000));

// `count` events from `first` on, each of an account of its own when `accounts` is 0, else of
// one of `accounts` accounts.
Batch Numbered(int first, int count, int accounts = 0) {
  Batch batch;
  batch.source = "billing";
  for (int i = first; i < first + count; ++i) {
    Event& event = batch.events.emplace_back();
    event.source = "billing";
    event.source_event_id = "e" + std::to_string(i);
    event.identifiers = {{"account", "A-" + std::to_string(accounts == 0 ? i : i % accounts)}};
    event.kind = "billing.charge.posted";
    event.step = sdk::Step::kHelp;
    event.occurred_at = kBase + seconds(i);
    event.ingested_at = kBase + seconds(i);
  }
  batch.checkpoint = std::to_string(first + count);
  return batch;
}

void Write(Store& store, Batch batch) {
  BatchOutcome outcome = store.Write({&batch, 1})[0];
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.message();
}

TEST(PgTextTest, KeepsTextAsItIsAndEncodesNulReversibly) {
  const std::string nul("\0", 1);
  const std::string symbol = "\u2400";
  std::string scratch;
  std::string back;
  for (const std::string plain : {"", "billing.charge.posted", "3栋2单元1202 🏠", "\u2401 x0"}) {
    EXPECT_EQ(PgStoredText(plain, scratch), plain);
    EXPECT_EQ(PgReadText(plain, back), plain);
  }
  const std::vector<std::pair<std::string, std::string>> encoded = {
      {nul, symbol + "0"},
      {symbol, symbol + symbol},
      {symbol + "0", symbol + symbol + "0"},
      {"a" + nul + nul + "b" + symbol, "a" + symbol + "0" + symbol + "0b" + symbol + symbol},
  };
  for (const auto& [text, stored] : encoded) {
    EXPECT_EQ(PgStoredText(text, scratch), stored);
    EXPECT_EQ(PgReadText(stored, back), text);
  }
  // A symbol that no encoding wrote stays as it is.
  EXPECT_EQ(PgReadText(symbol + "x" + symbol, back), symbol + "x" + symbol);
}

class PgStoreTest : public testing::StoreBackendTest {
 protected:
  std::unique_ptr<PgConnection> Connect() {
    auto connection = PgConnection::Open(
        backend_.postgres_server()->ConnectionString(backend_.postgres_database()),
        backend_.postgres_server()->password_file());
    EXPECT_TRUE(connection.ok()) << connection.status().ToString();
    return connection.ok() ? std::move(connection).value() : nullptr;
  }

  // What PostgreSQL plans for `sql`, line by line.
  std::string Plan(PgConnection& connection, const Sql& sql) {
    std::vector<PgParam> params;
    for (const auto& param : sql.params) {
      if (const auto* number = std::get_if<std::int64_t>(&param)) {
        params.emplace_back(*number);
      } else {
        params.emplace_back(std::string_view(std::get<std::string>(param)));
      }
    }
    std::string plan;
    Status s = connection.Query("EXPLAIN " + sql.text, params, "explain",
                                [&](const PgRow& row) { plan += std::string(row.Text(0)) + "\n"; });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return plan;
  }
};

TEST_P(PgStoreTest, EveryDaemonOfADatabaseGetsItsPageTokenKey) {
  auto open = [&](const std::string& database) {
    PgStoreOptions options;
    options.connection = backend_.postgres_server()->ConnectionString(database);
    options.password_file = backend_.postgres_server()->password_file();
    PgStoreInfo info;
    auto store = OpenPostgresStore(options, &info);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    EXPECT_EQ(info.schema_version, kPgSchemaVersion);
    return info.page_token_key;
  };
  const std::string first = open(backend_.postgres_database());
  EXPECT_EQ(first.size(), kPageTokenKeyBytes);
  EXPECT_EQ(open(backend_.postgres_database()), first);
  ASSERT_TRUE(backend_.postgres_server()->CreateDatabase("another_database"));
  EXPECT_NE(open("another_database"), first);
}

TEST_P(PgStoreTest, IsBackedUpWithPostgresqlsOwnTools) {
  auto store = backend_.Open();
  ASSERT_NE(store, nullptr);
  testing::TempDir dir;
  auto backup = store->Backup(dir / "copy", {});
  EXPECT_EQ(backup.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(backup.status().message().find("pg_dump"), std::string::npos)
      << backup.status().message();
  EXPECT_NE(backup.status().message().find("pg_basebackup"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir / "copy"));
}

// A page is a seek on (customer, occurred_at, id), the cursor's row comparison part of the
// index condition, never a sort; the change feed walks the primary key.
TEST_P(PgStoreTest, ReadsSeekTheirIndexes) {
  auto store = backend_.Open();
  ASSERT_NE(store, nullptr);
  // Two customers of 10,000 events each: a page must not cost what a customer's events do.
  for (int first = 0; first < 20'000; first += 1000) Write(*store, Numbered(first, 1000, 2));
  auto connection = Connect();
  ASSERT_NE(connection, nullptr);
  ASSERT_TRUE(connection->Exec("ANALYZE", {}, "analyze").ok());

  TimelineQuery query;
  query.customer = store->FindCustomer({"account", "A-1"})->value_or(0);
  query.after = TimelineCursor{kBase + seconds(10'001), 10'002};
  for (bool oldest_first : {false, true}) {
    query.oldest_first = oldest_first;
    const std::string plan = Plan(*connection, TimelineSql(query, SqlDialect::kPostgresql));
    EXPECT_NE(plan.find("Index Scan"), std::string::npos) << plan;
    EXPECT_NE(plan.find("using events_by_customer_time"), std::string::npos) << plan;
    EXPECT_NE(plan.find("Index Cond: ((customer = "), std::string::npos) << plan;
    EXPECT_NE(plan.find("ROW(occurred_at, id)"), std::string::npos) << plan;
    EXPECT_EQ(plan.find("Sort"), std::string::npos) << plan;
    EXPECT_EQ(plan.find("Filter"), std::string::npos) << plan;
  }
  ChangesQuery changes;
  changes.after_id = 19'000;
  const std::string plan = Plan(*connection, ChangesSql(changes, SqlDialect::kPostgresql));
  EXPECT_NE(plan.find("Index Scan using events_pkey"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("Sort"), std::string::npos) << plan;
}

// The server went away and came back: the call that finds a connection lost fails with
// UNAVAILABLE, and the next opens a new one.
TEST_P(PgStoreTest, AConnectionTheServerLostIsOpenedAgain) {
  auto store = backend_.Open({.path = {}, .reader_connections = 1, .scan_connections = 1});
  ASSERT_NE(store, nullptr);
  Write(*store, Numbered(0, 10, 1));
  ASSERT_TRUE(store->FindCustomer({"account", "A-0"}).ok());
  testing::PostgresServer& server = *backend_.postgres_server();
  server.Kill();
  ASSERT_TRUE(server.Restart());

  auto twice = [](auto call) {
    auto result = call();
    if (!result.ok()) {
      EXPECT_EQ(result.status().code(), StatusCode::kUnavailable) << result.status().ToString();
      result = call();
    }
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    return result;
  };
  Batch next = Numbered(10, 10, 1);
  twice([&]() -> Result<BatchOutcome> {
    BatchOutcome outcome = store->Write({&next, 1})[0];
    if (!outcome.status.ok()) return outcome.status;
    return outcome;
  });
  auto customer = twice([&] { return store->FindCustomer({"account", "A-0"}); });
  ASSERT_TRUE(customer.ok() && customer->has_value());
  auto timeline = store->ReadTimeline({.customer = **customer, .limit = 100});
  ASSERT_TRUE(timeline.ok()) << timeline.status().ToString();
  EXPECT_EQ(timeline->size(), 20u);
  OutreachQuery query;
  query.now = kBase + seconds(400 * 86400);
  auto outreach = twice([&] { return store->ReadOutreach(query, {}); });
  ASSERT_TRUE(outreach.ok());
  EXPECT_EQ(outreach->items.size(), 1u);
  EXPECT_TRUE(store->RecordAudit({}).ok());
}

// A scan stopped while it runs gives up at once (its statement cancelled on the server), and
// its connection serves the next scan.
TEST_P(PgStoreTest, AScanStoppedWhileItRunsGivesUpAtOnce) {
  auto store = backend_.Open({.path = {}, .scan_connections = 1});
  ASSERT_NE(store, nullptr);
  constexpr int kCustomers = 20'000;
  for (int first = 0; first < kCustomers; first += 2000) Write(*store, Numbered(first, 2000));
  OutreachQuery query;
  query.now = kBase + seconds(400 * 86400);
  query.limit = kCustomers;
  const Clock::time_point whole_start = Clock::now();
  auto whole = store->ReadOutreach(query, {});
  const Clock::duration whole_time = Clock::now() - whole_start;
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  EXPECT_EQ(whole->items.size(), static_cast<std::size_t>(kCustomers));

  std::stop_source stop;
  std::optional<Result<OutreachPage>> stopped;
  Clock::time_point ended;
  std::thread scan([&] {
    stopped = store->ReadOutreach(query, stop.get_token());
    ended = Clock::now();
  });
  // Well inside the scan, which reads for most of its time.
  std::this_thread::sleep_for(std::min<Clock::duration>(whole_time / 10, milliseconds(50)));
  const Clock::time_point asked = Clock::now();
  stop.request_stop();
  scan.join();
  ASSERT_TRUE(stopped.has_value());
  EXPECT_EQ(stopped->status().code(), StatusCode::kCancelled) << stopped->status().ToString();
  EXPECT_LT(ended - asked, milliseconds(500))
      << "the scan of " << std::chrono::duration_cast<milliseconds>(whole_time).count()
      << " ms went on after it was stopped";

  auto again = store->ReadOutreach(query, {});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->items.size(), static_cast<std::size_t>(kCustomers));
}

// Text without NUL is stored as it came, for whoever reads the database in psql.
TEST_P(PgStoreTest, TextIsStoredReadable) {
  auto store = backend_.Open();
  ASSERT_NE(store, nullptr);
  Batch batch = Numbered(0, 2, 1);
  batch.events[0].summary = "电梯坏了, lift broken";
  batch.events[1].summary = std::string("with a NUL: \0.", 14);
  Write(*store, batch);
  auto connection = Connect();
  ASSERT_NE(connection, nullptr);
  std::vector<std::string> summaries;
  Status s = connection->Query("SELECT summary FROM events ORDER BY id", {}, "read summaries",
                               [&](const PgRow& row) { summaries.emplace_back(row.Text(0)); });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(summaries, (std::vector<std::string>{"电梯坏了, lift broken", "with a NUL: \u24000."}));
}

INSTANTIATE_TEST_SUITE_P(Backends, PgStoreTest, ::testing::Values(testing::Backend::kPostgresql),
                         testing::BackendParamName);

}  // namespace
}  // namespace propbridge::store
