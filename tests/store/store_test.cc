// The Store interface as every backend serves it: the same cases, unchanged, on SQLite and on
// PostgreSQL (tests/support/store_backend.h). What only one backend has (SQLite's files and
// their modes, PostgreSQL's plans) is tested beside its backend.
#include "daemon/store/store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/store/test_batches.h"
#include "tests/support/store_backend.h"

namespace propbridge::store {
namespace {

using std::chrono::microseconds;
using std::chrono::seconds;

// The customer that the account `account` resolved to; 0 when none.
std::int64_t CustomerOf(Store& store, const std::string& account) {
  auto customer = store.FindCustomer({"account", account});
  EXPECT_TRUE(customer.ok()) << customer.status().message();
  return customer.ok() ? customer->value_or(0) : 0;
}

std::vector<std::string> SourceEventIds(const std::vector<Event>& events) {
  std::vector<std::string> ids;
  for (const Event& event : events) ids.push_back(event.source_event_id);
  return ids;
}

class StoreTest : public testing::StoreBackendTest {
 protected:
  std::unique_ptr<Store> Open(std::size_t readers = 2) {
    return backend_.Open({.path = {}, .reader_connections = readers});
  }

  std::vector<Event> Timeline(Store& store, const std::string& customer) {
    auto events = store.ReadTimeline(
        {.customer = CustomerOf(store, customer), .limit = 1'000'000, .after = std::nullopt});
    EXPECT_TRUE(events.ok()) << events.status().message();
    return events.ok() ? std::move(events).value() : std::vector<Event>{};
  }
};

TEST_P(StoreTest, RoundTripsEveryField) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Event event;
  event.identifiers = {{"account", "A-1001"}};
  event.step = sdk::Step::kEmpathize;
  event.kind = "service.complaint.opened";
  event.occurred_at = kBase + microseconds(123'456);
  event.ingested_at = kBase + seconds(60) + microseconds(7);
  event.source = "crm";
  event.source_event_id = "C-77";
  event.initiative = sdk::Initiative::kReactive;
  event.contact = true;
  event.channel = "phone";
  event.matter_id = "M-5";
  event.matter_state = sdk::MatterState::kClosed;
  event.summary = std::string("Complained about the lift, 电梯坏了\0tail", 43);
  event.attributes = {{"b", "1"}, {"a", "2"}, {"b", "3"}, {"bad", "x\xff"}, {"", ""}};
  QuarantineRecord record{.source = "crm",
                          .origin = "complaints.csv line 17",
                          .reason = "no customer identifier",
                          .raw = std::string("\xff\x00\x01,raw", 8),
                          .quarantined_at = kBase + microseconds(99)};
  Batch batch{.source = "crm", .events = {event}, .quarantined = {record}, .checkpoint = "row 17"};

  auto outcomes = store->Write({&batch, 1});
  ASSERT_EQ(outcomes.size(), 1u);
  ASSERT_TRUE(outcomes[0].status.ok()) << outcomes[0].status.message();
  EXPECT_EQ(outcomes[0].inserted, 1u);
  EXPECT_EQ(outcomes[0].duplicates, 0u);

  auto events = Timeline(*store, "A-1001");
  ASSERT_EQ(events.size(), 1u);
  const Event& got = events[0];
  EXPECT_GT(got.id, 0);
  EXPECT_EQ(got.customer, outcomes[0].customers.at(0));
  EXPECT_GT(got.customer, 0);
  EXPECT_EQ(got.identifiers, event.identifiers);
  EXPECT_EQ(got.step, event.step);
  EXPECT_EQ(got.kind, event.kind);
  EXPECT_EQ(got.occurred_at, event.occurred_at);
  EXPECT_EQ(got.ingested_at, event.ingested_at);
  EXPECT_EQ(got.source, event.source);
  EXPECT_EQ(got.source_event_id, event.source_event_id);
  EXPECT_EQ(got.initiative, event.initiative);
  EXPECT_EQ(got.contact, event.contact);
  EXPECT_EQ(got.channel, event.channel);
  EXPECT_EQ(got.matter_id, event.matter_id);
  EXPECT_EQ(got.matter_state, event.matter_state);
  EXPECT_EQ(got.summary, event.summary);
  const std::vector<std::pair<std::string, std::string>> attributes = {
      {"b", "3"}, {"a", "2"}, {"bad", "x\xEF\xBF\xBD"}, {"", ""}};
  EXPECT_EQ(got.attributes, attributes);

  auto quarantined = store->ReadQuarantine("crm", 10);
  ASSERT_TRUE(quarantined.ok()) << quarantined.status().message();
  ASSERT_EQ(quarantined->size(), 1u);
  EXPECT_EQ((*quarantined)[0].source, record.source);
  EXPECT_EQ((*quarantined)[0].origin, record.origin);
  EXPECT_EQ((*quarantined)[0].reason, record.reason);
  EXPECT_EQ((*quarantined)[0].raw, record.raw);
  EXPECT_EQ((*quarantined)[0].quarantined_at, record.quarantined_at);

  auto checkpoint = store->LoadCheckpoint("crm");
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status().message();
  EXPECT_EQ(*checkpoint, "row 17");
}

TEST_P(StoreTest, UnknownSourceHasNoCheckpoint) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  auto checkpoint = store->LoadCheckpoint("nobody");
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status().message();
  EXPECT_FALSE(checkpoint->has_value());
}

TEST_P(StoreTest, SameBatchTwiceIsStoredOnce) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Batch batch = MakeBatch("billing", "c1", 0, 5, "after e4");

