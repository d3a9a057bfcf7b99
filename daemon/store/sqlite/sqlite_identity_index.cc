#include "daemon/store/sqlite/sqlite_identity_index.h"

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "daemon/store/sqlite/sqlite_customers.h"
#include "daemon/store/sqlite/sqlite_support.h"

namespace propbridge::store {
namespace {

// Columns of IndexedPeriod, in its order.
constexpr const char* kPeriodAtSql =
    "SELECT id, customer, inferred FROM occupancy WHERE unit = ?1 AND from_at <= ?2 AND"
    " (to_at IS NULL OR to_at > ?2) ORDER BY from_at DESC LIMIT 1";
constexpr const char* kPeriodAfterSql =
    "SELECT id, customer, inferred FROM occupancy WHERE unit = ?1 AND from_at > ?2"
    " ORDER BY from_at LIMIT 1";

class SqliteIdentityIndex final : public IdentityIndex {
 public:
  explicit SqliteIdentityIndex(sqlite3* db) : db_(db), statements_(db) {}

  Result<std::optional<IndexedIdentifier>> Lookup(const identity::Identifier& id) override {
    std::optional<IndexedIdentifier> known;
    Status s = Read("SELECT home, role, demoted FROM identifiers WHERE type = ?1 AND value = ?2",
                    {id.type, id.value}, "look up an identifier", [&](sqlite3_stmt* row) {
                      known =
                          IndexedIdentifier{sqlite3_column_int64(row, 0),
                                            static_cast<IdentifierRole>(sqlite3_column_int(row, 1)),
                                            sqlite3_column_int(row, 2) != 0};
                    });
    if (!s.ok()) return s;
    return known;
  }

  Status Attach(const identity::Identifier& id, std::int64_t home, IdentifierRole role,
                Micros first_seen) override {
    return Run(
        "INSERT INTO identifiers (type, value, home, role, demoted, first_seen)"
        " VALUES (?1, ?2, ?3, ?4, 0, ?5) ON CONFLICT (type, value) DO NOTHING",
        {id.type, id.value, home, static_cast<std::int64_t>(role), first_seen},
        "keep an identifier");
  }

  Status Demote(const identity::Identifier& id) override {
    return Run("UPDATE identifiers SET demoted = 1 WHERE type = ?1 AND value = ?2",
               {id.type, id.value}, "demote an identifier");
  }

  Result<std::size_t> CountHoldingStrong(std::span<const std::int64_t> customers) override {
    std::size_t holding = 0;
    for (std::int64_t customer : customers) {
      Status s = Read("SELECT 1 FROM identifiers WHERE home = ?1 AND role = 1 LIMIT 1", {customer},
                      "count customers", [&](sqlite3_stmt*) { ++holding; });
      if (!s.ok()) return s;
    }
    return holding;
  }

  Result<std::int64_t> CreateCustomer(Micros created_at) override {
    Status s = Run("INSERT INTO customers (created_at, merged_into) VALUES (?1, NULL)",
                   {created_at}, "create a customer");
    if (!s.ok()) return s;
    return sqlite3_last_insert_rowid(db_);
  }

  Result<std::optional<std::int64_t>> Root(std::int64_t customer) override {
    return QueryRoot(statements_, customer);
  }

  Result<std::int64_t> Merge(std::int64_t kept, std::int64_t absorbed, std::string_view cause,
                             const MergeNote& note) override {
    constexpr std::string_view kWhat = "merge customers";
    if (Status s =
            Run("UPDATE customers SET merged_into = ?1 WHERE id = ?2", {kept, absorbed}, kWhat);
        !s.ok()) {
      return s;
    }
    if (Status s =
            Run("UPDATE events SET customer = ?1 WHERE customer = ?2", {kept, absorbed}, kWhat);
        !s.ok()) {
      return s;
    }
    Status s =
        Run("INSERT INTO merges (at, kept, absorbed, cause, event_id, actor, reason)"
            " VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6)",
            {note.at, kept, absorbed, cause, note.actor, note.reason}, kWhat);
    if (!s.ok()) return s;
    return sqlite3_last_insert_rowid(db_);
  }

  Status Unmerge(const StandingMerge& merge, const MergeNote& note) override {
    constexpr std::string_view kWhat = "split customers";
    if (Status s =
            Run("UPDATE customers SET merged_into = NULL WHERE id = ?1", {merge.absorbed}, kWhat);
        !s.ok()) {
      return s;
    }
    if (Status s =
            Run("WITH RECURSIVE tree(id) AS (SELECT ?1 UNION ALL SELECT c.id FROM customers c"
                " JOIN tree ON c.merged_into = tree.id)"
                " UPDATE events SET customer = ?1 WHERE home IN (SELECT id FROM tree)",
                {merge.absorbed}, kWhat);
        !s.ok()) {
      return s;
    }
    return Run("UPDATE merges SET undone_at = ?2, undone_by = ?3, undone_reason = ?4 WHERE id = ?1",
               {merge.id, note.at, note.actor, note.reason}, kWhat);
  }

