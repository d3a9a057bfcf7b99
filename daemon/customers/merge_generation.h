// The store's MergeGeneration (store.h) as a writer keeps it beside its Resolver, the same for
// every backend: twice the merges and splits resolution and admins have made, so that it reads
// as settled (even) between writes, and odd from just before a write that made some commits
// until that write ends. Reading it is an atomic load; the writer, under its own lock, changes
// it through a Write.
#pragma once

#include <atomic>
#include <cstdint>

#include "daemon/customers/resolver.h"

namespace propbridge::customers {

class MergeGeneration {
 public:
  std::uint64_t Get() const { return generation_.load(); }

  // The settled generation of what `resolver` has made so far: what an event resolved now was
  // resolved under.
  static std::uint64_t Of(const Resolver& resolver) { return 2 * resolver.merges_made(); }

  // One write of the store's writer (a group commit, an admin's link or split), under the
  // writer's lock: publishes the resolver's count when it ends, while the lock is still held
  // (declare it after the lock), so that the next write sees it counted.
  class Write {
   public:
    Write(MergeGeneration& generation, const Resolver& resolver)
        : generation_(generation.generation_), resolver_(resolver) {}
    Write(const Write&) = delete;
    Write& operator=(const Write&) = delete;
    ~Write() { generation_.store(Of(resolver_)); }

    // Just before the commit, when the write made merges or splits: from the commit on, a
    // reader may see them before the destructor counts them, so the old count must no longer
    // read as settled.
    void Committing() {
      const std::uint64_t published = generation_.load();
      if (Of(resolver_) != published) generation_.store(published | 1);
    }

   private:
    std::atomic<std::uint64_t>& generation_;
    const Resolver& resolver_;
  };

 private:
  std::atomic<std::uint64_t> generation_{0};
};

}  // namespace propbridge::customers