  auto first = store->Write({&batch, 1});
  ASSERT_TRUE(first[0].status.ok()) << first[0].status.message();
  EXPECT_EQ(first[0].inserted, 5u);
  EXPECT_EQ(first[0].duplicates, 0u);

  auto second = store->Write({&batch, 1});
  ASSERT_TRUE(second[0].status.ok()) << second[0].status.message();
  EXPECT_EQ(second[0].inserted, 0u);
  EXPECT_EQ(second[0].duplicates, 5u);

  EXPECT_EQ(SourceEventIds(Timeline(*store, "c1")),
            (std::vector<std::string>{"e4", "e3", "e2", "e1", "e0"}));
}

TEST_P(StoreTest, FailingBatchLeavesNothingWhileOthersInTheGroupCommit) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Batch earlier = MakeBatch("crm", "c-crm", 0, 1, "crm-0");
  ASSERT_TRUE(store->Write({&earlier, 1})[0].status.ok());
  backend_.RefuseInserts("events", "NEW.source_event_id = 'poison'", "poisoned by the test");

  std::vector<Batch> group;
  group.push_back(MakeBatch("billing", "c-billing", 0, 2, "billing-2"));
  group.push_back(MakeBatch("crm", "c-crm", 1, 2, "crm-3"));
  group.back().events.push_back(MakeEvent("crm", "poison", "c-crm", kBase));
  group.back().quarantined.push_back(
      {.source = "crm", .origin = "x", .reason = "y", .raw = "z", .quarantined_at = kBase});
  group.push_back(MakeBatch("doors", "c-doors", 0, 3, "doors-3"));

  auto outcomes = store->Write(group);
  ASSERT_EQ(outcomes.size(), 3u);
  EXPECT_TRUE(outcomes[0].status.ok()) << outcomes[0].status.message();
  EXPECT_EQ(outcomes[0].inserted, 2u);
  EXPECT_FALSE(outcomes[1].status.ok());
  EXPECT_NE(outcomes[1].status.message().find("poisoned by the test"), std::string::npos)
      << outcomes[1].status.message();
  EXPECT_NE(outcomes[1].status.message().find("crm"), std::string::npos);
  EXPECT_EQ(outcomes[1].inserted, 0u);
  EXPECT_TRUE(outcomes[2].status.ok()) << outcomes[2].status.message();
  EXPECT_EQ(outcomes[2].inserted, 3u);

  EXPECT_EQ(SourceEventIds(Timeline(*store, "c-crm")), std::vector<std::string>{"e0"});
  EXPECT_EQ(*store->LoadCheckpoint("crm").value(), "crm-0");
  EXPECT_TRUE(store->ReadQuarantine("crm", 10)->empty());
  EXPECT_EQ(Timeline(*store, "c-billing").size(), 2u);
  EXPECT_EQ(*store->LoadCheckpoint("billing").value(), "billing-2");
  EXPECT_EQ(Timeline(*store, "c-doors").size(), 3u);
  EXPECT_EQ(*store->LoadCheckpoint("doors").value(), "doors-3");

  group[1].events.pop_back();
  auto retry = store->Write({&group[1], 1});
  ASSERT_TRUE(retry[0].status.ok()) << retry[0].status.message();
  EXPECT_EQ(retry[0].inserted, 2u);
  EXPECT_EQ(*store->LoadCheckpoint("crm").value(), "crm-3");
}

