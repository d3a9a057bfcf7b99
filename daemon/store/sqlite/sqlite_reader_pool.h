// The SQLite store's read-only connections: a Reader is one connection with its statements, a
// ReaderPool lends them out one read transaction at a time, and InterruptOnStop stops a long
// read on one when its caller gives up.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/store/sqlite/sqlite_support.h"
#include "daemon/sync/mutex.h"
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

// Hands out read-only connections, waiting a bounded time while all of them are lent.
// Thread-safe. Owns the connections; every lease must end before the pool is destroyed.
//
// A lease is one read transaction: every query made with it sees the same committed state,
// and the connection takes the WAL's read lock once rather than once per statement (which
// is a quarter of what a small read costs).
class ReaderPool {
 public:
  class Lease {
   public:
    Lease(ReaderPool* pool, Reader* reader) : pool_(pool), reader_(reader) {}
    Lease(Lease&& other) noexcept
        : pool_(std::exchange(other.pool_, nullptr)), reader_(other.reader_) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (pool_ != nullptr) pool_->Return(reader_);
    }
    Reader* operator->() const { return reader_; }
    Reader& operator*() const { return *reader_; }

   private:
    ReaderPool* pool_;
    Reader* reader_;
  };

  struct Options {
    std::string kind;  // names the connections in errors: "reader", "scan"
    std::vector<std::unique_ptr<Reader>> readers;
    std::chrono::milliseconds wait;  // for a free connection, before UNAVAILABLE
  };

  explicit ReaderPool(Options options);

  // A connection, or UNAVAILABLE when none came free within the wait.
  Result<Lease> Acquire() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Return(Reader* reader) ABSL_LOCKS_EXCLUDED(mu_);

  // Constant after construction.
  const std::string kind_;
  const std::chrono::milliseconds wait_;
  const std::vector<std::unique_ptr<Reader>> readers_;

  sync::Mutex mu_;
  std::condition_variable available_;
  std::vector<Reader*> idle_ ABSL_GUARDED_BY(mu_);
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
