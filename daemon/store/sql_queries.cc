#include "daemon/store/sql_queries.h"

namespace propbridge::store {
namespace {

constexpr const char* kEventColumns =
    "SELECT id, customer, occurred_at, ingested_at, source, source_event_id, step, kind, "
    "initiative, contact, channel, matter_id, matter_state, summary, attributes, identifiers "
    "FROM events";

class Builder {
 public:
  Builder(Sql& sql, SqlDialect dialect) : sql_(sql), dialect_(dialect) {}

  std::string Param(std::variant<std::int64_t, std::string> value) {
    sql_.params.push_back(std::move(value));
    return (dialect_ == SqlDialect::kSqlite ? "?" : "$") + std::to_string(sql_.params.size());
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
      terms += " AND (";
      for (std::size_t i = 0; i < f.kind_prefixes.size(); ++i) {
        terms += (i ? " OR " : "") + std::string("kind = ") + Param(f.kind_prefixes[i]) + " OR " +
                 KindBelow(f.kind_prefixes[i]);
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
    if (f.contacts_only)
      terms += dialect_ == SqlDialect::kSqlite ? " AND contact = 1" : " AND contact";
    return terms;
  }

 private:
  // A kind below `prefix`: "prefix." and more. SQLite: GLOB, not LIKE, for '_' is common in
  // kinds and a LIKE wildcard; kinds hold no GLOB metacharacters (the API checks prefixes like
  // kinds). PostgreSQL: starts_with, which has no metacharacters at all.
  std::string KindBelow(const std::string& prefix) {
    if (dialect_ == SqlDialect::kSqlite) return "kind GLOB " + Param(prefix + ".*");
    return "starts_with(kind, " + Param(prefix + ".") + ")";
  }

  Sql& sql_;
  const SqlDialect dialect_;
};

}  // namespace

Sql TimelineSql(const TimelineQuery& q, SqlDialect dialect) {
  Sql sql;
  Builder b(sql, dialect);
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
  const std::string time = b.Param(q.after->occurred_at.time_since_epoch().count());
  const std::string id = b.Param(q.after->id);
  if (dialect == SqlDialect::kPostgresql) {
    // PostgreSQL seeks a row comparison on the index's trailing columns exactly.
    sql.text = std::string(kEventColumns) + " WHERE customer = " + customer +
               " AND (occurred_at, id) " + beyond + " (" + time + ", " + id + ")" + terms + order +
               limit;
    return sql;
  }
  // Not `(occurred_at, id) < (?, ?)`: SQLite 3.40 seeks such a row value only on occurred_at
  // when id is the rowid, then filters every event sharing the cursor's time. Split in two,
  // each half seeks the index exactly, and the merge keeps the index order.
  sql.text = std::string(kEventColumns) + " WHERE customer = " + customer +
             " AND occurred_at = " + time + " AND id " + beyond + " " + id + terms + " UNION ALL " +
             kEventColumns + " WHERE customer = " + customer + " AND occurred_at " + beyond + " " +
             time + terms + order + limit;
  return sql;
}

Sql ChangesSql(const ChangesQuery& q, SqlDialect dialect) {
  Sql sql;
  Builder b(sql, dialect);
  sql.text = std::string(kEventColumns) + " WHERE id > " + b.Param(q.after_id);
  if (q.customer != 0) sql.text += " AND customer = " + b.Param(q.customer);
  sql.text += b.Terms(q.filter);
  sql.text += " ORDER BY id LIMIT " + b.Param(static_cast<std::int64_t>(q.limit));
  return sql;
}

Sql QuarantineSql(const QuarantineQuery& q, SqlDialect dialect) {
  Sql sql;
  Builder b(sql, dialect);
  sql.text = "SELECT id, source, origin, reason, raw, quarantined_at FROM quarantine WHERE true";
  if (!q.source.empty()) sql.text += " AND source = " + b.Param(q.source);
  if (q.before_id) sql.text += " AND id < " + b.Param(*q.before_id);
  sql.text += " ORDER BY id DESC LIMIT " + b.Param(static_cast<std::int64_t>(q.limit));
  return sql;
}

Sql AuditSql(const AuditQuery& q, SqlDialect dialect) {
  Sql sql;
  Builder b(sql, dialect);
  sql.text = "SELECT id, at, caller, actor, method, arguments, result FROM audit WHERE true";
  if (q.before_id) sql.text += " AND id < " + b.Param(*q.before_id);
  sql.text += " ORDER BY id DESC LIMIT " + b.Param(static_cast<std::int64_t>(q.limit));
  return sql;
}

}  // namespace propbridge::store
