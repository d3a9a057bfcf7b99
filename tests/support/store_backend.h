// The Store tests run, unchanged, against every backend: a test takes the backend as its
// parameter, and StoreBackend gives it a fresh store of that backend, a SQLite file in a folder
// of its own or a database of its own on the test binary's one PostgreSQL server (started on
// first use, about two seconds; a test binary's PostgreSQL cases run in one process, so that
// they share it: tests/CMakeLists.txt's POSTGRESQL option). Beside the store, what a test does
// behind its back, in the backend's own SQL: refusing inserts, rewriting a column.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <ostream>
#include <string>

#include "daemon/store/store.h"
#include "propbridge/sdk/status.h"
#include "tests/support/temp_dir.h"

namespace propbridge::testing {

class PostgresServer;

enum class Backend { kSqlite, kPostgresql };

// "sqlite", "postgresql": the suffix of each case's name.
std::string BackendName(Backend backend);
// How GoogleTest (and so ctest's names) shows a case's backend.
void PrintTo(Backend backend, std::ostream* out);

// A place for one store: opened as often as the test likes, always the same store. Not
// thread-safe; the stores it opens are as thread-safe as their backend's.
class StoreBackend {
 public:
  explicit StoreBackend(Backend backend);
  StoreBackend(const StoreBackend&) = delete;
  StoreBackend& operator=(const StoreBackend&) = delete;

  Backend backend() const { return backend_; }
  // The SQLite store's file.
  std::filesystem::path sqlite_file() const { return dir_ / "store.db"; }
  // The PostgreSQL store's server, which the test binary's PostgreSQL cases share (one that
  // stops it starts it again), and its database.
  PostgresServer* postgres_server() const;
  const std::string& postgres_database() const { return database_; }

  // Opens the store with `options` (their path is not used: the place is the backend's; for
  // PostgreSQL, the reader and scan connections, the wait and the identity rules are taken);
  // one that does not open fails the test and gives nullptr.
  std::unique_ptr<store::Store> Open(store::StoreOptions options = {});
  Result<std::unique_ptr<store::Store>> TryOpen(store::StoreOptions options = {});

  // From now on an insert into `table` of a row for which `condition` holds (SQL on the new row,
  // NEW.column) fails with `message`, until AllowInserts.
  void RefuseInserts(const std::string& table, const std::string& condition,
                     const std::string& message);
  void AllowInserts(const std::string& table);

  // Writes `text` as the attributes of the event `source_event_id`, as other hands could.
  // false, changing nothing, when the backend cannot hold such text at all (PostgreSQL's text
  // holds only UTF-8).
  [[nodiscard]] bool SetEventAttributes(const std::string& source_event_id,
                                        const std::string& text);

 private:
  // Runs `sql` on a connection of the test's own.
  void Exec(const std::string& sql);

  const Backend backend_;
  TempDir dir_;           // the SQLite file's folder
  std::string database_;  // the PostgreSQL database
};

// A test of the Store interface, whichever backend holds it: TEST_P, then
// PROPBRIDGE_STORE_BACKENDS(TheTest).
class StoreBackendTest : public ::testing::TestWithParam<Backend> {
 protected:
  StoreBackend backend_{GetParam()};
};

std::string BackendParamName(const ::testing::TestParamInfo<Backend>& info);

#define PROPBRIDGE_STORE_BACKENDS(suite)                                                   \
  INSTANTIATE_TEST_SUITE_P(Backends, suite,                                                \
                           ::testing::Values(::propbridge::testing::Backend::kSqlite,      \
                                             ::propbridge::testing::Backend::kPostgresql), \
                           ::propbridge::testing::BackendParamName)

}  // namespace propbridge::testing
