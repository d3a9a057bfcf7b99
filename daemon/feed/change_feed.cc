#include "daemon/feed/change_feed.h"

#include <algorithm>

namespace propbridge::feed {

void ChangeFeed::Subscribe(Subscriber* subscriber) {
  sync::MutexLock lock(mu_);
  subscribers_.push_back(subscriber);
}

void ChangeFeed::Unsubscribe(Subscriber* subscriber) {
  sync::MutexLock lock(mu_);
  std::erase(subscribers_, subscriber);
}

void ChangeFeed::Publish(std::vector<store::Event> events) {
  if (events.empty()) return;
  sync::MutexLock lock(mu_);
  last_id_ = std::max(last_id_, events.back().id);
  if (subscribers_.empty()) return;
  std::vector<SharedEvent> shared;
  shared.reserve(events.size());
  for (store::Event& event : events) {
    shared.push_back(std::make_shared<const store::Event>(std::move(event)));
  }
  for (Subscriber* subscriber : subscribers_) subscriber->OnEvents(shared);
}

std::int64_t ChangeFeed::last_id() const {
  sync::MutexLock lock(mu_);
  return last_id_;
}

}  // namespace propbridge::feed
