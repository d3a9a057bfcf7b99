// Fans events out to live watchers once they are durable. The ingest writer publishes after
// each commit, in id order; watchers subscribe and unsubscribe from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "daemon/store/event.h"
#include "daemon/sync/mutex.h"

namespace propbridge::feed {

using SharedEvent = std::shared_ptr<const store::Event>;

class ChangeFeed {
 public:
  class Subscriber {
   public:
    virtual ~Subscriber() = default;
    // Called on the publishing thread (the ingest writer) with the feed's lock held: take
    // what you need and return quickly; never call back into the feed, and never wait for
    // the store or anything else that may be slow, as the writer waits for you.
    virtual void OnEvents(std::span<const SharedEvent> events) = 0;
  };

  // The subscriber gets every batch published after Subscribe returns, until Unsubscribe
  // returns; it must outlive that.
  void Subscribe(Subscriber* subscriber) ABSL_LOCKS_EXCLUDED(mu_);
  void Unsubscribe(Subscriber* subscriber) ABSL_LOCKS_EXCLUDED(mu_);

  // `events` are durable and in increasing id order.
  void Publish(std::vector<store::Event> events) ABSL_LOCKS_EXCLUDED(mu_);

  // The largest id published so far.
  std::int64_t last_id() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable sync::Mutex mu_;
  std::vector<Subscriber*> subscribers_ ABSL_GUARDED_BY(mu_);
  std::int64_t last_id_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace propbridge::feed
