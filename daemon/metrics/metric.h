// The values a metric holds: a counter, a gauge and a histogram, each updated with atomics only,
// so that the ingest path can record into them without a lock; and a family of them by label
// values. Thread-safe; reading while others update sees each value whole, but not all of them
// at one instant.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "daemon/sync/mutex.h"

namespace propbridge::metrics {

// Only ever goes up.
class Counter {
 public:
  void Add(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// Goes up and down.
class Gauge {
 public:
  void Add(std::int64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  void Set(std::int64_t n) { value_.store(n, std::memory_order_relaxed); }
  std::int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

// Observations counted into buckets by upper bound, in base units (seconds, bytes).
class Histogram {
 public:
  // `bounds`: the buckets' upper bounds, increasing; the +Inf bucket comes on top of them.
  explicit Histogram(std::vector<double> bounds);

  void Observe(double value);

  struct Snapshot {
    std::vector<double> bounds;
    // Per bucket, cumulative: observations <= bounds[i]; the last one is +Inf, so the total.
    std::vector<std::uint64_t> cumulative;
    double sum = 0;
  };
  Snapshot Read() const;

  const std::vector<double>& bounds() const { return bounds_; }

 private:
  const std::vector<double> bounds_;
  // Per bucket, not cumulative, with +Inf last; the total is their sum, so a reader never sees
  // a count that disagrees with its buckets.
  const std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;
  std::atomic<double> sum_{0};
};

// Upper bounds for latencies from half a millisecond to ten seconds.
std::vector<double> LatencyBuckets();

// One metric per combination of label values, made on first use and kept for the family's
// life: label values must come from a bounded set (configured names, method names, codes).
// The reference With returns stays valid, so a hot path looks it up once.
template <typename Metric>
class Family {
 public:
  // `make` builds a new member (a histogram needs its bounds).
  explicit Family(std::function<std::unique_ptr<Metric>()> make =
                      [] { return std::make_unique<Metric>(); })
      : make_(std::move(make)) {}

  Metric& With(const std::vector<std::string>& values) ABSL_LOCKS_EXCLUDED(mu_) {
    sync::MutexLock lock(mu_);
    std::unique_ptr<Metric>& member = members_[values];
    if (member == nullptr) member = make_();
    return *member;
  }

  // Calls `visit` with each member's label values, in their order, under the family's lock.
  void ForEach(const std::function<void(const std::vector<std::string>&, const Metric&)>& visit)
      const ABSL_LOCKS_EXCLUDED(mu_) {
    sync::MutexLock lock(mu_);
    for (const auto& [values, member] : members_) visit(values, *member);
  }

 private:
  const std::function<std::unique_ptr<Metric>()> make_;
  mutable sync::Mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> members_ ABSL_GUARDED_BY(mu_);
};

}  // namespace propbridge::metrics