TEST_P(StoreTest, EventOfAnotherSourceFailsItsBatch) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Batch batch = MakeBatch("billing", "c1", 0, 2, "cp");
  batch.events[1].source = "crm";
  auto outcomes = store->Write({&batch, 1});
  EXPECT_EQ(outcomes[0].status.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Timeline(*store, "c1").empty());
  EXPECT_FALSE(store->LoadCheckpoint("billing")->has_value());
}

TEST_P(StoreTest, EmptyCheckpointKeepsThePreviousOne) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Batch with = MakeBatch("billing", "c1", 0, 1, "first");
  Batch without = MakeBatch("billing", "c1", 1, 1);
  ASSERT_TRUE(store->Write({&with, 1})[0].status.ok());
  ASSERT_TRUE(store->Write({&without, 1})[0].status.ok());
  EXPECT_EQ(*store->LoadCheckpoint("billing").value(), "first");
}

TEST_P(StoreTest, QuarantineIsReadNewestFirst) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Batch batch = MakeBatch("billing", "", 0, 0);
  for (int i = 0; i < 5; ++i) {
    batch.quarantined.push_back({.source = "billing",
                                 .origin = "line " + std::to_string(i),
                                 .reason = "bad",
                                 .raw = "",
                                 .quarantined_at = kBase});
  }
  ASSERT_TRUE(store->Write({&batch, 1})[0].status.ok());
  auto records = store->ReadQuarantine("billing", 3);
  ASSERT_TRUE(records.ok()) << records.status().message();
  std::vector<std::string> origins;
  for (const auto& record : *records) origins.push_back(record.origin);
  EXPECT_EQ(origins, (std::vector<std::string>{"line 4", "line 3", "line 2"}));
  EXPECT_TRUE(store->ReadQuarantine("crm", 3)->empty());
}

TEST_P(StoreTest, PagesWithoutSkipOrRepeat) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  struct Written {
    std::string source_event_id;
    Micros occurred_at;
    int order;
  };
  std::vector<Written> mine;
  std::vector<Batch> group;
  for (int i = 0; i < 1200; ++i) {
    if (i % 100 == 0) group.push_back(MakeBatch("billing", "", 0, 0));
    // Few distinct times, so that most events share theirs with many others.
    Micros at = kBase + seconds((i * 7) % 13);
    std::string customer = i % 6 == 5 ? "someone else" : "c1";
    group.back().events.push_back(MakeEvent("billing", "e" + std::to_string(i), customer, at));
    if (customer == "c1") mine.push_back({"e" + std::to_string(i), at, i});
  }
  for (const BatchOutcome& outcome : store->Write(group)) {
    ASSERT_TRUE(outcome.status.ok()) << outcome.status.message();
  }
  ASSERT_EQ(mine.size(), 1000u);
  std::sort(mine.begin(), mine.end(), [](const Written& a, const Written& b) {
    return std::tie(a.occurred_at, a.order) > std::tie(b.occurred_at, b.order);
  });
  std::vector<std::string> expected;
  for (const Written& w : mine) expected.push_back(w.source_event_id);

  std::vector<Event> all = Timeline(*store, "c1");
  EXPECT_EQ(SourceEventIds(all), expected);

  std::vector<std::string> paged;
  TimelineQuery query{.customer = CustomerOf(*store, "c1"), .limit = 7, .after = std::nullopt};
  while (true) {
    auto page = store->ReadTimeline(query);
    ASSERT_TRUE(page.ok()) << page.status().message();
    ASSERT_LE(page->size(), 7u);
    if (page->empty()) break;
    for (const Event& event : *page) paged.push_back(event.source_event_id);
    query.after = TimelineCursor{page->back().occurred_at, page->back().id};
  }
  EXPECT_EQ(paged, expected);
}

