// A PostgreSQL server of a test's own: a new cluster in a temporary folder, listening on a free
// port of 127.0.0.1 only (and on a Unix socket inside that folder), with fsync on; stopped, and
// its folder removed, with the object. PostgreSQL refuses to run as root, so when the test runs
// as root (CI does) the server runs as the user postgres, or nobody where there is no postgres.
//
// Not thread-safe: one thread starts, restarts and stops it, and that thread must outlive it,
// because the server is shut down at once when the thread that started it ends; that is what
// keeps a crashed or killed test binary from leaving a server behind. Connecting is safe from any
// thread.
#pragma once

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace propbridge::testing {

// A libpq connection, and a result, freed with the object.
using PgConnection = std::unique_ptr<PGconn, decltype(&PQfinish)>;
using PgResult = std::unique_ptr<PGresult, decltype(&PQclear)>;

class PostgresServer {
 public:
  // Creates a cluster (UTF8, C collation, password authentication) whose superuser is user(),
  // starts its server and creates database() in it. Returns nullptr, with the reason and the
  // server's log in `error`, when PostgreSQL is not installed or the server does not start.
  static std::unique_ptr<PostgresServer> Start(std::string& error);

  // A fast shutdown (open sessions are ended, what is committed is checkpointed), then the
  // folder goes.
  ~PostgresServer();

  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // The server keeps its port across Restart().
  int port() const { return port_; }
  const std::string& user() const { return user_; }
  const std::string& password() const { return password_; }
  // A file that holds password() and nothing else, for what reads its password from a file.
  const std::filesystem::path& password_file() const { return password_file_; }
  // The database that Start() created for the test.
  const std::string& database() const { return database_; }

  // The postmaster's process id; 0 while the server is down.
  pid_t pid() const { return pid_; }

  // "host=127.0.0.1 port=<port> dbname=<database> user=<user>", without the password; of
  // database() unless another database is named.
  std::string ConnectionString(const std::string& database = "") const;

  // A connection as user(), with the password; one that fails fails the test and gives nullptr.
  PgConnection Connect(const std::string& database = "") const;

  [[nodiscard]] ::testing::AssertionResult CreateDatabase(const std::string& name) const;

  // Ends the server the way a crash does: the postmaster and every process it started get
  // SIGKILL at once, so nothing is shut down cleanly; what was committed comes back through
  // recovery when Restart() starts the server again. Returns once they are gone.
  void Kill();

  // Stops the server if it runs, as the destructor does, and starts it again on the same port
  // and data; fails, with the server's log, if it does not start.
  [[nodiscard]] ::testing::AssertionResult Restart();

  // What initdb and the server have written so far.
  std::string Log() const;

 private:
  // Who runs initdb and the server.
  struct Account {
    bool switch_to = false;  // instead of this process's user, which is root
    uid_t uid = 0;
    gid_t gid = 0;
    std::string name;
  };

  PostgresServer(std::filesystem::path bin_dir, Account account);

  ::testing::AssertionResult CreateCluster();
  // Runs the postmaster on port_ and waits until it accepts connections.
  ::testing::AssertionResult Launch();
  void Stop();
  // Runs `argv` as account_, in dir_, its output appended to the log; -1 if it cannot.
  pid_t Spawn(std::vector<std::string> argv) const;

  // Constant after construction.
  TempDir dir_;
  const std::filesystem::path bin_dir_;
  const Account account_;
  const std::filesystem::path data_dir_;
  const std::filesystem::path log_file_;
  const std::filesystem::path password_file_;
  const std::string user_ = "propbridge";
  const std::string database_ = "propbridge_test";
  const std::string password_;

  // Set as the server starts, restarts and stops.
  int port_ = 0;
  pid_t pid_ = 0;
};

}  // namespace propbridge::testing
