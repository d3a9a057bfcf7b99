#include "daemon/store/postgresql/pg_identity_index.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "daemon/store/postgresql/pg_customers.h"
#include "daemon/store/postgresql/pg_text.h"

namespace propbridge::store {
namespace {

// Ids of a table's identity column taken from its sequence ahead, this many at a time at first,
// twice as many at each next reservation up to the most: a store that makes few rows wastes few
// ids, one that makes many takes a round trip per thousand. Ids grow with age.
class ReservedIds {
 public:
  static constexpr std::int64_t kFirst = 8;
  static constexpr std::int64_t kMost = 1024;

  explicit ReservedIds(std::string table)
      : sql_("SELECT nextval(pg_get_serial_sequence('" + table +
             "', 'id')) FROM generate_series(1, $1) ORDER BY 1 DESC"),
        what_("reserve " + table + " ids") {}

  Result<std::int64_t> Take(PgConnection& connection) {
    if (ids_.empty()) {
      Status s = connection.Query(sql_, {next_}, what_,
                                  [&](const PgRow& row) { ids_.push_back(row.Int64(0)); });
      if (!s.ok()) return s;
      if (ids_.empty()) return Internal(what_ + ": the sequence gave none");
      next_ = std::min(next_ * 2, kMost);
    }
    const std::int64_t id = ids_.back();  // the smallest
    ids_.pop_back();
    return id;
  }

 private:
  const std::string sql_;
  const std::string what_;
  std::vector<std::int64_t> ids_;  // not given out yet, the smallest last
  std::int64_t next_ = kFirst;
};

// The identifiers of a batch with the roots of their homes (a walk only from the few homes that
// were merged into another) and, for a limited identifier, whether its home holds a strong one.
const std::string& IdentifiersSql() {
  static const std::string sql = PgRootWalkSql(
      "found AS (SELECT i.type, i.value, i.home, i.role, i.demoted, c.id AS known, c.merged_into "
      "FROM unnest($1::text[], $2::text[]) AS k(type, value) JOIN identifiers i ON "
      "i.type = k.type AND i.value = k.value LEFT JOIN customers c ON c.id = i.home), "
      "starts(id) AS (SELECT DISTINCT home FROM found WHERE merged_into IS NOT NULL)",
      "SELECT f.type, f.value, f.home, f.role, f.demoted, CASE WHEN f.merged_into IS NULL THEN "
      "f.known ELSE w.root END, COALESCE(w.cycle, false), CASE WHEN f.role = 2 THEN EXISTS "
      "(SELECT 1 FROM identifiers s WHERE s.home = f.home AND s.role = 1) END FROM found f "
      "LEFT JOIN walk w ON w.origin = f.home");
  return sql;
}

// The standing merges made by a batch's identifiers (their Text as the cause), newest first.
constexpr std::string_view kStandingMergesSql =
    "SELECT m.cause, m.id, m.kept, m.absorbed FROM unnest($1::text[]) AS k(cause) JOIN merges m "
    "ON m.cause = k.cause WHERE m.cause <> '' AND m.undone_at IS NULL ORDER BY m.id DESC";

// Every occupancy period of a batch's units, with the roots of their customers.
const std::string& PeriodsSql() {
  static const std::string sql = PgRootWalkSql(
      "periods AS (SELECT o.id, o.unit, o.customer, o.from_at, o.to_at, o.inferred, c.id AS known, "
      "c.merged_into FROM unnest($1::text[]) AS u(unit) JOIN occupancy o ON o.unit = u.unit "
      "LEFT JOIN customers c ON c.id = o.customer), "
      "starts(id) AS (SELECT DISTINCT customer FROM periods WHERE merged_into IS NOT NULL)",
      "SELECT p.id, p.unit, p.customer, p.from_at, p.to_at, p.inferred, CASE WHEN p.merged_into "
      "IS NULL THEN p.known ELSE w.root END, COALESCE(w.cycle, false) FROM periods p "
      "LEFT JOIN walk w ON w.origin = p.customer");
  return sql;
}

class PgIdentityIndexImpl final : public PgIdentityIndex {
 public:
  PgIdentityIndexImpl(const std::unique_ptr<PgConnection>& connection,
                      std::function<Status()> write_held_events)
      : connection_(connection), write_held_events_(std::move(write_held_events)) {}

