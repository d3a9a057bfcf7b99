// The small pieces every part of the SQLite store uses: owning handles, prepared statements,
// parameter binding, column reading and errors that become a Status. A statement runs with
// StepRows, or StepDone when it returns no rows: they bind, step, reset and report alike.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "daemon/store/event.h"
#include "propbridge/sdk/status.h"

namespace propbridge::store {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;

struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// The Status code for an SQLite result code: BUSY is UNAVAILABLE, FULL is RESOURCE_EXHAUSTED,
// INTERRUPT is CANCELLED...
StatusCode CodeFor(int rc);

// Call right after the failing call: the connection keeps only its latest error message. With
// `db` null, SQLite's general text for `rc`.
Status SqliteError(sqlite3* db, int rc, std::string_view what);

// `status`, from opening the database at `path`, saying so.
Status OpenFailed(const std::string& path, const Status& status);

Status Exec(sqlite3* db, const char* sql, std::string_view what);

// A persistent prepared statement.
Result<Stmt> Prepare(sqlite3* db, const char* sql, std::string_view what);

// A statement for PrepareAll to prepare into `*stmt`; `what` names it in errors, the SQL
// itself when null.
struct StatementToPrepare {
  Stmt* stmt;
  const char* sql;
  const char* what = nullptr;
};
// Prepares each statement of a connection's fixed set, stopping at the first that fails.
Status PrepareAll(sqlite3* db, std::initializer_list<StatementToPrepare> statements);

// Opens a connection with extended result codes and a busy timeout.
Result<Db> OpenConnection(const std::string& path, int flags);

// Resets the statement and drops its bindings on scope exit, so that a reader's snapshot
// ends with the read and no statement keeps pointers into the caller's strings.
class ScopedReset {
 public:
  explicit ScopedReset(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ScopedReset(const ScopedReset&) = delete;
  ScopedReset& operator=(const ScopedReset&) = delete;
  ~ScopedReset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

 private:
  sqlite3_stmt* stmt_;
};

// Text or blob, NULL as empty. The view is valid until the statement's next step or reset.
std::string_view ColumnView(sqlite3_stmt* stmt, int column);
std::string ColumnText(sqlite3_stmt* stmt, int column);
Micros ColumnTime(sqlite3_stmt* stmt, int column);
// nullopt for NULL.
std::optional<Micros> ColumnOptionalTime(sqlite3_stmt* stmt, int column);

// Bytes to bind as a blob rather than as text.
struct SqlBlob {
  std::string_view bytes;
};

// A statement parameter: an integer, text, a blob, a time (bound as its microseconds since the
// epoch) or NULL. Text and blobs are bound without a copy: they must outlive the next reset.
using SqlParam = std::variant<std::int64_t, std::string_view, SqlBlob, Micros, std::monostate>;

// Binds `params` to ?1, ?2, ... in order; the result code of the first that fails.
int BindAll(sqlite3_stmt* stmt, std::span<const SqlParam> params);

// Runs `stmt` with `params`, calling `row(stmt)` for each row, and resets it. `row` returns
// a Status (the first error stops the reading) or nothing. `what` names the query in errors.
template <typename Row>
Status StepRows(sqlite3* db, sqlite3_stmt* stmt, std::span<const SqlParam> params,
                std::string_view what, Row row) {
  ScopedReset reset(stmt);
  int rc = BindAll(stmt, params);
  if (rc != SQLITE_OK) return SqliteError(db, rc, what);
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    if constexpr (std::is_void_v<decltype(row(stmt))>) {
      row(stmt);
    } else if (Status s = row(stmt); !s.ok()) {
      return s;
    }
  }
  if (rc != SQLITE_DONE) return SqliteError(db, rc, what);
  return Status::Ok();
}

template <typename Row>
Status StepRows(sqlite3* db, sqlite3_stmt* stmt, std::initializer_list<SqlParam> params,
                std::string_view what, Row row) {
  return StepRows(db, stmt, std::span<const SqlParam>(params.begin(), params.size()), what, row);
}

// Runs a statement that returns no rows.
inline Status StepDone(sqlite3* db, sqlite3_stmt* stmt, std::span<const SqlParam> params,
                       std::string_view what) {
  return StepRows(db, stmt, params, what, [](sqlite3_stmt*) {});
}
inline Status StepDone(sqlite3* db, sqlite3_stmt* stmt, std::initializer_list<SqlParam> params,
                       std::string_view what) {
  return StepDone(db, stmt, std::span<const SqlParam>(params.begin(), params.size()), what);
}

// Prepared statements of one connection by their SQL text, prepared on first use. Used by
// one thread at a time, like its connection.
class StatementCache {
 public:
  explicit StatementCache(sqlite3* db, std::size_t capacity = 64) : db_(db), capacity_(capacity) {}
  Result<sqlite3_stmt*> Get(const std::string& sql, std::string_view what);
  sqlite3* db() const { return db_; }

 private:
  sqlite3* db_;
  std::size_t capacity_;
  std::map<std::string, Stmt, std::less<>> statements_;
};

// The first column of the first row, read with `column`.
template <typename Column>
auto QueryOne(sqlite3* db, const char* sql, std::string_view what, Column column)
    -> Result<decltype(column(nullptr, 0))> {
  auto stmt = Prepare(db, sql, what);
  if (!stmt.ok()) return stmt.status();
  int rc = sqlite3_step(stmt->get());
  if (rc != SQLITE_ROW) return SqliteError(db, rc, what);
  return column(stmt->get(), 0);
}

}  // namespace propbridge::store
