// WatchStream without gRPC, so that it runs among the thread tests under ThreadSanitizer: the
// real SQLite store, written by the real ingest pipeline, whose writer thread publishes to the
// real change feed; the reads after merges on a real ScanQueue; and a client on a thread of
// its own that takes each write as gRPC would hand it over. What a client receives is checked
// against what the store holds: in id order, without a gap or a duplicate, and the id to resume
// after when it falls behind. Every stream must be released once it is done, or the client
// aborts the test (and AddressSanitizer reports the stream as leaked).
#include "daemon/api/watch_stream.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "daemon/ingest/pipeline.h"
#include "daemon/store/sqlite/sqlite_store.h"
#include "daemon/sync/mutex.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_until.h"

namespace propbridge::api {
namespace {

using namespace std::chrono_literals;
using propbridge::testing::WaitUntil;

// The longest a test waits for what it expects before it fails.
constexpr auto kWait = std::chrono::milliseconds(60s);

// One event as the client received it.
struct Received {
  std::int64_t id = 0;
  std::int64_t customer = 0;
  std::string source_event_id;
};

std::vector<std::int64_t> IdsOf(const std::vector<Received>& events) {
  std::vector<std::int64_t> ids;
  for (const Received& event : events) ids.push_back(event.id);
  return ids;
}

// The client's end of one WatchStream, as gRPC drives a TimelineWatch: a thread of its own takes
// each write the stream starts and tells the stream it went out, delivers the client's cancel,
// and says the call is done once the stream has ended it. It owns the stream and destroys it
// when the stream releases itself, as TimelineWatch deletes itself. Thread-safe.
class Client final : public WatchSink {
 public:
  // Runs on the client's thread before it takes each write: how slowly the client reads.
  using Pace = std::function<void()>;

  // With `hold_after`, the client takes that many writes in all and then stops reading: the
  // next write stays in flight until Resume.
  Client(store::Store& store, feed::ChangeFeed& feed, ScanQueue& lookups, WatchSelection selection,
         WatchLimits limits, Pace pace = nullptr,
         std::optional<std::size_t> hold_after = std::nullopt)
      : pace_(std::move(pace)),
        stream_(new WatchStream(*this, store, feed, lookups, std::move(selection), limits)),
        hold_after_(hold_after),
        thread_([this] { Run(); }) {
    stream_->Start(Status::Ok());
  }

  // Cancels the stream unless it has ended, and waits until it is released: a stream that
  // never is cannot be destroyed safely, so the test aborts.
  ~Client() {
    {
      sync::MutexLock lock(mu_);
      cancel_asked_ = true;
      hold_after_.reset();
      changed_.notify_all();
    }
    thread_.join();
    if (!WaitReleased()) {
      std::cerr << "a watch stream was never released\n";
      std::abort();
    }
  }

  void Resume() ABSL_LOCKS_EXCLUDED(mu_) {
    sync::MutexLock lock(mu_);
    hold_after_.reset();
    changed_.notify_all();
  }
  // When the write the client holds was started; nullopt until it holds one.
  std::optional<std::chrono::steady_clock::time_point> HeldSince() ABSL_LOCKS_EXCLUDED(mu_) {
    sync::MutexLock lock(mu_);
    return Holding() && in_flight_ ? std::optional(sent_at_) : std::nullopt;
  }

  // Cancels the call as gRPC does when the client cancels, and returns once the stream has
  // taken the cancel (or the call was done before).
  void Cancel() ABSL_LOCKS_EXCLUDED(mu_) {
    sync::MutexLock lock(mu_);
    cancel_asked_ = true;
    changed_.notify_all();
    lock.Wait(changed_,
              [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return cancelled_ || done_; });
  }

  // Whether the client has received `count` events within kWait.
  bool WaitForReceived(std::size_t count) ABSL_LOCKS_EXCLUDED(mu_) {
    sync::MutexLock lock(mu_);
    return lock.WaitFor(changed_, kWait, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return received_.size() >= count;
    });
  }
  // The status the stream ended with, waiting kWait at most for it.
  std::optional<Status> WaitForEnd() ABSL_LOCKS_EXCLUDED(mu_) {
    sync::MutexLock lock(mu_);
    lock.WaitFor(changed_, kWait,
                 [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return status_.has_value(); });
    return status_;
  }
  bool WaitReleased() ABSL_LOCKS_EXCLUDED(mu_) {
    sync::MutexLock lock(mu_);
    return lock.WaitFor(changed_, kWait,
                        [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return releases_ > 0; });
  }

