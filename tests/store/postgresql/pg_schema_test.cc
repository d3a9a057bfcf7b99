#include "daemon/store/postgresql/pg_schema.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <barrier>
#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "daemon/store/postgresql/pg_connection.h"
#include "tests/support/postgres_server.h"

namespace propbridge::store {
namespace {

using std::chrono::microseconds;
using testing::PostgresServer;

const std::vector<std::string> kTables = {"events",     "customers",     "identifiers", "merges",
                                          "occupancy",  "checkpoints",   "quarantine",  "audit",
                                          "store_keys", "schema_version"};

// The SQLite schema's index names, kept.
const std::vector<std::string> kIndexes = {
    "events_by_source_event",   "events_by_customer_time", "events_by_home",
    "customers_by_merged_into", "identifiers_by_home",     "merges_by_kept",
    "merges_by_absorbed",       "merges_by_cause",         "occupancy_by_unit",
    "occupancy_by_customer",    "occupancy_by_community",  "quarantine_by_source"};

class PgSchemaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    server_ = PostgresServer::Start(error);
    ASSERT_NE(server_, nullptr) << error;
  }

  std::unique_ptr<PgConnection> Connect(const std::string& database = "") {
    auto connection =
        PgConnection::Open(server_->ConnectionString(database), server_->password_file());
    EXPECT_TRUE(connection.ok()) << connection.status().ToString();
    return connection.ok() ? std::move(connection).value() : nullptr;
  }

  // The first column of every row, as text.
  std::vector<std::string> Column(PgConnection& connection, const std::string& sql) {
    std::vector<std::string> values;
    Status s =
        connection.Query(sql, {}, sql, [&](const PgRow& row) { values.emplace_back(row.Text(0)); });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return values;
  }

  std::vector<std::string> Versions(PgConnection& connection) {
    return Column(connection, "SELECT version::text FROM schema_version ORDER BY version");
  }

  std::unique_ptr<PostgresServer> server_;
};

TEST(PgMigrationsTest, RunFromOneToTheNewestVersion) {
  std::span<const PgMigration> steps = PgMigrations();
  ASSERT_EQ(steps.size(), static_cast<std::size_t>(kPgSchemaVersion));
  for (std::size_t i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(steps[i].version, static_cast<int>(i) + 1);
    EXPECT_FALSE(steps[i].sql.empty());
  }
}

TEST_F(PgSchemaTest, MakesTheSchemaAndAPageTokenKey) {
  auto connection = Connect();
  ASSERT_NE(connection, nullptr);
  auto database = PreparePgDatabase(*connection);
  ASSERT_TRUE(database.ok()) << database.status().ToString();
  EXPECT_EQ(database->schema_version, kPgSchemaVersion);
  EXPECT_EQ(database->page_token_key.size(), kPageTokenKeyBytes);
  EXPECT_NE(database->page_token_key, std::string(kPageTokenKeyBytes, '\0'));

  for (const std::string& table : kTables) {
    EXPECT_EQ(Column(*connection, "SELECT (to_regclass('" + table + "') IS NOT NULL)::text"),
              std::vector<std::string>{"true"})
        << table;
  }
  std::vector<std::string> indexes = Column(*connection, "SELECT indexname::text FROM pg_indexes");
  for (const std::string& index : kIndexes) {
    EXPECT_NE(std::find(indexes.begin(), indexes.end(), index), indexes.end()) << index;
  }
  EXPECT_EQ(Versions(*connection), std::vector<std::string>{"1"});
}

TEST_F(PgSchemaTest, ASecondOpenChangesNothing) {
  auto first = Connect();
  ASSERT_NE(first, nullptr);
  auto made = PreparePgDatabase(*first);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  ASSERT_TRUE(first->Exec("INSERT INTO customers (created_at) VALUES (1)", {}, "insert").ok());

  auto second = Connect();
  ASSERT_NE(second, nullptr);
  auto opened = PreparePgDatabase(*second);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->page_token_key, made->page_token_key);
  EXPECT_EQ(Versions(*second), std::vector<std::string>{"1"});
  EXPECT_EQ(Column(*second, "SELECT count(*)::text FROM customers"), std::vector<std::string>{"1"});
  EXPECT_EQ(Column(*second, "SELECT count(*)::text FROM store_keys"),
            std::vector<std::string>{"1"});
}

TEST_F(PgSchemaTest, DaemonsStartingAtOnceMakeOneSchema) {
  constexpr int kDatabases = 4;
  constexpr int kDaemons = 4;
  for (int d = 0; d < kDatabases; ++d) {
    const std::string name = "racing_" + std::to_string(d);
    ASSERT_TRUE(server_->CreateDatabase(name));
    std::vector<std::unique_ptr<PgConnection>> connections;
    for (int i = 0; i < kDaemons; ++i) connections.push_back(Connect(name));
    for (const auto& connection : connections) ASSERT_NE(connection, nullptr);

    std::vector<Result<PgDatabase>> results(kDaemons, Internal("not run"));
    std::barrier start(kDaemons);
    std::vector<std::thread> daemons;
    for (int i = 0; i < kDaemons; ++i) {
      daemons.emplace_back([&, i] {
        start.arrive_and_wait();
        results[static_cast<std::size_t>(i)] =
            PreparePgDatabase(*connections[static_cast<std::size_t>(i)]);
      });
    }
    for (std::thread& daemon : daemons) daemon.join();

    std::set<std::string> keys;
    for (const auto& result : results) {
      ASSERT_TRUE(result.ok()) << result.status().ToString();
      keys.insert(result->page_token_key);
    }
    EXPECT_EQ(keys.size(), 1u);
    EXPECT_EQ(Versions(*connections[0]), std::vector<std::string>{"1"});
  }
}

