#include "daemon/store/sqlite/sqlite_support.h"

namespace propbridge::store {
namespace {

// Long enough to ride out another process's checkpoint or a reader's WAL recovery.
constexpr int kBusyTimeoutMs = 5000;

}  // namespace

StatusCode CodeFor(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return StatusCode::kUnavailable;
    case SQLITE_FULL:
      return StatusCode::kResourceExhausted;
    case SQLITE_CONSTRAINT:
    case SQLITE_TOOBIG:
      return StatusCode::kInvalidArgument;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_NOTADB:
      return StatusCode::kFailedPrecondition;
    case SQLITE_CORRUPT:
      return StatusCode::kDataLoss;
    case SQLITE_INTERRUPT:  // a read stopped because its caller gave up
      return StatusCode::kCancelled;
    default:
      return StatusCode::kInternal;
  }
}

Status SqliteError(sqlite3* db, int rc, std::string_view what) {
  const char* message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return Status(CodeFor(rc), std::string(what) + ": " + message);
}

Status OpenFailed(const std::string& path, const Status& status) {
  return Status(status.code(), "open " + path + ": " + status.message());
}

Status Exec(sqlite3* db, const char* sql, std::string_view what) {
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &error);
  if (rc == SQLITE_OK) return Status::Ok();
  Status status(CodeFor(rc),
                std::string(what) + ": " + (error != nullptr ? error : sqlite3_errstr(rc)));
  sqlite3_free(error);
  return status;
}

Result<Stmt> Prepare(sqlite3* db, const char* sql, std::string_view what) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return SqliteError(db, rc, std::string("prepare ") + std::string(what));
  }
  return Stmt(stmt);
}

Status PrepareAll(sqlite3* db, std::initializer_list<StatementToPrepare> statements) {
  for (const StatementToPrepare& s : statements) {
    auto stmt = Prepare(db, s.sql, s.what != nullptr ? s.what : s.sql);
    if (!stmt.ok()) return stmt.status();
    *s.stmt = std::move(stmt).value();
  }
  return Status::Ok();
}

std::string_view ColumnView(sqlite3_stmt* stmt, int column) {
  const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt, column));
  if (data == nullptr) return {};
  return std::string_view(data, static_cast<std::size_t>(sqlite3_column_bytes(stmt, column)));
}

std::string ColumnText(sqlite3_stmt* stmt, int column) {
  return std::string(ColumnView(stmt, column));
}

Micros ColumnTime(sqlite3_stmt* stmt, int column) {
  return Micros(std::chrono::microseconds(sqlite3_column_int64(stmt, column)));
}

std::optional<Micros> ColumnOptionalTime(sqlite3_stmt* stmt, int column) {
  if (sqlite3_column_type(stmt, column) == SQLITE_NULL) return std::nullopt;
  return ColumnTime(stmt, column);
}

Result<Db> OpenConnection(const std::string& path, int flags) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) return SqliteError(db.get(), rc, "open " + path);
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), kBusyTimeoutMs);
  return db;
}

int BindAll(sqlite3_stmt* stmt, std::span<const SqlParam> params) {
  int index = 1;
  for (const SqlParam& param : params) {
    int rc = SQLITE_OK;
    if (const auto* number = std::get_if<std::int64_t>(&param)) {
      rc = sqlite3_bind_int64(stmt, index, *number);
    } else if (const auto* text = std::get_if<std::string_view>(&param)) {
      rc = sqlite3_bind_text64(stmt, index, text->data(), text->size(), SQLITE_STATIC, SQLITE_UTF8);
    } else if (const auto* blob = std::get_if<SqlBlob>(&param)) {
      rc = sqlite3_bind_blob64(stmt, index, blob->bytes.data(), blob->bytes.size(), SQLITE_STATIC);
    } else if (const auto* time = std::get_if<Micros>(&param)) {
      rc = sqlite3_bind_int64(stmt, index, time->time_since_epoch().count());
    } else {
      rc = sqlite3_bind_null(stmt, index);
    }
    if (rc != SQLITE_OK) return rc;
    ++index;
  }
  return SQLITE_OK;
}

Result<sqlite3_stmt*> StatementCache::Get(const std::string& sql, std::string_view what) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) return it->second.get();
  if (statements_.size() >= capacity_) statements_.clear();
  auto stmt = Prepare(db_, sql.c_str(), what);
  if (!stmt.ok()) return stmt.status();
  return statements_.emplace(sql, std::move(stmt).value()).first->second.get();
}

}  // namespace propbridge::store
