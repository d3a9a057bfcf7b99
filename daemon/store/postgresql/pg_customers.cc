#include "daemon/store/postgresql/pg_customers.h"

#include <algorithm>
#include <charconv>
#include <string>

#include "daemon/store/postgresql/pg_text.h"

namespace propbridge::store {
std::string PgRootWalkSql(std::string_view starts, std::string_view select) {
  return "WITH RECURSIVE " + std::string(starts) +
         ", up(origin, id, merged_into, path) AS ("
         "SELECT c.id, c.id, c.merged_into, ARRAY[c.id] FROM customers c JOIN starts ON c.id = "
         "starts.id UNION ALL SELECT up.origin, c.id, c.merged_into, up.path || c.id FROM up JOIN "
         "customers c ON c.id = up.merged_into WHERE NOT c.id = ANY(up.path)), "
         "walk(origin, root, cycle) AS (SELECT DISTINCT ON (origin) origin, "
         "CASE WHEN merged_into IS NULL THEN id END, COALESCE(merged_into = ANY(path), false) "
         "FROM up ORDER BY origin, cardinality(path) DESC) " +
         std::string(select);
}

PgRootWalk PgRootWalkFromRow(const PgRow& row, int first) {
  return PgRootWalk{row.OptionalInt64(first), row.IsNull(first + 1) ? false : row.Bool(first + 1)};
}

namespace {

Status CycleError(std::int64_t customer) {
  return DataLoss("customer " + std::to_string(customer) + " is merged in a cycle");
}

// "customer:<id>" as an id; nullopt when the value is not a positive number.
std::optional<std::int64_t> CustomerIdOf(const identity::Identifier& id) {
  std::int64_t number = 0;
  const char* end = id.value.data() + id.value.size();
  auto [ptr, ec] = std::from_chars(id.value.data(), end, number);
  if (ec != std::errc() || ptr != end || number <= 0) return std::nullopt;
  return number;
}

// The root of one walk's outcome, as the API reads it.
Result<std::optional<std::int64_t>> RootOf(
    std::int64_t start, const std::unordered_map<std::int64_t, PgRootWalk>& walks) {
  auto walk = walks.find(start);
  if (walk == walks.end()) return std::optional<std::int64_t>();
  if (walk->second.cycle) return CycleError(start);
  return walk->second.root;
}

}  // namespace

MergeRecord MergeFromPgRow(const PgRow& row, int first) {
  std::string scratch;
  auto text = [&](int column) {
    return std::string(PgReadText(row.Text(first + column), scratch));
  };
  MergeRecord merge;
  merge.id = row.Int64(first);
  merge.at = row.Time(first + 1);
  merge.kept = row.Int64(first + 2);
  merge.absorbed = row.Int64(first + 3);
  merge.cause = row.Text(first + 4);
  merge.event_id = row.Int64(first + 5);
  merge.actor = text(6);
  merge.reason = text(7);
  merge.undone_at = row.OptionalTime(first + 8);
  merge.undone_by = text(9);
  merge.undone_reason = text(10);
  return merge;
}

Result<std::unordered_map<std::int64_t, PgRootWalk>> QueryPgRoots(
    PgConnection& connection, std::span<const std::int64_t> customers) {
  static const std::string sql =
      PgRootWalkSql("starts(id) AS (SELECT unnest($1::bigint[]))", kPgWalkColumns);
  std::unordered_map<std::int64_t, PgRootWalk> walks;
  if (customers.empty()) return walks;
  Status s =
      connection.Query(sql, {PgInt64Array{customers}}, "follow merges",
                       [&](const PgRow& row) { walks[row.Int64(0)] = PgRootWalkFromRow(row, 1); });
  if (!s.ok()) return s;
  return walks;
}

Result<std::optional<std::int64_t>> QueryPgCustomerFor(PgConnection& connection,
                                                       const identity::Identifier& id,
                                                       const identity::IdentityRules& rules,
                                                       Micros at) {
  if (id.type == kCustomerIdType) {
    auto number = CustomerIdOf(id);
    if (!number) return std::optional<std::int64_t>();
    auto walks = QueryPgRoots(connection, std::span<const std::int64_t>(&*number, 1));
    if (!walks.ok()) return walks.status();
    return RootOf(*number, *walks);
  }
  // A unit names its occupant at `at`, else (like any identifier) the customer it was kept on.
  static const std::string by_identifier =
      PgRootWalkSql("starts(id) AS (SELECT home FROM identifiers WHERE type = $1 AND value = $2)",
                    kPgWalkColumns);
  static const std::string by_occupancy = PgRootWalkSql(
      "starts(id) AS (SELECT COALESCE((SELECT customer FROM occupancy WHERE unit = $2 AND "
      "from_at <= $3 AND (to_at IS NULL OR to_at > $3) ORDER BY from_at DESC, id DESC LIMIT 1), "
      "(SELECT home FROM identifiers WHERE type = $1 AND value = $2)))",
      kPgWalkColumns);
  const bool occupancy = rules.RuleFor(id.type).linkage == identity::Linkage::kOccupancy;
  std::unordered_map<std::int64_t, PgRootWalk> walks;
  std::int64_t start = 0;
  auto row = [&](const PgRow& r) {
    start = r.Int64(0);
    walks[start] = PgRootWalkFromRow(r, 1);
  };
  Status s = occupancy ? connection.Query(by_occupancy, {id.type, id.value, at},
                                          "find the customer of an identifier", row)
                       : connection.Query(by_identifier, {id.type, id.value},
                                          "find the customer of an identifier", row);
  if (!s.ok()) return s;
  return RootOf(start, walks);
}

Result<std::vector<std::int64_t>> QueryPgCustomersFor(PgConnection& connection,
                                                      const identity::Identifier& id,
                                                      const identity::IdentityRules& rules) {
  std::vector<std::int64_t> homes;
  if (rules.RuleFor(id.type).linkage == identity::Linkage::kOccupancy) {
    Status s = connection.Query(
        "SELECT customer FROM occupancy WHERE unit = $1 ORDER BY from_at DESC, id DESC", {id.value},
        "find a unit's occupants", [&](const PgRow& row) { homes.push_back(row.Int64(0)); });
    if (!s.ok()) return s;
  }
  if (id.type == kCustomerIdType) {
    if (auto number = CustomerIdOf(id)) homes.push_back(*number);
  } else {
    Status s = connection.Query("SELECT home FROM identifiers WHERE type = $1 AND value = $2",
                                {id.type, id.value}, "look up an identifier",
                                [&](const PgRow& row) { homes.push_back(row.Int64(0)); });
    if (!s.ok()) return s;
  }
  auto walks = QueryPgRoots(connection, homes);
  if (!walks.ok()) return walks.status();
  std::vector<std::int64_t> customers;
  for (std::int64_t home : homes) {
    auto root = RootOf(home, *walks);
    if (!root.ok()) return root.status();
    if (*root && std::find(customers.begin(), customers.end(), **root) == customers.end()) {
      customers.push_back(**root);
    }
  }
  return customers;
}

}  // namespace propbridge::store
