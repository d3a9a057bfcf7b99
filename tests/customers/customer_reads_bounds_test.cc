// The customer reads over a CustomerRows held in memory, which counts what it is asked: how
// many reads a page of outreach or the community figures make (a backend across a network pays
// a round trip for each), and that a page reads no customer's events past its end. What the
// reads compute is tested on SQLite (tests/store/customer_reads_test.cc).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "daemon/customers/outreach.h"
#include "daemon/store/customer_rows.h"

namespace propbridge::customers {
namespace {

using std::chrono::days;
using std::chrono::seconds;
using store::Micros;

const Micros kNow = Micros(seconds(1'800'000'000));

struct StoredEvent {
  Micros at;
  std::string matter_id;
  std::string kind;
};

// Root customers 1..n with their periods and events; counts each call.
class CountingRows final : public store::CustomerRows {
 public:
  explicit CountingRows(std::int64_t customers) : customers_(customers) {}

  // An event of `customer`, REACTIVE and no contact, at `at`.
  void AddEvent(std::int64_t customer, Micros at) { events_[customer].push_back({at, "", "x"}); }
  void AddPeriod(std::int64_t customer, const std::string& community, Micros from) {
    store::OccupancyRow& row = periods_[customer].emplace_back();
    row.root = customer;
    row.period.customer = customer;
    row.period.unit = community + "/1-1-" + std::to_string(customer);
    row.period.from = from;
    row.community = community;
  }

  Result<std::optional<store::RootCustomer>> FindRoot(std::int64_t id) override {
    if (id < 1 || id > customers_) return std::optional<store::RootCustomer>();
    return std::optional<store::RootCustomer>(store::RootCustomer{id, kNow - days(400)});
  }
  Result<std::vector<store::CustomerIdentifier>> TreeIdentifiers(std::int64_t) override {
    return std::vector<store::CustomerIdentifier>();
  }
  Result<std::vector<store::MergeRecord>> TreeMerges(std::int64_t) override {
    return std::vector<store::MergeRecord>();
  }
  Result<std::vector<store::OccupancyRow>> TreeOccupancy(
      std::span<const std::int64_t> roots) override {
    ++occupancy_reads;
    std::vector<store::OccupancyRow> rows;
    for (std::int64_t root : roots) {
      ++occupancy_customers;
      auto it = periods_.find(root);
      if (it != periods_.end()) rows.insert(rows.end(), it->second.begin(), it->second.end());
    }
    return rows;
  }
  Status VisitEvents(std::span<const std::int64_t> customers,
                     const store::EventFactsVisitor& visit) override {
    ++event_reads;
    for (std::int64_t customer : customers) {
      auto it = events_.find(customer);
      if (it == events_.end()) continue;
      for (const StoredEvent& stored : it->second) {
        ++events_visited[customer];
        store::EventFacts event;
        event.customer = customer;
        event.step = sdk::Step::kUnderstand;
        event.initiative = sdk::Initiative::kReactive;
        event.occurred_at = stored.at;
        event.matter_id = stored.matter_id;
        event.kind = stored.kind;
        if (!visit(event)) return Status::Ok();
      }
    }
    return Status::Ok();
  }
  Result<std::vector<std::int64_t>> RootsAfter(std::int64_t after, std::size_t limit) override {
    ++root_reads;
    std::vector<std::int64_t> roots;
    for (std::int64_t id = after + 1; id <= customers_ && roots.size() < limit; ++id) {
      roots.push_back(id);
    }
    return roots;
  }
  Result<std::vector<store::CommunityRoot>> CommunityRoots(const std::string& community,
                                                           Micros at) override {
    ++community_reads;
    std::map<std::string, std::set<std::int64_t>> members;
    for (const auto& [customer, rows] : periods_) {
      for (const store::OccupancyRow& row : rows) {
        if (row.period.from <= at &&
            (community.empty() ? !row.community.empty() : row.community == community)) {
          members[row.community].insert(customer);
        }
      }
    }
    std::vector<store::CommunityRoot> roots;
    for (const auto& [name, ids] : members) {
      for (std::int64_t id : ids) roots.push_back({name, id});
    }
    return roots;
  }

  int root_reads = 0;
  int occupancy_reads = 0;
  int occupancy_customers = 0;  // customers whose periods were asked for
  int event_reads = 0;
  int community_reads = 0;
  std::map<std::int64_t, int> events_visited;  // by customer

 private:
  const std::int64_t customers_;
  std::map<std::int64_t, std::vector<store::OccupancyRow>> periods_;
  std::map<std::int64_t, std::vector<StoredEvent>> events_;
};

store::OutreachQuery Quiet(std::int64_t after_customer = 0) {
  store::OutreachQuery query;
  query.now = kNow;
  query.reasons = {store::OutreachReason::kNoProactiveContact};
  query.after_customer = after_customer;
  return query;
}

TEST(CustomerReadsBoundsTest, APageOfTenThousandQuietCustomersTakesAFewReadsOfEachKind) {
  // 10,000 customers that need nothing, then one that does.
  CountingRows rows(10'001);
  rows.AddEvent(10'001, kNow - days(100));
  auto page = ReadOutreach(rows, Quiet());
  ASSERT_TRUE(page.ok()) << page.status().message();
  EXPECT_TRUE(page->items.empty());
  EXPECT_EQ(page->next_after_customer, 10'000);
  // About one read of each kind per thousand customers examined, not one per customer.
  EXPECT_LE(rows.root_reads, 12);
  EXPECT_EQ(rows.occupancy_reads, rows.root_reads);
  EXPECT_EQ(rows.event_reads, rows.root_reads);
  // Never more customers than the page could still examine: 10,000 without items, 49 with.
  EXPECT_LE(rows.occupancy_customers, 10'049);

  page = ReadOutreach(rows, Quiet(page->next_after_customer));
  ASSERT_TRUE(page.ok()) << page.status().message();
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].customer, 10'001);
  EXPECT_EQ(page->next_after_customer, 0);
}

TEST(CustomerReadsBoundsTest, AFullPageReadsNoEventsPastItsEnd) {
  // Every customer needs a contact: a page of 50 is the first 50.
  CountingRows rows(1'000);
  for (std::int64_t id = 1; id <= 1'000; ++id) {
    rows.AddEvent(id, kNow - days(100));
    rows.AddEvent(id, kNow - days(99));
  }
  store::OutreachQuery query = Quiet();
  query.limit = 50;
  auto page = ReadOutreach(rows, query);
  ASSERT_TRUE(page.ok()) << page.status().message();
  ASSERT_EQ(page->items.size(), 50u);
  EXPECT_EQ(page->items.back().customer, 50);
  EXPECT_EQ(page->next_after_customer, 50);
  EXPECT_EQ(rows.root_reads, 1);
  EXPECT_EQ(rows.occupancy_customers, 50);
  // Every event of the 50, and no more of the next than its first, which ends the page.
  for (std::int64_t id = 1; id <= 50; ++id) EXPECT_EQ(rows.events_visited[id], 2) << id;
  EXPECT_LE(rows.events_visited[51], 1);
  EXPECT_EQ(rows.events_visited.count(52), 0u);
}

TEST(CustomerReadsBoundsTest, CommunityFiguresReadEachCustomersEventsOnce) {
  // 3,000 customers in Sunny, the first 1,000 of them in Lake too.
  CountingRows rows(3'000);
  for (std::int64_t id = 1; id <= 3'000; ++id) {
    rows.AddEvent(id, kNow - days(10));
    rows.AddPeriod(id, "Sunny", kNow - days(100));
    if (id <= 1'000) rows.AddPeriod(id, "Lake", kNow - days(50));
  }
  auto figures = ReadCommunityFigures(rows, "", kNow);
  ASSERT_TRUE(figures.ok()) << figures.status().message();
  ASSERT_EQ(figures->size(), 2u);
  EXPECT_EQ((*figures)[0].community, "Lake");
  EXPECT_EQ((*figures)[0].customers, 1'000);
  EXPECT_EQ((*figures)[0].events, 1'000);
  EXPECT_EQ((*figures)[1].community, "Sunny");
  EXPECT_EQ((*figures)[1].customers, 3'000);
  EXPECT_EQ((*figures)[1].events, 3'000);
  EXPECT_EQ(rows.community_reads, 1);
  EXPECT_LE(rows.event_reads, 3);
  EXPECT_EQ(rows.events_visited.size(), 3'000u);
  for (const auto& [id, count] : rows.events_visited) EXPECT_EQ(count, 1) << id;
}

}  // namespace
}  // namespace propbridge::customers
