// A fixed set of a backend's read connections, lent out one read at a time: a read waits a
// bounded time for one to come free and otherwise fails with UNAVAILABLE, rather than blocking
// its caller without limit. Thread-safe. Owns the connections; every lease must end before the
// pool is destroyed.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "daemon/sync/mutex.h"
#include "propbridge/sdk/status.h"

namespace propbridge::store {

template <typename Connection>
class ConnectionPool {
 public:
  // One connection, the lease's alone until it ends.
  class Lease {
   public:
    Lease(ConnectionPool* pool, Connection* connection) : pool_(pool), connection_(connection) {}
    Lease(Lease&& other) noexcept
        : pool_(std::exchange(other.pool_, nullptr)), connection_(other.connection_) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (pool_ != nullptr) pool_->Return(connection_);
    }
    Connection* operator->() const { return connection_; }
    Connection& operator*() const { return *connection_; }

   private:
    ConnectionPool* pool_;
    Connection* connection_;
  };

  struct Options {
    std::string kind;  // names the connections in errors: "reader", "scan"
    std::vector<std::unique_ptr<Connection>> connections;
    std::chrono::milliseconds wait;  // for a free connection, before UNAVAILABLE
  };

  explicit ConnectionPool(Options options)
      : kind_(std::move(options.kind)),
        wait_(options.wait),
        connections_(std::move(options.connections)) {
    for (const auto& connection : connections_) idle_.push_back(connection.get());
  }

  // A connection, or UNAVAILABLE when none came free within the wait.
  Result<Lease> Acquire() ABSL_LOCKS_EXCLUDED(mu_) {
    sync::MutexLock lock(mu_);
    if (!lock.WaitFor(available_, wait_,
                      [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !idle_.empty(); })) {
      return Unavailable("all " + std::to_string(connections_.size()) + " " + kind_ +
                         " connections of the store stayed busy for " +
                         std::to_string(wait_.count()) + " ms; retry shortly");
    }
    Connection* connection = idle_.back();
    idle_.pop_back();
    return Lease(this, connection);
  }

 private:
  void Return(Connection* connection) ABSL_LOCKS_EXCLUDED(mu_) {
    {
      sync::MutexLock lock(mu_);
      idle_.push_back(connection);
    }
    available_.notify_one();
  }

  // Constant after construction.
  const std::string kind_;
  const std::chrono::milliseconds wait_;
  const std::vector<std::unique_ptr<Connection>> connections_;

  sync::Mutex mu_;
  std::condition_variable available_;
  std::vector<Connection*> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace propbridge::store
