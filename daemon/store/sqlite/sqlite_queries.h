// The SQL of the store's reads, built from a query: the filter becomes WHERE terms, the
// cursor a keyset condition that seeks the (customer, occurred_at, id) index. Shared with the
// tests, which check each query's plan.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "daemon/store/store.h"

namespace propbridge::store {

struct Sql {
  std::string text;
  std::vector<std::variant<std::int64_t, std::string>> params;  // ?1, ?2, ... in order
};

// Selects the events table's columns in the order ViewRow (sqlite_store.cc) reads them.
Sql TimelineSql(const TimelineQuery& query);
Sql ChangesSql(const ChangesQuery& query);
// Selects id, source, origin, reason, raw, quarantined_at.
Sql QuarantineSql(const QuarantineQuery& query);
// Selects id, at, caller, actor, method, arguments, result.
Sql AuditSql(const AuditQuery& query);

}  // namespace propbridge::store
