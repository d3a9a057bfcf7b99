// WatchTimeline against the real daemon and the real synthetic plugin over real gRPC:
// resuming after a dropped stream, a consumer that stops reading, cancellation, deadlines and
// the limits on open watches, in all and per client.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "tests/api/api_daemon.h"
#include "tests/support/wait_until.h"

namespace propbridge::testing {
namespace {

using namespace std::chrono_literals;

// The union of what two streams delivered, in the order they delivered it.
std::vector<std::int64_t> Joined(const WatchCall& first, const WatchCall& second) {
  auto ids = Ids(first.received);
  auto more = Ids(second.received);
  ids.insert(ids.end(), more.begin(), more.end());
  return ids;
}

// Opens watches on `customer` from the first stored event until one is admitted (it delivers
// an event) or the timeout passes; a refused one ends at once with RESOURCE_EXHAUSTED. A slot
// is given back when the daemon is done with a call, which no client can see but by asking.
std::unique_ptr<WatchCall> WaitForAdmission(v1::TimelineService::Stub& stub,
                                            const std::string& customer) {
  v1::WatchTimelineRequest request;
  request.set_customer(customer);
  request.set_after_id(0);
  std::unique_ptr<WatchCall> admitted;
  WaitUntil(
      [&] {
        auto call = std::make_unique<WatchCall>(stub, request);
        if (call->Read(1)) {
          admitted = std::move(call);
          return true;
        }
        grpc::Status status = call->reader->Finish();
        EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
            << status.error_message();
        return false;
      },
      30s, 20ms);
  return admitted;
}

TEST(ApiWatch, ResumingAfterADroppedStreamHasNoGapAndNoDuplicate) {
  TempDir dir;
  // Two customers, so the watch for one also proves the customer selection; the plugin is
  // still emitting when the first stream is dropped and when the second one catches up.
  auto daemon =
      ApiDaemon::Start(dir, SyntheticInstance("live",
                                              "count = 3000\nbatch_size = 10\ncustomers = 2\n"
                                              "interval_ms = 10\n"));
  ASSERT_TRUE(daemon);
  const std::string customer = "account:C1";
  const std::size_t total = 1500;

  v1::WatchTimelineRequest request;
  request.set_customer(customer);
  request.set_after_id(0);
  WatchCall first(daemon->stub(), request);
  ASSERT_TRUE(first.Read(300));
  first.context.TryCancel();
  EXPECT_EQ(first.reader->Finish().error_code(), grpc::StatusCode::CANCELLED);

  request.set_after_id(first.received.back().id());
  WatchCall second(daemon->stub(), request);
  ASSERT_TRUE(second.Read(total - first.received.size()));
  second.context.TryCancel();
  second.reader->Finish();

  const auto joined = Joined(first, second);
  EXPECT_TRUE(std::is_sorted(joined.begin(), joined.end()));
  EXPECT_EQ(std::adjacent_find(joined.begin(), joined.end()), joined.end()) << "a duplicate";
  v1::GetTimelineRequest whole;
  whole.set_customer(customer);
  whole.set_page_size(1000);
  auto stored = Ids(daemon->ReadPages(whole));
  std::sort(stored.begin(), stored.end());
  EXPECT_EQ(joined, stored);
  // Every event is C1's, under the customer id the store gave C1.
  const std::string id = first.received.front().customer();
  EXPECT_EQ(id.rfind("customer:", 0), 0u) << id;
  for (const auto& event : first.received) EXPECT_EQ(event.customer(), id);
  for (const auto& event : second.received) EXPECT_EQ(event.customer(), id);
}

TEST(ApiWatch, BurstsLargerThanTheBufferDoNotEndAWatchThatKeepsUp) {
  TempDir dir;
  // Every batch of 400 is one commit, 8 times the stream's buffer of 50.
  const std::size_t total = 4000;
  auto daemon =
      ApiDaemon::Start(dir, "[api]\nwatch_buffer_events = 50\n" +
                                SyntheticInstance("burst",
                                                  "count = 4000\nbatch_size = 400\ncustomers = 3\n"
                                                  "interval_ms = 50\n"));
  ASSERT_TRUE(daemon);
  v1::WatchTimelineRequest request;  // every customer, from the first event on
  request.set_after_id(0);
  WatchCall watch(daemon->stub(), request);
  ASSERT_TRUE(watch.Read(total)) << watch.ReadToEnd().error_message();
  watch.context.TryCancel();
  watch.reader->Finish();
  const auto ids = Ids(watch.received);
  ASSERT_EQ(ids.size(), total);
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end()) << "a duplicate";
  EXPECT_EQ(ids.back() - ids.front() + 1, static_cast<std::int64_t>(total)) << "a gap";
}

TEST(ApiWatch, ASlowConsumerIsEndedWithTheResumeIdAndResumingLosesNothing) {
  TempDir dir;
  const std::size_t buffer = 50;
  auto daemon = ApiDaemon::Start(
      dir, "[api]\nwatch_buffer_events = 50\n" +
               SyntheticInstance("live",
                                 "count = 1000000\nbatch_size = 20\ncustomers = 1\n"
                                 "interval_ms = 10\n"));
  ASSERT_TRUE(daemon);
  const std::string customer = "account:C0";
  // Far more than 64 KiB of events, the most the unread stream can hold in flight.
  const std::int64_t behind = 5000;

  // From now on: the first event proves the watch is live; then the client stops reading.
  auto slow_stub = daemon->OwnStub();
  v1::WatchTimelineRequest request;
  request.set_customer(customer);
  WatchCall slow(*slow_stub, request);
  ASSERT_TRUE(slow.Read(1));
  const std::int64_t first_id = slow.received.front().id();
  auto deadline = std::chrono::steady_clock::now() + 60s;
  std::int64_t newest = 0;
  while ((newest = daemon->NewestId(customer)) < first_id + behind) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the plugin stalled";
  }

