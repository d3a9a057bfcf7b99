// The SQL of the store's event, quarantine and audit reads, for every SQL backend: the filter
// becomes WHERE terms, the cursor a keyset condition that seeks the (customer, occurred_at, id)
// index. Each backend's dialect differs only in how it spells a parameter, a kind prefix, a
// flag and a keyset seek. Shared with the tests, which check each query's plan.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "daemon/store/store.h"

namespace propbridge::store {

enum class SqlDialect {
  kSqlite,      // ?1, ?2, ...; GLOB for a kind prefix; flags are 0 and 1
  kPostgresql,  // $1, $2, ...; starts_with for a kind prefix; flags are booleans
};

struct Sql {
  std::string text;
  std::vector<std::variant<std::int64_t, std::string>> params;  // ?1 / $1, ?2 / $2, ... in order
};

// Selects the events table's columns in this order: id, customer, occurred_at, ingested_at,
// source, source_event_id, step, kind, initiative, contact, channel, matter_id, matter_state,
// summary, attributes, identifiers.
Sql TimelineSql(const TimelineQuery& query, SqlDialect dialect);
Sql ChangesSql(const ChangesQuery& query, SqlDialect dialect);
// Selects id, source, origin, reason, raw, quarantined_at.
Sql QuarantineSql(const QuarantineQuery& query, SqlDialect dialect);
// Selects id, at, caller, actor, method, arguments, result.
Sql AuditSql(const AuditQuery& query, SqlDialect dialect);

}  // namespace propbridge::store
