#include "daemon/store/sqlite/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <numeric>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "daemon/store/sqlite/sqlite_schema.h"
#include "daemon/store/sql_queries.h"
#include "daemon/store/store.h"

namespace propbridge::store {
namespace {

using std::chrono::microseconds;
using std::chrono::seconds;

const Micros kBase = Micros(seconds(1'700'000'000));

Event MakeEvent(const std::string& source, const std::string& source_event_id,
                const std::string& customer, Micros occurred_at) {
  Event event;
  event.source = source;
  event.source_event_id = source_event_id;
  event.identifiers = {{"account", customer}};
  event.occurred_at = occurred_at;
  event.ingested_at = kBase + seconds(1);
  event.kind = "billing.charge.posted";
  event.step = sdk::Step::kKnow;
  return event;
}

Batch MakeBatch(const std::string& source, const std::string& customer, int first, int count,
                std::string checkpoint = "") {
  Batch batch;
  batch.source = source;
  batch.checkpoint = std::move(checkpoint);
  for (int i = first; i < first + count; ++i) {
    batch.events.push_back(
        MakeEvent(source, "e" + std::to_string(i), customer, kBase + seconds(i)));
  }
  return batch;
}

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

// A connection of the test's own, to inspect or tamper with the file behind the store's back.
class RawDb {
 public:
  explicit RawDb(const std::filesystem::path& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close(db_); }

  void Exec(const std::string& sql) {
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
        << sql << ": " << (error ? error : "");
    sqlite3_free(error);
  }

  // One column of every row, as text.
  std::vector<std::string> Column(const std::string& sql, int column = 0) {
    std::vector<std::string> values;
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK)
        << sql << ": " << sqlite3_errmsg(db_);
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      values.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, column)));
    }
    sqlite3_finalize(stmt);
    return values;
  }

 private:
  sqlite3* db_ = nullptr;
};

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "propbridge-store-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = dir_ / "events.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Store> Open(std::size_t readers = 2) {
    auto store = OpenSqliteStore({.path = path_, .reader_connections = readers});
    EXPECT_TRUE(store.ok()) << store.status().message();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  std::vector<Event> Timeline(Store& store, const std::string& customer) {
    auto events = store.ReadTimeline(
        {.customer = CustomerOf(store, customer), .limit = 1'000'000, .after = std::nullopt});
    EXPECT_TRUE(events.ok()) << events.status().message();
    return events.ok() ? std::move(events).value() : std::vector<Event>{};
  }

  std::filesystem::path dir_;
  std::filesystem::path path_;
};

TEST_F(SqliteStoreTest, RoundTripsEveryField) {
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

TEST_F(SqliteStoreTest, UnknownSourceHasNoCheckpoint) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  auto checkpoint = store->LoadCheckpoint("nobody");
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status().message();
  EXPECT_FALSE(checkpoint->has_value());
}

TEST_F(SqliteStoreTest, SameBatchTwiceIsStoredOnce) {
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

TEST_F(SqliteStoreTest, FailingBatchLeavesNothingWhileOthersInTheGroupCommit) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Batch earlier = MakeBatch("crm", "c-crm", 0, 1, "crm-0");
  ASSERT_TRUE(store->Write({&earlier, 1})[0].status.ok());
  RawDb(path_).Exec(
      "CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.source_event_id = 'poison' "
      "BEGIN SELECT RAISE(ABORT, 'poisoned by the test'); END");

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

TEST_F(SqliteStoreTest, EventOfAnotherSourceFailsItsBatch) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Batch batch = MakeBatch("billing", "c1", 0, 2, "cp");
  batch.events[1].source = "crm";
  auto outcomes = store->Write({&batch, 1});
  EXPECT_EQ(outcomes[0].status.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Timeline(*store, "c1").empty());
  EXPECT_FALSE(store->LoadCheckpoint("billing")->has_value());
}

TEST_F(SqliteStoreTest, EmptyCheckpointKeepsThePreviousOne) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Batch with = MakeBatch("billing", "c1", 0, 1, "first");
  Batch without = MakeBatch("billing", "c1", 1, 1);
  ASSERT_TRUE(store->Write({&with, 1})[0].status.ok());
  ASSERT_TRUE(store->Write({&without, 1})[0].status.ok());
  EXPECT_EQ(*store->LoadCheckpoint("billing").value(), "first");
}

