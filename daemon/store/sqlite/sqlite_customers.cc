#include "daemon/store/sqlite/sqlite_customers.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <utility>

namespace propbridge::store {
namespace {

// identifiers.role
constexpr int kWeak = 0;
constexpr int kStrong = 1;
constexpr int kLimited = 2;

// Who made a merge or split that resolution made.
constexpr const char* kResolver = "propbridged";

int RoleOf(const identity::TypeRule& rule) {
  if (rule.linkage != identity::Linkage::kStrong) return kWeak;
  return rule.max_customers ? kLimited : kStrong;
}

std::string CommunityOf(const std::string& unit) {
  std::size_t slash = unit.find('/');
  return slash == std::string::npos ? std::string() : unit.substr(0, slash);
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

namespace {

constexpr const char* kSelectMergedInto = "SELECT merged_into FROM customers WHERE id = ?1";

// Follows merged_into from `customer` to the customer that stands alone; nullopt when
// `customer` does not exist.
Result<std::optional<std::int64_t>> FollowMerges(sqlite3* db, sqlite3_stmt* stmt,
                                                 std::int64_t customer) {
  // A chain is as long as the merges made one after another; the bound only stops a cycle
  // that a damaged file could hold.
  for (int hop = 0; hop < 1'000'000; ++hop) {
    bool found = false;
    std::optional<std::int64_t> next;
    Status s = StepRows(db, stmt, {customer}, "follow merges", [&](sqlite3_stmt* row) {
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

}  // namespace

CustomerResolver::CustomerResolver(sqlite3* db, identity::IdentityRules rules)
    : db_(db), rules_(std::move(rules)), statements_(db) {}

Result<std::optional<CustomerResolver::Known>> CustomerResolver::Lookup(
    const identity::Identifier& id) {
  auto stmt =
      Statement("SELECT home, role, demoted FROM identifiers WHERE type = ?1 AND value = ?2");
  if (!stmt.ok()) return stmt.status();
  std::optional<Known> known;
  Status s =
      StepRows(db_, *stmt, {id.type, id.value}, "look up an identifier", [&](sqlite3_stmt* row) {
        known = Known{sqlite3_column_int64(row, 0), sqlite3_column_int(row, 1),
                      sqlite3_column_int(row, 2) != 0};
      });
  if (!s.ok()) return s;
  return known;
}

Result<std::int64_t> CustomerResolver::Root(std::int64_t customer) {
  auto stmt = Statement(kSelectMergedInto);
  if (!stmt.ok()) return stmt.status();
  auto root = FollowMerges(db_, *stmt, customer);
  if (!root.ok()) return root.status();
  if (!*root) return DataLoss("customer " + std::to_string(customer) + " is missing");
  return **root;
}

Result<std::int64_t> CustomerResolver::NewCustomer(Micros at) {
  auto stmt = Statement("INSERT INTO customers (created_at, merged_into) VALUES (?1, NULL)");
  if (!stmt.ok()) return stmt.status();
  if (Status s = StepDone(db_, *stmt, {at}, "create a customer"); !s.ok()) {
    return s;
  }
  return sqlite3_last_insert_rowid(db_);
}

Status CustomerResolver::Attach(const identity::Identifier& id, std::int64_t home, int role,
                                Micros at) {
  auto stmt = Statement(
      "INSERT INTO identifiers (type, value, home, role, demoted, first_seen)"
      " VALUES (?1, ?2, ?3, ?4, 0, ?5) ON CONFLICT (type, value) DO NOTHING");
  if (!stmt.ok()) return stmt.status();
  return StepDone(db_, *stmt, {id.type, id.value, home, std::int64_t{role}, at},
                  "keep an identifier");
}

Result<std::optional<std::int64_t>> CustomerResolver::Join(std::int64_t a, std::int64_t b,
                                                           const std::string& cause,
                                                           const std::string& actor,
                                                           const std::string& reason, Micros at,
                                                           bool respect_splits) {
  auto root_a = Root(a);
  if (!root_a.ok()) return root_a.status();
  auto root_b = Root(b);
  if (!root_b.ok()) return root_b.status();
  if (*root_a == *root_b) return std::optional<std::int64_t>();
  const std::int64_t kept = std::min(*root_a, *root_b);
  const std::int64_t absorbed = std::max(*root_a, *root_b);
  if (respect_splits) {
    auto stmt = Statement(
        "SELECT 1 FROM merges WHERE undone_at IS NOT NULL AND undone_by != ?3 AND"
        " ((kept = ?1 AND absorbed = ?2) OR (kept = ?2 AND absorbed = ?1)) LIMIT 1");
    if (!stmt.ok()) return stmt.status();
    bool split = false;
    Status s = StepRows(db_, *stmt, {kept, absorbed, std::string_view(kResolver)},
                        "check for a split", [&](sqlite3_stmt*) { split = true; });
    if (!s.ok()) return s;
    if (split) return std::optional<std::int64_t>();
  }
  struct {
    const char* sql;
    std::vector<SqlParam> params;
  } const steps[] = {
      {"UPDATE customers SET merged_into = ?1 WHERE id = ?2", {kept, absorbed}},
      {"UPDATE events SET customer = ?1 WHERE customer = ?2", {kept, absorbed}},
      {"INSERT INTO merges (at, kept, absorbed, cause, event_id, actor, reason)"
       " VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6)",
       {at, kept, absorbed, cause, actor, reason}},
  };
  for (const auto& step : steps) {
    auto stmt = Statement(step.sql);
    if (!stmt.ok()) return stmt.status();
    if (Status s = StepDone(db_, *stmt, step.params, "merge customers"); !s.ok()) return s;
  }
  ++merges_made_;
  return std::optional<std::int64_t>(sqlite3_last_insert_rowid(db_));
}

Status CustomerResolver::Unmerge(std::int64_t merge_id, const std::string& actor,
                                 const std::string& reason, Micros at) {
  auto merge = ReadMerge(merge_id);
  if (!merge.ok()) return merge.status();
  struct {
    const char* sql;
    std::vector<SqlParam> params;
  } const steps[] = {
      {"UPDATE customers SET merged_into = NULL WHERE id = ?1", {merge->absorbed}},
      // Every event whose home now sits under the absorbed customer goes back to it.
      {"WITH RECURSIVE tree(id) AS (SELECT ?1 UNION ALL SELECT c.id FROM customers c"
       " JOIN tree ON c.merged_into = tree.id)"
       " UPDATE events SET customer = ?1 WHERE home IN (SELECT id FROM tree)",
       {merge->absorbed}},
      {"UPDATE merges SET undone_at = ?2, undone_by = ?3, undone_reason = ?4 WHERE id = ?1",
       {merge_id, at, actor, reason}},
  };
  for (const auto& step : steps) {
    auto stmt = Statement(step.sql);
    if (!stmt.ok()) return stmt.status();
    if (Status s = StepDone(db_, *stmt, step.params, "split customers"); !s.ok()) return s;
  }
  ++merges_made_;
  return Status::Ok();
}

Status CustomerResolver::LinkThroughLimited(const identity::Identifier& id, const Known& known,
                                            std::int64_t home, Micros at,
                                            std::vector<std::int64_t>& merges) {
  const std::string cause = id.Text();
  // The customers this value has joined so far: its own, both sides of each merge it made
  // that still stands, and now `home`'s. Only those holding an unlimited strong identifier
  // count: a phone seen first on its own and then with an account is one person.
  std::set<std::int64_t> joined = {known.home, home};
  {
    auto stmt =
        Statement("SELECT kept, absorbed FROM merges WHERE cause = ?1 AND undone_at IS NULL");
    if (!stmt.ok()) return stmt.status();
    Status s = StepRows(db_, *stmt, {cause}, "read merges", [&](sqlite3_stmt* row) {
      joined.insert(sqlite3_column_int64(row, 0));
      joined.insert(sqlite3_column_int64(row, 1));
    });
    if (!s.ok()) return s;
  }
  std::size_t anchored = 0;
  auto anchor = Statement("SELECT 1 FROM identifiers WHERE home = ?1 AND role = 1 LIMIT 1");
  if (!anchor.ok()) return anchor.status();
  for (std::int64_t customer : joined) {
    Status s =
        StepRows(db_, *anchor, {customer}, "count customers", [&](sqlite3_stmt*) { ++anchored; });
    if (!s.ok()) return s;
  }
  const std::size_t limit = rules_.RuleFor(id.type).max_customers.value_or(SIZE_MAX);
  if (anchored <= limit) {
    auto merge = Join(known.home, home, cause, kResolver,
                      "an event carried " + identity::LogText(id, rules_) + " of both", at);
    if (!merge.ok()) return merge.status();
    if (*merge) merges.push_back(**merge);
    return Status::Ok();
  }
  // Demote it and undo what it joined.
  auto demote = Statement("UPDATE identifiers SET demoted = 1 WHERE type = ?1 AND value = ?2");
  if (!demote.ok()) return demote.status();
  if (Status s = StepDone(db_, *demote, {id.type, id.value}, "demote an identifier"); !s.ok()) {
    return s;
  }
  std::vector<std::int64_t> made;
  auto stmt =
      Statement("SELECT id FROM merges WHERE cause = ?1 AND undone_at IS NULL ORDER BY id DESC");
  if (!stmt.ok()) return stmt.status();
  Status s = StepRows(db_, *stmt, {cause}, "read merges",
                      [&](sqlite3_stmt* row) { made.push_back(sqlite3_column_int64(row, 0)); });
  if (!s.ok()) return s;
  const std::string reason = identity::LogText(id, rules_) + " is on more than " +
                             std::to_string(limit) +
                             " customers, so it no longer identifies anyone";
  for (std::int64_t merge : made) {
    if (Status undo = Unmerge(merge, kResolver, reason, at); !undo.ok()) return undo;
  }
  return Status::Ok();
}

Result<std::optional<std::int64_t>> CustomerResolver::OccupantAt(const std::string& unit,
                                                                 Micros at) {
  auto stmt = Statement(
      "SELECT customer FROM occupancy WHERE unit = ?1 AND from_at <= ?2 AND"
      " (to_at IS NULL OR to_at > ?2) ORDER BY from_at DESC LIMIT 1");
  if (!stmt.ok()) return stmt.status();
  std::optional<std::int64_t> occupant;
  Status s = StepRows(db_, *stmt, {unit, at}, "find a unit's occupant",
                      [&](sqlite3_stmt* row) { occupant = sqlite3_column_int64(row, 0); });
  if (!s.ok()) return s;
  return occupant;
}

Status CustomerResolver::Occupy(const std::string& unit, std::int64_t home, Micros at,
                                bool inferred) {
  auto root = Root(home);
  if (!root.ok()) return root.status();
  // The period that covers `at`, if any.
  struct Period {
    std::int64_t id = 0;
    std::int64_t customer = 0;
    bool inferred = false;
  };
  std::optional<Period> covering;
  auto stmt = Statement(
      "SELECT id, customer, inferred FROM occupancy WHERE unit = ?1 AND from_at <= ?2 AND"
      " (to_at IS NULL OR to_at > ?2) ORDER BY from_at DESC LIMIT 1");
  if (!stmt.ok()) return stmt.status();
  Status s = StepRows(db_, *stmt, {unit, at}, "read occupancy", [&](sqlite3_stmt* row) {
    covering = Period{sqlite3_column_int64(row, 0), sqlite3_column_int64(row, 1),
                      sqlite3_column_int(row, 2) != 0};
  });
  if (!s.ok()) return s;
  if (covering) {
    auto occupant = Root(covering->customer);
    if (!occupant.ok()) return occupant.status();
    if (*occupant == *root) {
      if (inferred || !covering->inferred) return Status::Ok();
      // A handover confirms what was inferred.
      auto confirm = Statement("UPDATE occupancy SET inferred = 0 WHERE id = ?1");
      if (!confirm.ok()) return confirm.status();
      return StepDone(db_, *confirm, {covering->id}, "confirm occupancy");
    }
    // Inference never displaces an occupant; a handover or move-in ends their period.
    if (inferred) return Status::Ok();
    auto end = Statement("UPDATE occupancy SET to_at = ?2 WHERE id = ?1");
    if (!end.ok()) return end.status();
    if (Status e = StepDone(db_, *end, {covering->id, at}, "end occupancy"); !e.ok()) return e;
  }
  // Events arrive out of order: when the next period on the unit is the same customer's and
  // only inferred, their stay began earlier. Move its start back instead of adding a period.
  {
    auto next = Statement(
        "SELECT id, customer, inferred FROM occupancy WHERE unit = ?1 AND from_at > ?2"
        " ORDER BY from_at LIMIT 1");
    if (!next.ok()) return next.status();
    std::optional<Period> later;
    Status n = StepRows(db_, *next, {unit, at}, "read occupancy", [&](sqlite3_stmt* row) {
      later = Period{sqlite3_column_int64(row, 0), sqlite3_column_int64(row, 1),
                     sqlite3_column_int(row, 2) != 0};
    });
    if (!n.ok()) return n;
    if (later && later->inferred) {
      auto occupant = Root(later->customer);
      if (!occupant.ok()) return occupant.status();
      if (*occupant == *root) {
        auto extend = Statement("UPDATE occupancy SET from_at = ?2, inferred = ?3 WHERE id = ?1");
        if (!extend.ok()) return extend.status();
        return StepDone(db_, *extend, {later->id, at, std::int64_t{inferred ? 1 : 0}},
                        "extend occupancy");
      }
    }
  }
  // The new period runs until the next one that begins later.
  auto insert = Statement(
      "INSERT INTO occupancy (unit, community, customer, from_at, to_at, inferred)"
      " VALUES (?1, ?2, ?3, ?4, (SELECT MIN(from_at) FROM occupancy WHERE unit = ?1 AND"
      " from_at > ?4), ?5)");
  if (!insert.ok()) return insert.status();
  const std::string community = CommunityOf(unit);
  return StepDone(db_, *insert, {unit, community, home, at, std::int64_t{inferred ? 1 : 0}},
                  "open occupancy");
}

Status CustomerResolver::Vacate(const std::string& unit, std::int64_t home, Micros at) {
  auto root = Root(home);
  if (!root.ok()) return root.status();
  auto stmt = Statement(
      "SELECT id, customer FROM occupancy WHERE unit = ?1 AND from_at <= ?2 AND"
      " (to_at IS NULL OR to_at > ?2) ORDER BY from_at DESC LIMIT 1");
  if (!stmt.ok()) return stmt.status();
  std::int64_t period = 0;
  std::int64_t occupant = 0;
  Status s = StepRows(db_, *stmt, {unit, at}, "read occupancy", [&](sqlite3_stmt* row) {
    period = sqlite3_column_int64(row, 0);
    occupant = sqlite3_column_int64(row, 1);
  });
  if (!s.ok() || period == 0) return s;
  auto occupant_root = Root(occupant);
  if (!occupant_root.ok()) return occupant_root.status();
  if (*occupant_root != *root) return Status::Ok();
  auto end = Statement("UPDATE occupancy SET to_at = ?2 WHERE id = ?1");
  if (!end.ok()) return end.status();
  return StepDone(db_, *end, {period, at}, "end occupancy");
}

Result<CustomerResolver::Resolution> CustomerResolver::Resolve(const Event& event) {
  const Micros at = event.occurred_at;
  struct Seen {
    const identity::Identifier* id;
    int role;
    std::optional<Known> known;
  };
  std::vector<Seen> strong;
  std::vector<Seen> limited;
  std::vector<Seen> weak;
  std::vector<const identity::Identifier*> units;
  for (const identity::Identifier& id : event.identifiers) {
    const identity::TypeRule& rule = rules_.RuleFor(id.type);
    if (rule.linkage == identity::Linkage::kOccupancy) {
      units.push_back(&id);
      continue;
    }
    auto known = Lookup(id);
    if (!known.ok()) return known.status();
    int role = RoleOf(rule);
    if (*known && (*known)->demoted) role = kWeak;
    Seen seen{&id, role, *known};
    (role == kStrong ? strong : role == kLimited ? limited : weak).push_back(seen);
  }

  Resolution resolution;
  std::int64_t home = 0;
  auto join = [&](std::int64_t other, const identity::Identifier& cause) -> Status {
    auto merge = Join(home, other, cause.Text(), kResolver,
                      "an event carried " + identity::LogText(cause, rules_) +
                          " with identifiers of another customer",
                      event.ingested_at);
    if (!merge.ok()) return merge.status();
    if (*merge) resolution.merges.push_back(**merge);
    return Status::Ok();
  };
  // 1. Unlimited strong identifiers.
  bool unknown_strong = false;
  for (const Seen& seen : strong) {
    if (!seen.known) {
      unknown_strong = true;
    } else if (home == 0) {
      home = seen.known->home;
    } else if (Status s = join(seen.known->home, *seen.id); !s.ok()) {
      return s;
    }
  }
  if (unknown_strong && home == 0) {
    auto created = NewCustomer(at);
    if (!created.ok()) return created.status();
    home = *created;
  }
  // 2. Limited strong identifiers.
  for (const Seen& seen : limited) {
    if (!seen.known) continue;
    if (home == 0) {
      home = seen.known->home;
    } else if (Status s = LinkThroughLimited(*seen.id, *seen.known, home, event.ingested_at,
                                             resolution.merges);
               !s.ok()) {
      return s;
    }
  }
  const bool decided_by_strong = home != 0 || !limited.empty();
  // 3. A unit: its occupant at the time, else the unit's own customer.
  const identity::Identifier* unit_bucket = nullptr;
  if (home == 0 && limited.empty()) {
    for (const identity::Identifier* unit : units) {
      auto occupant = OccupantAt(unit->value, at);
      if (!occupant.ok()) return occupant.status();
      if (*occupant) {
        home = **occupant;
        break;
      }
    }
    if (home == 0 && !units.empty()) {
      auto bucket = Lookup(*units.front());
      if (!bucket.ok()) return bucket.status();
      if (*bucket) home = (*bucket)->home;
      unit_bucket = units.front();
    }
  }
  if (home == 0) {
    auto created = NewCustomer(at);
    if (!created.ok()) return created.status();
    home = *created;
  }
  // New identifiers join the event's customer.
  for (const auto* group : {&strong, &limited, &weak}) {
    for (const Seen& seen : *group) {
      if (seen.known) continue;
      if (Status s = Attach(*seen.id, home, seen.role, at); !s.ok()) return s;
    }
  }
  if (unit_bucket != nullptr) {
    if (Status s = Attach(*unit_bucket, home, kWeak, at); !s.ok()) return s;
  }
  // 4. Occupancy.
  const bool opens = rules_.OpensOccupancy(event.kind);
  const bool closes = !opens && rules_.ClosesOccupancy(event.kind);
  for (const identity::Identifier* unit : units) {
    Status s = Status::Ok();
    if (opens) {
      s = Occupy(unit->value, home, at, /*inferred=*/false);
    } else if (closes) {
      s = Vacate(unit->value, home, at);
    } else if (decided_by_strong) {
      s = Occupy(unit->value, home, at, /*inferred=*/true);
    }
    if (!s.ok()) return s;
  }
  auto root = Root(home);
  if (!root.ok()) return root.status();
  resolution.customer = *root;
  resolution.home = home;
  return resolution;
}

Status CustomerResolver::RecordMergeEvent(const Resolution& resolution, std::int64_t event_id) {
  if (resolution.merges.empty()) return Status::Ok();
  auto stmt = Statement("UPDATE merges SET event_id = ?2 WHERE id = ?1");
  if (!stmt.ok()) return stmt.status();
  for (std::int64_t merge : resolution.merges) {
    if (Status s = StepDone(db_, *stmt, {merge, event_id}, "record a merge's event"); !s.ok()) {
      return s;
    }
  }
  return Status::Ok();
}

Result<MergeRecord> CustomerResolver::ReadMerge(std::int64_t merge_id) {
  static const std::string sql =
      std::string("SELECT ") + kMergeColumns + " FROM merges WHERE id = ?1";
  auto stmt = Statement(sql.c_str());
  if (!stmt.ok()) return stmt.status();
  std::optional<MergeRecord> merge;
  Status s = StepRows(db_, *stmt, {merge_id}, "read a merge",
                      [&](sqlite3_stmt* row) { merge = MergeFromRow(row); });
  if (!s.ok()) return s;
  if (!merge) return NotFound("no merge " + std::to_string(merge_id));
  return *merge;
}

Result<MergeRecord> CustomerResolver::Link(std::int64_t a, std::int64_t b, const std::string& actor,
                                           const std::string& reason, Micros now) {
  auto exists = Statement("SELECT 1 FROM customers WHERE id = ?1");
  if (!exists.ok()) return exists.status();
  for (std::int64_t id : {a, b}) {
    bool found = false;
    Status s =
        StepRows(db_, *exists, {id}, "find a customer", [&](sqlite3_stmt*) { found = true; });
    if (!s.ok()) return s;
    if (!found) return NotFound("no customer " + CustomerKey(id));
  }
  auto merge = Join(a, b, "", actor, reason, now, /*respect_splits=*/false);
  if (!merge.ok()) return merge.status();
  if (!*merge) {
    return InvalidArgument(CustomerKey(a) + " and " + CustomerKey(b) + " are one customer already");
  }
  return ReadMerge(**merge);
}

Result<MergeRecord> CustomerResolver::Split(std::int64_t merge_id, const std::string& actor,
                                            const std::string& reason, Micros now) {
  auto merge = ReadMerge(merge_id);
  if (!merge.ok()) return merge.status();
  if (merge->undone_at) {
    return FailedPrecondition("merge " + std::to_string(merge_id) + " was split already by " +
                              merge->undone_by);
  }
  if (Status s = Unmerge(merge_id, actor, reason, now); !s.ok()) return s;
  return ReadMerge(merge_id);
}

Result<std::optional<std::int64_t>> QueryRoot(StatementCache& statements, std::int64_t customer) {
  auto stmt = statements.Get(kSelectMergedInto, "follow merges");
  if (!stmt.ok()) return stmt.status();
  return FollowMerges(statements.db(), *stmt, customer);
}

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