TEST_F(PgSchemaTest, RefusesANewerSchemaAndLeavesItAlone) {
  auto connection = Connect();
  ASSERT_NE(connection, nullptr);
  ASSERT_TRUE(PreparePgDatabase(*connection).ok());
  ASSERT_TRUE(connection
                  ->Exec("INSERT INTO schema_version (version, applied_at) VALUES ($1, 0)",
                         {std::int64_t{kPgSchemaVersion + 1}}, "pretend a newer daemon was here")
                  .ok());

  auto refused = PreparePgDatabase(*connection);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  const std::string expected = "schema version " + std::to_string(kPgSchemaVersion + 1) +
                               ", which is newer than this propbridged (" +
                               std::to_string(kPgSchemaVersion) + "); upgrade propbridged";
  EXPECT_NE(refused.status().message().find(expected), std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find(server_->database()), std::string::npos);
  EXPECT_EQ(Versions(*connection), (std::vector<std::string>{"1", "2"}));
}

TEST_F(PgSchemaTest, RefusesADatabaseThatHoldsOtherTables) {
  auto connection = Connect();
  ASSERT_NE(connection, nullptr);
  ASSERT_TRUE(connection->ExecScript("CREATE TABLE events (what text)", "someone else's").ok());
  auto refused = PreparePgDatabase(*connection);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("\"events\" already exists"), std::string::npos)
      << refused.status().message();
  // Nothing of the failed migration stays.
  EXPECT_EQ(Column(*connection, "SELECT (to_regclass('schema_version') IS NULL)::text"),
            std::vector<std::string>{"true"});
}

TEST_F(PgSchemaTest, HoldsEventsOnceAndWhatPluginsSendAsItCame) {
  auto connection = Connect();
  ASSERT_NE(connection, nullptr);
  ASSERT_TRUE(PreparePgDatabase(*connection).ok());
  const PgTime at = PgTime(microseconds(1'700'000'000'000'000));
  auto insert_event = [&](std::string_view source_event_id) {
    std::int64_t id = 0;
    Status s = connection->Query(
        "INSERT INTO events (customer, home, occurred_at, ingested_at, source, source_event_id, "
        "step, kind, initiative, contact, channel, matter_id, matter_state, summary, attributes, "
        "identifiers) VALUES ($1, $1, $2, $2, 'billing', $3, 1, 'billing.charge.posted', 1, true, "
        "'app', '', 0, '', '{}', 'account:1') RETURNING id",
        {std::int64_t{1}, at, source_event_id}, "insert an event",
        [&](const PgRow& row) { id = row.Int64(0); });
    return s.ok() ? Result<std::int64_t>(id) : Result<std::int64_t>(s);
  };
  auto first = insert_event("row-1");
  auto second = insert_event("row-2");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_LT(*first, *second);
  EXPECT_EQ(insert_event("row-1").status().code(), StatusCode::kAlreadyExists);

  // A checkpoint and a quarantined record hold any bytes, a legacy encoding's among them.
  const std::string gbk_origin = "\xb7\xd1\xd3\xc3.csv line 3";
  const std::string checkpoint("offset\0\xff", 8);
  auto quarantined = connection->Exec(
      "INSERT INTO quarantine (source, origin, reason, raw, quarantined_at) "
      "VALUES ('billing', $1, $2, $3, $4)",
      {PgBytes{gbk_origin}, PgBytes{"not UTF-8"}, PgBytes{gbk_origin}, at}, "quarantine");
  ASSERT_TRUE(quarantined.ok()) << quarantined.status().ToString();
  auto checkpointed = connection->Exec(
      "INSERT INTO checkpoints (source, checkpoint, updated_at) VALUES ('billing', $1, $2)",
      {PgBytes{checkpoint}, at}, "checkpoint");
  ASSERT_TRUE(checkpointed.ok()) << checkpointed.status().ToString();
  std::string origin;
  std::string read_checkpoint;
  Status s = connection->Query("SELECT q.origin, c.checkpoint FROM quarantine q, checkpoints c", {},
                               "read back", [&](const PgRow& row) {
                                 origin = row.Bytes(0);
                                 read_checkpoint = row.Bytes(1);
                               });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(origin, gbk_origin);
  EXPECT_EQ(read_checkpoint, checkpoint);
}

}  // namespace
}  // namespace propbridge::store