TEST_F(SqliteStoreTest, QuarantineIsReadNewestFirst) {
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

TEST_F(SqliteStoreTest, PagesWithoutSkipOrRepeat) {
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

TEST_F(SqliteStoreTest, VisitTimelineHandsOutWhatReadTimelineReads) {
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

TEST_F(SqliteStoreTest, VisitTimelineFindsTheCustomerAndTheirPageInOneRead) {
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
TEST_F(SqliteStoreTest, AttributesOfAnyJsonShapeAreReadTheSameByEveryRead) {
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
  RawDb raw(path_);
  for (const auto& [json, expected] : cases) {
    SCOPED_TRACE(json);
    std::string quoted;
    for (char c : json) quoted += c == '\'' ? std::string("''") : std::string(1, c);
    raw.Exec("UPDATE events SET attributes = '" + quoted + "' WHERE source_event_id = 'e2'");
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
    raw.Exec(std::string("UPDATE events SET attributes = '") + broken +
             "' WHERE source_event_id = 'e2'");
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

TEST_F(SqliteStoreTest, ReadersRunConcurrentlyWithTheWriter) {
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

TEST_F(SqliteStoreTest, ReopeningKeepsEverything) {
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

TEST_F(SqliteStoreTest, CreatesWalDatabaseAtTheCurrentSchemaVersion) {
  ASSERT_NE(Open(), nullptr);
  RawDb db(path_);
  EXPECT_EQ(db.Column("PRAGMA user_version"),
            std::vector<std::string>{std::to_string(kSqliteSchemaVersion)});
  EXPECT_EQ(db.Column("PRAGMA journal_mode"), std::vector<std::string>{"wal"});
}

TEST_F(SqliteStoreTest, RefusesADatabaseFromANewerVersion) {
  RawDb(path_).Exec("PRAGMA user_version = " + std::to_string(kSqliteSchemaVersion + 1));
  auto store = OpenSqliteStore({.path = path_});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find(path_.string()), std::string::npos)
      << store.status().message();
  EXPECT_NE(store.status().message().find("schema version is " +
                                          std::to_string(kSqliteSchemaVersion + 1)),
            std::string::npos)
      << store.status().message();
}

TEST_F(SqliteStoreTest, OpenErrorNamesTheFile) {
  const std::filesystem::path missing = dir_ / "no-such-folder" / "events.db";
  auto store = OpenSqliteStore({.path = missing});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store.status().message(),
            "cannot create " + missing.string() + ": No such file or directory");
}

// The permission bits of the file itself (not of what a link names); -1 when it is missing.
int ModeOf(const std::filesystem::path& path) {
  struct stat status {};
  if (::lstat(path.c_str(), &status) != 0) return -1;
  return static_cast<int>(status.st_mode & 07777);
}

std::filesystem::path WithSuffix(std::filesystem::path path, const char* suffix) {
  path += suffix;
  return path;
}

// The store holds personal data: whatever the umask, its database, -wal and -shm are its
// owner's alone, so that no group (a delivery account's among them) can read them.
class SqliteStoreUmaskTest : public SqliteStoreTest, public ::testing::WithParamInterface<mode_t> {
 protected:
  void SetUp() override {
    SqliteStoreTest::SetUp();
    saved_ = ::umask(GetParam());
  }
  void TearDown() override {
    ::umask(saved_);
    SqliteStoreTest::TearDown();
  }

 private:
  mode_t saved_ = 0;
};

TEST_P(SqliteStoreUmaskTest, TheDatabaseWalAndShmAreCreatedOwnerOnly) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Batch batch = MakeBatch("billing", "c1", 0, 3);
  ASSERT_TRUE(store->Write({&batch, 1})[0].status.ok());
  // Open, with the writer's transaction committed to the log: all three files exist.
  EXPECT_EQ(ModeOf(path_), 0600);
  EXPECT_EQ(ModeOf(WithSuffix(path_, "-wal")), 0600);
  EXPECT_EQ(ModeOf(WithSuffix(path_, "-shm")), 0600);
}

INSTANTIATE_TEST_SUITE_P(Umasks, SqliteStoreUmaskTest, ::testing::Values(0000, 0022, 0027, 0077),
                         [](const ::testing::TestParamInfo<mode_t>& info) {
                           char name[16];
                           std::snprintf(name, sizeof name, "umask%03o", info.param);
                           return std::string(name);
                         });

// A store made before the files were private (SQLite gives a new database 0644 less the
// umask) is made private at open, each file with a warning, rather than refused: an upgrade
// must not stop the service.
TEST_F(SqliteStoreTest, AStoreReadableByOthersIsMadeOwnerOnlyWithAWarning) {
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
  }
  ASSERT_EQ(::chmod(path_.c_str(), 0640), 0);
  std::ofstream(WithSuffix(path_, "-wal")).flush();  // an empty log, as a crash may leave one
  ASSERT_EQ(::chmod(WithSuffix(path_, "-wal").c_str(), 0644), 0);
  std::vector<std::string> warnings;
  const StoreOptions options{
      .path = path_, .warn = [&](const std::string& message) { warnings.push_back(message); }};
  auto store = OpenSqliteStore(options);
  ASSERT_TRUE(store.ok()) << store.status().message();
  EXPECT_EQ(ModeOf(path_), 0600);
  EXPECT_EQ(ModeOf(WithSuffix(path_, "-wal")), 0600);
  EXPECT_EQ(warnings,
            (std::vector<std::string>{
                "store file " + path_.string() +
                    " had mode 0640, readable beyond the daemon's user; set to 0600",
                "store file " + path_.string() +
                    "-wal had mode 0644, readable beyond the daemon's user; set to 0600"}));
  // Once private, nothing more to say.
  warnings.clear();
  EXPECT_TRUE(OpenSqliteStore(options).ok());
  EXPECT_TRUE(warnings.empty());
}

TEST_F(SqliteStoreTest, AStoreIsNeverReachedThroughASymbolicLink) {
  const std::filesystem::path elsewhere = dir_ / "elsewhere.db";
  std::filesystem::create_symlink(elsewhere, path_);
  auto store = OpenSqliteStore({.path = path_});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store.status().message(),
            path_.string() +
                " is a symbolic link, and the daemon follows none there; configure the folder it "
                "points to instead");
  EXPECT_FALSE(std::filesystem::exists(elsewhere));

  std::filesystem::remove(path_);
  std::filesystem::create_directory(path_);
  store = OpenSqliteStore({.path = path_});
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find(path_.string()), std::string::npos)
      << store.status().message();
}

TEST_F(SqliteStoreTest, RefusesZeroReaders) {
  auto store = OpenSqliteStore({.path = path_, .reader_connections = 0});
  EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(SqliteStoreTest, RefusesZeroScanConnections) {
  auto store = OpenSqliteStore({.path = path_, .scan_connections = 0});
  EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument);
}

// The store's only reader is held by a visitor that waits until the test lets it go (or for
// at most 10 s), so a read that needed it would wait the whole time.
TEST_F(SqliteStoreTest, AReadGivesUpOnABusyReaderAndScansHaveConnectionsOfTheirOwn) {
  auto opened = OpenSqliteStore({.path = path_,
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

TEST_F(SqliteStoreTest, AScanStopsOnceAskedAndItsConnectionServesTheNextScan) {
  auto opened = OpenSqliteStore({.path = path_, .scan_connections = 1});
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

TEST_F(SqliteStoreTest, TimelineQueriesSeekTheCustomerTimeIndex) {
  ASSERT_NE(Open(), nullptr);
  RawDb db(path_);
  // Column 3 of EXPLAIN QUERY PLAN is the step's description.
  TimelineQuery query;
  query.customer = 1;
  const std::string first_page = TimelineSql(query, SqlDialect::kSqlite).text;
  query.after = TimelineCursor{Micros{}, 7};
  const std::string after_cursor = TimelineSql(query, SqlDialect::kSqlite).text;
  query.oldest_first = true;
  query.filter.steps = {sdk::Step::kHelp};
  query.filter.kind_prefixes = {"billing.reminder"};
  const std::string filtered = TimelineSql(query, SqlDialect::kSqlite).text;
  EXPECT_EQ(
      db.Column("EXPLAIN QUERY PLAN " + first_page, 3),
      std::vector<std::string>{"SEARCH events USING INDEX events_by_customer_time (customer=?)"});
  EXPECT_EQ(
      db.Column("EXPLAIN QUERY PLAN " + filtered, 3),
      (std::vector<std::string>{
          "MERGE (UNION ALL)", "LEFT",
          "SEARCH events USING INDEX events_by_customer_time (customer=? AND occurred_at=? "
          "AND id>?)",
          "RIGHT",
          "SEARCH events USING INDEX events_by_customer_time (customer=? AND occurred_at>?)"}));
  EXPECT_EQ(
      db.Column("EXPLAIN QUERY PLAN " + after_cursor, 3),
      (std::vector<std::string>{
          "MERGE (UNION ALL)", "LEFT",
          "SEARCH events USING INDEX events_by_customer_time (customer=? AND occurred_at=? "
          "AND id<?)",
          "RIGHT",
          "SEARCH events USING INDEX events_by_customer_time (customer=? AND occurred_at<?)"}));
}

}  // namespace
}  // namespace propbridge::store