  bool ended() ABSL_LOCKS_EXCLUDED(mu_) {
    sync::MutexLock lock(mu_);
    return status_.has_value();
  }
  std::vector<Received> received() ABSL_LOCKS_EXCLUDED(mu_) {
    sync::MutexLock lock(mu_);
    return received_;
  }
  std::optional<std::int64_t> resume_after_id() ABSL_LOCKS_EXCLUDED(mu_) {
    sync::MutexLock lock(mu_);
    return resume_after_id_;
  }
  int releases() ABSL_LOCKS_EXCLUDED(mu_) {
    sync::MutexLock lock(mu_);
    return releases_;
  }

 private:
  // WatchSink: called with the stream's lock held, so they only record and wake the thread.
  void Send(const store::Event& event) override ABSL_LOCKS_EXCLUDED(mu_) {
    sync::MutexLock lock(mu_);
    EXPECT_FALSE(in_flight_) << "a write started while another was in flight";
    EXPECT_FALSE(status_) << "a write started after the end";
    in_flight_ = Received{event.id, event.customer, event.source_event_id};
    sent_at_ = std::chrono::steady_clock::now();
    changed_.notify_all();
  }
  void End(const Status& status, std::optional<std::int64_t> resume_after_id) override
      ABSL_LOCKS_EXCLUDED(mu_) {
    sync::MutexLock lock(mu_);
    EXPECT_FALSE(in_flight_) << "the stream ended with a write in flight";
    EXPECT_FALSE(status_) << "the stream ended twice";
    status_ = status;
    resume_after_id_ = resume_after_id;
    changed_.notify_all();
  }
  void Release() override ABSL_LOCKS_EXCLUDED(mu_) {
    delete stream_;
    sync::MutexLock lock(mu_);
    EXPECT_TRUE(done_) << "released before the call was done";
    ++releases_;
    changed_.notify_all();
  }

  bool Holding() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return hold_after_ && received_.size() >= *hold_after_;
  }

  // What gRPC's threads do for the call: the client's cancel, each write as it goes out, and
  // the end of the call once its status is sent.
  void Run() ABSL_LOCKS_EXCLUDED(mu_) {
    sync::MutexLock lock(mu_);
    while (true) {
      lock.Wait(changed_, [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return (cancel_asked_ && !cancelled_) || (in_flight_ && !Holding()) || status_;
      });
      if (cancel_asked_ && !cancelled_) {
        lock.Unlock();
        stream_->Cancel();
        lock.Lock();
        cancelled_ = true;
        changed_.notify_all();
      } else if (in_flight_ && !Holding()) {
        if (pace_) {
          lock.Unlock();
          pace_();
          lock.Lock();
        }
        received_.push_back(*std::exchange(in_flight_, std::nullopt));
        changed_.notify_all();
        lock.Unlock();
        stream_->WriteDone(true);
        lock.Lock();
      } else {
        done_ = true;
        lock.Unlock();
        stream_->Done();
        return;
      }
    }
  }

  // Constant after construction.
  const Pace pace_;
  WatchStream* const stream_;  // until it releases itself

  sync::Mutex mu_;
  std::condition_variable changed_;
  std::optional<std::size_t> hold_after_ ABSL_GUARDED_BY(mu_);  // unset: reads every write
  std::optional<Received> in_flight_ ABSL_GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point sent_at_ ABSL_GUARDED_BY(mu_);
  std::vector<Received> received_ ABSL_GUARDED_BY(mu_);
  bool cancel_asked_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<Status> status_ ABSL_GUARDED_BY(mu_);
  std::optional<std::int64_t> resume_after_id_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  int releases_ ABSL_GUARDED_BY(mu_) = 0;

  // Last: it starts once everything above exists.
  std::thread thread_;
};

