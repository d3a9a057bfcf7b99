#include "daemon/store/postgresql/pg_customer_rows.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/store/postgresql/pg_customers.h"
#include "daemon/store/postgresql/pg_text.h"

namespace propbridge::store {
namespace {

// UNION, not UNION ALL, in every walk down the merges: a cycle (which no merge writes, but a
// damaged database could hold) then ends the walk instead of looping forever.

// Every customer on the way from $1 to its root, the root with merged_into NULL; the path ends
// a walk that comes back on itself.
constexpr std::string_view kRootSql =
    "WITH RECURSIVE up(id, created_at, merged_into, path) AS (SELECT id, created_at, "
    "merged_into, ARRAY[id] FROM customers WHERE id = $1 UNION ALL SELECT c.id, c.created_at, "
    "c.merged_into, up.path || c.id FROM up JOIN customers c ON c.id = up.merged_into WHERE NOT "
    "c.id = ANY(up.path)) SELECT id, created_at, merged_into IS NULL FROM up";

// `select` over tree(id): the customer $1 and every customer whose merged_into chain reaches
// it. The join on merged_into = ... implies merged_into IS NOT NULL, so the partial index
// serves it.
std::string OnTree(std::string_view select) {
  return "WITH RECURSIVE tree(id) AS (SELECT $1::bigint UNION SELECT c.id FROM customers c JOIN "
         "tree ON c.merged_into = tree.id) " +
         std::string(select);
}

class PgCustomerRows final : public CustomerRows {
 public:
  PgCustomerRows(PgConnection& connection, std::stop_token stop)
      : connection_(connection), stop_(std::move(stop)) {}

  Result<std::optional<RootCustomer>> FindRoot(std::int64_t id) override {
    if (Status s = Going("find root customer"); !s.ok()) return s;
    bool known = false;
    std::optional<RootCustomer> root;
    Status s = connection_.Query(kRootSql, {id}, "find root customer", [&](const PgRow& row) {
      known = true;
      if (row.Bool(2)) root = RootCustomer{row.Int64(0), row.Time(1)};
    });
    if (!s.ok()) return s;
    if (known && !root) {
      return DataLoss("customer " + std::to_string(id) + ": its merged_into chain has no root");
    }
    return root;
  }

  Result<std::vector<CustomerIdentifier>> TreeIdentifiers(std::int64_t root) override {
    static const std::string sql = OnTree(
        "SELECT i.type, i.value, i.demoted, i.first_seen FROM identifiers i JOIN tree ON "
        "i.home = tree.id ORDER BY i.type, i.value");
    if (Status s = Going("read customer identifiers"); !s.ok()) return s;
    std::vector<CustomerIdentifier> identifiers;
    Status s = connection_.Query(sql, {root}, "read customer identifiers", [&](const PgRow& row) {
      CustomerIdentifier& identifier = identifiers.emplace_back();
      identifier.id.type = row.Text(0);
      identifier.id.value = row.Text(1);
      identifier.demoted = row.Bool(2);
      identifier.first_seen = row.Time(3);
    });
    if (!s.ok()) return s;
    return identifiers;
  }

  Result<std::vector<MergeRecord>> TreeMerges(std::int64_t root) override {
    static const std::string sql = OnTree(
        "SELECT m.id, m.at, m.kept, m.absorbed, m.cause, m.event_id, m.actor, m.reason, "
        "m.undone_at, m.undone_by, m.undone_reason FROM merges m JOIN tree ON "
        "m.kept = tree.id ORDER BY m.at DESC, m.id DESC");
    if (Status s = Going("read merges"); !s.ok()) return s;
    std::vector<MergeRecord> merges;
    Status s = connection_.Query(sql, {root}, "read merges",
                                 [&](const PgRow& row) { merges.push_back(MergeFromPgRow(row)); });
    if (!s.ok()) return s;
    return merges;
  }

  Result<std::vector<OccupancyRow>> TreeOccupancy(std::span<const std::int64_t> roots) override {
    // Each root's tree by its place among `roots`, so that a root named twice counts twice.
    static const std::string sql =
        "WITH RECURSIVE tree(ord, root, id) AS (SELECT r.ord, r.id, r.id FROM "
        "unnest($1::bigint[]) WITH ORDINALITY AS r(id, ord) UNION SELECT tree.ord, tree.root, "
        "c.id FROM customers c JOIN tree ON c.merged_into = tree.id) "
        "SELECT tree.root, o.customer, o.unit, o.community, o.from_at, o.to_at, o.inferred "
        "FROM occupancy o JOIN tree ON o.customer = tree.id "
        "ORDER BY tree.ord, o.from_at DESC, o.id DESC";
    if (Status s = Going("read occupancy"); !s.ok()) return s;
    std::vector<OccupancyRow> periods;
    if (roots.empty()) return periods;
    Status s =
        connection_.Query(sql, {PgInt64Array{roots}}, "read occupancy", [&](const PgRow& row) {
          OccupancyRow& p = periods.emplace_back();
          p.root = row.Int64(0);
          p.period.customer = row.Int64(1);
          p.period.unit = row.Text(2);
          p.community = row.Text(3);
          p.period.from = row.Time(4);
          p.period.to = row.OptionalTime(5);
          p.period.inferred = row.Bool(6);
        });
    if (!s.ok()) return s;
    return periods;
  }