  Status Prefetch(std::span<const Event> events) override {
    std::vector<std::string_view> types;
    std::vector<std::string_view> values;
    std::vector<std::string> causes;
    std::unordered_set<std::string> keys;
    std::unordered_set<std::string_view> units;
    for (const Event& event : events) {
      for (const identity::Identifier& id : event.identifiers) {
        if (!keys.insert(Key(id)).second || identifiers_.contains(Key(id))) continue;
        types.push_back(id.type);
        values.push_back(id.value);
        if (!standing_.contains(id.Text())) causes.push_back(id.Text());
        // Which types are units is the rules' to say, not the index's: any value may be one.
        if (!periods_.contains(id.value)) units.insert(id.value);
      }
    }
    if (types.empty()) return Status::Ok();
    for (std::size_t i = 0; i < types.size(); ++i) {
      identifiers_.emplace(Key(types[i], values[i]), std::nullopt);
    }
    auto identifier = [&](const PgRow& row) {
      const std::int64_t home = row.Int64(2);
      identifiers_[Key(row.Text(0), row.Text(1))] =
          IndexedIdentifier{home, static_cast<IdentifierRole>(row.Int64(3)), row.Bool(4)};
      KeepRoot(home, PgRootWalkFromRow(row, 5));
      // A strong identifier's home holds it; a limited one's was looked at; a weak one's not.
      if (row.Int64(3) == static_cast<std::int64_t>(IdentifierRole::kStrong)) {
        holds_strong_[home] = true;
      } else if (!row.IsNull(7)) {
        holds_strong_[home] = row.Bool(7);
      }
    };
    Status s = Connection().Query(IdentifiersSql(), {PgTextArray{types}, PgTextArray{values}},
                                  "load identifiers", identifier);
    if (!s.ok()) return Failed(s);

    const std::vector<std::string_view> cause_views(causes.begin(), causes.end());
    for (const std::string& cause : causes) standing_.emplace(cause, std::vector<StandingMerge>());
    auto merge = [&](const PgRow& row) {
      standing_[std::string(row.Text(0))].push_back({row.Int64(1), row.Int64(2), row.Int64(3)});
    };
    s = Connection().Query(kStandingMergesSql, {PgTextArray{cause_views}}, "load merges", merge);
    if (!s.ok()) return Failed(s);

    const std::vector<std::string_view> unit_values(units.begin(), units.end());
    for (std::string_view unit : unit_values) periods_.emplace(unit, std::vector<Period>());
    auto period = [&](const PgRow& row) {
      periods_[std::string(row.Text(1))].push_back(PeriodFromRow(row));
      KeepRoot(row.Int64(2), PgRootWalkFromRow(row, 6));
    };
    s = Connection().Query(PeriodsSql(), {PgTextArray{unit_values}}, "load occupancy", period);
    if (!s.ok()) return Failed(s);
    return Status::Ok();
  }

  Result<std::optional<IndexedIdentifier>> Lookup(const identity::Identifier& id) override {
    std::string key = Key(id);
    if (auto cached = identifiers_.find(key); cached != identifiers_.end()) return cached->second;
    std::optional<IndexedIdentifier> known;
    Status s = Connection().Query(
        "SELECT home, role, demoted FROM identifiers WHERE type = $1 AND value = $2",
        {id.type, id.value}, "look up an identifier", [&](const PgRow& row) {
          known = IndexedIdentifier{row.Int64(0), static_cast<IdentifierRole>(row.Int64(1)),
                                    row.Bool(2)};
        });
    if (!s.ok()) return s;
    identifiers_.emplace(std::move(key), known);
    return known;
  }

  Status Attach(const identity::Identifier& id, std::int64_t home, IdentifierRole role,
                Micros first_seen) override {
    auto known = Lookup(id);
    if (!known.ok()) return known.status();
    if (*known) return Status::Ok();
    held_identifiers_.push_back({id.type, id.value, home, role, first_seen});
    identifiers_[Key(id)] = IndexedIdentifier{home, role, false};
    if (role == IdentifierRole::kStrong) holds_strong_[home] = true;
    return Status::Ok();
  }

  Status Demote(const identity::Identifier& id) override {
    if (Status s = FlushIdentifiers(); !s.ok()) return s;
    auto demoted =
        Connection().Exec("UPDATE identifiers SET demoted = true WHERE type = $1 AND value = $2",
                          {id.type, id.value}, "demote an identifier");
    if (!demoted.ok()) return demoted.status();
    if (auto cached = identifiers_.find(Key(id)); cached != identifiers_.end() && cached->second) {
      cached->second->demoted = true;
    }
    return Status::Ok();
  }