// Holds whoever passes it until it is opened, and tells when someone waits there. Thread-safe.
class Gate {
 public:
  void Pass() ABSL_LOCKS_EXCLUDED(mu_) {
    sync::MutexLock lock(mu_);
    reached_ = true;
    changed_.notify_all();
    lock.Wait(changed_, [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return open_; });
  }
  // Whether someone reached the gate within kWait.
  bool WaitReached() ABSL_LOCKS_EXCLUDED(mu_) {
    sync::MutexLock lock(mu_);
    return lock.WaitFor(changed_, kWait,
                        [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return reached_; });
  }
  void Open() ABSL_LOCKS_EXCLUDED(mu_) {
    sync::MutexLock lock(mu_);
    open_ = true;
    changed_.notify_all();
  }

 private:
  sync::Mutex mu_;
  std::condition_variable changed_;
  bool reached_ ABSL_GUARDED_BY(mu_) = false;
  bool open_ ABSL_GUARDED_BY(mu_) = false;
};

// Holds the feed's publications on the publishing thread, after the pipeline's write and
// before the watches that subscribed later get them, until opened: what the store commits
// meanwhile comes between a write and its publication. Opens and unsubscribes when destroyed.
class FeedHold final : private feed::ChangeFeed::Subscriber {
 public:
  explicit FeedHold(feed::ChangeFeed& feed) : feed_(feed) { feed_.Subscribe(this); }
  ~FeedHold() override {
    gate_.Open();
    feed_.Unsubscribe(this);  // waits for a publication in progress
  }
  bool WaitReached() { return gate_.WaitReached(); }
  void Open() { gate_.Open(); }

 private:
  void OnEvents(std::span<const feed::SharedEvent>) override { gate_.Pass(); }

  feed::ChangeFeed& feed_;
  Gate gate_;
};

// Holds the one thread of a lookups queue until opened, so that the reads of watches wait
// behind it. Opens when destroyed, which must come before the queue is.
class LookupsHold {
 public:
  explicit LookupsHold(ScanQueue& lookups)
      : queued_(lookups
                    .Submit([gate = gate_] {
                      gate->Pass();
                      return ScanQueue::Answer();
                    })
                    .has_value()) {}
  ~LookupsHold() { Open(); }
  // Whether the queue's thread waits at the hold.
  bool Holding() { return queued_ && gate_->WaitReached(); }
  void Open() { gate_->Open(); }

 private:
  // Shared with the job, which may still be leaving the gate after the hold is destroyed.
  const std::shared_ptr<Gate> gate_ = std::make_shared<Gate>();
  const bool queued_;
};

class WatchStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::StoreOptions options;
    options.path = dir_ / "store.db";
    auto opened = store::OpenSqliteStore(options);
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    store_ = std::move(*opened);
    pipeline_ = std::make_unique<ingest::Pipeline>(*store_, ingest::PipelineOptions{}, &feed_);
  }

  // One event of the accounts named ("A1", ...), with an id of its own.
  sdk::RawEvent Event(const std::vector<std::string>& accounts) {
    const int n = next_event_++;
    sdk::EventBuilder event("crm.profile.updated", "e" + std::to_string(n));
    event.At(sdk::UtcTime{std::chrono::sys_days{std::chrono::year{2026} / 1 / 1} +
                          std::chrono::seconds{n}});
    for (const std::string& account : accounts) event.Identify("account", account);
    return event.Build();
  }

  // Submits one batch through the pipeline, as a plugin emits it: returns once it is durable,
  // and the pipeline's writer thread publishes it to the feed.
  void Submit(std::vector<sdk::RawEvent> events) {
    sdk::Batch batch;
    batch.events = std::move(events);
    Status status = pipeline_->Submit(normalizer_, std::move(batch));
    ASSERT_TRUE(status.ok()) << status.message();
  }
  // One batch of `count` events, each of one account from `accounts` in turn.
  void SubmitMany(int count, const std::vector<std::string>& accounts) {
    std::vector<sdk::RawEvent> events;
    for (int i = 0; i < count; ++i) events.push_back(Event({accounts[i % accounts.size()]}));
    Submit(std::move(events));
  }

  // Returns once the feed has published everything stored so far, to every watch: the feed
  // takes its lock to publish, and last_id() waits for it.
  void Settle() {
    const std::vector<store::Event> stored = Stored();
    const std::int64_t last = stored.empty() ? 0 : stored.back().id;
    ASSERT_TRUE(WaitUntil([&] { return feed_.last_id() >= last; }, kWait));
  }

  // Every stored event after `after_id`, in id order.
  std::vector<store::Event> Stored(std::int64_t after_id = 0) {
    auto events = store_->ReadChanges({.after_id = after_id, .filter = {}, .limit = 1'000'000});
    EXPECT_TRUE(events.ok()) << events.status().message();
    return events.ok() ? std::move(*events) : std::vector<store::Event>();
  }
  // The ids of the stored events after `after_id` that name one of `accounts` (all: empty).
  std::vector<std::int64_t> StoredIds(std::int64_t after_id, std::set<std::string> accounts = {}) {
    std::vector<std::int64_t> ids;
    for (const store::Event& event : Stored(after_id)) {
      const bool named =
          std::any_of(event.identifiers.begin(), event.identifiers.end(),
                      [&](const identity::Identifier& id) { return accounts.contains(id.value); });
      if (accounts.empty() || named) ids.push_back(event.id);
    }
    return ids;
  }

  // Whether the client has received the event `id` (or one after it) within kWait.
  static bool ReceivedThrough(Client& client, std::int64_t id) {
    return WaitUntil(
        [&] {
          const std::vector<Received> received = client.received();
          return !received.empty() && received.back().id >= id;
        },
        kWait, 1ms);
  }
  static std::vector<std::int64_t> CustomersOf(const std::vector<Received>& events) {
    std::vector<std::int64_t> customers;
    for (const Received& event : events) customers.push_back(event.customer);
    return customers;
  }

  std::int64_t CustomerOf(const std::string& account) {
    auto found = store_->FindCustomer({"account", account});
    EXPECT_TRUE(found.ok() && *found) << "no customer has account " << account;
    return found.ok() ? found->value_or(0) : 0;
  }

  // What TimelineService selects for a watch of every customer.
  static WatchSelection Everyone(std::optional<std::int64_t> after_id) {
    WatchSelection selection;
    selection.after_id = after_id;
    return selection;
  }
  // What TimelineService selects for a watch of "account:<account>": the customer it names
  // now, or the first event that names it when none does yet.
  WatchSelection Account(const std::string& account, std::optional<std::int64_t> after_id) {
    WatchSelection selection;
    selection.after_id = after_id;
    const identity::Identifier id{"account", account};
    selection.found_by = id;
    auto found = FindCustomerExactly(*store_, id);
    EXPECT_TRUE(found.ok()) << found.status().message();
    if (found.ok() && found->customer != 0) {
      LearnCustomer(selection, found->customer, found->generation);
    } else {
      selection.awaiting = id;
    }
    return selection;
  }

  std::unique_ptr<Client> Watch(WatchSelection selection, WatchLimits limits,
                                Client::Pace pace = nullptr,
                                std::optional<std::size_t> hold_after = std::nullopt) {
    return std::make_unique<Client>(*store_, feed_, lookups_, std::move(selection), limits,
                                    std::move(pace), hold_after);
  }

  // Cancels the client's stream and checks that it ends as cancelled and is released.
  static void CancelAndRelease(Client& client) {
    client.Cancel();
    auto status = client.WaitForEnd();
    ASSERT_TRUE(status);
    EXPECT_EQ(status->code(), StatusCode::kCancelled) << status->message();
    EXPECT_TRUE(client.WaitReleased());
  }

  // What lives longest first: the streams use the store, the feed and the lookups, and the
  // pipeline publishes to the feed.
  propbridge::testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  feed::ChangeFeed feed_;
  ScanQueue lookups_{{.threads = 2, .max_waiting = 64}};
  const ingest::Normalizer normalizer_{"crm", ingest::StepMapping({}, {}),
                                       *ingest::TimeZone::Find("UTC")};
  std::unique_ptr<ingest::Pipeline> pipeline_;
  int next_event_ = 0;  // used by one thread at a time: the test's, or its writer's
};

// How fast the clients of a test read.
enum class Reading { kPromptly, kBehindTheWriter };

const char* NameOf(Reading reading) {
  return reading == Reading::kPromptly ? "ReadingPromptly" : "ReadingBehindTheWriter";
}
void PrintTo(Reading reading, std::ostream* out) { *out << NameOf(reading); }

