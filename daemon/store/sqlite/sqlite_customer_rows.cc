#include "daemon/store/sqlite/sqlite_customer_rows.h"

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/store/sqlite/sqlite_customers.h"

namespace propbridge::store {
namespace {

// UNION, not UNION ALL, in every walk along merged_into: a cycle (which no merge writes, but a
// damaged file could hold) then ends the walk instead of looping forever.

// Every customer on the way from ?1 to its root, the root last with merged_into NULL.
const std::string& RootSql() {
  static const std::string sql = R"sql(
WITH RECURSIVE up(id, created_at, merged_into) AS (
  SELECT id, created_at, merged_into FROM customers WHERE id = ?1
  UNION
  SELECT c.id, c.created_at, c.merged_into FROM customers c JOIN up ON c.id = up.merged_into)
SELECT id, created_at, merged_into IS NULL FROM up)sql";
  return sql;
}

// `select` over tree(id): the customer ?1 and every customer whose merged_into chain reaches
// it. The join on merged_into = ... implies merged_into IS NOT NULL, so the partial index
// serves it.
std::string OnTree(std::string_view select) {
  return "WITH RECURSIVE tree(id) AS (SELECT ?1 UNION SELECT c.id FROM customers c JOIN tree "
         "ON c.merged_into = tree.id) " +
         std::string(select);
}

const std::string& IdentifiersSql() {
  static const std::string sql = OnTree(
      "SELECT i.type, i.value, i.demoted, i.first_seen FROM identifiers i JOIN tree ON "
      "i.home = tree.id ORDER BY i.type, i.value");
  return sql;
}

// The columns in MergeFromRow's order (sqlite_customers.h).
const std::string& MergesSql() {
  static const std::string sql = OnTree(
      "SELECT m.id, m.at, m.kept, m.absorbed, m.cause, m.event_id, m.actor, m.reason, "
      "m.undone_at, m.undone_by, m.undone_reason FROM merges m JOIN tree ON m.kept = tree.id "
      "ORDER BY m.at DESC, m.id DESC");
  return sql;
}

// Whether any customer was merged into ?1.
const std::string& AbsorbedSql() {
  static const std::string sql = "SELECT 1 FROM customers WHERE merged_into = ?1 LIMIT 1";
  return sql;
}

constexpr std::string_view kOccupancyColumns =
    "SELECT o.customer, o.unit, o.community, o.from_at, o.to_at, o.inferred FROM occupancy o ";
constexpr std::string_view kOccupancyOrder = " ORDER BY o.from_at DESC, o.id DESC";

// The periods of ?1's own.
const std::string& OwnOccupancySql() {
  static const std::string sql =
      std::string(kOccupancyColumns) + "WHERE o.customer = ?1" + std::string(kOccupancyOrder);
  return sql;
}

// The periods of ?1's tree.
const std::string& TreeOccupancySql() {
  static const std::string sql =
      OnTree(std::string(kOccupancyColumns) + "JOIN tree ON o.customer = tree.id" +
             std::string(kOccupancyOrder));
  return sql;
}

// A seek on events_by_customer_time, in the order matters are read in.
const std::string& EventsSql() {
  static const std::string sql =
      "SELECT step, initiative, contact, occurred_at, matter_id, matter_state, kind FROM events "
      "WHERE customer = ?1 ORDER BY occurred_at, id";
  return sql;
}

const std::string& RootsAfterSql() {
  static const std::string sql =
      "SELECT id FROM customers WHERE id > ?1 AND merged_into IS NULL ORDER BY id LIMIT ?2";
  return sql;
}

// (community, root) once per pair, by community: the roots of the homes with a period there
// that began at or before ?2, in community ?1 or in any but "".
const std::string& CommunityRootsSql(bool one_community) {
  auto sql = [](std::string_view where) {
    return std::string(R"sql(
WITH RECURSIVE up(community, id, merged_into) AS (
  SELECT o.community, c.id, c.merged_into FROM occupancy o JOIN customers c ON c.id = o.customer
  WHERE )sql") +
           std::string(where) + R"sql( AND o.from_at <= ?2
  UNION
  SELECT up.community, c.id, c.merged_into FROM up JOIN customers c ON c.id = up.merged_into)
SELECT community, id FROM up WHERE merged_into IS NULL ORDER BY community, id)sql";
  };
  static const std::string one = sql("o.community = ?1");
  static const std::string every = sql("o.community != ''");
  return one_community ? one : every;
}

