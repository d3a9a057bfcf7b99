// The SQLite store's read-only connections: a Reader is one connection with its statements, a
// ReaderPool lends them out one read transaction at a time, and InterruptOnStop stops a long
// read on one when its caller gives up.
#pragma once

#include <sqlite3.h>

#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/store/connection_pool.h"
#include "daemon/store/sqlite/sqlite_support.h"
#include "propbridge/sdk/status.h"

namespace propbridge::store {

// A read-only connection with its own statements. Used by one thread at a time.
struct Reader {
  Db db;
  Stmt begin;
  Stmt end;
  Stmt checkpoint;
  Stmt checkpoints;
  // Queries built from filters, by their text; a filter's shape repeats, its values do not.
  std::optional<StatementCache> built;

  Result<sqlite3_stmt*> Statement(const std::string& sql, std::string_view what) {
    return built->Get(sql, what);
  }
};

// A new read-only connection to the store's database at `path`, its statements prepared.
Result<std::unique_ptr<Reader>> OpenReader(const std::string& path);

// Hands out read-only connections as ConnectionPool does (a bounded wait, then UNAVAILABLE).
// Thread-safe. Owns the connections; every lease must end before the pool is destroyed.
//
// A lease is one read transaction: every query made with it sees the same committed state,
// and the connection takes the WAL's read lock once rather than once per statement (which
// is a quarter of what a small read costs).
class ReaderPool {
 public:
  // A connection in its read transaction, which ends with the lease.
  class Lease {
   public:
    explicit Lease(ConnectionPool<Reader>::Lease lease) : lease_(std::move(lease)) {}
    Lease(Lease&& other) noexcept
        : lease_(std::move(other.lease_)), reading_(std::exchange(other.reading_, false)) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    Reader* operator->() const { return lease_.operator->(); }
    Reader& operator*() const { return *lease_; }

   private:
    ConnectionPool<Reader>::Lease lease_;
    bool reading_ = true;  // false once moved from
  };

  using Options = ConnectionPool<Reader>::Options;

  explicit ReaderPool(Options options) : pool_(std::move(options)) {}

  // A connection, or UNAVAILABLE when none came free within the wait.
  Result<Lease> Acquire();

 private:
  ConnectionPool<Reader> pool_;
};

// Interrupts the statements of a connection once `stop` is requested, while it lives: SQLite
// asks every few thousand steps of its virtual machine, and the statement running then fails
// with SQLITE_INTERRUPT. Declare it after the lease of the connection.
class InterruptOnStop {
 public:
  InterruptOnStop(sqlite3* db, std::stop_token stop);
  InterruptOnStop(const InterruptOnStop&) = delete;
  InterruptOnStop& operator=(const InterruptOnStop&) = delete;
  ~InterruptOnStop();

 private:
  static int Stopped(void* self);

  sqlite3* db_;
  std::stop_token stop_;
};

}  // namespace propbridge::store