// A visitor that copies what it is handed into Events, to compare with ReadTimeline.
EventVisitor CopyInto(std::vector<Event>& events) {
  return [&events](const EventView& view) {
    Event& e = events.emplace_back();
    e.id = view.id;
    e.customer = view.customer;
    e.step = view.step;
    e.kind = view.kind;
    e.occurred_at = view.occurred_at;
    e.ingested_at = view.ingested_at;
    e.source = view.source;
    e.source_event_id = view.source_event_id;
    e.initiative = view.initiative;
    e.contact = view.contact;
    e.channel = view.channel;
    e.matter_id = view.matter_id;
    e.matter_state = view.matter_state;
    e.summary = view.summary;
    for (const auto& [key, value] : view.attributes) e.attributes.emplace_back(key, value);
  };
}

// What VisitTimeline hands out for query.customer, named by id.
std::vector<Event> Visited(Store& store, const TimelineQuery& query, Status* status = nullptr) {
  std::vector<Event> events;
  const identity::Identifier who{"customer", std::to_string(query.customer)};
  auto visited = store.VisitTimeline(who, query, CopyInto(events));
  Status s = visited.ok() ? Status::Ok() : visited.status();
  if (status != nullptr) {
    *status = s;
  } else {
    EXPECT_TRUE(s.ok()) << s.message();
  }
  return events;
}

void ExpectSameEvents(const std::vector<Event>& got, const std::vector<Event>& expected) {
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    SCOPED_TRACE("event " + std::to_string(i));
    EXPECT_EQ(got[i].id, expected[i].id);
    EXPECT_EQ(got[i].customer, expected[i].customer);
    EXPECT_EQ(got[i].step, expected[i].step);
    EXPECT_EQ(got[i].kind, expected[i].kind);
    EXPECT_EQ(got[i].occurred_at, expected[i].occurred_at);
    EXPECT_EQ(got[i].ingested_at, expected[i].ingested_at);
    EXPECT_EQ(got[i].source, expected[i].source);
    EXPECT_EQ(got[i].source_event_id, expected[i].source_event_id);
    EXPECT_EQ(got[i].initiative, expected[i].initiative);
    EXPECT_EQ(got[i].contact, expected[i].contact);
    EXPECT_EQ(got[i].channel, expected[i].channel);
    EXPECT_EQ(got[i].matter_id, expected[i].matter_id);
    EXPECT_EQ(got[i].matter_state, expected[i].matter_state);
    EXPECT_EQ(got[i].summary, expected[i].summary);
    EXPECT_EQ(got[i].attributes, expected[i].attributes);
  }
}