class SqliteCustomerRows final : public CustomerRows {
 public:
  explicit SqliteCustomerRows(StatementCache& statements)
      : statements_(statements), db_(statements.db()) {}
  SqliteCustomerRows(const SqliteCustomerRows&) = delete;
  SqliteCustomerRows& operator=(const SqliteCustomerRows&) = delete;
  ~SqliteCustomerRows() override {
    if (!owns_transaction_) return;
    // A read transaction that fails to commit would pin its snapshot, and with it the WAL.
    if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }

  // One snapshot for every statement of a read, so that a merge or split committed halfway
  // through cannot show a customer's identifiers from before it and its events from after.
  Status Begin() {
    if (sqlite3_get_autocommit(db_) == 0) return Status::Ok();
    Status status = Exec(db_, "BEGIN", "begin customer read");
    owns_transaction_ = status.ok();
    return status;
  }

  Result<std::optional<RootCustomer>> FindRoot(std::int64_t id) override;
  Result<std::vector<CustomerIdentifier>> TreeIdentifiers(std::int64_t root) override;
  Result<std::vector<MergeRecord>> TreeMerges(std::int64_t root) override;
  Result<std::vector<OccupancyRow>> TreeOccupancy(std::span<const std::int64_t> roots) override;
  Status VisitEvents(std::span<const std::int64_t> customers,
                     const EventFactsVisitor& visit) override;
  Result<std::vector<std::int64_t>> RootsAfter(std::int64_t after, std::size_t limit) override;
  Result<std::vector<CommunityRoot>> CommunityRoots(const std::string& community,
                                                    Micros at) override;

 private:
  // Runs `sql` (a statement of the cache) with `params`, calling `row` for each row. Each
  // statement is fetched right before it runs: fetching another may clear the cache.
  template <typename Row>
  Status Rows(const std::string& sql, std::initializer_list<SqlParam> params, std::string_view what,
              Row row) {
    auto stmt = statements_.Get(sql, what);
    if (!stmt.ok()) return stmt.status();
    return StepRows(db_, *stmt, params, what, std::move(row));
  }

  // Appends the periods of `root`'s tree to `periods`. Most customers absorbed no one; for them
  // two index probes replace the recursive query, whose temporary tables take a fresh page
  // cache (some 90 KB) every time it runs, and outreach runs this for thousands of customers
  // per call.
  Status AppendOccupancy(std::int64_t root, std::vector<OccupancyRow>& periods);

  StatementCache& statements_;
  sqlite3* const db_;
  bool owns_transaction_ = false;
};

Result<std::optional<RootCustomer>> SqliteCustomerRows::FindRoot(std::int64_t id) {
  bool known = false;
  std::optional<RootCustomer> root;
  Status status = Rows(RootSql(), {id}, "find root customer", [&](sqlite3_stmt* row) {
    known = true;
    if (sqlite3_column_int(row, 2) != 0) {
      root = RootCustomer{sqlite3_column_int64(row, 0), ColumnTime(row, 1)};
    }
  });
  if (!status.ok()) return status;
  if (known && !root) {
    return DataLoss("customer " + std::to_string(id) + ": its merged_into chain has no root");
  }
  return root;
}

Result<std::vector<CustomerIdentifier>> SqliteCustomerRows::TreeIdentifiers(std::int64_t root) {
  std::vector<CustomerIdentifier> identifiers;
  Status status =
      Rows(IdentifiersSql(), {root}, "read customer identifiers", [&](sqlite3_stmt* row) {
        CustomerIdentifier& identifier = identifiers.emplace_back();
        identifier.id.type = ColumnText(row, 0);
        identifier.id.value = ColumnText(row, 1);
        identifier.demoted = sqlite3_column_int(row, 2) != 0;
        identifier.first_seen = ColumnTime(row, 3);
      });
  if (!status.ok()) return status;
  return identifiers;
}

Result<std::vector<MergeRecord>> SqliteCustomerRows::TreeMerges(std::int64_t root) {
  std::vector<MergeRecord> merges;
  Status status = Rows(MergesSql(), {root}, "read merges",
                       [&](sqlite3_stmt* row) { merges.push_back(MergeFromRow(row)); });
  if (!status.ok()) return status;
  return merges;
}

