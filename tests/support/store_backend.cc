#include "tests/support/store_backend.h"

#include <libpq-fe.h>
#include <sqlite3.h>

#include <utility>

#include "daemon/store/postgresql/pg_store.h"
#include "daemon/store/sqlite/sqlite_store.h"
#include "tests/support/postgres_server.h"

namespace propbridge::testing {
namespace {

// The test binary's one server, started by the first test that needs it and stopped at exit.
// Tests run on the main thread, which outlives it, as PostgresServer requires.
PostgresServer* SharedServer() {
  static std::string error;
  static std::unique_ptr<PostgresServer> server = PostgresServer::Start(error);
  EXPECT_NE(server, nullptr) << error;
  return server.get();
}

// A result's error, or empty when `result` succeeded.
std::string PgFailure(PGresult* result) {
  const ExecStatusType status = PQresultStatus(result);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return "";
  const char* message = PQresultErrorMessage(result);
  return message != nullptr && *message != '\0' ? message : "failed";
}

void SqliteExec(const std::filesystem::path& path, const std::string& sql,
                const std::vector<std::string>& params = {}) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* stmt = nullptr;
  const int prepared = sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr);
  EXPECT_EQ(prepared, SQLITE_OK) << sql << ": " << sqlite3_errmsg(db);
  for (std::size_t i = 0; i < params.size() && prepared == SQLITE_OK; ++i) {
    sqlite3_bind_text(stmt, static_cast<int>(i + 1), params[i].data(),
                      static_cast<int>(params[i].size()), SQLITE_TRANSIENT);
  }
  if (prepared == SQLITE_OK) {
    EXPECT_EQ(sqlite3_step(stmt), SQLITE_DONE) << sql << ": " << sqlite3_errmsg(db);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

}  // namespace

std::string BackendName(Backend backend) {
  return backend == Backend::kSqlite ? "sqlite" : "postgresql";
}

void PrintTo(Backend backend, std::ostream* out) { *out << BackendName(backend); }

std::string BackendParamName(const ::testing::TestParamInfo<Backend>& info) {
  return BackendName(info.param);
}

StoreBackend::StoreBackend(Backend backend) : backend_(backend) {
  if (backend_ != Backend::kPostgresql) return;
  PostgresServer* server = SharedServer();
  if (server == nullptr) return;
  static int databases = 0;
  database_ = "store_" + std::to_string(++databases);
  EXPECT_TRUE(server->CreateDatabase(database_));
}

PostgresServer* StoreBackend::postgres_server() const { return SharedServer(); }

Result<std::unique_ptr<store::Store>> StoreBackend::TryOpen(store::StoreOptions options) {
  if (backend_ == Backend::kSqlite) {
    options.path = sqlite_file();
    return store::OpenSqliteStore(options);
  }
  PostgresServer* server = SharedServer();
  if (server == nullptr) return Unavailable("the test's PostgreSQL server did not start");
  store::PgStoreOptions pg;
  pg.connection = server->ConnectionString(database_);
  pg.password_file = server->password_file();
  pg.reader_connections = options.reader_connections;
  pg.scan_connections = options.scan_connections;
  pg.connection_wait = options.connection_wait;
  pg.identity = std::move(options.identity);
  return store::OpenPostgresStore(pg);
}

std::unique_ptr<store::Store> StoreBackend::Open(store::StoreOptions options) {
  auto opened = TryOpen(std::move(options));
  if (!opened.ok()) {
    ADD_FAILURE() << "open the " << BackendName(backend_)
                  << " store: " << opened.status().ToString();
    return nullptr;
  }
  return std::move(opened).value();
}

void StoreBackend::Exec(const std::string& sql) {
  if (backend_ == Backend::kSqlite) {
    SqliteExec(sqlite_file(), sql);
    return;
  }
  PostgresServer* server = SharedServer();
  ASSERT_NE(server, nullptr);
  PgConnection connection = server->Connect(database_);
  ASSERT_NE(connection, nullptr);
  PgResult result(PQexec(connection.get(), sql.c_str()), &PQclear);
  EXPECT_EQ(PgFailure(result.get()), "") << sql;
}

void StoreBackend::RefuseInserts(const std::string& table, const std::string& condition,
                                 const std::string& message) {
  if (backend_ == Backend::kSqlite) {
    Exec("CREATE TRIGGER refuse_" + table + " BEFORE INSERT ON " + table + " WHEN " + condition +
         " BEGIN SELECT RAISE(ABORT, '" + message + "'); END");
    return;
  }
  Exec("CREATE FUNCTION refuse_" + table + "() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF " +
       condition + " THEN RAISE EXCEPTION '" + message +
       "'; END IF; RETURN NEW; END $$; CREATE TRIGGER refuse_" + table + " BEFORE INSERT ON " +
       table + " FOR EACH ROW EXECUTE FUNCTION refuse_" + table + "()");
}

void StoreBackend::AllowInserts(const std::string& table) {
  if (backend_ == Backend::kSqlite) {
    Exec("DROP TRIGGER refuse_" + table);
    return;
  }
  Exec("DROP TRIGGER refuse_" + table + " ON " + table + "; DROP FUNCTION refuse_" + table);
}

bool StoreBackend::SetEventAttributes(const std::string& source_event_id, const std::string& text) {
  constexpr char kSqlite[] = "UPDATE events SET attributes = ?1 WHERE source_event_id = ?2";
  if (backend_ == Backend::kSqlite) {
    SqliteExec(sqlite_file(), kSqlite, {text, source_event_id});
    return true;
  }
  PostgresServer* server = SharedServer();
  if (server == nullptr) return false;
  PgConnection connection = server->Connect(database_);
  if (connection == nullptr) return false;
  const char* values[] = {text.c_str(), source_event_id.c_str()};
  const int lengths[] = {static_cast<int>(text.size()), static_cast<int>(source_event_id.size())};
  PgResult result(
      PQexecParams(connection.get(), "UPDATE events SET attributes = $1 WHERE source_event_id = $2",
                   2, nullptr, values, lengths, nullptr, 0),
      &PQclear);
  const char* sqlstate = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
  if (sqlstate != nullptr && std::string(sqlstate) == "22021") return false;  // not UTF-8
  EXPECT_EQ(PgFailure(result.get()), "");
  return true;
}

}  // namespace propbridge::testing
