// WatchTimeline served in the test's process over a FakeStore and the real change feed: what a
// watch delivers, resuming at a seam between the store and the feed, a consumer that stops
// reading, following a customer through a merge and a split, and the writer's thread, which
// publishes to the watches and must never wait for the store.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <numeric>
#include <thread>
#include <vector>

#include "tests/api/api_server.h"

namespace propbridge::testing {
namespace {

using namespace std::chrono_literals;

v1::WatchTimelineRequest WatchOf(const std::string& customer, std::int64_t after_id) {
  v1::WatchTimelineRequest request;
  request.set_customer(customer);
  request.set_after_id(after_id);
  return request;
}

// Every stored id of `events`, in order.
std::vector<std::int64_t> IdsOf(const std::vector<store::Event>& events) {
  std::vector<std::int64_t> ids;
  for (const auto& event : events) ids.push_back(event.id);
  return ids;
}

std::vector<std::string> SourceEventIds(const std::vector<v1::TimelineEvent>& events) {
  std::vector<std::string> ids;
  for (const auto& event : events) ids.push_back(event.source_event_id());
  return ids;
}

TEST(TimelineWatch, DeliversItsCustomersEventsThatMatchTheFilterInOrder) {
  auto server = ApiServer::Start();
  ASSERT_TRUE(server);
  auto stored =
      server->Commit("billing", {AccountEvent("B-1", "A-1", 0), AccountEvent("B-2", "A-2", 1),
                                 AccountEvent("P-3", "A-1", 2, "billing.payment.received")});
  auto request = WatchOf("account:A-1", 0);
  request.mutable_filter()->add_kind_prefixes("billing.charge");
  WatchCall watch(server->timeline(), request);
  ASSERT_TRUE(watch.Read(1));
  server->Commit("billing", {AccountEvent("B-4", "A-2", 3), AccountEvent("B-5", "A-1", 4),
                             AccountEvent("P-6", "A-1", 5, "billing.payment.received"),
                             AccountEvent("B-7", "A-1", 6)});
  ASSERT_TRUE(watch.Read(2));
  watch.context.TryCancel();
  EXPECT_EQ(watch.ReadToEnd().error_code(), grpc::StatusCode::CANCELLED);

  EXPECT_EQ(SourceEventIds(watch.received), (std::vector<std::string>{"B-1", "B-5", "B-7"}));
  const std::string customer = store::CustomerKey(server->CustomerOf("A-1"));
  for (const auto& event : watch.received) EXPECT_EQ(event.customer(), customer);
}

TEST(TimelineWatch, ACustomerNotKnownYetIsWatchedFromTheFirstEventThatNamesThem) {
  auto server = ApiServer::Start();
  ASSERT_TRUE(server);
  server->Commit("billing", {AccountEvent("B-1", "A-1", 0)});
  WatchCall watch(server->timeline(), WatchOf("account:A-9", 0));
  // Whether the watch finds them in the store or in the feed, it delivers the same.
  server->Commit("billing", {AccountEvent("B-2", "A-1", 1), AccountEvent("B-3", "A-9", 2)});
  server->Commit("billing", {AccountEvent("B-4", "A-9", 3)});
  ASSERT_TRUE(watch.Read(2));
  watch.context.TryCancel();
  watch.ReadToEnd();
  EXPECT_EQ(SourceEventIds(watch.received), (std::vector<std::string>{"B-3", "B-4"}));
}

// A resumed watch reads the store page by page, then goes on with the feed: no gap, no
// duplicate at either seam.
TEST(TimelineWatch, ResumingReadsTheStoreThenTheFeedWithoutGapOrDuplicate) {
  api::TimelineServiceOptions options;
  options.watch.catch_up_page = 4;
  auto server = ApiServer::Start(options);
  ASSERT_TRUE(server);
  std::vector<std::int64_t> expected;
  for (int i = 0; i < 30; ++i) {
    const std::string account = i % 3 == 0 ? "A-2" : "A-1";
    auto stored = server->Commit("billing", {AccountEvent("B-" + std::to_string(i), account, i)});
    if (account == "A-1") expected.push_back(stored.front().id);
  }
  const std::int64_t resume_after = expected[9];
  expected.erase(expected.begin(), expected.begin() + 10);

  WatchCall watch(server->timeline(), WatchOf("account:A-1", resume_after));
  ASSERT_TRUE(watch.Read(expected.size() / 2));
  for (int i = 30; i < 40; ++i) {
    expected.push_back(
        server->Commit("billing", {AccountEvent("B-" + std::to_string(i), "A-1", i)}).front().id);
  }
  ASSERT_TRUE(watch.Read(expected.size() - watch.received.size()));
  watch.context.TryCancel();
  watch.ReadToEnd();
  EXPECT_EQ(Ids(watch.received), expected);
}

TEST(TimelineWatch, AConsumerThatStopsReadingIsEndedWithTheIdToResumeAfter) {
  api::TimelineServiceOptions options;
  options.watch.buffer_limit = 20;
  options.watch.stall_timeout = 200ms;
  auto server = ApiServer::Start(options);
  ASSERT_TRUE(server);
  std::vector<std::int64_t> stored =
      IdsOf(server->Commit("billing", {AccountEvent("B-0", "A-1", 0)}));

  // Far more than the 64 KiB a stream that is not read takes in.
  auto slow_stub = server->OwnTimelineStub();
  WatchCall slow(*slow_stub, WatchOf("account:A-1", 0));
  ASSERT_TRUE(slow.Read(1));
  for (int batch = 0; batch < 30; ++batch) {
    std::vector<store::Event> events;
    for (int i = 0; i < 100; ++i) {
      const int n = batch * 100 + i + 1;
      events.push_back(AccountEvent("B-" + std::to_string(n), "A-1", n));
    }
    auto ids = IdsOf(server->Commit("billing", std::move(events)));
    stored.insert(stored.end(), ids.begin(), ids.end());
  }
  // The stall is what is under test: once a write has waited longer, the next events end it.
  std::this_thread::sleep_for(options.watch.stall_timeout * 2);
  stored.push_back(server->Commit("billing", {AccountEvent("B-last", "A-1", 4000)}).front().id);

  grpc::Status status = slow.ReadToEnd();
  ASSERT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << status.error_message() << " after " << slow.received.size() << " events";
  ASSERT_TRUE(slow.ResumeId());
  EXPECT_EQ(*slow.ResumeId(), slow.received.back().id());
  EXPECT_NE(status.error_message().find("after_id=" + std::to_string(*slow.ResumeId())),
            std::string::npos)
      << status.error_message();
  EXPECT_LT(slow.received.size(), stored.size() / 2) << "the stream was not held back";

  WatchCall resumed(server->timeline(), WatchOf("account:A-1", *slow.ResumeId()));
  ASSERT_TRUE(resumed.Read(stored.size() - slow.received.size()));
  resumed.context.TryCancel();
  resumed.ReadToEnd();
  auto joined = Ids(slow.received);
  auto more = Ids(resumed.received);
  joined.insert(joined.end(), more.begin(), more.end());
  EXPECT_EQ(joined, stored);
}

TEST(TimelineWatch, FollowsItsCustomerThroughAMergeAndASplit) {
  auto server = ApiServer::Start();
  ASSERT_TRUE(server);
  auto first =
      server->Commit("billing", {AccountEvent("B-1", "A-1", 0), AccountEvent("B-2", "A-2", 1)});
  const std::int64_t older = server->CustomerOf("A-1");
  const std::int64_t newer = server->CustomerOf("A-2");
  WatchCall watch(server->timeline(), WatchOf("account:A-2", 0));
  ASSERT_TRUE(watch.Read(1));

  auto merge = server->store().LinkCustomers(older, newer, "ops:test", "one household", {});
  ASSERT_TRUE(merge.ok()) << merge.status().message();
  server->Commit("billing", {AccountEvent("B-3", "A-2", 2), AccountEvent("B-4", "A-1", 3)});
  ASSERT_TRUE(watch.Read(2)) << "the watch lost its customer to the merge";
  EXPECT_EQ(watch.received[1].source_event_id(), "B-3");
  EXPECT_EQ(watch.received[1].customer(), store::CustomerKey(older));
  EXPECT_EQ(watch.received[2].source_event_id(), "B-4") << "the kept customer's own events too";

  ASSERT_TRUE(server->store().SplitMerge(merge->id, "ops:test", "two households", {}).ok());
  server->Commit("billing", {AccountEvent("B-5", "A-1", 4), AccountEvent("B-6", "A-2", 5)});
  ASSERT_TRUE(watch.Read(1)) << "the watch lost its customer to the split";
  EXPECT_EQ(watch.received[3].source_event_id(), "B-6");
  EXPECT_EQ(watch.received[3].customer(), store::CustomerKey(newer));
  watch.context.TryCancel();
  EXPECT_EQ(watch.ReadToEnd().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(watch.received.size(), 4u);
}

// A link committed after a write and before its publication: the watch of A-2 gets A-2's
// event of that write, not the event A-1 had before the link, and both customers' events
// from the link on.
TEST(TimelineWatch, ALinkBetweenAWriteAndItsPublicationLeavesTheWrittenEventsToTheirCustomer) {
  auto server = ApiServer::Start();
  ASSERT_TRUE(server);
  server->Commit("billing", {AccountEvent("B-1", "A-1", 0), AccountEvent("B-2", "A-2", 1)});
  const std::int64_t older = server->CustomerOf("A-1");
  const std::int64_t newer = server->CustomerOf("A-2");
  WatchCall watch(server->timeline(), WatchOf("account:A-2", 0));
  ASSERT_TRUE(watch.Read(1));

  auto written =
      server->Write("billing", {AccountEvent("O-3", "A-1", 2), AccountEvent("N-4", "A-2", 3)});
  ASSERT_TRUE(server->store().LinkCustomers(older, newer, "ops:test", "one household", {}).ok());
  server->feed().Publish(written);
  server->Commit("billing", {AccountEvent("O-5", "A-1", 4), AccountEvent("N-6", "A-2", 5)});
  while (watch.received.size() < 5 && watch.received.back().source_event_id() != "N-6") {
    ASSERT_TRUE(watch.Read(1));
  }
  watch.context.TryCancel();
  EXPECT_EQ(watch.ReadToEnd().error_code(), grpc::StatusCode::CANCELLED);
  // The watched customer's own events, none lost. O-3, the other half's event committed before
  // the link, is sent only when the watch read it from the store after the link (it had not
  // caught up yet), where it is the merged customer's like every event of both halves: as a
  // watch resumed after the link would send it.
  std::vector<std::string> ids = SourceEventIds(watch.received);
  std::erase(ids, "O-3");
  EXPECT_EQ(ids, (std::vector<std::string>{"B-2", "N-4", "O-5", "N-6"}));
  for (const auto& event : watch.received) {
    EXPECT_TRUE(event.customer() == store::CustomerKey(newer) ||
                event.customer() == store::CustomerKey(older))
        << event.source_event_id() << " of " << event.customer();
  }
  EXPECT_EQ(watch.received.back().customer(), store::CustomerKey(older));
}

// The feed calls the watches on the ingest writer's thread: however long finding a customer
// again after a merge takes (here: until the test lets the store answer, as when every reader
// connection is busy), publishing returns at once, and the events follow in order once the
// customer is found.
TEST(TimelineWatch, AMergeNeverMakesTheWriterWaitForTheStore) {
  auto server = ApiServer::Start();
  ASSERT_TRUE(server);
  server->Commit("billing", {AccountEvent("B-1", "A-1", 0), AccountEvent("B-2", "A-2", 1)});
  const std::int64_t older = server->CustomerOf("A-1");
  const std::int64_t newer = server->CustomerOf("A-2");
  WatchCall watch(server->timeline(), WatchOf("account:A-2", 0));
  // Its first event is written once the watch takes the feed's events.
  ASSERT_TRUE(watch.Read(1));

  server->store().HoldLookups();
  ASSERT_TRUE(server->store().LinkCustomers(older, newer, "ops:test", "one household", {}).ok());
  // Publishes as the writer does, on a thread of its own; false when it did not return in time
  // (then the store answers, so that the test fails rather than hangs).
  auto published_promptly = [&](std::vector<store::Event> events) {
    auto published = std::async(std::launch::async, [&server, events = std::move(events)] {
      server->feed().Publish(events);
    });
    if (published.wait_for(5s) == std::future_status::ready) return true;
    server->store().ReleaseLookups();
    return false;
  };
  std::vector<store::Event> expected;
  for (int batch = 0; batch < 3; ++batch) {
    auto events =
        server->Write("billing", {AccountEvent("M-" + std::to_string(batch), "A-2", 10 + batch),
                                  AccountEvent("O-" + std::to_string(batch), "A-3", 10 + batch)});
    expected.push_back(events.front());
    ASSERT_TRUE(published_promptly(std::move(events)))
        << "the writer waited for the watch's lookup of its customer";
  }
  EXPECT_TRUE(server->store().WaitForHeldLookups(1, 10s)) << "nothing looked the customer up";

  server->store().ReleaseLookups();
  ASSERT_TRUE(watch.Read(expected.size()));
  watch.context.TryCancel();
  watch.ReadToEnd();
  ASSERT_EQ(watch.received.size(), expected.size() + 1);
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(watch.received[i + 1].id(), expected[i].id);
    EXPECT_EQ(watch.received[i + 1].customer(), store::CustomerKey(older));
  }
}

}  // namespace
}  // namespace propbridge::testing
