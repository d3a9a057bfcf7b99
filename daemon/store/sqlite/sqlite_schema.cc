#include "daemon/store/sqlite/sqlite_schema.h"

#include "daemon/store/sqlite/sqlite_support.h"

namespace propbridge::store {

Status PrepareDatabase(sqlite3* db, const std::string& path) {
  auto version = QueryOne(db, "PRAGMA user_version", "read schema version", sqlite3_column_int64);
  if (!version.ok()) return OpenFailed(path, version.status());
  if (*version > kSqliteSchemaVersion) {
    return FailedPrecondition("open " + path + ": its schema version is " +
                              std::to_string(*version) + " but this propbridged knows only up to " +
                              std::to_string(kSqliteSchemaVersion) +
                              "; it was written by a newer propbridged");
  }
  auto mode = QueryOne(db, "PRAGMA journal_mode = WAL", "set journal_mode=WAL", ColumnText);
  if (!mode.ok()) return OpenFailed(path, mode.status());
  if (*mode != "wal") {
    return FailedPrecondition("open " + path + ": journal_mode stays '" + *mode +
                              "' instead of 'wal'");
  }
  if (Status s = Exec(db, "PRAGMA synchronous = FULL", "set synchronous=FULL"); !s.ok()) {
    return OpenFailed(path, s);
  }
  if (*version == kSqliteSchemaVersion) return Status::Ok();
  // A new database, or one of an older version: the schema's statements create what is
  // missing and leave what is there.
  if (*version != 0 && *version < kOldestUpgradableSchemaVersion) {
    return FailedPrecondition("open " + path + ": its schema version is " +
                              std::to_string(*version) +
                              ", from a development build before customers were resolved;"
                              " no release wrote it, so move it aside and let the sources"
                              " replay into a new one");
  }
  const std::string create = std::string("BEGIN IMMEDIATE;") + kSqliteSchema +
                             "PRAGMA user_version = " + std::to_string(kSqliteSchemaVersion) +
                             ";COMMIT;";
  if (Status s = Exec(db, create.c_str(), *version == 0 ? "create schema" : "upgrade schema");
      !s.ok()) {
    if (sqlite3_get_autocommit(db) == 0) Exec(db, "ROLLBACK", "rollback");
    return OpenFailed(path, s);
  }
  return Status::Ok();
}

}  // namespace propbridge::store