class WatchStreamReadingTest : public WatchStreamTest,
                               public ::testing::WithParamInterface<Reading> {
 protected:
  // The client's pace: at once, or each write only once the writer has published again (or
  // has stopped), so that the writer runs ahead of it and bursts overflow its buffer.
  Client::Pace Pace(const std::atomic<bool>& writing) {
    if (GetParam() == Reading::kPromptly) return nullptr;
    return [this, &writing] {
      const std::int64_t seen = feed_.last_id();
      WaitUntil([&] { return feed_.last_id() > seen || !writing; }, kWait, 1ms);
    };
  }
};

// Three watches at once while the writer commits batches of every size: of every customer,
// of one customer resumed from the middle of the store, and of a customer that no event names
// until well after the watch opened. Each reads the store in small pages, then the feed, and
// falls back to the store when a burst overflows its buffer.
TEST_P(WatchStreamReadingTest, EachWatchGetsItsEventsInOrderWithoutGapOrDuplicate) {
  for (int batch = 0; batch < 20; ++batch) SubmitMany(10, {"A1", "A2", "A3"});
  const std::int64_t resume_after = Stored()[57].id;
  const WatchLimits limits{.buffer_limit = 40, .catch_up_page = 7, .stall_timeout = 60s};

  std::atomic<bool> writing{true};
  auto everyone = Watch(Everyone(0), limits, Pace(writing));
  auto one = Watch(Account("A1", resume_after), limits, Pace(writing));
  auto awaited = Watch(Account("A9", 0), limits, Pace(writing));

  std::minstd_rand random(7);
  for (int batch = 0; batch < 80; ++batch) {
    std::vector<std::string> accounts = {"A1", "A2", "A3"};
    if (batch >= 40) accounts.push_back("A9");
    SubmitMany(std::uniform_int_distribution<int>(1, 60)(random), accounts);
  }
  writing = false;

  const std::vector<std::int64_t> all = StoredIds(0);
  const std::vector<std::int64_t> of_one = StoredIds(resume_after, {"A1"});
  const std::vector<std::int64_t> of_awaited = StoredIds(0, {"A9"});
  ASSERT_FALSE(of_awaited.empty());
  for (auto [client, expected] : {std::pair{everyone.get(), &all}, std::pair{one.get(), &of_one},
                                  std::pair{awaited.get(), &of_awaited}}) {
    ASSERT_TRUE(client->WaitForReceived(expected->size()))
        << client->received().size() << " of " << expected->size() << " received";
    CancelAndRelease(*client);
    EXPECT_EQ(IdsOf(client->received()), *expected);
  }
  const std::int64_t a9 = CustomerOf("A9");
  for (const Received& event : awaited->received()) EXPECT_EQ(event.customer, a9);
}

INSTANTIATE_TEST_SUITE_P(Clients, WatchStreamReadingTest,
                         ::testing::Values(Reading::kPromptly, Reading::kBehindTheWriter),
                         [](const ::testing::TestParamInfo<Reading>& info) {
                           return std::string(NameOf(info.param));
                         });

// A client that stops reading while the writer goes on is ended once its buffer overflows
// after the stall timeout, but only when the write in flight has gone out: the status names
// that write as the one to resume after, and a watch resumed after it gets the rest.
TEST_F(WatchStreamTest, AClientThatStopsReadingIsEndedWithTheIdToResumeAfter) {
  SubmitMany(30, {"A1", "A2"});
  Settle();  // a watch from now on starts after what the feed has published
  const std::int64_t opened_after = feed_.last_id();
  const WatchLimits limits{.buffer_limit = 20, .catch_up_page = 16, .stall_timeout = 50ms};
  auto slow = Watch(Everyone(std::nullopt), limits, nullptr, 12);

  std::atomic<bool> writing{true};
  std::thread writer([&] {
    while (writing) SubmitMany(3, {"A1", "A2"});
  });
  std::optional<std::chrono::steady_clock::time_point> held;
  ASSERT_TRUE(WaitUntil([&] { return (held = slow->HeldSince()).has_value(); }, kWait));
  // The stall is what is under test: once the write has waited longer, the events that
  // overflow the buffer end the stream.
  ASSERT_TRUE(WaitUntil(
      [&] { return std::chrono::steady_clock::now() - *held > limits.stall_timeout; }, kWait));
  writing = false;
  writer.join();
  SubmitMany(static_cast<int>(limits.buffer_limit) + 1, {"A1", "A2"});
  Settle();
  EXPECT_FALSE(slow->ended()) << "the status went out before the write in flight";

  slow->Resume();
  auto status = slow->WaitForEnd();
  ASSERT_TRUE(status);
  ASSERT_EQ(status->code(), StatusCode::kResourceExhausted) << status->message();
  ASSERT_TRUE(slow->WaitReleased());
  const std::vector<Received> received = slow->received();
  ASSERT_EQ(received.size(), 13u) << "the held write went out, and nothing after it";
  ASSERT_EQ(slow->resume_after_id(), received.back().id);
  EXPECT_NE(status->message().find("after_id=" + std::to_string(received.back().id)),
            std::string::npos)
      << status->message();

  const std::vector<std::int64_t> stored = StoredIds(opened_after);
  auto resumed = Watch(Everyone(*slow->resume_after_id()), limits);
  ASSERT_TRUE(resumed->WaitForReceived(stored.size() - received.size()));
  CancelAndRelease(*resumed);
  std::vector<std::int64_t> joined = IdsOf(received);
  for (std::int64_t id : IdsOf(resumed->received())) joined.push_back(id);
  EXPECT_EQ(joined, stored);
}

