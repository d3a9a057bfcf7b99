// The fakes do what their headers promise, so that a test built on them tests its subject.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "tests/fakes/fake_context.h"
#include "tests/fakes/fake_plugin_control.h"
#include "tests/fakes/fake_store.h"

namespace propbridge::testing {
namespace {

using namespace std::chrono_literals;

store::Event Named(const std::string& source_event_id, std::vector<std::string> accounts,
                   int minute) {
  store::Event event;
  event.source_event_id = source_event_id;
  event.kind = "billing.charge.posted";
  event.step = sdk::Step::kHelp;
  event.occurred_at = store::Micros(std::chrono::minutes(minute));
  for (auto& account : accounts) event.identifiers.push_back({"account", std::move(account)});
  return event;
}

store::BatchOutcome WriteOne(FakeStore& store, std::vector<store::Event> events,
                             const std::string& checkpoint = "") {
  store::Batch batch;
  batch.source = "billing";
  batch.events = std::move(events);
  batch.checkpoint = checkpoint;
  return store.Write({&batch, 1}).front();
}

store::ChangesQuery ChangesOf(std::int64_t customer) {
  store::ChangesQuery query;
  query.customer = customer;
  return query;
}

sdk::Batch Checkpointed(const std::string& checkpoint) {
  sdk::Batch batch;
  batch.checkpoint = checkpoint;
  return batch;
}

std::vector<std::string> SourceIds(const std::vector<store::Event>& events) {
  std::vector<std::string> ids;
  for (const auto& e : events) ids.push_back(e.source_event_id);
  return ids;
}

TEST(FakeStore, StoresEachSourceEventOnceUnderTheCustomerItsIdentifiersName) {
  FakeStore store;
  auto first = WriteOne(store, {Named("B-1", {"A-1"}, 0), Named("B-2", {"A-2"}, 1)}, "file-1");
  EXPECT_EQ(first.ids, (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(first.customers, (std::vector<std::int64_t>{1, 2}));
  // A replay stores nothing; an identifier seen before names its customer.
  auto again = WriteOne(store, {Named("B-1", {"A-1"}, 0), Named("B-3", {"A-9", "A-2"}, 2)});
  EXPECT_EQ(again.duplicates, 1u);
  EXPECT_EQ(again.ids, (std::vector<std::int64_t>{0, 3}));
  EXPECT_EQ(again.customers, (std::vector<std::int64_t>{0, 2}));
  EXPECT_EQ(*store.FindCustomer({"account", "A-9"}), std::optional<std::int64_t>(2));
  EXPECT_EQ(*store.FindCustomer({"customer", "2"}), std::optional<std::int64_t>(2));
  EXPECT_EQ(*store.FindCustomer({"account", "A-404"}), std::nullopt);
  EXPECT_EQ(*store.LoadCheckpoint("billing"), std::optional<std::string>("file-1"));

  store::TimelineQuery query;
  query.customer = 2;
  query.limit = 1;
  auto newest = store.ReadTimeline(query);
  ASSERT_TRUE(newest.ok());
  EXPECT_EQ(SourceIds(*newest), std::vector<std::string>{"B-3"});
  query.after = store::TimelineCursor{newest->back().occurred_at, newest->back().id};
  EXPECT_EQ(SourceIds(*store.ReadTimeline(query)), std::vector<std::string>{"B-2"});
}

TEST(FakeStore, ALinkMovesEventsToTheOlderCustomerAndASplitMovesThemBack) {
  FakeStore store;
  WriteOne(store, {Named("B-1", {"A-1"}, 0), Named("B-2", {"A-2"}, 1)});
  const std::uint64_t before = store.MergeGeneration();
  auto merge = store.LinkCustomers(2, 1, "ops:test", "one household", {});
  ASSERT_TRUE(merge.ok());
  EXPECT_EQ(merge->kept, 1);
  EXPECT_EQ(merge->absorbed, 2);
  EXPECT_GT(store.MergeGeneration(), before);
  EXPECT_EQ(*store.FindCustomer({"account", "A-2"}), std::optional<std::int64_t>(1));
  EXPECT_EQ(SourceIds(*store.ReadChanges(ChangesOf(1))), (std::vector<std::string>{"B-1", "B-2"}));
  EXPECT_EQ(store.LinkCustomers(1, 2, "ops:test", "again", {}).status().code(),
            StatusCode::kInvalidArgument);
  auto customer = store.ReadCustomer(2, store::MicrosNow());
  ASSERT_TRUE(customer.ok() && *customer);
  EXPECT_EQ((*customer)->id, 1) << "a merged-away id reads as the customer kept";
  EXPECT_EQ((*customer)->merges.size(), 1u);
  EXPECT_EQ((*customer)->steps[2].events, 2);

  const std::uint64_t merged = store.MergeGeneration();
  ASSERT_TRUE(store.SplitMerge(merge->id, "ops:test", "two households", {}).ok());
  EXPECT_GT(store.MergeGeneration(), merged);
  EXPECT_EQ(*store.FindCustomer({"account", "A-2"}), std::optional<std::int64_t>(2));
  EXPECT_EQ(SourceIds(*store.ReadChanges(ChangesOf(2))), std::vector<std::string>{"B-2"});
  EXPECT_EQ(store.SplitMerge(merge->id, "ops:test", "twice", {}).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(store.SplitMerge(99, "ops:test", "none", {}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store.LinkCustomers(1, 99, "ops:test", "none", {}).status().code(),
            StatusCode::kNotFound);
}

// What a watch tells whose an event was by: the settled generation it was resolved under.
TEST(FakeStore, EachEventCarriesTheMergeGenerationItWasResolvedUnder) {
  FakeStore store;
  auto first = WriteOne(store, {Named("B-1", {"A-1"}, 0), Named("B-2", {"A-2"}, 1)});
  EXPECT_EQ(first.merge_generations, (std::vector<std::uint64_t>{0, 0}));
  ASSERT_TRUE(store.LinkCustomers(2, 1, "ops:test", "one household", {}).ok());
  const std::uint64_t linked = store.MergeGeneration();
  EXPECT_TRUE(store::MergesSettled(linked));
  auto after = WriteOne(store, {Named("B-1", {"A-1"}, 0), Named("B-3", {"A-2"}, 2)});
  EXPECT_EQ(after.merge_generations, (std::vector<std::uint64_t>{0, linked}))
      << "0 for the duplicate";
}

TEST(FakeStore, KeepsAnAuditRecordOfEveryChangeNewestFirst) {
  FakeStore store;
  WriteOne(store, {Named("B-1", {"A-1"}, 0), Named("B-2", {"A-2"}, 1)});
  store::AuditRecord link;
  link.method = "AdminService.LinkCustomers";
  ASSERT_TRUE(store.LinkCustomers(2, 1, "ops:test", "one household", link).ok());
  ASSERT_FALSE(store.LinkCustomers(2, 1, "ops:test", "again", link).ok());
  store::AuditRecord stop;
  stop.method = "AdminService.StopPlugin";
  stop.result = "OK";
  EXPECT_EQ(*store.RecordAudit(stop), 3);

  auto records = store.ReadAudit({.before_id = std::nullopt, .limit = 10});
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 3u);
  EXPECT_EQ((*records)[0].method, "AdminService.StopPlugin");
  EXPECT_EQ((*records)[1].result.rfind("INVALID_ARGUMENT: ", 0), 0u) << (*records)[1].result;
  EXPECT_EQ((*records)[2].result, "OK: merge 1");
  EXPECT_EQ(store.ReadAudit({.before_id = 2, .limit = 10})->size(), 1u);
}

TEST(FakeStore, WhatItDoesNotComputeIsUnimplementedSayingSo) {
  FakeStore store;
  auto outreach = store.ReadOutreach({}, {});
  EXPECT_EQ(outreach.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(outreach.status().message().find("fake store"), std::string::npos);
  EXPECT_EQ(store.ReadCommunityFigures("", store::MicrosNow(), {}).status().code(),
            StatusCode::kUnimplemented);
}

TEST(FakeStore, HeldLookupsWaitUntilReleased) {
  FakeStore store;
  WriteOne(store, {Named("B-1", {"A-1"}, 0)});
  store.HoldLookups();
  auto found = std::async(std::launch::async, [&] {
    return store.FindCustomer({"account", "A-1"});
  });
  ASSERT_TRUE(store.WaitForHeldLookups(1, 10s));
  EXPECT_EQ(store.MergeGeneration(), 0u) << "the generation never waits";
  EXPECT_EQ(found.wait_for(0s), std::future_status::timeout);
  store.ReleaseLookups();
  EXPECT_EQ(*found.get(), std::optional<std::int64_t>(1));
}

TEST(FakePluginControl, RunsCommandsOnItsInstancesAndRefusesAsTheDaemonDoes) {
  api::PluginStatus billing;
  billing.name = "billing";
  billing.state = v1::PLUGIN_STATE_FAILED;
  billing.last_error = "inbox missing";
  api::PluginStatus legacy;
  legacy.name = "legacy";
  legacy.state = v1::PLUGIN_STATE_DISABLED;
  FakePluginControl plugins({billing, legacy});
  EXPECT_TRUE(plugins.Restart("billing").ok());
  EXPECT_EQ(plugins.List()[0].state, v1::PLUGIN_STATE_RUNNING);
  EXPECT_EQ(plugins.List()[0].restarts, 1u);
  EXPECT_EQ(plugins.List()[0].last_error, "");
  EXPECT_TRUE(plugins.Stop("billing").ok());
  EXPECT_EQ(plugins.List()[0].state, v1::PLUGIN_STATE_STOPPED);
  EXPECT_EQ(plugins.Restart("legacy").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(plugins.Stop("nobody").code(), StatusCode::kNotFound);
  EXPECT_EQ(plugins.commands(), (std::vector<std::string>{"restart billing", "stop billing",
                                                          "restart legacy", "stop nobody"}));
}

TEST(FakeContext, KeepsTheBatchesItAcceptsAndHoldsEmitsWhenAsked) {
  FakeContextOptions options;
  options.instance_name = "billing";
  options.settings = {{"inbox", "/in"}};
  options.last_checkpoint = "file-7";
  FakeContext context(options);
  EXPECT_EQ(context.InstanceName(), "billing");
  EXPECT_EQ(context.Config().Get("inbox"), std::optional<std::string>("/in"));
  EXPECT_EQ(context.LastCheckpoint(), std::optional<std::string>("file-7"));

  context.AnswerWith([](const sdk::Batch& batch) {
    return batch.checkpoint == "bad" ? Unavailable("the queue is closed") : Status::Ok();
  });
  EXPECT_EQ(context.Emit(Checkpointed("bad")).code(), StatusCode::kUnavailable);
  EXPECT_TRUE(context.Emit(Checkpointed("good")).ok());
  EXPECT_EQ(context.batches().size(), 1u);

  context.HoldEmits();
  auto emitted =
      std::async(std::launch::async, [&] { return context.Emit(Checkpointed("later")); });
  ASSERT_TRUE(context.WaitForHeldEmits(1, 10s));
  context.Log().Warn("waiting");
  context.ReleaseEmits();
  EXPECT_TRUE(emitted.get().ok());
  EXPECT_TRUE(context.WaitForBatches(2, 10s));
  EXPECT_EQ(context.batches().back().checkpoint, "later");
  EXPECT_EQ(context.lines(), std::vector<std::string>{"warn: waiting"});
}

}  // namespace
}  // namespace propbridge::testing
