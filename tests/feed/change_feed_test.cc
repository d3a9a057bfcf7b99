// The change feed between the ingest writer, which publishes, and watchers that subscribe and
// unsubscribe on their own threads: each subscriber sees every event published while it is
// subscribed, once, in order. Run under ThreadSanitizer by scripts/check.sh.
#include "daemon/feed/change_feed.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace propbridge::feed {
namespace {

// Records the ids it is given, and the newest id published before it subscribed.
class Recorder final : public ChangeFeed::Subscriber {
 public:
  void OnEvents(std::span<const SharedEvent> events) override {
    std::lock_guard lock(mu_);
    for (const SharedEvent& event : events) ids_.push_back(event->id);
  }

  std::vector<std::int64_t> ids() const {
    std::lock_guard lock(mu_);
    return ids_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::int64_t> ids_;
};

std::vector<store::Event> Batch(std::int64_t first, std::int64_t count) {
  std::vector<store::Event> events(count);
  for (std::int64_t i = 0; i < count; ++i) {
    events[i].id = first + i;
    events[i].customer = 1 + (first + i) % 7;
    events[i].kind = "billing.invoice_issued";
  }
  return events;
}

TEST(ChangeFeed, SubscribersOnOtherThreadsSeeWhatIsPublishedWhileSubscribedOnceAndInOrder) {
  ChangeFeed feed;
  constexpr std::int64_t kBatches = 2000;
  constexpr std::int64_t kBatchSize = 5;
  std::atomic<bool> publishing{true};

  // Watchers come and go while the writer publishes: each records what it was given, and
  // the newest id published before it subscribed and after it unsubscribed.
  struct Window {
    std::int64_t before = 0;
    std::int64_t after = 0;
    std::vector<std::int64_t> ids;
  };
  std::mutex windows_mu;
  std::vector<Window> windows;
  std::vector<std::thread> watchers;
  for (int w = 0; w < 3; ++w) {
    watchers.emplace_back([&] {
      while (publishing.load()) {
        Recorder recorder;
        Window window;
        window.before = feed.last_id();
        feed.Subscribe(&recorder);
        std::this_thread::yield();
        feed.Unsubscribe(&recorder);
        window.after = feed.last_id();
        window.ids = recorder.ids();
        std::lock_guard lock(windows_mu);
        windows.push_back(std::move(window));
      }
    });
  }
  Recorder always;
  feed.Subscribe(&always);
  std::thread writer([&] {
    for (std::int64_t b = 0; b < kBatches; ++b) feed.Publish(Batch(1 + b * kBatchSize, kBatchSize));
    publishing = false;
  });
  writer.join();
  for (std::thread& watcher : watchers) watcher.join();
  feed.Unsubscribe(&always);

  EXPECT_EQ(feed.last_id(), kBatches * kBatchSize);
  std::vector<std::int64_t> all = always.ids();
  ASSERT_EQ(all.size(), static_cast<size_t>(kBatches * kBatchSize));
  for (size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i], static_cast<std::int64_t>(i + 1));

  ASSERT_FALSE(windows.empty());
  for (const Window& window : windows) {
    // Whole batches, consecutive ids, nothing published before the subscription, nothing
    // after the unsubscription.
    for (size_t i = 1; i < window.ids.size(); ++i) ASSERT_EQ(window.ids[i], window.ids[i - 1] + 1);
    if (window.ids.empty()) continue;
    EXPECT_GT(window.ids.front(), window.before);
    EXPECT_LE(window.ids.back(), window.after);
    EXPECT_EQ((window.ids.front() - 1) % kBatchSize, 0);
    EXPECT_EQ(window.ids.size() % kBatchSize, 0u);
  }
}

TEST(ChangeFeed, AnEmptyPublishChangesNothing) {
  ChangeFeed feed;
  Recorder recorder;
  feed.Subscribe(&recorder);
  feed.Publish({});
  feed.Publish(Batch(1, 2));
  feed.Publish({});
  feed.Unsubscribe(&recorder);
  EXPECT_EQ(feed.last_id(), 2);
  EXPECT_EQ(recorder.ids(), (std::vector<std::int64_t>{1, 2}));
}

}  // namespace
}  // namespace propbridge::feed