// A watch follows its customer as resolution merges them with others, round after round,
// while the writer goes on: each merge holds the feed's events back until a read on the
// lookups queue has found the customer again. The merging event comes first in its batch, and
// the pipeline publishes each batch before it commits the next: which events belong to the
// customer is then the same whenever the watch finds them again.
TEST_F(WatchStreamTest, FollowsItsCustomerThroughMergesWhileTheWriterGoesOn) {
  const std::vector<std::string> partners = {"X1", "X2", "X3", "X4", "X5"};
  for (const std::string& partner : partners) SubmitMany(3, {partner});
  SubmitMany(3, {"W"});
  Settle();
  const std::int64_t opened_after = feed_.last_id();
  auto watch = Watch(Account("W", std::nullopt), {});

  std::set<std::string> followed = {"W"};
  std::vector<std::int64_t> expected;
  std::minstd_rand random(11);
  auto submit_mixed = [&] {
    for (int batch = 0; batch < 10; ++batch) {
      SubmitMany(std::uniform_int_distribution<int>(1, 20)(random),
                 {"W", "X1", "X2", "X3", "X4", "X5", "Y"});
    }
  };
  submit_mixed();
  for (const std::string& partner : partners) {
    Submit({Event({"W", partner}), Event({partner}), Event({"Y"})});
    followed.insert(partner);
    submit_mixed();
  }
  Settle();
  const std::int64_t customer = CustomerOf("W");
  EXPECT_EQ(customer, CustomerOf("X1")) << "the oldest customer is kept";

  // Which events were the followed customer's when they were published: those of W, and of
  // each partner from the event that merged it on.
  std::set<std::string> merged = {"W"};
  for (const store::Event& event : Stored(opened_after)) {
    std::set<std::string> named;
    for (const auto& id : event.identifiers) named.insert(id.value);
    if (named.contains("W")) merged.insert(named.begin(), named.end());
    if (std::any_of(named.begin(), named.end(),
                    [&](const std::string& account) { return merged.contains(account); })) {
      expected.push_back(event.id);
    }
  }
  ASSERT_TRUE(watch->WaitForReceived(expected.size()))
      << watch->received().size() << " of " << expected.size() << " received";
  CancelAndRelease(*watch);
  EXPECT_EQ(IdsOf(watch->received()), expected);
  EXPECT_EQ(merged, followed);
  EXPECT_EQ(watch->received().back().customer, customer);
}

