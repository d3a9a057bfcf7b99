#include "daemon/store/postgresql/pg_schema.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <chrono>
#include <cstdint>
#include <iterator>

namespace propbridge::store {
namespace {

constexpr PgMigration kMigrations[] = {{1, kPgSchemaVersion1}};
static_assert(std::size(kMigrations) == kPgSchemaVersion);

// The advisory lock migrations run under: "pbschema" in ASCII. Advisory locks belong to one
// database, so stores in other databases of the server do not wait for it.
constexpr std::int64_t kMigrationLock = 0x7062736368656d61;

// Made before any step, as what says which steps a database lacks.
constexpr std::string_view kSchemaVersionTable = R"sql(
CREATE TABLE IF NOT EXISTS schema_version (
  version INTEGER PRIMARY KEY,
  applied_at BIGINT NOT NULL -- microseconds since the epoch
))sql";

constexpr std::string_view kPageTokenKeyName = "page_token";

PgTime Now() {
  return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
}

// The steps the database lacks, and their rows in schema_version.
Status Migrate(PgConnection& connection) {
  int version = 0;
  std::string database;
  Status read =
      connection.Query("SELECT COALESCE(max(version), 0), current_database() FROM schema_version",
                       {}, "read the schema version", [&](const PgRow& row) {
                         version = static_cast<int>(row.Int64(0));
                         database = row.Text(1);
                       });
  if (!read.ok()) return read;
  if (version > kPgSchemaVersion) {
    return FailedPrecondition("PostgreSQL database \"" + database + "\" has schema version " +
                              std::to_string(version) + ", which is newer than this propbridged (" +
                              std::to_string(kPgSchemaVersion) + "); upgrade propbridged");
  }
  for (const PgMigration& step : kMigrations) {
    if (step.version <= version) continue;
    const std::string what = "migrate PostgreSQL database \"" + database + "\" to schema version " +
                             std::to_string(step.version);
    if (Status s = connection.ExecScript(step.sql, what); !s.ok()) return s;
    Result<std::int64_t> recorded =
        connection.Exec("INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)",
                        {std::int64_t{step.version}, Now()}, what);
    if (!recorded.ok()) return recorded.status();
  }
  return Status::Ok();
}

// The database's page-token key, made here if it has none. Whoever inserts first wins; the
// others read the key it stored.
Result<std::string> PageTokenKey(PgConnection& connection) {
  std::string fresh(kPageTokenKeyBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(fresh.data()), static_cast<int>(fresh.size())) !=
      1) {
    return Internal("the system's random generator failed");
  }
  Result<std::int64_t> inserted = connection.Exec(
      "INSERT INTO store_keys (name, key, created_at) VALUES ($1, $2, $3) "
      "ON CONFLICT (name) DO NOTHING",
      {kPageTokenKeyName, PgBytes{fresh}, Now()}, "store a page-token key");
  OPENSSL_cleanse(fresh.data(), fresh.size());
  if (!inserted.ok()) return inserted.status();
  std::string key;
  bool found = false;
  Status read = connection.Query("SELECT key FROM store_keys WHERE name = $1", {kPageTokenKeyName},
                                 "read the page-token key", [&](const PgRow& row) {
                                   key = row.Bytes(0);
                                   found = true;
                                 });
  if (!read.ok()) return read;
  if (!found || key.size() != kPageTokenKeyBytes) {
    return DataLoss("the page-token key in store_keys is " +
                    (found ? std::to_string(key.size()) + " bytes" : std::string("missing")) +
                    ", not " + std::to_string(kPageTokenKeyBytes) + " bytes");
  }
  return key;
}

}  // namespace

std::span<const PgMigration> PgMigrations() { return kMigrations; }

Result<PgDatabase> PreparePgDatabase(PgConnection& connection) {
  PgDatabase database;
  // Read committed, so that each statement after the lock sees what the daemon that held the
  // lock before committed; a snapshot taken before the lock would not.
  Status prepared = connection.Transaction(
      [&]() -> Status {
        Result<std::int64_t> locked = connection.Exec("SELECT pg_advisory_xact_lock($1)",
                                                      {kMigrationLock}, "take the schema lock");
        if (!locked.ok()) return locked.status();
        if (Status s = connection.ExecScript(kSchemaVersionTable, "create schema_version");
            !s.ok()) {
          return s;
        }
        if (Status s = Migrate(connection); !s.ok()) return s;
        Result<std::string> key = PageTokenKey(connection);
        if (!key.ok()) return key.status();
        database.schema_version = kPgSchemaVersion;
        database.page_token_key = std::move(key).value();
        return Status::Ok();
      },
      "prepare the PostgreSQL database", PgIsolation::kReadCommitted);
  if (!prepared.ok()) return prepared;
  return database;
}

}  // namespace propbridge::store
