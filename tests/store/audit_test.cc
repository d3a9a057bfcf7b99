// The audit records of the real store, on every backend: a link or a split is kept with its
// record in one transaction, a refused change is recorded with its error, and records read
// newest first.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>
#include <vector>

#include "daemon/store/sqlite/sqlite_schema.h"
#include "daemon/store/store.h"
#include "tests/support/store_backend.h"

namespace propbridge::store {
namespace {

using Arguments = std::vector<std::pair<std::string, std::string>>;

// Runs `sql` on a connection of the test's own, beside the store's.
void ExecSql(const std::filesystem::path& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  std::string message = error != nullptr ? error : "";
  sqlite3_free(error);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << message;
}

AuditRecord Asked(std::string method, Arguments arguments) {
  AuditRecord audit;
  audit.caller = "token crm-app";
  audit.actor = "ops:li.wei";
  audit.method = std::move(method);
  audit.arguments = std::move(arguments);
  return audit;
}

class AuditTest : public testing::StoreBackendTest {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    store_.reset();
    store_ = backend_.Open();
    ASSERT_TRUE(store_);
  }

  // A customer of its own, named by account `account`.
  std::int64_t Customer(const std::string& account) {
    Batch batch;
    batch.source = "test";
    Event& event = batch.events.emplace_back();
    event.source = "test";
    event.source_event_id = account;
    event.identifiers = {{"account", account}};
    event.kind = "billing.charge.posted";
    event.step = sdk::Step::kUnderstand;
    event.occurred_at = MicrosNow();
    event.ingested_at = MicrosNow();
    auto outcomes = store_->Write({&batch, 1});
    EXPECT_TRUE(outcomes[0].status.ok()) << outcomes[0].status.message();
    return outcomes[0].customers.at(0);
  }

  std::vector<AuditRecord> Records(AuditQuery query = {}) {
    auto records = store_->ReadAudit(query);
    EXPECT_TRUE(records.ok()) << records.status().message();
    return records.ok() ? *records : std::vector<AuditRecord>{};
  }

  std::unique_ptr<Store> store_;
};

// What only the SQLite store has: schema versions of its own in the file.
class SqliteAuditTest : public AuditTest {};

TEST_P(AuditTest, ALinkAndASplitAreRecordedWithWhoAskedAndTheirResult) {
  const std::int64_t a = Customer("A-1");
  const std::int64_t b = Customer("B-1");
  const Micros before = MicrosNow();
  auto merge = store_->LinkCustomers(
      a, b, "ops:li.wei", "one household",
      Asked("AdminService.LinkCustomers", {{"customer", "account:A-1"}, {"reason", "one"}}));
  ASSERT_TRUE(merge.ok()) << merge.status().message();
  ASSERT_TRUE(store_
                  ->SplitMerge(merge->id, "ops:li.wei", "two households",
                               Asked("AdminService.SplitCustomer",
                                     {{"merge_id", std::to_string(merge->id)}}))
                  .ok());

  auto records = Records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].method, "AdminService.SplitCustomer");  // newest first
  EXPECT_EQ(records[0].result, "OK: merge " + std::to_string(merge->id));
  const AuditRecord& link = records[1];
  EXPECT_EQ(link.method, "AdminService.LinkCustomers");
  EXPECT_EQ(link.caller, "token crm-app");
  EXPECT_EQ(link.actor, "ops:li.wei");
  EXPECT_EQ(link.arguments, (Arguments{{"customer", "account:A-1"}, {"reason", "one"}}));
  EXPECT_EQ(link.result, "OK: merge " + std::to_string(merge->id));
  EXPECT_GE(link.at, before);
  EXPECT_LE(link.at, records[0].at);
  EXPECT_LT(link.id, records[0].id);
}