// Events written before a merge but published with it are the customer's whom the watch's name
// led to when they were written: a watch of W gets W's event that comes before the merging
// event in the same batch, then the events of the older customer W became one with, but never
// that customer's event from before the merge.
TEST_F(WatchStreamTest, EventsBeforeAMergeInItsBatchStayWithTheCustomerOfTheirTime) {
  SubmitMany(1, {"X"});
  SubmitMany(1, {"W"});
  Settle();
  const std::int64_t w = CustomerOf("W");
  const std::int64_t x = CustomerOf("X");
  const std::int64_t opened_after = feed_.last_id();
  auto watch = Watch(Account("W", std::nullopt), {});

  Submit({Event({"X"}), Event({"W"}), Event({"W", "X"}), Event({"X"}), Event({"W"})});
  Settle();
  const std::vector<std::int64_t> stored = StoredIds(opened_after);
  ASSERT_EQ(stored.size(), 5u);
  const std::vector<std::int64_t> expected = {stored[1], stored[2], stored[3], stored[4]};
  ASSERT_TRUE(ReceivedThrough(*watch, expected.back()));
  CancelAndRelease(*watch);
  EXPECT_EQ(IdsOf(watch->received()), expected);
  EXPECT_EQ(CustomerOf("W"), x);
  const std::vector<std::int64_t> customers = CustomersOf(watch->received());
  EXPECT_EQ(customers, (std::vector<std::int64_t>{w, x, x, x}));
}

// An admin's link committed after the pipeline's write and before the watch gets the events
// changes nothing for them: the watch of W gets W's event of that write and not the event of
// the customer W was linked into, then that customer's events from the link on.
TEST_F(WatchStreamTest, ALinkBetweenAWriteAndItsPublicationLeavesTheWrittenEventsToTheirCustomer) {
  SubmitMany(1, {"X"});
  SubmitMany(1, {"W"});
  Settle();
  const std::int64_t w = CustomerOf("W");
  const std::int64_t x = CustomerOf("X");
  const std::int64_t opened_after = feed_.last_id();
  FeedHold hold(feed_);  // before the watch subscribes: it gets each publication first
  auto watch = Watch(Account("W", std::nullopt), {});

  Submit({Event({"X"}), Event({"W"})});
  ASSERT_TRUE(hold.WaitReached()) << "the write was not published";
  ASSERT_TRUE(store_->LinkCustomers(w, x, "ops:test", "one person", {}).ok());
  hold.Open();
  Submit({Event({"X"}), Event({"W"})});
  Settle();
  const std::vector<std::int64_t> stored = StoredIds(opened_after);
  ASSERT_EQ(stored.size(), 4u);
  const std::vector<std::int64_t> expected = {stored[1], stored[2], stored[3]};
  ASSERT_TRUE(ReceivedThrough(*watch, expected.back()));
  CancelAndRelease(*watch);
  EXPECT_EQ(IdsOf(watch->received()), expected);
  EXPECT_EQ(CustomersOf(watch->received()), (std::vector<std::int64_t>{w, x, x}));
}

// Two changes before one lookup: a batch merges the customer W belongs to into an older one,
// and an admin then splits W away, while the watch's read waits on the lookups queue. Events
// written before the merge are those of the customer found before it, events after the split
// those of W alone; those in between are sent only when they name W and their customer is one
// of the two found, which none of them is here. No event of another customer arrives.
TEST_F(WatchStreamTest, AMergeAndASplitBeforeOneLookupSendNoOtherCustomersEvents) {
  SubmitMany(1, {"Y"});
  SubmitMany(1, {"X"});
  SubmitMany(1, {"W"});
  const std::int64_t w = CustomerOf("W");
  const std::int64_t x = CustomerOf("X");
  const std::int64_t y = CustomerOf("Y");
  Submit({Event({"W", "X"})});  // W is one with X when the watch opens
  Settle();
  auto merges = store_->ReadCustomer(x, store::MicrosNow());
  ASSERT_TRUE(merges.ok() && *merges && (*merges)->merges.size() == 1u);
  const std::int64_t w_into_x = (*merges)->merges.front().id;
  const std::int64_t opened_after = feed_.last_id();
  ScanQueue lookups({.threads = 1, .max_waiting = 4});
  LookupsHold hold(lookups);
  ASSERT_TRUE(hold.Holding());
  auto watch =
      std::make_unique<Client>(*store_, feed_, lookups, Account("W", std::nullopt), WatchLimits{});

  Submit({Event({"W"}), Event({"X"}), Event({"X", "Y"}), Event({"W"}), Event({"Y"})});
  ASSERT_TRUE(store_->SplitMerge(w_into_x, "ops:test", "two people", {}).ok());
  Submit({Event({"W"}), Event({"Y"})});
  Settle();
  EXPECT_EQ(CustomerOf("X"), y);
  EXPECT_EQ(CustomerOf("W"), w);
  hold.Open();
  Submit({Event({"W"})});  // once it arrives, whatever came before was decided
  Settle();
  const std::vector<std::int64_t> stored = StoredIds(opened_after);
  ASSERT_EQ(stored.size(), 8u);
  const std::vector<std::int64_t> expected = {stored[0], stored[1], stored[5], stored[7]};
  ASSERT_TRUE(ReceivedThrough(*watch, expected.back()));
  CancelAndRelease(*watch);
  EXPECT_EQ(IdsOf(watch->received()), expected);
  EXPECT_EQ(CustomersOf(watch->received()), (std::vector<std::int64_t>{x, x, w, w}));
}

