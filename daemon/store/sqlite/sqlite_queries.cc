#include "daemon/store/sqlite/sqlite_queries.h"

namespace propbridge::store {
namespace {

constexpr const char* kEventColumns =
    "SELECT id, customer, occurred_at, ingested_at, source, source_event_id, step, kind, "
    "initiative, contact, channel, matter_id, matter_state, summary, attributes, identifiers "
    "FROM events";

class Builder {
 public:
  explicit Builder(Sql& sql) : sql_(sql) {}

  std::string Param(std::variant<std::int64_t, std::string> value) {
    sql_.params.push_back(std::move(value));
    return "?" + std::to_string(sql_.params.size());
  }

  // " AND ..." for every set field of the filter.
  std::string Terms(const TimelineFilter& f) {
    std::string terms;
    if (!f.steps.empty()) {
      terms += " AND step IN (";
      for (std::size_t i = 0; i < f.steps.size(); ++i) {
        terms += (i ? ", " : "") + Param(static_cast<std::int64_t>(f.steps[i]));
      }
      terms += ")";
    }
    if (!f.kind_prefixes.empty()) {
      // GLOB, not LIKE: '_' is common in kinds and a LIKE wildcard. Kinds hold no GLOB
      // metacharacters (the API checks prefixes like kinds).
      terms += " AND (";
      for (std::size_t i = 0; i < f.kind_prefixes.size(); ++i) {
        terms += (i ? " OR " : "") + std::string("kind = ") + Param(f.kind_prefixes[i]) +
                 " OR kind GLOB " + Param(f.kind_prefixes[i] + ".*");
      }
      terms += ")";
    }
    if (!f.sources.empty()) {
      terms += " AND source IN (";
      for (std::size_t i = 0; i < f.sources.size(); ++i) {
        terms += (i ? ", " : "") + Param(f.sources[i]);
      }
      terms += ")";
    }
    if (f.start) terms += " AND occurred_at >= " + Param(f.start->time_since_epoch().count());
    if (f.end) terms += " AND occurred_at < " + Param(f.end->time_since_epoch().count());
    if (!f.matter_id.empty()) terms += " AND matter_id = " + Param(f.matter_id);
    if (f.initiative != sdk::Initiative::kUnspecified) {
      terms += " AND initiative = " + Param(static_cast<std::int64_t>(f.initiative));
    }
    if (f.contacts_only) terms += " AND contact = 1";
    return terms;
  }

 private:
  Sql& sql_;
};

}  // namespace

Sql TimelineSql(const TimelineQuery& q) {
  Sql sql;
  Builder b(sql);
  const std::string customer = b.Param(q.customer);
  const std::string limit = b.Param(static_cast<std::int64_t>(q.limit));
  const std::string terms = b.Terms(q.filter);
  const char* beyond = q.oldest_first ? ">" : "<";
  const std::string order = q.oldest_first ? " ORDER BY occurred_at ASC, id ASC LIMIT "
                                           : " ORDER BY occurred_at DESC, id DESC LIMIT ";
  if (!q.after) {
    sql.text = std::string(kEventColumns) + " WHERE customer = " + customer + terms + order + limit;
    return sql;
  }
  // Not `(occurred_at, id) < (?, ?)`: SQLite 3.40 seeks such a row value only on occurred_at
  // when id is the rowid, then filters every event sharing the cursor's time. Split in two,
  // each half seeks the index exactly, and the merge keeps the index order.
  const std::string time = b.Param(q.after->occurred_at.time_since_epoch().count());
  const std::string id = b.Param(q.after->id);
  sql.text = std::string(kEventColumns) + " WHERE customer = " + customer +
             " AND occurred_at = " + time + " AND id " + beyond + " " + id + terms + " UNION ALL " +
             kEventColumns + " WHERE customer = " + customer + " AND occurred_at " + beyond + " " +
             time + terms + order + limit;
  return sql;
}

Sql ChangesSql(const ChangesQuery& q) {
  Sql sql;
  Builder b(sql);
  sql.text = std::string(kEventColumns) + " WHERE id > " + b.Param(q.after_id);
  if (q.customer != 0) sql.text += " AND customer = " + b.Param(q.customer);
  sql.text += b.Terms(q.filter);
  sql.text += " ORDER BY id LIMIT " + b.Param(static_cast<std::int64_t>(q.limit));
  return sql;
}

Sql QuarantineSql(const QuarantineQuery& q) {
  Sql sql;
  Builder b(sql);
  sql.text = "SELECT id, source, origin, reason, raw, quarantined_at FROM quarantine WHERE 1";
  if (!q.source.empty()) sql.text += " AND source = " + b.Param(q.source);
  if (q.before_id) sql.text += " AND id < " + b.Param(*q.before_id);
  sql.text += " ORDER BY id DESC LIMIT " + b.Param(static_cast<std::int64_t>(q.limit));
  return sql;
}

Sql AuditSql(const AuditQuery& q) {
  Sql sql;
  Builder b(sql);
  sql.text = "SELECT id, at, caller, actor, method, arguments, result FROM audit WHERE 1";
  if (q.before_id) sql.text += " AND id < " + b.Param(*q.before_id);
  sql.text += " ORDER BY id DESC LIMIT " + b.Param(static_cast<std::int64_t>(q.limit));
  return sql;
}

}  // namespace propbridge::store
