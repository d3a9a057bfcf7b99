// Waiting in a test for what it expects to happen, by looking at it until it has happened or a
// deadline has passed, instead of sleeping for a while and hoping that it has happened by then.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace propbridge::testing {

// Calls `done` every `poll` until it returns true, for at most `timeout`; returns whether it
// did. `done` is called at least once.
inline bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                      std::chrono::milliseconds poll = std::chrono::milliseconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(poll);
  }
  return true;
}

}  // namespace propbridge::testing