// A cancel while a write is in flight ends the stream only once that write is done.
TEST_F(WatchStreamTest, ACancelEndsTheStreamOnceTheWriteInFlightIsDone) {
  SubmitMany(5, {"A1"});
  auto watch = Watch(Account("A1", 0), {}, nullptr, 2);
  ASSERT_TRUE(WaitUntil([&] { return watch->HeldSince().has_value(); }, kWait));
  watch->Cancel();
  EXPECT_FALSE(watch->ended()) << "the status went out before the write in flight";
  watch->Resume();
  auto status = watch->WaitForEnd();
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code(), StatusCode::kCancelled) << status->message();
  EXPECT_TRUE(watch->WaitReleased());
  EXPECT_EQ(watch->received().size(), 3u);
}

// A watch done while its read of the store waits on the lookups queue takes the read back and
// is released at once: nothing of it runs after it is done.
TEST_F(WatchStreamTest, DoneWhileItsReadWaitsOnTheLookupsTakesTheReadBack) {
  SubmitMany(1, {"A1"});
  SubmitMany(1, {"A2"});
  ScanQueue lookups({.threads = 1, .max_waiting = 1});
  LookupsHold hold(lookups);
  ASSERT_TRUE(hold.Holding());

  auto watch =
      std::make_unique<Client>(*store_, feed_, lookups, Account("A1", std::nullopt), WatchLimits{});
  Submit({Event({"A1", "A2"})});  // a merge: the watch must find its customer again
  Settle();
  // The queue is full with the watch's read: a job more is refused.
  EXPECT_FALSE(lookups.Submit([] { return ScanQueue::Answer(); }));
  CancelAndRelease(*watch);
  EXPECT_TRUE(watch->received().empty());
}

// Many watches opened and cancelled at every moment while the writer merges customers and
// stores their events: whatever a stream was doing (catching up, writing, waiting for or
// running a read on the lookups queue), it ends once and is released once, after its call is
// done, and what it sent until then is in id order without a duplicate.
TEST_F(WatchStreamTest, EveryStreamIsReleasedOnceWhateverItWasDoingWhenCancelled) {
  SubmitMany(50, {"W"});
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    for (int round = 0; writing; ++round) {
      const std::string a = "P" + std::to_string(round);
      const std::string b = "Q" + std::to_string(round);
      SubmitMany(5, {"W", a, b});
      Submit({Event({a, b}), Event({"W"})});
    }
  });
  std::minstd_rand random(3);
  for (int round = 0; round < 30; ++round) {
    std::vector<std::unique_ptr<Client>> clients;
    for (int i = 0; i < 4; ++i) {
      const std::optional<std::int64_t> after =
          i % 2 == 0 ? std::optional<std::int64_t>(
                           std::uniform_int_distribution<std::int64_t>(0, 40)(random))
                     : std::nullopt;
      clients.push_back(Watch(Account("W", after), {.buffer_limit = 8, .catch_up_page = 4}));
    }
    for (auto& client : clients) {
      client->WaitForReceived(std::uniform_int_distribution<std::size_t>(0, 6)(random));
      client->Cancel();
    }
    for (auto& client : clients) {
      auto status = client->WaitForEnd();
      ASSERT_TRUE(status);
      EXPECT_EQ(status->code(), StatusCode::kCancelled) << status->message();
      ASSERT_TRUE(client->WaitReleased());
      EXPECT_EQ(client->releases(), 1);
      const std::vector<std::int64_t> ids = IdsOf(client->received());
      EXPECT_TRUE(std::adjacent_find(ids.begin(), ids.end(), std::greater_equal<>()) == ids.end())
          << "out of order or repeated";
    }
  }
  writing = false;
  writer.join();
}

}  // namespace
}  // namespace propbridge::api