TEST_P(StoreTest, VisitTimelineHandsOutWhatReadTimelineReads) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Batch batch = MakeBatch("crm", "c1", 0, 30);
  for (std::size_t i = 0; i < batch.events.size(); ++i) {
    Event& e = batch.events[i];
    e.summary = std::string("summary\0of ", 11) + std::to_string(i);
    e.channel = i % 2 ? "phone" : "";
    e.matter_id = "M-" + std::to_string(i % 4);
    e.attributes = {{"unit", "3-2-" + std::to_string(i)},
                    {"note", std::string(i * 3, 'x') + "\"\\\n\u00e9"},
                    {"unit", "last"}};
    if (i % 5 == 0) e.attributes.clear();
  }
  batch.events[7].identifiers = {{"account", "c2"}};
  ASSERT_TRUE(store->Write({&batch, 1})[0].status.ok());

  TimelineQuery query{.customer = CustomerOf(*store, "c1"), .limit = 8, .after = std::nullopt};
  std::size_t seen = 0;
  while (true) {
    auto page = store->ReadTimeline(query);
    ASSERT_TRUE(page.ok()) << page.status().message();
    ExpectSameEvents(Visited(*store, query), *page);
    if (page->empty()) break;
    seen += page->size();
    query.after = TimelineCursor{page->back().occurred_at, page->back().id};
  }
  EXPECT_EQ(seen, 29u);
  query.after.reset();
  query.oldest_first = true;
  query.filter.matter_id = "M-1";
  ExpectSameEvents(Visited(*store, query), *store->ReadTimeline(query));
  query.limit = 0;
  EXPECT_TRUE(Visited(*store, query).empty());
}

TEST_P(StoreTest, VisitTimelineFindsTheCustomerAndTheirPageInOneRead) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Batch batch = MakeBatch("crm", "c1", 0, 12);
  ASSERT_TRUE(store->Write({&batch, 1})[0].status.ok());
  const std::int64_t c1 = CustomerOf(*store, "c1");

  for (const identity::Identifier& who : {identity::Identifier{"account", "c1"},
                                          identity::Identifier{"customer", std::to_string(c1)}}) {
    SCOPED_TRACE(who.Text());
    TimelineQuery query{.customer = 0, .limit = 5, .after = std::nullopt};
    std::vector<Event> events;
    auto found = store->VisitTimeline(who, query, CopyInto(events));
    ASSERT_TRUE(found.ok()) << found.status().message();
    ASSERT_TRUE(found->has_value());
    EXPECT_EQ(**found, c1);
    query.customer = c1;
    ExpectSameEvents(events, *store->ReadTimeline(query));
    EXPECT_EQ(events.size(), 5u);
  }

  std::vector<Event> events;
  auto nobody = store->VisitTimeline({"account", "nobody"}, {}, CopyInto(events));
  ASSERT_TRUE(nobody.ok()) << nobody.status().message();
  EXPECT_FALSE(nobody->has_value());
  EXPECT_TRUE(events.empty());
}