  grpc::Status status = slow.ReadToEnd();
  ASSERT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_NE(status.error_message().find("after_id="), std::string::npos) << status.error_message();
  ASSERT_TRUE(slow.ResumeId());
  EXPECT_EQ(*slow.ResumeId(), slow.received.back().id())
      << "the resume id must be the last event received";
  // What the daemon held for the stream was bounded by the buffer, not by the backlog.
  EXPECT_LT(static_cast<std::int64_t>(slow.received.size()), behind / 2);
  EXPECT_GT(slow.received.size(), buffer);

  request.set_after_id(*slow.ResumeId());
  WatchCall resumed(daemon->stub(), request);
  while (resumed.received.empty() || resumed.received.back().id() < newest) {
    ASSERT_TRUE(resumed.Read(1));
  }
  resumed.context.TryCancel();
  resumed.reader->Finish();

  const auto joined = Joined(slow, resumed);
  EXPECT_TRUE(std::is_sorted(joined.begin(), joined.end()));
  EXPECT_EQ(std::adjacent_find(joined.begin(), joined.end()), joined.end()) << "a duplicate";
  v1::GetTimelineRequest stored_request;
  stored_request.set_customer(customer);
  stored_request.set_page_size(1000);
  stored_request.set_order(v1::TIMELINE_ORDER_OLDEST_FIRST);
  std::vector<std::int64_t> stored;
  for (std::int64_t id : Ids(daemon->ReadPages(stored_request))) {
    if (id >= first_id && id <= joined.back()) stored.push_back(id);
  }
  EXPECT_EQ(joined, stored);
}

// The limit on all watches together. Each watch comes from a loopback address of its own, so
// that the share one client may hold (a quarter of max_watches, at least 1) is never the limit
// met here.
class ApiWatchLimit : public ::testing::Test {
 protected:
  virtual int MaxWatches() const { return 2; }
  // More [api] keys.
  virtual std::string MoreApiKeys() const { return ""; }

  void SetUp() override {
    daemon_ = ApiDaemon::Start(
        dir_, "[api]\nmax_watches = " + std::to_string(MaxWatches()) + "\n" + MoreApiKeys() +
                  SyntheticInstance("seed", "count = 100\nbatch_size = 100\ncustomers = 1\n"));
    ASSERT_TRUE(daemon_);
    daemon_->WaitForCount(kCustomer, 100);
    for (const char* source : {"127.0.0.2", "127.0.0.3"}) {
      auto channel = daemon_->ChannelFrom(source);
      ASSERT_TRUE(channel);
      others_.push_back(v1::TimelineService::NewStub(channel));
    }
  }

