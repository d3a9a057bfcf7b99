// Fans events out to live watchers once they are durable. The ingest writer publishes after
// each commit, in id order; watchers subscribe and unsubscribe from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "daemon/store/event.h"

namespace propbridge::feed {

using SharedEvent = std::shared_ptr<const store::Event>;

class ChangeFeed {
 public:
  class Subscriber {
   public:
    virtual ~Subscriber() = default;
    // Called on the publishing thread with the feed's lock held: take what you need and
    // return quickly; never call back into the feed.
    virtual void OnEvents(std::span<const SharedEvent> events) = 0;
  };

  // The subscriber gets every batch published after Subscribe returns, until Unsubscribe
  // returns; it must outlive that.
  void Subscribe(Subscriber* subscriber);
  void Unsubscribe(Subscriber* subscriber);

  // `events` are durable and in increasing id order.
  void Publish(std::vector<store::Event> events);

  // The largest id published so far.
  std::int64_t last_id() const;

 private:
  mutable std::mutex mu_;
  std::vector<Subscriber*> subscribers_;
  std::int64_t last_id_ = 0;
};

}  // namespace propbridge::feed
