#include "daemon/store/sqlite/sqlite_customers.h"

#include <algorithm>
#include <charconv>

namespace propbridge::store {
namespace {

// "customer:<id>" as an id; nullopt when the value is not a positive number.
std::optional<std::int64_t> CustomerIdOf(const identity::Identifier& id) {
  std::int64_t number = 0;
  const char* end = id.value.data() + id.value.size();
  auto [ptr, ec] = std::from_chars(id.value.data(), end, number);
  if (ec != std::errc() || ptr != end || number <= 0) return std::nullopt;
  return number;
}

}  // namespace

MergeRecord MergeFromRow(sqlite3_stmt* stmt) {
  MergeRecord merge;
  merge.id = sqlite3_column_int64(stmt, 0);
  merge.at = ColumnTime(stmt, 1);
  merge.kept = sqlite3_column_int64(stmt, 2);
  merge.absorbed = sqlite3_column_int64(stmt, 3);
  merge.cause = ColumnText(stmt, 4);
  merge.event_id = sqlite3_column_int64(stmt, 5);
  merge.actor = ColumnText(stmt, 6);
  merge.reason = ColumnText(stmt, 7);
  merge.undone_at = ColumnOptionalTime(stmt, 8);
  merge.undone_by = ColumnText(stmt, 9);
  merge.undone_reason = ColumnText(stmt, 10);
  return merge;
}

Result<std::optional<std::int64_t>> QueryRoot(StatementCache& statements, std::int64_t customer) {
  auto stmt = statements.Get("SELECT merged_into FROM customers WHERE id = ?1", "follow merges");
  if (!stmt.ok()) return stmt.status();
  // A chain is as long as the merges made one after another; the bound only stops a cycle
  // that a damaged file could hold.
  for (int hop = 0; hop < 1'000'000; ++hop) {
    bool found = false;
    std::optional<std::int64_t> next;
    Status s =
        StepRows(statements.db(), *stmt, {customer}, "follow merges", [&](sqlite3_stmt* row) {
          found = true;
          if (sqlite3_column_type(row, 0) != SQLITE_NULL) next = sqlite3_column_int64(row, 0);
        });
    if (!s.ok()) return s;
    if (!found) return std::optional<std::int64_t>();
    if (!next) return std::optional<std::int64_t>(customer);
    customer = *next;
  }
  return DataLoss("customer " + std::to_string(customer) + " is merged in a cycle");
}

Result<std::optional<std::int64_t>> QueryCustomerFor(StatementCache& statements,
                                                     const identity::Identifier& id,
                                                     const identity::IdentityRules& rules,
                                                     Micros at) {
  sqlite3* db = statements.db();
  if (id.type == kCustomerIdType) {
    auto number = CustomerIdOf(id);
    if (!number) return std::optional<std::int64_t>();
    return QueryRoot(statements, *number);
  }
  std::optional<std::int64_t> home;
  if (rules.RuleFor(id.type).linkage == identity::Linkage::kOccupancy) {
    auto stmt = statements.Get(
        "SELECT customer FROM occupancy WHERE unit = ?1 AND from_at <= ?2 AND"
        " (to_at IS NULL OR to_at > ?2) ORDER BY from_at DESC LIMIT 1",
        "find a unit's occupant");
    if (!stmt.ok()) return stmt.status();
    Status s = StepRows(db, *stmt, {id.value, at}, "find a unit's occupant",
                        [&](sqlite3_stmt* row) { home = sqlite3_column_int64(row, 0); });
    if (!s.ok()) return s;
  }
  if (!home) {
    auto stmt = statements.Get("SELECT home FROM identifiers WHERE type = ?1 AND value = ?2",
                               "look up an identifier");
    if (!stmt.ok()) return stmt.status();
    Status s = StepRows(db, *stmt, {id.type, id.value}, "look up an identifier",
                        [&](sqlite3_stmt* row) { home = sqlite3_column_int64(row, 0); });
    if (!s.ok()) return s;
  }
  if (!home) return std::optional<std::int64_t>();
  return QueryRoot(statements, *home);
}

Result<std::vector<std::int64_t>> QueryCustomersFor(StatementCache& statements,
                                                    const identity::Identifier& id,
                                                    const identity::IdentityRules& rules) {
  std::vector<std::int64_t> homes;
  sqlite3* db = statements.db();
  if (rules.RuleFor(id.type).linkage == identity::Linkage::kOccupancy) {
    auto stmt = statements.Get(
        "SELECT customer FROM occupancy WHERE unit = ?1 ORDER BY from_at DESC, id DESC",
        "find a unit's occupants");
    if (!stmt.ok()) return stmt.status();
    Status s = StepRows(db, *stmt, {id.value}, "find a unit's occupants",
                        [&](sqlite3_stmt* row) { homes.push_back(sqlite3_column_int64(row, 0)); });
    if (!s.ok()) return s;
  }
  if (id.type == kCustomerIdType) {
    if (auto number = CustomerIdOf(id)) homes.push_back(*number);
  } else {
    auto stmt = statements.Get("SELECT home FROM identifiers WHERE type = ?1 AND value = ?2",
                               "look up an identifier");
    if (!stmt.ok()) return stmt.status();
    Status s = StepRows(db, *stmt, {id.type, id.value}, "look up an identifier",
                        [&](sqlite3_stmt* row) { homes.push_back(sqlite3_column_int64(row, 0)); });
    if (!s.ok()) return s;
  }
  std::vector<std::int64_t> customers;
  for (std::int64_t home : homes) {
    auto root = QueryRoot(statements, home);
    if (!root.ok()) return root.status();
    if (*root && std::find(customers.begin(), customers.end(), **root) == customers.end()) {
      customers.push_back(**root);
    }
  }
  return customers;
}

}  // namespace propbridge::store