  // From what is known of each customer, the others in one query: what a customer holds is what
  // it was loaded with and what was attached to it since.
  Result<std::size_t> CountHoldingStrong(std::span<const std::int64_t> customers) override {
    std::vector<std::int64_t> unknown;
    for (std::int64_t customer : customers) {
      if (!holds_strong_.contains(customer)) unknown.push_back(customer);
    }
    if (!unknown.empty()) {
      std::unordered_set<std::int64_t> holding;
      Status s = Connection().Query(
          "SELECT DISTINCT home FROM identifiers WHERE home = ANY($1::bigint[]) AND role = 1",
          {PgInt64Array{unknown}}, "count customers",
          [&](const PgRow& row) { holding.insert(row.Int64(0)); });
      if (!s.ok()) return s;
      for (std::int64_t customer : unknown) holds_strong_[customer] = holding.contains(customer);
    }
    std::size_t holding = 0;
    for (std::int64_t customer : customers) holding += holds_strong_.at(customer) ? 1 : 0;
    return holding;
  }

  Result<std::int64_t> CreateCustomer(Micros created_at) override {
    auto id = customer_ids_.Take(Connection());
    if (!id.ok()) return id.status();
    held_customers_.push_back({*id, created_at});
    roots_[*id] = *id;
    return *id;
  }

  Result<std::optional<std::int64_t>> Root(std::int64_t customer) override {
    if (auto cached = roots_.find(customer); cached != roots_.end()) {
      return std::optional<std::int64_t>(cached->second);
    }
    auto walks = QueryPgRoots(Connection(), std::span<const std::int64_t>(&customer, 1));
    if (!walks.ok()) return walks.status();
    auto walk = walks->find(customer);
    if (walk == walks->end()) return std::optional<std::int64_t>();
    if (walk->second.cycle) {
      return DataLoss("customer " + std::to_string(customer) + " is merged in a cycle");
    }
    if (walk->second.root) roots_[customer] = *walk->second.root;
    return walk->second.root;
  }

  Result<std::int64_t> Merge(std::int64_t kept, std::int64_t absorbed, std::string_view cause,
                             const MergeNote& note) override {
    if (Status s = Flush(); !s.ok()) return s;
    std::string actor;
    std::string reason;
    std::int64_t merge = 0;
    Status s = Connection().Query(
        "WITH joined AS (UPDATE customers SET merged_into = $1 WHERE id = $2), "
        "moved AS (UPDATE events SET customer = $1 WHERE customer = $2) "
        "INSERT INTO merges (at, kept, absorbed, cause, event_id, actor, reason) "
        "VALUES ($3, $1, $2, $4, 0, $5, $6) RETURNING id",
        {kept, absorbed, note.at, cause, PgStoredText(note.actor, actor),
         PgStoredText(note.reason, reason)},
        "merge customers", [&](const PgRow& row) { merge = row.Int64(0); });
    if (!s.ok()) return s;
    for (auto& [customer, root] : roots_) {
      if (root == absorbed) root = kept;
    }
    roots_[absorbed] = kept;
    if (auto standing = standing_.find(std::string(cause)); standing != standing_.end()) {
      standing->second.insert(standing->second.begin(), {merge, kept, absorbed});  // the newest
    }
    return merge;
  }

  Status Unmerge(const StandingMerge& merge, const MergeNote& note) override {
    if (Status s = Flush(); !s.ok()) return s;
    std::string actor;
    std::string reason;
    auto undone = Connection().Exec(
        "WITH RECURSIVE tree(id) AS (SELECT $1::bigint UNION ALL SELECT c.id FROM customers c "
        "JOIN tree ON c.merged_into = tree.id), "
        "detached AS (UPDATE customers SET merged_into = NULL WHERE id = $1), "
        "moved AS (UPDATE events SET customer = $1 WHERE home IN (SELECT id FROM tree)) "
        "UPDATE merges SET undone_at = $3, undone_by = $4, undone_reason = $5 WHERE id = $2",
        {merge.absorbed, merge.id, note.at, PgStoredText(note.actor, actor),
         PgStoredText(note.reason, reason)},
        "split customers");
    if (!undone.ok()) return undone.status();
    // Who stands under whom changed for the absorbed customer's whole tree.
    roots_.clear();
    for (auto& [cause, merges] : standing_) {
      std::erase_if(merges, [&](const StandingMerge& m) { return m.id == merge.id; });
    }
    return Status::Ok();
  }