TEST_P(AuditTest, ARefusedChangeIsRecordedWithItsErrorAndChangesNothing) {
  const std::int64_t a = Customer("A-1");
  ASSERT_EQ(
      store_->LinkCustomers(a, 999, "ops:li.wei", "x", Asked("AdminService.LinkCustomers", {}))
          .status()
          .code(),
      StatusCode::kNotFound);
  ASSERT_EQ(store_->SplitMerge(77, "ops:li.wei", "x", Asked("AdminService.SplitCustomer", {}))
                .status()
                .code(),
            StatusCode::kNotFound);

  auto records = Records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].result.rfind("NOT_FOUND: ", 0), 0u) << records[0].result;
  EXPECT_NE(records[0].result.find("77"), std::string::npos) << records[0].result;
  EXPECT_EQ(records[1].result.rfind("NOT_FOUND: ", 0), 0u) << records[1].result;
  auto customer = store_->ReadCustomer(a, MicrosNow());
  ASSERT_TRUE(customer.ok() && customer->has_value());
  EXPECT_TRUE((*customer)->merges.empty());
}

// The record is written in the link's transaction: when it cannot be, there is no link either.
TEST_P(AuditTest, ALinkWhoseRecordCannotBeWrittenIsNotMade) {
  const std::int64_t a = Customer("A-1");
  const std::int64_t b = Customer("B-1");
  backend_.RefuseInserts("audit", "true", "refused");

  auto merge =
      store_->LinkCustomers(a, b, "ops:li.wei", "one household", Asked("AdminService.Link", {}));
  ASSERT_FALSE(merge.ok());
  EXPECT_NE(merge.status().message().find("refused"), std::string::npos)
      << merge.status().message();
  auto who = store_->FindCustomer({"account", "B-1"});
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(who->value_or(0), b);
  EXPECT_TRUE(Records().empty());

  // The writer goes on: events are stored, and a link is made once records can be written.
  backend_.AllowInserts("audit");
  Customer("C-1");
  EXPECT_TRUE(
      store_->LinkCustomers(a, b, "ops:li.wei", "one household", Asked("AdminService.Link", {}))
          .ok());
  EXPECT_EQ(Records().size(), 1u);
}

TEST_P(AuditTest, RecordsReadNewestFirstAPageAtATime) {
  for (int i = 1; i <= 5; ++i) {
    AuditRecord record =
        Asked("AdminService.RestartPlugin", {{"name", "billing-" + std::to_string(i)}});
    record.result = "OK";
    auto id = store_->RecordAudit(record);
    ASSERT_TRUE(id.ok()) << id.status().message();
    EXPECT_EQ(*id, i);
  }
  auto first = Records({.before_id = std::nullopt, .limit = 2});
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].arguments, (Arguments{{"name", "billing-5"}}));
  EXPECT_EQ(first[1].id, 4);
  auto rest = Records({.before_id = first[1].id, .limit = 10});
  ASSERT_EQ(rest.size(), 3u);
  EXPECT_EQ(rest[0].id, 3);
  EXPECT_EQ(rest[2].id, 1);
  EXPECT_EQ(rest[2].result, "OK");
}

// A store written before the audit existed (schema version 2) gains the table at open and
// keeps everything it held.
TEST_P(SqliteAuditTest, AStoreOfTheVersionBeforeIsBroughtUpToDate) {
  const std::filesystem::path path = backend_.sqlite_file();
  Customer("A-1");
  store_.reset();
  ExecSql(path, "DROP TABLE audit; PRAGMA user_version = 2;");

  Open();
  auto who = store_->FindCustomer({"account", "A-1"});
  ASSERT_TRUE(who.ok());
  EXPECT_TRUE(who->has_value());
  AuditRecord record = Asked("AdminService.StopPlugin", {});
  record.result = "OK";
  EXPECT_TRUE(store_->RecordAudit(record).ok());
  store_.reset();

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), kSqliteSchemaVersion);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

PROPBRIDGE_STORE_BACKENDS(AuditTest);
INSTANTIATE_TEST_SUITE_P(Backends, SqliteAuditTest, ::testing::Values(testing::Backend::kSqlite),
                         testing::BackendParamName);

}  // namespace
}  // namespace propbridge::store
