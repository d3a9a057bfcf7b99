// Where the API's expensive reads run: scans of many customers, on threads of their own rather
// than gRPC's, so that however many of them clients send, short calls keep their threads. At
// most `threads` scans run at once and at most `max_waiting` more wait their turn; one more is
// refused at once, and so is one more of a client that has its share of those places already. A
// waiting scan holds no thread and can be withdrawn (its call was cancelled or its deadline
// passed). The timeline service keeps one too, for the reads a watch must not make on the ingest
// writer's thread. Thread-safe. Every job must have run or been withdrawn before the queue is
// destroyed.
#pragma once

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "daemon/sync/mutex.h"

namespace propbridge::api {

// The nice value of the queue's threads, above the daemon's: scans are background work, and a
// short call on one of gRPC's threads gets the CPU first when both want it.
inline constexpr int kScanThreadNice = 10;

struct ScanLimits {
  // Scans running at once. Each runs on a store scan connection (StoreOptions::
  // scan_connections); threads beyond those connections wait for one.
  std::size_t threads = 2;
  // Scans waiting for a thread; 0: a scan is refused whenever every thread is busy.
  std::size_t max_waiting = 8;
  // Scans one client (a caller's identity) may have running and waiting at once, so that one
  // client cannot take every place; 0: half of all places, at least 1. Jobs without a client
  // count against the places only.
  std::size_t max_per_client = 0;
};

class ScanQueue {
 public:
  // A job runs on a thread of the queue and returns its answer (or nothing), which the thread
  // runs once the job's place is free again: a client that sends its next scan as soon as it
  // has the answer to the last one finds room for it.
  using Answer = std::function<void()>;
  using Job = std::function<Answer()>;
  using Ticket = std::uint64_t;

  explicit ScanQueue(ScanLimits limits) : limits_(WithShare(limits)) {
    for (std::size_t i = 0; i < limits.threads; ++i) threads_.emplace_back([this] { Work(); });
  }

  // Runs every job already queued, then joins the threads.
  ~ScanQueue() {
    {
      sync::MutexLock lock(mu_);
      stopping_ = true;
    }
    ready_.notify_all();
    for (std::thread& thread : threads_) thread.join();
  }

  ScanQueue(const ScanQueue&) = delete;
  ScanQueue& operator=(const ScanQueue&) = delete;

  ScanLimits limits() const ABSL_LOCKS_EXCLUDED(mu_) {
    sync::MutexLock lock(mu_);
    return limits_;
  }

  // New limits on the places (a reload), for the jobs submitted from now on; the threads stay
  // as many as the queue started with. Jobs already queued keep their places.
  void SetLimits(ScanLimits limits) ABSL_LOCKS_EXCLUDED(mu_) {
    sync::MutexLock lock(mu_);
    limits.threads = limits_.threads;
    limits_ = WithShare(limits);
  }

  // Queues `job` of `client` to run on one of the queue's threads; nullopt when max_waiting
  // jobs wait already, or the client has max_per_client jobs here (it will never run).
  std::optional<Ticket> Submit(Job job, std::string client = {}) ABSL_LOCKS_EXCLUDED(mu_) {
    Ticket ticket;
    {
      sync::MutexLock lock(mu_);
      if (running_ + waiting_.size() >= limits_.threads + limits_.max_waiting ||
          HasShareLocked(client)) {
        return std::nullopt;
      }
      ticket = ++last_ticket_;
      ++per_client_[client];
      waiting_.push_back({ticket, std::move(client), std::move(job)});
    }
    ready_.notify_one();
    return ticket;
  }

  // Whether `client` has all the places one client may have: why Submit refuses it, when it
  // does while the queue has room.
  bool HasShare(const std::string& client) const ABSL_LOCKS_EXCLUDED(mu_) {
    sync::MutexLock lock(mu_);
    return HasShareLocked(client);
  }

  // Takes back a job that has not started: true if it will never run, false if a thread
  // has taken it already (it runs, or ran, to its end).
  bool Withdraw(Ticket ticket) ABSL_LOCKS_EXCLUDED(mu_) {
    sync::MutexLock lock(mu_);
    for (auto it = waiting_.begin(); it != waiting_.end(); ++it) {
      if (it->ticket == ticket) {
        ReleaseLocked(it->client);
        waiting_.erase(it);
        return true;
      }
    }
    return false;
  }

 private:
  void Work() ABSL_LOCKS_EXCLUDED(mu_) {
    // On Linux a nice value belongs to the thread that sets it, not to the whole process.
    setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()),
                getpriority(PRIO_PROCESS, static_cast<id_t>(gettid())) + kScanThreadNice);
    sync::MutexLock lock(mu_);
    while (true) {
      lock.Wait(ready_, [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !waiting_.empty();
      });
      if (waiting_.empty()) return;  // stopping, and nothing is left to run
      Job job = std::move(waiting_.front().job);
      std::string client = std::move(waiting_.front().client);
      waiting_.pop_front();
      ++running_;
      lock.Unlock();
      Answer answer = job();
      job = nullptr;  // whatever the job holds goes before the next one is taken
      lock.Lock();
      --running_;
      ReleaseLocked(client);
      if (answer) {
        lock.Unlock();
        answer();
        answer = nullptr;
        lock.Lock();
      }
    }
  }

  static ScanLimits WithShare(ScanLimits limits) {
    if (limits.max_per_client == 0) {
      limits.max_per_client = std::max<std::size_t>(1, (limits.threads + limits.max_waiting) / 2);
    }
    return limits;
  }

  bool HasShareLocked(const std::string& client) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (client.empty()) return false;
    auto it = per_client_.find(client);
    return it != per_client_.end() && it->second >= limits_.max_per_client;
  }

  void ReleaseLocked(const std::string& client) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = per_client_.find(client);
    if (--it->second == 0) per_client_.erase(it);
  }

  struct Waiting {
    Ticket ticket;
    std::string client;
    Job job;
  };

  mutable sync::Mutex mu_;
  ScanLimits limits_ ABSL_GUARDED_BY(mu_);  // its threads: constant after construction
  std::condition_variable ready_;
  std::deque<Waiting> waiting_ ABSL_GUARDED_BY(mu_);
  // Jobs of each client that wait or run.
  std::map<std::string, std::size_t, std::less<>> per_client_ ABSL_GUARDED_BY(mu_);
  std::size_t running_ ABSL_GUARDED_BY(mu_) = 0;
  Ticket last_ticket_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Last: the threads start once everything they use exists.
  std::vector<std::thread> threads_;
};

}  // namespace propbridge::api