  Status SetMergeEvent(std::span<const std::int64_t> merges, std::int64_t event_id) override {
    for (std::int64_t merge : merges) {
      Status s = Run("UPDATE merges SET event_id = ?2 WHERE id = ?1", {merge, event_id},
                     "record a merge's event");
      if (!s.ok()) return s;
    }
    return Status::Ok();
  }

  Result<std::optional<MergeRecord>> ReadMerge(std::int64_t merge_id) override {
    static const std::string sql =
        std::string("SELECT ") + kMergeColumns + " FROM merges WHERE id = ?1";
    std::optional<MergeRecord> merge;
    Status s = Read(sql.c_str(), {merge_id}, "read a merge",
                    [&](sqlite3_stmt* row) { merge = MergeFromRow(row); });
    if (!s.ok()) return s;
    return merge;
  }

  Result<std::vector<StandingMerge>> StandingMergesBy(std::string_view cause) override {
    std::vector<StandingMerge> merges;
    Status s = Read(
        "SELECT id, kept, absorbed FROM merges WHERE cause = ?1 AND undone_at IS NULL"
        " ORDER BY id DESC",
        {cause}, "read merges", [&](sqlite3_stmt* row) {
          merges.push_back({sqlite3_column_int64(row, 0), sqlite3_column_int64(row, 1),
                            sqlite3_column_int64(row, 2)});
        });
    if (!s.ok()) return s;
    return merges;
  }

  Result<bool> SplitByAdmin(std::int64_t a, std::int64_t b) override {
    bool split = false;
    Status s = Read(
        "SELECT 1 FROM merges WHERE undone_at IS NOT NULL AND undone_by != ?3 AND"
        " ((kept = ?1 AND absorbed = ?2) OR (kept = ?2 AND absorbed = ?1)) LIMIT 1",
        {a, b, kResolverActor}, "check for a split", [&](sqlite3_stmt*) { split = true; });
    if (!s.ok()) return s;
    return split;
  }

  Result<std::optional<IndexedPeriod>> PeriodAt(const std::string& unit, Micros at) override {
    return ReadPeriod(kPeriodAtSql, unit, at);
  }

  Result<std::optional<IndexedPeriod>> PeriodAfter(const std::string& unit, Micros at) override {
    return ReadPeriod(kPeriodAfterSql, unit, at);
  }

  Status OpenPeriod(const std::string& unit, std::string_view community, std::int64_t customer,
                    Micros from, bool inferred) override {
    return Run(
        "INSERT INTO occupancy (unit, community, customer, from_at, to_at, inferred)"
        " VALUES (?1, ?2, ?3, ?4, (SELECT MIN(from_at) FROM occupancy WHERE unit = ?1 AND"
        " from_at > ?4), ?5)",
        {unit, community, customer, from, std::int64_t{inferred ? 1 : 0}}, "open occupancy");
  }

  Status EndPeriod(std::int64_t period, Micros to) override {
    return Run("UPDATE occupancy SET to_at = ?2 WHERE id = ?1", {period, to}, "end occupancy");
  }

  Status ConfirmPeriod(std::int64_t period) override {
    return Run("UPDATE occupancy SET inferred = 0 WHERE id = ?1", {period}, "confirm occupancy");
  }

  Status MovePeriodStart(std::int64_t period, Micros from, bool inferred) override {
    return Run("UPDATE occupancy SET from_at = ?2, inferred = ?3 WHERE id = ?1",
               {period, from, std::int64_t{inferred ? 1 : 0}}, "extend occupancy");
  }

 private:
  // Runs `sql` with `params`, handing each row to `row` (see StepRows).
  template <typename Row>
  Status Read(const char* sql, std::initializer_list<SqlParam> params, std::string_view what,
              Row row) {
    auto stmt = statements_.Get(sql, sql);
    if (!stmt.ok()) return stmt.status();
    return StepRows(db_, *stmt, params, what, std::move(row));
  }
  Status Run(const char* sql, std::initializer_list<SqlParam> params, std::string_view what) {
    return Read(sql, params, what, [](sqlite3_stmt*) {});
  }
  Result<std::optional<IndexedPeriod>> ReadPeriod(const char* sql, const std::string& unit,
                                                  Micros at) {
    std::optional<IndexedPeriod> period;
    Status s = Read(sql, {unit, at}, "read occupancy", [&](sqlite3_stmt* row) {
      period = IndexedPeriod{sqlite3_column_int64(row, 0), sqlite3_column_int64(row, 1),
                             sqlite3_column_int(row, 2) != 0};
    });
    if (!s.ok()) return s;
    return period;
  }

  sqlite3* db_;
  StatementCache statements_;
};

}  // namespace

std::unique_ptr<IdentityIndex> NewSqliteIdentityIndex(sqlite3* db) {
  return std::make_unique<SqliteIdentityIndex>(db);
}

}  // namespace propbridge::store
