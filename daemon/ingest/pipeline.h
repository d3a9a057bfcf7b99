// The ingest pipeline: plugins submit batches into a bounded queue; one writer thread takes
// whatever is waiting, normalises it and commits it to the store as one group. Submit returns
// once the batch is durable, so a plugin's checkpoint never runs ahead of its events.
// Thread-safe: Submit from any number of threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <thread>

#include "daemon/feed/change_feed.h"
#include "daemon/ingest/normalizer.h"
#include "daemon/metrics/metric.h"
#include "daemon/store/store.h"
#include "daemon/sync/mutex.h"
#include "propbridge/sdk/event.h"
#include "propbridge/sdk/status.h"

namespace propbridge::ingest {

struct PipelineOptions {
  // Events waiting to be stored. A batch that would overflow it waits (backpressure); a batch
  // larger than the whole queue is let in alone once the queue is empty.
  std::size_t queue_capacity = 50000;
  // Most events one group commit takes from the queue.
  std::size_t max_group_events = 20000;
};

// Counters since start; read them from any thread.
struct PipelineStats {
  std::atomic<std::uint64_t> batches{0};
  std::atomic<std::uint64_t> events_stored{0};
  std::atomic<std::uint64_t> duplicates{0};
  std::atomic<std::uint64_t> quarantined{0};
  std::atomic<std::uint64_t> failed_batches{0};
  // How long each group commit (Store::Write of the batches taken together) took, in seconds.
  metrics::Histogram commit_seconds{metrics::LatencyBuckets()};
};

// What one source has brought in since the daemon started.
struct SourceCounts {
  std::uint64_t events_stored = 0;
  std::uint64_t quarantined = 0;
  std::uint64_t duplicates = 0;
  IdentifierProblems identifier_problems;
};

class Pipeline {
 public:
  // `store`, and `feed` when given, must outlive the pipeline. Committed events are published
  // to the feed.
  Pipeline(store::Store& store, PipelineOptions options, feed::ChangeFeed* feed = nullptr);
  ~Pipeline();  // Close()s

  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Blocks while the queue is full, then until the batch is durable or failed. `normalizer`
  // must outlive the call. UNAVAILABLE once the pipeline is closed.
  Status Submit(const Normalizer& normalizer, sdk::Batch batch) ABSL_LOCKS_EXCLUDED(mu_);

  // The same, but returns once the batch is queued: `done` gets the outcome later, on the
  // writer thread, so it must be quick and must not block. `normalizer` must outlive that.
  void Submit(const Normalizer& normalizer, sdk::Batch batch, std::function<void(Status)> done)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Answers `done` on the writer thread, with OK once the writer has committed everything
  // queued before the ping: proof that the writer is not stuck. Takes no room in the queue, so
  // a full queue delays the answer but never the call; UNAVAILABLE once the pipeline is closed.
  void Ping(std::function<void(Status)> done) ABSL_LOCKS_EXCLUDED(mu_);

  // Stops taking batches, commits everything already queued, and joins the writer. Batches
  // submitted after this get UNAVAILABLE. Idempotent; call from one thread.
  void Close() ABSL_LOCKS_EXCLUDED(mu_);

  const PipelineStats& stats() const { return stats_; }
  // Events waiting to be stored now, and how many may wait.
  std::size_t queued_events() const ABSL_LOCKS_EXCLUDED(mu_);
  std::size_t queue_capacity() const { return options_.queue_capacity; }
  SourceCounts CountsOf(const std::string& source) const ABSL_LOCKS_EXCLUDED(counts_mu_);
  // Every source that has delivered a batch since start, by name.
  std::map<std::string, SourceCounts> AllCounts() const ABSL_LOCKS_EXCLUDED(counts_mu_);

 private:
  // A batch, or a ping (no normalizer).
  struct Pending {
    const Normalizer* normalizer;
    sdk::Batch batch;
    std::function<void(Status)> done;
  };

  void WriterLoop() ABSL_LOCKS_EXCLUDED(mu_);
  void CommitGroup(std::vector<Pending>& group) ABSL_LOCKS_EXCLUDED(mu_, counts_mu_);

  // Constant after construction.
  store::Store& store_;
  const PipelineOptions options_;
  feed::ChangeFeed* const feed_;

  PipelineStats stats_;
  mutable sync::Mutex counts_mu_;
  std::map<std::string, SourceCounts> counts_ ABSL_GUARDED_BY(counts_mu_);

  mutable sync::Mutex mu_;
  std::condition_variable has_room_;
  std::condition_variable has_work_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mu_);
  std::size_t queued_events_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;

  std::thread writer_;  // last: started once everything above exists
};

}  // namespace propbridge::ingest