  Status SetMergeEvent(std::span<const std::int64_t> merges, std::int64_t event_id) override {
    if (merges.empty()) return Status::Ok();
    return Connection()
        .Exec("UPDATE merges SET event_id = $2 WHERE id = ANY($1::bigint[])",
              {PgInt64Array{merges}, event_id}, "record a merge's event")
        .status();
  }

  Result<std::optional<MergeRecord>> ReadMerge(std::int64_t merge_id) override {
    static const std::string sql =
        std::string("SELECT ") + kPgMergeColumns + " FROM merges WHERE id = $1";
    std::optional<MergeRecord> merge;
    Status s = Connection().Query(sql, {merge_id}, "read a merge",
                                  [&](const PgRow& row) { merge = MergeFromPgRow(row); });
    if (!s.ok()) return s;
    return merge;
  }

  Result<std::vector<StandingMerge>> StandingMergesBy(std::string_view cause) override {
    if (auto cached = standing_.find(std::string(cause)); cached != standing_.end()) {
      return cached->second;
    }
    std::vector<StandingMerge> merges;
    Status s = Connection().Query(
        "SELECT id, kept, absorbed FROM merges WHERE cause = $1 AND undone_at IS NULL "
        "ORDER BY id DESC",
        {cause}, "read merges", [&](const PgRow& row) {
          merges.push_back({row.Int64(0), row.Int64(1), row.Int64(2)});
        });
    if (!s.ok()) return s;
    standing_.emplace(cause, merges);
    return merges;
  }

  Result<bool> SplitByAdmin(std::int64_t a, std::int64_t b) override {
    bool split = false;
    Status s = Connection().Query(
        "SELECT 1 FROM merges WHERE undone_at IS NOT NULL AND undone_by <> $3 AND "
        "((kept = $1 AND absorbed = $2) OR (kept = $2 AND absorbed = $1)) LIMIT 1",
        {a, b, kResolverActor}, "check for a split", [&](const PgRow&) { split = true; });
    if (!s.ok()) return s;
    return split;
  }

  Result<std::optional<IndexedPeriod>> PeriodAt(const std::string& unit, Micros at) override {
    auto periods = PeriodsOf(unit);
    if (!periods.ok()) return periods.status();
    const Period* found = nullptr;
    for (const Period& p : **periods) {
      if (p.from > at || (p.to && *p.to <= at)) continue;
      if (found == nullptr || std::tie(p.from, p.id) > std::tie(found->from, found->id)) found = &p;
    }
    return Indexed(found);
  }

  Result<std::optional<IndexedPeriod>> PeriodAfter(const std::string& unit, Micros at) override {
    auto periods = PeriodsOf(unit);
    if (!periods.ok()) return periods.status();
    const Period* found = nullptr;
    for (const Period& p : **periods) {
      if (p.from <= at) continue;
      if (found == nullptr || std::tie(p.from, p.id) < std::tie(found->from, found->id)) found = &p;
    }
    return Indexed(found);
  }

  Status OpenPeriod(const std::string& unit, std::string_view community, std::int64_t customer,
                    Micros from, bool inferred) override {
    auto periods = PeriodsOf(unit);
    if (!periods.ok()) return periods.status();
    std::optional<Micros> to;
    for (const Period& p : **periods) {
      if (p.from > from && (!to || p.from < *to)) to = p.from;
    }
    auto id = period_ids_.Take(Connection());
    if (!id.ok()) return id.status();
    (*periods)->push_back(
        {*id, customer, from, to, inferred, /*held=*/true, std::string(community)});
    return Status::Ok();
  }

  Status EndPeriod(std::int64_t period, Micros to) override {
    return ChangePeriod(period, "UPDATE occupancy SET to_at = $2 WHERE id = $1", to,
                        "end occupancy", [&](Period& p) { p.to = to; });
  }

  Status ConfirmPeriod(std::int64_t period) override {
    return ChangePeriod(period, "UPDATE occupancy SET inferred = $2 WHERE id = $1", false,
                        "confirm occupancy", [](Period& p) { p.inferred = false; });
  }

  Status MovePeriodStart(std::int64_t period, Micros from, bool inferred) override {
    Period* p = CachedPeriod(period);
    if (p == nullptr || !p->held) {
      auto moved =
          Connection().Exec("UPDATE occupancy SET from_at = $2, inferred = $3 WHERE id = $1",
                            {period, from, inferred}, "extend occupancy");
      if (!moved.ok()) return moved.status();
    }
    if (p != nullptr) {
      p->from = from;
      p->inferred = inferred;
    }
    return Status::Ok();
  }