// The store writes attributes as a flat object of strings; a file changed by other hands
// may hold any JSON, and reads it as before: other values as their JSON text, a repeated key
// in its first place with its last value, anything but an object as data loss.
TEST_P(StoreTest, AttributesOfAnyJsonShapeAreReadTheSameByEveryRead) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Batch batch = MakeBatch("crm", "c1", 0, 6);
  ASSERT_TRUE(store->Write({&batch, 1})[0].status.ok());
  const std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>>
      cases = {
          {R"({"s":"t","n":5,"f":1.5,"b":true,"x":null,"o":{"k":"v"},"a":[1,"2"]})",
           {{"s", "t"},
            {"n", "5"},
            {"f", "1.5"},
            {"b", "true"},
            {"x", "null"},
            {"o", R"({"k":"v"})"},
            {"a", R"([1,"2"])"}}},
          {R"({"k":"1","j":"2","k":"3"})", {{"k", "3"}, {"j", "2"}}},
          {R"( { "q" : "a\"b\u00e9\ud83d\ude00" , "" : "" } )",
           {{"q", "a\"b\xc3\xa9\xf0\x9f\x98\x80"}, {"", ""}}},
          {"{}", {}},
          {R"({"单元":"3栋2单元1202室","":"","x":"😀"})",
           {{"单元", "3栋2单元1202室"}, {"", ""}, {"x", "😀"}}},
      };
  for (const auto& [json, expected] : cases) {
    SCOPED_TRACE(json);
    ASSERT_TRUE(backend_.SetEventAttributes("e2", json));
    TimelineQuery query{.customer = CustomerOf(*store, "c1"), .limit = 10, .after = std::nullopt};
    auto read = store->ReadTimeline(query);
    ASSERT_TRUE(read.ok()) << read.status().message();
    ExpectSameEvents(Visited(*store, query), *read);
    for (const Event& e : *read) {
      if (e.source_event_id == "e2") {
        EXPECT_EQ(e.attributes, expected);
      }
    }
  }
  // The last three look like what the store writes but are not JSON: a trailing comma, a raw
  // tab inside a string, bytes that are not UTF-8.
  for (const char* broken : {"not json", "[]", "\"text\"", "{\"a\":\"b\"} tail", "{\"a\":",
                             "{\"a\":\"b\",}", "{\"a\":\"t\tb\"}", "{\"a\":\"x\xff\"}"}) {
    SCOPED_TRACE(broken);
    if (!backend_.SetEventAttributes("e2", broken)) {
      // Text that is not UTF-8 cannot be in a PostgreSQL text column at all.
      EXPECT_EQ(GetParam(), testing::Backend::kPostgresql);
      continue;
    }
    TimelineQuery query{.customer = CustomerOf(*store, "c1"), .limit = 10, .after = std::nullopt};
    auto read = store->ReadTimeline(query);
    ASSERT_FALSE(read.ok());
    EXPECT_EQ(read.status().code(), StatusCode::kDataLoss);
    Status visited;
    Visited(*store, query, &visited);
    EXPECT_EQ(visited.code(), StatusCode::kDataLoss);
    EXPECT_EQ(visited.message(), read.status().message());
  }
}

