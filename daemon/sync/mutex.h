// A mutex that clang's thread-safety analysis (-Wthread-safety) can check, with its scoped lock
// and condition-variable waits. libstdc++'s std::mutex is not annotated as a capability, so
// GUARDED_BY on it checks nothing; absl::Mutex is, but Debian's Abseil runs deadlock detection on
// every lock and unlock. This is a std::mutex under abseil's annotations: every call inlines to
// the std::mutex call it wraps, and the annotations cost nothing at run time.
#pragma once

#include <absl/base/thread_annotations.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <utility>

namespace propbridge::sync {

class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }

 private:
  friend class MutexLock;
  std::mutex mu_;
};

// Holds a Mutex for its scope, or until Unlock() (for work that must not hold it: a call out,
// a blocking stop) and again from Lock(). The waits, called with it held, release it while they
// sleep and hold it again when they return; their predicate runs with it held, so a lambda that
// reads guarded members says so: [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return ...; }.
class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_.Lock(); }
  // `held_` is a constant the compiler folds away where Unlock() is never called.
  ~MutexLock() ABSL_UNLOCK_FUNCTION() {
    if (held_) mu_.Unlock();
  }

  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void Unlock() ABSL_UNLOCK_FUNCTION() {
    mu_.Unlock();
    held_ = false;
  }
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() {
    mu_.Lock();
    held_ = true;
  }

  // Until notified, or woken spuriously.
  void Wait(std::condition_variable& cv) {
    Adopted lock(mu_);
    cv.wait(lock.lock);
  }

  // Until `done()`.
  template <typename Predicate>
  void Wait(std::condition_variable& cv, Predicate done) {
    Adopted lock(mu_);
    cv.wait(lock.lock, std::move(done));
  }

  // Until `done()` (true) or for `timeout` at most (false unless `done()` holds by then).
  template <typename Rep, typename Period, typename Predicate>
  bool WaitFor(std::condition_variable& cv, std::chrono::duration<Rep, Period> timeout,
               Predicate done) {
    Adopted lock(mu_);
    return cv.wait_for(lock.lock, timeout, std::move(done));
  }

  // Until notified, woken spuriously or `deadline`.
  template <typename Clock, typename Duration>
  void WaitUntil(std::condition_variable& cv, std::chrono::time_point<Clock, Duration> deadline) {
    Adopted lock(mu_);
    cv.wait_until(lock.lock, deadline);
  }

  // Until `done()` (true) or `deadline` (false unless `done()` holds by then).
  template <typename Clock, typename Duration, typename Predicate>
  bool WaitUntil(std::condition_variable& cv, std::chrono::time_point<Clock, Duration> deadline,
                 Predicate done) {
    Adopted lock(mu_);
    return cv.wait_until(lock.lock, deadline, std::move(done));
  }

 private:
  // The held std::mutex as the std::unique_lock a std::condition_variable takes, left held
  // (and not unlocked twice) when the wait returns or its predicate throws.
  struct Adopted {
    explicit Adopted(Mutex& mu) : lock(mu.mu_, std::adopt_lock) {}
    ~Adopted() { lock.release(); }
    std::unique_lock<std::mutex> lock;
  };

  Mutex& mu_;
  bool held_ = true;
};

}  // namespace propbridge::sync