  Status Flush() override {
    if (Status s = FlushCustomers(); !s.ok()) return s;
    if (Status s = FlushIdentifiers(); !s.ok()) return s;
    if (Status s = FlushPeriods(); !s.ok()) return s;
    return write_held_events_();
  }

  void Forget() override {
    identifiers_.clear();
    roots_.clear();
    holds_strong_.clear();
    standing_.clear();
    periods_.clear();
    held_customers_.clear();
    held_identifiers_.clear();
  }

 private:
  struct Period {
    std::int64_t id = 0;
    std::int64_t customer = 0;
    Micros from;
    std::optional<Micros> to;
    bool inferred = false;
    bool held = false;      // opened here and not written yet
    std::string community;  // of a held period
  };
  struct HeldCustomer {
    std::int64_t id;
    Micros created_at;
  };
  struct HeldIdentifier {
    std::string type;
    std::string value;
    std::int64_t home;
    IdentifierRole role;
    Micros first_seen;
  };

  static std::string Key(std::string_view type, std::string_view value) {
    std::string key;
    key.reserve(type.size() + 1 + value.size());
    key.append(type).push_back('\0');  // no type holds a NUL
    key.append(value);
    return key;
  }
  static std::string Key(const identity::Identifier& id) { return Key(id.type, id.value); }

  static Period PeriodFromRow(const PgRow& row) {
    Period period;
    period.id = row.Int64(0);
    period.customer = row.Int64(2);
    period.from = row.Time(3);
    period.to = row.OptionalTime(4);
    period.inferred = row.Bool(5);
    return period;
  }

  static std::optional<IndexedPeriod> Indexed(const Period* period) {
    if (period == nullptr) return std::nullopt;
    return IndexedPeriod{period->id, period->customer, period->inferred};
  }

  PgConnection& Connection() { return *connection_; }

  // What a failed load leaves half-known is dropped.
  Status Failed(const Status& status) {
    Forget();
    return status;
  }

  void KeepRoot(std::int64_t customer, const PgRootWalk& walk) {
    // A cycle is left to Root, which reports it.
    if (walk.root && !walk.cycle) roots_[customer] = *walk.root;
  }

  // The unit's periods, all of them, loaded on first use.
  Result<std::vector<Period>*> PeriodsOf(const std::string& unit) {
    if (auto cached = periods_.find(unit); cached != periods_.end()) return &cached->second;
    std::vector<Period> periods;
    Status s = Connection().Query(
        "SELECT id, unit, customer, from_at, to_at, inferred FROM occupancy WHERE unit = $1",
        {unit}, "read occupancy", [&](const PgRow& row) { periods.push_back(PeriodFromRow(row)); });
    if (!s.ok()) return s;
    return &periods_.emplace(unit, std::move(periods)).first->second;
  }

  Period* CachedPeriod(std::int64_t id) {
    for (auto& [unit, periods] : periods_) {
      for (Period& p : periods) {
        if (p.id == id) return &p;
      }
    }
    return nullptr;
  }

  // Changes a period, in the table unless it is held.
  template <typename Value, typename Change>
  Status ChangePeriod(std::int64_t period, std::string_view sql, Value value, std::string_view what,
                      Change change) {
    Period* p = CachedPeriod(period);
    if (p == nullptr || !p->held) {
      auto changed = Connection().Exec(sql, {period, value}, what);
      if (!changed.ok()) return changed.status();
    }
    if (p != nullptr) change(*p);
    return Status::Ok();
  }