TEST_P(StoreTest, ReadersRunConcurrentlyWithTheWriter) {
  auto store = Open(/*readers=*/2);
  ASSERT_NE(store, nullptr);
  constexpr int kBatches = 100;
  constexpr int kEventsPerBatch = 20;
  std::atomic<bool> done = false;
  std::atomic<int> reads = 0;

  std::thread writer([&] {
    for (int b = 0; b < kBatches; ++b) {
      Batch batch =
          MakeBatch("billing", "c1", b * kEventsPerBatch, kEventsPerBatch, std::to_string(b + 1));
      batch.quarantined.push_back(
          {.source = "billing", .origin = "o", .reason = "r", .raw = "x", .quarantined_at = kBase});
      auto outcomes = store->Write({&batch, 1});
      EXPECT_TRUE(outcomes[0].status.ok()) << outcomes[0].status.message();
    }
    done = true;
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&] {
      std::size_t last_count = 0;
      while (!done) {
        auto checkpoint = store->LoadCheckpoint("billing");
        ASSERT_TRUE(checkpoint.ok()) << checkpoint.status().message();
        std::size_t committed = checkpoint->has_value() ? std::stoul(**checkpoint) : 0;
        auto events = store->ReadTimeline(
            {.customer = CustomerOf(*store, "c1"), .limit = 100'000, .after = std::nullopt});
        ASSERT_TRUE(events.ok()) << events.status().message();
        EXPECT_EQ(events->size() % kEventsPerBatch, 0u) << "saw part of a batch";
        EXPECT_GE(events->size(), committed * kEventsPerBatch);
        EXPECT_GE(events->size(), last_count);
        last_count = events->size();
        auto quarantined = store->ReadQuarantine("billing", 1000);
        ASSERT_TRUE(quarantined.ok()) << quarantined.status().message();
        EXPECT_GE(quarantined->size(), committed);
        ++reads;
      }
    });
  }
  writer.join();
  for (std::thread& reader : readers) reader.join();
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(Timeline(*store, "c1").size(), std::size_t{kBatches * kEventsPerBatch});
}

// Text that the daemon lets through is kept as it came, a NUL among it (which PostgreSQL's
// text cannot hold) and U+2400, the symbol PostgreSQL's store writes a NUL with.
TEST_P(StoreTest, TextWithNulRoundTripsThroughEveryReadAndWrite) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  const std::string nul("\0", 1);
  const std::string symbol = "\u2400";
  Event event = MakeEvent("crm", "C-1" + nul + symbol + "0", "c1", kBase);
  event.channel = "phone" + nul;
  event.matter_id = "M" + nul + symbol + symbol + "0";
  event.summary = symbol + "0 is no NUL, " + nul + " is; " + symbol + " alone";
  Batch batch{.source = "crm", .events = {event}, .quarantined = {}, .checkpoint = ""};
  BatchOutcome first = store->Write({&batch, 1})[0];
  ASSERT_TRUE(first.status.ok()) << first.status.message();
  EXPECT_EQ(first.inserted, 1u);
  BatchOutcome again = store->Write({&batch, 1})[0];
  ASSERT_TRUE(again.status.ok()) << again.status.message();
  EXPECT_EQ(again.duplicates, 1u);

  TimelineQuery query{.customer = CustomerOf(*store, "c1"), .limit = 10, .after = std::nullopt};
  query.filter.matter_id = event.matter_id;
  auto read = store->ReadTimeline(query);
  ASSERT_TRUE(read.ok()) << read.status().message();
  ASSERT_EQ(read->size(), 1u);
  EXPECT_EQ((*read)[0].source_event_id, event.source_event_id);
  EXPECT_EQ((*read)[0].channel, event.channel);
  EXPECT_EQ((*read)[0].matter_id, event.matter_id);
  EXPECT_EQ((*read)[0].summary, event.summary);
  ExpectSameEvents(Visited(*store, query), *read);
  auto changes = store->ReadChanges({});
  ASSERT_TRUE(changes.ok()) << changes.status().message();
  ExpectSameEvents(*changes, *read);
  query.filter.matter_id = "M" + nul;
  EXPECT_TRUE(store->ReadTimeline(query)->empty());

  Batch other = MakeBatch("crm", "c2", 1, 1);
  ASSERT_TRUE(store->Write({&other, 1})[0].status.ok());
  AuditRecord audit;
  audit.actor = "ops:" + nul + symbol;
  audit.method = "AdminService.LinkCustomers";
  auto merge = store->LinkCustomers(CustomerOf(*store, "c1"), CustomerOf(*store, "c2"),
                                    "ops:" + nul, "one " + symbol + "0 person" + nul, audit);
  ASSERT_TRUE(merge.ok()) << merge.status().message();
  EXPECT_EQ(merge->actor, "ops:" + nul);
  EXPECT_EQ(merge->reason, "one " + symbol + "0 person" + nul);
  auto customer = store->ReadCustomer(merge->kept, kBase);
  ASSERT_TRUE(customer.ok() && customer->has_value());
  ASSERT_EQ((*customer)->merges.size(), 1u);
  EXPECT_EQ((*customer)->merges[0].reason, merge->reason);
  auto records = store->ReadAudit({});
  ASSERT_TRUE(records.ok()) << records.status().message();
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].actor, audit.actor);
}

TEST_P(StoreTest, ReopeningKeepsEverything) {
  std::int64_t last_id = 0;
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    Batch batch = MakeBatch("billing", "c1", 0, 3, "cp-3");
    batch.quarantined.push_back(
        {.source = "billing", .origin = "o", .reason = "r", .raw = "x", .quarantined_at = kBase});
    ASSERT_TRUE(store->Write({&batch, 1})[0].status.ok());
    last_id = Timeline(*store, "c1").front().id;
  }
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(SourceEventIds(Timeline(*store, "c1")), (std::vector<std::string>{"e2", "e1", "e0"}));
  EXPECT_EQ(*store->LoadCheckpoint("billing").value(), "cp-3");
  EXPECT_EQ(store->ReadQuarantine("billing", 10)->size(), 1u);

  Batch again = MakeBatch("billing", "c1", 0, 4);
  auto outcomes = store->Write({&again, 1});
  ASSERT_TRUE(outcomes[0].status.ok()) << outcomes[0].status.message();
  EXPECT_EQ(outcomes[0].inserted, 1u);
  EXPECT_EQ(outcomes[0].duplicates, 3u);
  EXPECT_GT(Timeline(*store, "c1").front().id, last_id);
}