  // Asserts that a watch from `stub` is refused with a message that says which limit it hit.
  void ExpectRefused(v1::TimelineService::Stub& stub, const std::string& limit) {
    v1::WatchTimelineRequest request;
    request.set_customer(kCustomer);
    request.set_after_id(0);
    WatchCall refused(stub, request);
    grpc::Status status = refused.ReadToEnd();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_NE(status.error_message().find(limit), std::string::npos) << status.error_message();
    EXPECT_FALSE(refused.ResumeId()) << "a refusal is not a watch that fell behind";
  }

  static constexpr char kCustomer[] = "account:C0";
  TempDir dir_;
  std::unique_ptr<ApiDaemon> daemon_;
  // Stubs whose connections come from 127.0.0.2 and 127.0.0.3.
  std::vector<std::unique_ptr<v1::TimelineService::Stub>> others_;
};

TEST_F(ApiWatchLimit, ACancelledWatchFreesItsSlot) {
  auto first = WaitForAdmission(daemon_->stub(), kCustomer);
  auto second = WaitForAdmission(*others_[0], kCustomer);
  ASSERT_TRUE(first && second);
  ExpectRefused(*others_[1], "too many watches are open (2, [api] max_watches)");

  first->context.TryCancel();
  EXPECT_EQ(first->reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(WaitForAdmission(*others_[1], kCustomer)) << "the cancelled slot stayed taken";
  second->context.TryCancel();
  second->reader->Finish();
}

TEST_F(ApiWatchLimit, ADeadlineEndsAWatchAndFreesItsSlot) {
  auto open = WaitForAdmission(daemon_->stub(), kCustomer);
  ASSERT_TRUE(open);
  // Live only: nothing more arrives, so only the deadline can end it.
  v1::WatchTimelineRequest request;
  request.set_customer(kCustomer);
  WatchCall quiet(*others_[0], request, 1s);
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(quiet.ReadToEnd().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 900ms);
  EXPECT_TRUE(quiet.received.empty());

  auto next = WaitForAdmission(*others_[0], kCustomer);
  EXPECT_TRUE(next) << "the slot of the expired watch stayed taken";
  ExpectRefused(*others_[1], "too many watches are open");
  open->context.TryCancel();
  open->reader->Finish();
  next->context.TryCancel();
  next->reader->Finish();
}

// The share of one client: max_watches 8 gives each client 2.
class ApiWatchPerClient : public ApiWatchLimit {
 protected:
  int MaxWatches() const override { return 8; }
};

// One client, however many connections it opens, holds at most its share of the watches;
// another client still gets one.
TEST_F(ApiWatchPerClient, OneClientCannotTakeEveryWatch) {
  // The client at 127.0.0.1: its share on one connection, then one more on another.
  auto first = WaitForAdmission(daemon_->stub(), kCustomer);
  auto second = WaitForAdmission(daemon_->stub(), kCustomer);
  ASSERT_TRUE(first && second);
  auto own = daemon_->OwnStub();
  ExpectRefused(*own,
                "has 2 watches open, the most one client may have ([api] "
                "max_watches_per_client)");
  ExpectRefused(daemon_->stub(), "ipv4:127.0.0.1");

  auto others_watch = WaitForAdmission(*others_[0], kCustomer);
  EXPECT_TRUE(others_watch) << "another client was refused while 6 watches were free";

  first->context.TryCancel();
  first->reader->Finish();
  auto again = WaitForAdmission(*own, kCustomer);
  EXPECT_TRUE(again) << "the client's cancelled watch still counted against its share";
  for (auto* call : {second.get(), others_watch.get(), again.get()}) {
    if (call == nullptr) continue;
    call->context.TryCancel();
    call->reader->Finish();
  }
}

// The share as configured, rather than a quarter of max_watches.
class ApiWatchConfiguredShare : public ApiWatchLimit {
 protected:
  int MaxWatches() const override { return 8; }
  std::string MoreApiKeys() const override { return "max_watches_per_client = 1\n"; }
};

TEST_F(ApiWatchConfiguredShare, TheConfiguredShareIsTheLimit) {
  auto first = WaitForAdmission(daemon_->stub(), kCustomer);
  ASSERT_TRUE(first);
  ExpectRefused(*daemon_->OwnStub(), "has 1 watches open");
  first->context.TryCancel();
  first->reader->Finish();
}

}  // namespace
}  // namespace propbridge::testing
