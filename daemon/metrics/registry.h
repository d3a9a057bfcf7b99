// What a scrape shows: collectors, each of which writes its families from what it reads at that
// moment (atomics, a component's own counts, /proc). Thread-safe. Whoever adds a collector makes
// sure that what it reads outlives every Render.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "daemon/metrics/exposition.h"
#include "daemon/sync/mutex.h"

namespace propbridge::metrics {

class Registry {
 public:
  using Collector = std::function<void(Exposition&)>;

  // Collectors write in the order they were added; each family name once in all of them.
  void Add(Collector collector) ABSL_LOCKS_EXCLUDED(mu_);

  // The exposition of every collector's families.
  std::string Render() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable sync::Mutex mu_;
  std::vector<Collector> collectors_ ABSL_GUARDED_BY(mu_);
};

// The standard process_* metrics of this process, from /proc: CPU time, resident and virtual
// memory, open and most file descriptors, start time.
void CollectProcess(Exposition& out);

}  // namespace propbridge::metrics
