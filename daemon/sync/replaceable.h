// A value that a reload replaces as a whole while calls go on: each reader takes the value that
// is current and keeps it, unchanged, for as long as it uses it; whoever comes after a Replace
// takes the new one. Thread-safe.
#pragma once

#include <memory>
#include <utility>

#include "daemon/sync/mutex.h"

namespace propbridge::sync {

template <typename T>
class Replaceable {
 public:
  explicit Replaceable(T value) : value_(std::make_shared<const T>(std::move(value))) {}
  // A value shared with others already; never null.
  explicit Replaceable(std::shared_ptr<const T> value) : value_(std::move(value)) {}

  Replaceable(const Replaceable&) = delete;
  Replaceable& operator=(const Replaceable&) = delete;

  std::shared_ptr<const T> Get() const ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(mu_);
    return value_;
  }

  void Replace(T value) ABSL_LOCKS_EXCLUDED(mu_) {
    Replace(std::make_shared<const T>(std::move(value)));
  }
  void Replace(std::shared_ptr<const T> next) ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(mu_);
    // The old value goes when its last reader lets it go; here, after the unlock.
    value_.swap(next);
  }

 private:
  mutable Mutex mu_;
  std::shared_ptr<const T> value_ ABSL_GUARDED_BY(mu_);
};

}  // namespace propbridge::sync
