// What only the SQLite store has: its file, the file's mode and schema version, and the plans
// SQLite makes of its queries. The Store interface itself is tested on every backend
// (store_test.cc).
#include "daemon/store/sqlite/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "daemon/store/sql_queries.h"
#include "daemon/store/sqlite/sqlite_schema.h"
#include "daemon/store/store.h"
#include "tests/store/test_batches.h"

namespace propbridge::store {
namespace {

// A connection of the test's own, to inspect or tamper with the file behind the store's back.
class RawDb {
 public:
  explicit RawDb(const std::filesystem::path& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close(db_); }

  void Exec(const std::string& sql) {
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
        << sql << ": " << (error ? error : "");
    sqlite3_free(error);
  }

  // One column of every row, as text.
  std::vector<std::string> Column(const std::string& sql, int column = 0) {
    std::vector<std::string> values;
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK)
        << sql << ": " << sqlite3_errmsg(db_);
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      values.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, column)));
    }
    sqlite3_finalize(stmt);
    return values;
  }

 private:
  sqlite3* db_ = nullptr;
};

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "propbridge-store-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = dir_ / "events.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Store> Open(std::size_t readers = 2) {
    auto store = OpenSqliteStore({.path = path_, .reader_connections = readers});
    EXPECT_TRUE(store.ok()) << store.status().message();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  std::filesystem::path dir_;
  std::filesystem::path path_;
};

TEST_F(SqliteStoreTest, CreatesWalDatabaseAtTheCurrentSchemaVersion) {
  ASSERT_NE(Open(), nullptr);
  RawDb db(path_);
  EXPECT_EQ(db.Column("PRAGMA user_version"),
            std::vector<std::string>{std::to_string(kSqliteSchemaVersion)});
  EXPECT_EQ(db.Column("PRAGMA journal_mode"), std::vector<std::string>{"wal"});
}

TEST_F(SqliteStoreTest, RefusesADatabaseFromANewerVersion) {
  RawDb(path_).Exec("PRAGMA user_version = " + std::to_string(kSqliteSchemaVersion + 1));
  auto store = OpenSqliteStore({.path = path_});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find(path_.string()), std::string::npos)
      << store.status().message();
  EXPECT_NE(store.status().message().find("schema version is " +
                                          std::to_string(kSqliteSchemaVersion + 1)),
            std::string::npos)
      << store.status().message();
}

TEST_F(SqliteStoreTest, OpenErrorNamesTheFile) {
  const std::filesystem::path missing = dir_ / "no-such-folder" / "events.db";
  auto store = OpenSqliteStore({.path = missing});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store.status().message(),
            "cannot create " + missing.string() + ": No such file or directory");
}

// The permission bits of the file itself (not of what a link names); -1 when it is missing.
int ModeOf(const std::filesystem::path& path) {
  struct stat status {};
  if (::lstat(path.c_str(), &status) != 0) return -1;
  return static_cast<int>(status.st_mode & 07777);
}

std::filesystem::path WithSuffix(std::filesystem::path path, const char* suffix) {
  path += suffix;
  return path;
}

// The store holds personal data: whatever the umask, its database, -wal and -shm are its
// owner's alone, so that no group (a delivery account's among them) can read them.
class SqliteStoreUmaskTest : public SqliteStoreTest, public ::testing::WithParamInterface<mode_t> {
 protected:
  void SetUp() override {
    SqliteStoreTest::SetUp();
    saved_ = ::umask(GetParam());
  }
  void TearDown() override {
    ::umask(saved_);
    SqliteStoreTest::TearDown();
  }

 private:
  mode_t saved_ = 0;
};

TEST_P(SqliteStoreUmaskTest, TheDatabaseWalAndShmAreCreatedOwnerOnly) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Batch batch = MakeBatch("billing", "c1", 0, 3);
  ASSERT_TRUE(store->Write({&batch, 1})[0].status.ok());
  // Open, with the writer's transaction committed to the log: all three files exist.
  EXPECT_EQ(ModeOf(path_), 0600);
  EXPECT_EQ(ModeOf(WithSuffix(path_, "-wal")), 0600);
  EXPECT_EQ(ModeOf(WithSuffix(path_, "-shm")), 0600);
}