  Status FlushPeriods() {
    std::vector<std::int64_t> ids;
    std::vector<std::string_view> units;
    std::vector<std::string_view> communities;
    std::vector<std::int64_t> customers;
    std::vector<std::int64_t> from;
    std::vector<std::int64_t> to;  // -1 with ended 0: still there
    std::vector<std::int64_t> ended;
    std::vector<std::int64_t> inferred;
    std::vector<Period*> held;
    for (auto& [unit, periods] : periods_) {
      for (Period& p : periods) {
        if (!p.held) continue;
        held.push_back(&p);
        ids.push_back(p.id);
        units.push_back(unit);
        communities.push_back(p.community);
        customers.push_back(p.customer);
        from.push_back(p.from.time_since_epoch().count());
        to.push_back(p.to ? p.to->time_since_epoch().count() : -1);
        ended.push_back(p.to ? 1 : 0);
        inferred.push_back(p.inferred ? 1 : 0);
      }
    }
    if (held.empty()) return Status::Ok();
    auto inserted = Connection().Exec(
        "INSERT INTO occupancy (id, unit, community, customer, from_at, to_at, inferred) "
        "SELECT id, unit, community, customer, from_at, CASE WHEN ended <> 0 THEN to_at END, "
        "inferred <> 0 FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], "
        "$5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[]) AS p(id, unit, community, "
        "customer, from_at, to_at, ended, inferred)",
        {PgInt64Array{ids}, PgTextArray{units}, PgTextArray{communities}, PgInt64Array{customers},
         PgInt64Array{from}, PgInt64Array{to}, PgInt64Array{ended}, PgInt64Array{inferred}},
        "open occupancy");
    if (!inserted.ok()) return inserted.status();
    for (Period* p : held) p->held = false;
    return Status::Ok();
  }

  Status FlushCustomers() {
    if (held_customers_.empty()) return Status::Ok();
    std::vector<std::int64_t> ids;
    std::vector<std::int64_t> created;
    for (const HeldCustomer& c : held_customers_) {
      ids.push_back(c.id);
      created.push_back(c.created_at.time_since_epoch().count());
    }
    auto inserted = Connection().Exec(
        "INSERT INTO customers (id, created_at) SELECT * FROM unnest($1::bigint[], $2::bigint[])",
        {PgInt64Array{ids}, PgInt64Array{created}}, "create customers");
    if (!inserted.ok()) return inserted.status();
    held_customers_.clear();
    return Status::Ok();
  }

  Status FlushIdentifiers() {
    if (held_identifiers_.empty()) return Status::Ok();
    std::vector<std::string_view> types;
    std::vector<std::string_view> values;
    std::vector<std::int64_t> homes;
    std::vector<std::int64_t> roles;
    std::vector<std::int64_t> first_seen;
    for (const HeldIdentifier& id : held_identifiers_) {
      types.push_back(id.type);
      values.push_back(id.value);
      homes.push_back(id.home);
      roles.push_back(static_cast<std::int64_t>(id.role));
      first_seen.push_back(id.first_seen.time_since_epoch().count());
    }
    auto inserted = Connection().Exec(
        "INSERT INTO identifiers (type, value, home, role, demoted, first_seen) "
        "SELECT type, value, home, role, false, first_seen FROM unnest($1::text[], $2::text[], "
        "$3::bigint[], $4::bigint[], $5::bigint[]) AS i(type, value, home, role, first_seen) "
        "ON CONFLICT (type, value) DO NOTHING",
        {PgTextArray{types}, PgTextArray{values}, PgInt64Array{homes}, PgInt64Array{roles},
         PgInt64Array{first_seen}},
        "keep identifiers");
    if (!inserted.ok()) return inserted.status();
    held_identifiers_.clear();
    return Status::Ok();
  }

  const std::unique_ptr<PgConnection>& connection_;
  const std::function<Status()> write_held_events_;

  // What the transaction holds, as loaded and changed through the index since the last Forget.
  std::unordered_map<std::string, std::optional<IndexedIdentifier>> identifiers_;  // by Key
  std::unordered_map<std::int64_t, std::int64_t> roots_;
  // Whether a customer is the home of a kStrong identifier.
  std::unordered_map<std::int64_t, bool> holds_strong_;
  // The standing merges each cause (an identifier's Text) made, newest first.
  std::unordered_map<std::string, std::vector<StandingMerge>> standing_;
  std::unordered_map<std::string, std::vector<Period>> periods_;  // every period, by unit
  std::vector<HeldCustomer> held_customers_;
  std::vector<HeldIdentifier> held_identifiers_;

  // Ids for the customers and periods to come. Kept across transactions: an id taken from a
  // sequence is never given out again, whatever became of the transaction.
  ReservedIds customer_ids_{"customers"};
  ReservedIds period_ids_{"occupancy"};
};

}  // namespace

std::unique_ptr<PgIdentityIndex> NewPgIdentityIndex(const std::unique_ptr<PgConnection>& connection,
                                                    std::function<Status()> write_held_events) {
  return std::make_unique<PgIdentityIndexImpl>(connection, std::move(write_held_events));
}

}  // namespace propbridge::store