TEST_P(StoreTest, RefusesZeroReaders) {
  auto store = backend_.TryOpen({.path = {}, .reader_connections = 0});
  EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument);
}

TEST_P(StoreTest, RefusesZeroScanConnections) {
  auto store = backend_.TryOpen({.path = {}, .scan_connections = 0});
  EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument);
}

// The store's only reader is held by a visitor that waits until the test lets it go (or for
// at most 10 s), so a read that needed it would wait the whole time.
TEST_P(StoreTest, AReadGivesUpOnABusyReaderAndScansHaveConnectionsOfTheirOwn) {
  auto opened = backend_.TryOpen({.path = {},
                                  .reader_connections = 1,
                                  .scan_connections = 1,
                                  .connection_wait = std::chrono::milliseconds(100)});
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  Store& store = **opened;
  Batch batch = MakeBatch("billing", "c1", 0, 3);
  ASSERT_TRUE(store.Write({&batch, 1})[0].status.ok());

  std::promise<void> holding;
  std::promise<void> release;
  std::thread holder([&] {
    bool first = true;
    auto visited = store.VisitTimeline({"account", "c1"}, {.limit = 10}, [&](const EventView&) {
      if (!std::exchange(first, false)) return;
      holding.set_value();
      release.get_future().wait_for(seconds(10));
    });
    EXPECT_TRUE(visited.ok()) << visited.status().message();
  });
  holding.get_future().wait();

  auto found = store.FindCustomer({"account", "c1"});
  EXPECT_EQ(found.status().code(), StatusCode::kUnavailable) << "the read waited for the reader";
  EXPECT_NE(found.status().message().find("all 1 reader connections of the store stayed busy"),
            std::string::npos)
      << found.status().message();
  EXPECT_NE(found.status().message().find("retry"), std::string::npos);

  OutreachQuery query;
  query.now = kBase + seconds(400 * 86400);
  auto outreach = store.ReadOutreach(query, {});
  EXPECT_TRUE(outreach.ok()) << "a scan waited for a short read's connection: "
                             << outreach.status().message();
  EXPECT_EQ(outreach.ok() ? outreach->items.size() : 0u, 1u);

  release.set_value();
  holder.join();
  EXPECT_EQ(CustomerOf(store, "c1"), outreach.ok() ? outreach->items.front().customer : -1);
}

TEST_P(StoreTest, AScanStopsOnceAskedAndItsConnectionServesTheNextScan) {
  auto opened = backend_.TryOpen({.path = {}, .scan_connections = 1});
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  auto store = std::move(opened).value();
  Batch batch;
  batch.source = "billing";
  for (int i = 0; i < 2000; ++i) {
    batch.events.push_back(
        MakeEvent("billing", "e" + std::to_string(i), "c" + std::to_string(i), kBase));
  }
  ASSERT_TRUE(store->Write({&batch, 1})[0].status.ok());
  OutreachQuery query;
  query.now = kBase + seconds(400 * 86400);
  query.limit = 2000;

  std::stop_source stop;
  stop.request_stop();
  auto stopped = store->ReadOutreach(query, stop.get_token());
  EXPECT_EQ(stopped.status().code(), StatusCode::kCancelled) << stopped.status().message();

  auto whole = store->ReadOutreach(query, {});
  ASSERT_TRUE(whole.ok()) << whole.status().message();
  EXPECT_EQ(whole->items.size(), 2000u);
}

PROPBRIDGE_STORE_BACKENDS(StoreTest);

}  // namespace
}  // namespace propbridge::store