INSTANTIATE_TEST_SUITE_P(Umasks, SqliteStoreUmaskTest, ::testing::Values(0000, 0022, 0027, 0077),
                         [](const ::testing::TestParamInfo<mode_t>& info) {
                           char name[16];
                           std::snprintf(name, sizeof name, "umask%03o", info.param);
                           return std::string(name);
                         });

// A store made before the files were private (SQLite gives a new database 0644 less the
// umask) is made private at open, each file with a warning, rather than refused: an upgrade
// must not stop the service.
TEST_F(SqliteStoreTest, AStoreReadableByOthersIsMadeOwnerOnlyWithAWarning) {
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
  }
  ASSERT_EQ(::chmod(path_.c_str(), 0640), 0);
  std::ofstream(WithSuffix(path_, "-wal")).flush();  // an empty log, as a crash may leave one
  ASSERT_EQ(::chmod(WithSuffix(path_, "-wal").c_str(), 0644), 0);
  std::vector<std::string> warnings;
  const StoreOptions options{
      .path = path_, .warn = [&](const std::string& message) { warnings.push_back(message); }};
  auto store = OpenSqliteStore(options);
  ASSERT_TRUE(store.ok()) << store.status().message();
  EXPECT_EQ(ModeOf(path_), 0600);
  EXPECT_EQ(ModeOf(WithSuffix(path_, "-wal")), 0600);
  EXPECT_EQ(warnings,
            (std::vector<std::string>{
                "store file " + path_.string() +
                    " had mode 0640, readable beyond the daemon's user; set to 0600",
                "store file " + path_.string() +
                    "-wal had mode 0644, readable beyond the daemon's user; set to 0600"}));
  // Once private, nothing more to say.
  warnings.clear();
  EXPECT_TRUE(OpenSqliteStore(options).ok());
  EXPECT_TRUE(warnings.empty());
}

TEST_F(SqliteStoreTest, AStoreIsNeverReachedThroughASymbolicLink) {
  const std::filesystem::path elsewhere = dir_ / "elsewhere.db";
  std::filesystem::create_symlink(elsewhere, path_);
  auto store = OpenSqliteStore({.path = path_});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store.status().message(),
            path_.string() +
                " is a symbolic link, and the daemon follows none there; configure the folder it "
                "points to instead");
  EXPECT_FALSE(std::filesystem::exists(elsewhere));

  std::filesystem::remove(path_);
  std::filesystem::create_directory(path_);
  store = OpenSqliteStore({.path = path_});
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find(path_.string()), std::string::npos)
      << store.status().message();
}

TEST_F(SqliteStoreTest, TimelineQueriesSeekTheCustomerTimeIndex) {
  ASSERT_NE(Open(), nullptr);
  RawDb db(path_);
  // Column 3 of EXPLAIN QUERY PLAN is the step's description.
  TimelineQuery query;
  query.customer = 1;
  const std::string first_page = TimelineSql(query, SqlDialect::kSqlite).text;
  query.after = TimelineCursor{Micros{}, 7};
  const std::string after_cursor = TimelineSql(query, SqlDialect::kSqlite).text;
  query.oldest_first = true;
  query.filter.steps = {sdk::Step::kHelp};
  query.filter.kind_prefixes = {"billing.reminder"};
  const std::string filtered = TimelineSql(query, SqlDialect::kSqlite).text;
  EXPECT_EQ(
      db.Column("EXPLAIN QUERY PLAN " + first_page, 3),
      std::vector<std::string>{"SEARCH events USING INDEX events_by_customer_time (customer=?)"});
  EXPECT_EQ(
      db.Column("EXPLAIN QUERY PLAN " + filtered, 3),
      (std::vector<std::string>{
          "MERGE (UNION ALL)", "LEFT",
          "SEARCH events USING INDEX events_by_customer_time (customer=? AND occurred_at=? "
          "AND id>?)",
          "RIGHT",
          "SEARCH events USING INDEX events_by_customer_time (customer=? AND occurred_at>?)"}));
  EXPECT_EQ(
      db.Column("EXPLAIN QUERY PLAN " + after_cursor, 3),
      (std::vector<std::string>{
          "MERGE (UNION ALL)", "LEFT",
          "SEARCH events USING INDEX events_by_customer_time (customer=? AND occurred_at=? "
          "AND id<?)",
          "RIGHT",
          "SEARCH events USING INDEX events_by_customer_time (customer=? AND occurred_at<?)"}));
}

}  // namespace
}  // namespace propbridge::store