Result<std::vector<OccupancyRow>> SqliteCustomerRows::TreeOccupancy(
    std::span<const std::int64_t> roots) {
  std::vector<OccupancyRow> periods;
  for (std::int64_t root : roots) {
    if (Status s = AppendOccupancy(root, periods); !s.ok()) return s;
  }
  return periods;
}

Status SqliteCustomerRows::AppendOccupancy(std::int64_t root, std::vector<OccupancyRow>& periods) {
  bool absorbed = false;
  Status status =
      Rows(AbsorbedSql(), {root}, "read occupancy", [&](sqlite3_stmt*) { absorbed = true; });
  if (!status.ok()) return status;
  return Rows(absorbed ? TreeOccupancySql() : OwnOccupancySql(), {root}, "read occupancy",
              [&](sqlite3_stmt* row) {
                OccupancyRow& p = periods.emplace_back();
                p.root = root;
                p.period.customer = sqlite3_column_int64(row, 0);
                p.period.unit = ColumnText(row, 1);
                p.community = ColumnText(row, 2);
                p.period.from = ColumnTime(row, 3);
                p.period.to = ColumnOptionalTime(row, 4);
                p.period.inferred = sqlite3_column_int(row, 5) != 0;
              });
}

Status SqliteCustomerRows::VisitEvents(std::span<const std::int64_t> customers,
                                       const EventFactsVisitor& visit) {
  constexpr std::string_view kWhat = "read customer events";
  auto stmt = statements_.Get(EventsSql(), kWhat);
  if (!stmt.ok()) return stmt.status();
  EventFacts event;
  // Stepped by hand rather than with StepRows: the visitor may end the reading early.
  for (std::int64_t customer : customers) {
    ScopedReset reset(*stmt);
    int rc = sqlite3_bind_int64(*stmt, 1, customer);
    if (rc != SQLITE_OK) return SqliteError(db_, rc, kWhat);
    event.customer = customer;
    while ((rc = sqlite3_step(*stmt)) == SQLITE_ROW) {
      event.step = static_cast<sdk::Step>(sqlite3_column_int(*stmt, 0));
      event.initiative = static_cast<sdk::Initiative>(sqlite3_column_int(*stmt, 1));
      event.contact = sqlite3_column_int(*stmt, 2) != 0;
      event.occurred_at = ColumnTime(*stmt, 3);
      event.matter_id = ColumnView(*stmt, 4);
      event.matter_state = static_cast<sdk::MatterState>(sqlite3_column_int(*stmt, 5));
      event.kind = ColumnView(*stmt, 6);
      if (!visit(event)) return Status::Ok();
    }
    if (rc != SQLITE_DONE) return SqliteError(db_, rc, kWhat);
  }
  return Status::Ok();
}

Result<std::vector<std::int64_t>> SqliteCustomerRows::RootsAfter(std::int64_t after,
                                                                 std::size_t limit) {
  std::vector<std::int64_t> roots;
  Status status =
      Rows(RootsAfterSql(), {after, static_cast<std::int64_t>(limit)}, "read outreach candidates",
           [&](sqlite3_stmt* row) { roots.push_back(sqlite3_column_int64(row, 0)); });
  if (!status.ok()) return status;
  return roots;
}

Result<std::vector<CommunityRoot>> SqliteCustomerRows::CommunityRoots(const std::string& community,
                                                                      Micros at) {
  std::vector<CommunityRoot> roots;
  Status status = Rows(CommunityRootsSql(!community.empty()), {community, at},
                       "read community customers", [&](sqlite3_stmt* row) {
                         roots.push_back({ColumnText(row, 0), sqlite3_column_int64(row, 1)});
                       });
  if (!status.ok()) return status;
  return roots;
}

}  // namespace

Result<std::unique_ptr<CustomerRows>> OpenSqliteCustomerRows(StatementCache& statements) {
  auto rows = std::make_unique<SqliteCustomerRows>(statements);
  if (Status status = rows->Begin(); !status.ok()) return status;
  return std::unique_ptr<CustomerRows>(std::move(rows));
}

}  // namespace propbridge::store