  Status VisitEvents(std::span<const std::int64_t> customers,
                     const EventFactsVisitor& visit) override {
    // A seek on events_by_customer_time per customer, in the order matters are read in.
    static const std::string sql =
        "SELECT e.customer, e.step, e.initiative, e.contact, e.occurred_at, e.matter_id, "
        "e.matter_state, e.kind FROM unnest($1::bigint[]) WITH ORDINALITY AS c(id, ord) "
        "JOIN events e ON e.customer = c.id ORDER BY c.ord, e.occurred_at, e.id";
    constexpr std::string_view kWhat = "read customer events";
    if (Status s = Going(kWhat); !s.ok()) return s;
    if (customers.empty()) return Status::Ok();
    bool visited_enough = false;
    std::string matter_id;
    EventFacts event;
    Status s =
        connection_.Query(sql, {PgInt64Array{customers}}, kWhat, [&](const PgRow& row) -> Status {
          event.customer = row.Int64(0);
          event.step = static_cast<sdk::Step>(row.Int64(1));
          event.initiative = static_cast<sdk::Initiative>(row.Int64(2));
          event.contact = row.Bool(3);
          event.occurred_at = row.Time(4);
          event.matter_id = PgReadText(row.Text(5), matter_id);
          event.matter_state = static_cast<sdk::MatterState>(row.Int64(6));
          event.kind = row.Text(7);
          if (visit(event)) return Status::Ok();
          // Any error ends the reading; this one is no failure.
          visited_enough = true;
          return Status(StatusCode::kAborted, "the visit ended");
        });
    return visited_enough ? Status::Ok() : s;
  }

  Result<std::vector<std::int64_t>> RootsAfter(std::int64_t after, std::size_t limit) override {
    if (Status s = Going("read outreach candidates"); !s.ok()) return s;
    std::vector<std::int64_t> roots;
    Status s = connection_.Query(
        "SELECT id FROM customers WHERE id > $1 AND merged_into IS NULL ORDER BY id LIMIT $2",
        {after, static_cast<std::int64_t>(limit)}, "read outreach candidates",
        [&](const PgRow& row) { roots.push_back(row.Int64(0)); });
    if (!s.ok()) return s;
    return roots;
  }

  Result<std::vector<CommunityRoot>> CommunityRoots(const std::string& community,
                                                    Micros at) override {
    // (community, root) once per pair, by community: the roots of the homes with a period
    // there that began at or before `at`, in `community` or in any but "".
    auto sql = [](std::string_view where) {
      return "WITH RECURSIVE up(community, id, merged_into) AS (SELECT o.community, c.id, "
             "c.merged_into FROM occupancy o JOIN customers c ON c.id = o.customer WHERE " +
             std::string(where) +
             " UNION SELECT up.community, c.id, c.merged_into FROM up JOIN customers c ON "
             "c.id = up.merged_into) SELECT community, id FROM up WHERE merged_into IS NULL "
             "ORDER BY community, id";
    };
    static const std::string one = sql("o.community = $2 AND o.from_at <= $1");
    static const std::string every = sql("o.community <> '' AND o.from_at <= $1");
    constexpr std::string_view kWhat = "read community customers";
    if (Status s = Going(kWhat); !s.ok()) return s;
    std::vector<CommunityRoot> roots;
    auto add = [&](const PgRow& row) { roots.push_back({std::string(row.Text(0)), row.Int64(1)}); };
    Status s = community.empty() ? connection_.Query(every, {at}, kWhat, add)
                                 : connection_.Query(one, {at, community}, kWhat, add);
    if (!s.ok()) return s;
    return roots;
  }

 private:
  // CANCELLED once the read's caller has given up.
  Status Going(std::string_view what) const {
    if (!stop_.stop_requested()) return Status::Ok();
    return Status(StatusCode::kCancelled, std::string(what) + ": stopped as asked");
  }

  PgConnection& connection_;
  const std::stop_token stop_;
};

}  // namespace

std::unique_ptr<CustomerRows> NewPgCustomerRows(PgConnection& connection, std::stop_token stop) {
  return std::make_unique<PgCustomerRows>(connection, std::move(stop));
}

}  // namespace propbridge::store
