// The customer reads (daemon/customers) on the SQLite store's CustomerRows, against a real
// SQLite file built with the store's schema, its rows inserted with plain SQL as the resolver
// would leave them; the outreach items' words as the API writes them.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "daemon/api/customer_service.h"
#include "daemon/customers/customer_view.h"
#include "daemon/customers/outreach.h"
#include "daemon/store/customer_rows.h"
#include "daemon/store/sqlite/sqlite_customer_rows.h"
#include "daemon/store/sqlite/sqlite_schema.h"
#include "daemon/store/sqlite/sqlite_support.h"
#include "tests/support/temp_dir.h"

namespace propbridge::store {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::seconds;

const Micros kNow = Micros(seconds(1'800'000'000));

constexpr int kKnow = 1;
constexpr int kUnderstand = 2;
constexpr int kHelp = 3;
constexpr int kEmpathize = 4;
constexpr int kDelight = 5;
constexpr int kProactive = static_cast<int>(sdk::Initiative::kProactive);
constexpr int kReactive = static_cast<int>(sdk::Initiative::kReactive);
constexpr int kNoState = static_cast<int>(sdk::MatterState::kUnspecified);
constexpr int kOpened = static_cast<int>(sdk::MatterState::kOpened);
constexpr int kUpdated = static_cast<int>(sdk::MatterState::kUpdated);
constexpr int kClosed = static_cast<int>(sdk::MatterState::kClosed);

std::int64_t Us(Micros t) { return t.time_since_epoch().count(); }

// A query at kNow with the default rules, for the reasons given (every reason when none).
OutreachQuery Query(std::vector<OutreachReason> reasons = {}, std::string community = "") {
  OutreachQuery query;
  query.now = kNow;
  query.reasons = std::move(reasons);
  query.community = std::move(community);
  return query;
}

OutreachQuery Page(std::int64_t after_customer, std::size_t limit) {
  OutreachQuery query = Query();
  query.after_customer = after_customer;
  query.limit = limit;
  return query;
}

using Value = std::variant<std::int64_t, std::string, std::nullptr_t>;

// One event as the test inserts it; what it leaves out does not matter to the reads.
struct TestEvent {
  std::int64_t customer = 0;
  std::int64_t home = 0;  // 0: the customer itself
  Micros at = kNow;
  int step = kUnderstand;
  int initiative = kReactive;
  bool contact = false;
  std::string matter{};
  int state = kNoState;
  std::string kind = "test.event";
};

class CustomerReadsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(sqlite3_open((dir_ / "store.db").c_str(), &db_), SQLITE_OK);
    Run(kSqliteSchema);
  }
  void TearDown() override { sqlite3_close(db_); }

  void Run(const std::string& sql, const std::vector<Value>& values = {}) {
    sqlite3_stmt* stmt = nullptr;
    const char* tail = sql.c_str();
    // The schema is several statements; values go to the only statement of the others.
    while (*tail != '\0') {
      ASSERT_EQ(sqlite3_prepare_v2(db_, tail, -1, &stmt, &tail), SQLITE_OK) << sqlite3_errmsg(db_);
      if (stmt == nullptr) break;
      for (std::size_t i = 0; i < values.size(); ++i) {
        const int index = static_cast<int>(i) + 1;
        if (auto* n = std::get_if<std::int64_t>(&values[i])) {
          sqlite3_bind_int64(stmt, index, *n);
        } else if (auto* s = std::get_if<std::string>(&values[i])) {
          sqlite3_bind_text(stmt, index, s->c_str(), -1, SQLITE_TRANSIENT);
        }
      }
      const int rc = sqlite3_step(stmt);
      sqlite3_finalize(stmt);
      ASSERT_EQ(rc, SQLITE_DONE) << sqlite3_errmsg(db_) << " in " << sql;
    }
  }

  void AddCustomer(std::int64_t id, std::optional<std::int64_t> merged_into = std::nullopt,
                   Micros created_at = kNow - days(400)) {
    Run("INSERT INTO customers (id, created_at, merged_into) VALUES (?, ?, ?)",
        {id, Us(created_at), merged_into ? Value(*merged_into) : Value(nullptr)});
  }

  void AddEvent(const TestEvent& e) {
    ++events_;
    Run("INSERT INTO events (customer, home, occurred_at, ingested_at, source, source_event_id, "
        "step, kind, initiative, contact, channel, matter_id, matter_state, summary, attributes, "
        "identifiers) VALUES (?, ?, ?, ?, 'test', ?, ?, ?, ?, ?, '', ?, ?, '', '{}', '')",
        {e.customer, e.home != 0 ? e.home : e.customer, Us(e.at), Us(e.at),
         "e" + std::to_string(events_), std::int64_t{e.step}, e.kind, std::int64_t{e.initiative},
         std::int64_t{e.contact}, e.matter, std::int64_t{e.state}});
  }

  void AddIdentifier(const std::string& type, const std::string& value, std::int64_t home,
                     bool demoted = false, Micros first_seen = kNow - days(300)) {
    Run("INSERT INTO identifiers (type, value, home, role, demoted, first_seen) "
        "VALUES (?, ?, ?, 1, ?, ?)",
        {type, value, home, std::int64_t{demoted}, Us(first_seen)});
  }

  void AddPeriod(const std::string& community, const std::string& unit, std::int64_t customer,
                 Micros from, std::optional<Micros> to = std::nullopt, bool inferred = false) {
    Run("INSERT INTO occupancy (unit, community, customer, from_at, to_at, inferred) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        {community + "/" + unit, community, customer, Us(from), to ? Value(Us(*to)) : nullptr,
         std::int64_t{inferred}});
  }

  void AddMerge(std::int64_t id, Micros at, std::int64_t kept, std::int64_t absorbed,
                std::optional<Micros> undone_at = std::nullopt) {
    Run("INSERT INTO merges (id, at, kept, absorbed, cause, event_id, actor, reason, undone_at, "
        "undone_by, undone_reason) VALUES (?, ?, ?, ?, ?, ?, 'propbridged', 'shared phone', ?, "
        "?, ?)",
        {id, Us(at), kept, absorbed, "phone:1380013800" + std::to_string(id), id * 10,
         undone_at ? Value(Us(*undone_at)) : nullptr, undone_at ? "admin" : "",
         undone_at ? "two households" : ""});
  }

  // `read` on the customer rows of the test's connection, as the store runs it on a reader's.
  template <typename Read>
  auto OnRows(Read read) -> decltype(read(std::declval<CustomerRows&>())) {
    StatementCache statements(db_);
    auto rows = OpenSqliteCustomerRows(statements);
    if (!rows.ok()) return rows.status();
    return read(**rows);
  }

  Result<std::optional<Customer>> QueryCustomer(std::int64_t id) {
    return OnRows([&](CustomerRows& rows) { return customers::ReadCustomer(rows, id, kNow); });
  }

  Customer Read(std::int64_t id) {
    auto customer = QueryCustomer(id);
    EXPECT_TRUE(customer.ok()) << customer.status().message();
    if (!customer.ok() || !*customer) {
      ADD_FAILURE() << "no customer " << id;
      return {};
    }
    return **customer;
  }

  OutreachPage OutreachPageOf(OutreachQuery query) {
    auto page = OnRows([&](CustomerRows& rows) { return customers::ReadOutreach(rows, query); });
    EXPECT_TRUE(page.ok()) << page.status().message();
    return page.ok() ? *page : OutreachPage{};
  }

  std::vector<OutreachItem> Outreach(OutreachQuery query) { return OutreachPageOf(query).items; }

  std::vector<OutreachItem> Outreach(OutreachReason reason) { return Outreach(Query({reason})); }

  std::vector<CommunityFigures> Communities(const std::string& community = "") {
    auto figures = OnRows(
        [&](CustomerRows& rows) { return customers::ReadCommunityFigures(rows, community, kNow); });
    EXPECT_TRUE(figures.ok()) << figures.status().message();
    return figures.ok() ? *figures : std::vector<CommunityFigures>{};
  }

  testing::TempDir dir_;
  sqlite3* db_ = nullptr;
  int events_ = 0;
};

std::vector<std::int64_t> Customers(const std::vector<OutreachItem>& items) {
  std::vector<std::int64_t> customers;
  for (const OutreachItem& item : items) customers.push_back(item.customer);
  return customers;
}

TEST_F(CustomerReadsTest, UnknownIdIsNullopt) {
  AddCustomer(1);
  auto customer = QueryCustomer(2);
  ASSERT_TRUE(customer.ok()) << customer.status().message();
  EXPECT_FALSE(customer->has_value());
}

TEST_F(CustomerReadsTest, CustomerWithoutAnythingHasEmptyFigures) {
  AddCustomer(1, std::nullopt, kNow - days(3));
  Customer customer = Read(1);
  EXPECT_EQ(customer.id, 1);
  EXPECT_EQ(customer.created_at, kNow - days(3));
  EXPECT_TRUE(customer.identifiers.empty());
  EXPECT_TRUE(customer.occupancy.empty());
  EXPECT_TRUE(customer.open_matters.empty());
  EXPECT_TRUE(customer.merges.empty());
  EXPECT_FALSE(customer.complaint_resolution_median.has_value());
  EXPECT_FALSE(customer.last_proactive_contact.has_value());
  for (std::size_t i = 0; i < customer.steps.size(); ++i) {
    EXPECT_EQ(customer.steps[i].step, static_cast<sdk::Step>(i + 1));
    EXPECT_EQ(customer.steps[i].events, 0);
    EXPECT_FALSE(customer.steps[i].first.has_value());
  }
}

// 1 kept 2, which had kept 3: both read as 1, with everything of 2 and 3. A merge of 5 into 1
// was undone; 4 and 6 are another family.
class MergedFamilyTest : public CustomerReadsTest {
 protected:
  void SetUp() override {
    CustomerReadsTest::SetUp();
    AddCustomer(1, std::nullopt, kNow - days(500));
    AddCustomer(2, 1);
    AddCustomer(3, 2);
    AddCustomer(4);
    AddCustomer(5);
    AddCustomer(6, 4);
    AddIdentifier("phone", "13800138000", 3, /*demoted=*/true, kNow - days(30));
    AddIdentifier("account", "A-2", 2);
    AddIdentifier("account", "A-1", 1);
    AddIdentifier("account", "A-5", 5);
    AddIdentifier("account", "A-6", 6);
    AddPeriod("Sunny", "1-1-101", 3, kNow - days(300), kNow - days(100));
    AddPeriod("Sunny", "2-1-202", 1, kNow - days(100));
    AddPeriod("Lake", "9-9-909", 5, kNow - days(50));
    AddMerge(1, kNow - days(20), 2, 3);
    AddMerge(2, kNow - days(10), 1, 2);
    AddMerge(3, kNow - days(15), 1, 5, kNow - days(5));
    AddMerge(4, kNow - days(1), 4, 6);
    // Events were moved to the root by the merges; their homes remain.
    AddEvent({.customer = 1, .home = 3, .at = kNow - days(9), .step = kKnow});
    AddEvent({.customer = 1, .at = kNow - days(8), .step = kKnow});
    AddEvent({.customer = 5, .at = kNow - days(7), .step = kKnow});
  }
};

TEST_F(MergedFamilyTest, IdentifiersOfTheWholeTreeByTypeThenValue) {
  Customer customer = Read(1);
  ASSERT_EQ(customer.identifiers.size(), 3u);
  EXPECT_EQ(customer.identifiers[0].id.Text(), "account:A-1");
  EXPECT_EQ(customer.identifiers[1].id.Text(), "account:A-2");
  EXPECT_EQ(customer.identifiers[2].id.Text(), "phone:13800138000");
  EXPECT_FALSE(customer.identifiers[0].demoted);
  EXPECT_TRUE(customer.identifiers[2].demoted);
  EXPECT_EQ(customer.identifiers[2].first_seen, kNow - days(30));
}

TEST_F(MergedFamilyTest, OccupancyOfTheWholeTreeNewestFirstUnderTheRoot) {
  Customer customer = Read(1);
  ASSERT_EQ(customer.occupancy.size(), 2u);
  EXPECT_EQ(customer.occupancy[0].unit, "Sunny/2-1-202");
  EXPECT_EQ(customer.occupancy[0].customer, 1);
  EXPECT_EQ(customer.occupancy[0].from, kNow - days(100));
  EXPECT_FALSE(customer.occupancy[0].to.has_value());
  EXPECT_FALSE(customer.occupancy[0].inferred);
  EXPECT_EQ(customer.occupancy[1].unit, "Sunny/1-1-101");
  EXPECT_EQ(customer.occupancy[1].customer, 1);
  EXPECT_EQ(customer.occupancy[1].to, kNow - days(100));
}

TEST_F(MergedFamilyTest, MergesThatKeptATreeMemberNewestFirstUndoneIncluded) {
  Customer customer = Read(1);
  ASSERT_EQ(customer.merges.size(), 3u);
  EXPECT_EQ(customer.merges[0].id, 2);
  EXPECT_EQ(customer.merges[0].kept, 1);
  EXPECT_EQ(customer.merges[0].absorbed, 2);
  EXPECT_EQ(customer.merges[0].at, kNow - days(10));
  EXPECT_EQ(customer.merges[0].cause, "phone:13800138002");
  EXPECT_EQ(customer.merges[0].event_id, 20);
  EXPECT_EQ(customer.merges[0].actor, "propbridged");
  EXPECT_EQ(customer.merges[0].reason, "shared phone");
  EXPECT_FALSE(customer.merges[0].undone_at.has_value());
  EXPECT_EQ(customer.merges[1].id, 3);
  EXPECT_EQ(customer.merges[1].undone_at, kNow - days(5));
  EXPECT_EQ(customer.merges[1].undone_by, "admin");
  EXPECT_EQ(customer.merges[1].undone_reason, "two households");
  EXPECT_EQ(customer.merges[2].id, 1);
  EXPECT_EQ(customer.merges[2].kept, 2);
}

TEST_F(MergedFamilyTest, MergedAwayIdsReadAsTheRoot) {
  Customer root = Read(1);
  for (std::int64_t id : {2, 3}) {
    Customer customer = Read(id);
    EXPECT_EQ(customer.id, 1) << id;
    EXPECT_EQ(customer.created_at, kNow - days(500)) << id;
    EXPECT_EQ(customer.identifiers.size(), root.identifiers.size()) << id;
    EXPECT_EQ(customer.occupancy.size(), root.occupancy.size()) << id;
    EXPECT_EQ(customer.merges.size(), root.merges.size()) << id;
    EXPECT_EQ(customer.steps[0].events, 2) << id;
  }
  Customer six = Read(6);
  EXPECT_EQ(six.id, 4);
  ASSERT_EQ(six.merges.size(), 1u);
  EXPECT_EQ(six.merges[0].id, 4);
}

TEST_F(MergedFamilyTest, ASplitCustomerStandsAlone) {
  Customer five = Read(5);
  EXPECT_EQ(five.id, 5);
  ASSERT_EQ(five.identifiers.size(), 1u);
  EXPECT_EQ(five.identifiers[0].id.Text(), "account:A-5");
  ASSERT_EQ(five.occupancy.size(), 1u);
  EXPECT_EQ(five.occupancy[0].customer, 5);
  EXPECT_TRUE(five.merges.empty());  // the undone merge kept 1, so it shows there
  EXPECT_EQ(five.steps[0].events, 1);
}

TEST_F(CustomerReadsTest, CorruptMergeCycleIsDataLossNotAHang) {
  AddCustomer(1, 2);
  AddCustomer(2, 1);
  auto customer = QueryCustomer(1);
  ASSERT_FALSE(customer.ok());
  EXPECT_EQ(customer.status().code(), StatusCode::kDataLoss);
}

TEST_F(CustomerReadsTest, StepFiguresCountTheRootsEventsOnly) {
  AddCustomer(1);
  AddCustomer(2);
  AddEvent({.customer = 1, .at = kNow - days(10), .step = kKnow, .initiative = kProactive});
  AddEvent({.customer = 1, .at = kNow - days(12), .step = kKnow});
  AddEvent({.customer = 1, .at = kNow - days(2), .step = kKnow, .initiative = kProactive});
  AddEvent({.customer = 1, .at = kNow - days(5), .step = kHelp, .initiative = kProactive});
  AddEvent({.customer = 1, .at = kNow - days(4), .step = kDelight});
  AddEvent({.customer = 2, .at = kNow - days(1), .step = kKnow, .initiative = kProactive});
  AddEvent({.customer = 2, .at = kNow - days(1), .step = kEmpathize});

  Customer customer = Read(1);
  const StepFigures& know = customer.steps[0];
  EXPECT_EQ(know.step, sdk::Step::kKnow);
  EXPECT_EQ(know.events, 3);
  EXPECT_EQ(know.proactive, 2);
  EXPECT_EQ(know.first, kNow - days(12));
  EXPECT_EQ(know.last, kNow - days(2));
  EXPECT_EQ(customer.steps[1].step, sdk::Step::kUnderstand);
  EXPECT_EQ(customer.steps[1].events, 0);
  EXPECT_FALSE(customer.steps[1].first.has_value());
  EXPECT_FALSE(customer.steps[1].last.has_value());
  EXPECT_EQ(customer.steps[2].events, 1);
  EXPECT_EQ(customer.steps[2].proactive, 1);
  EXPECT_EQ(customer.steps[2].first, kNow - days(5));
  EXPECT_EQ(customer.steps[3].events, 0);
  EXPECT_EQ(customer.steps[4].step, sdk::Step::kDelight);
  EXPECT_EQ(customer.steps[4].events, 1);
  EXPECT_EQ(customer.steps[4].proactive, 0);
  EXPECT_EQ(customer.steps[4].last, kNow - days(4));
}

TEST_F(CustomerReadsTest, LastProactiveContactIsTheLatestProactiveContact) {
  AddCustomer(1);
  AddEvent({.customer = 1, .at = kNow - days(9), .initiative = kProactive, .contact = true});
  AddEvent({.customer = 1, .at = kNow - days(5), .initiative = kProactive, .contact = true});
  AddEvent({.customer = 1, .at = kNow - days(7), .initiative = kProactive, .contact = true});
  // Later, but a charge is not a contact, and a call from the customer is not proactive.
  AddEvent({.customer = 1, .at = kNow - days(2), .initiative = kProactive});
  AddEvent({.customer = 1, .at = kNow - days(1), .initiative = kReactive, .contact = true});
  EXPECT_EQ(Read(1).last_proactive_contact, kNow - days(5));

  AddCustomer(2);
  AddEvent({.customer = 2, .at = kNow - days(1), .initiative = kReactive, .contact = true});
  EXPECT_FALSE(Read(2).last_proactive_contact.has_value());
}

TEST_F(CustomerReadsTest, OpenMattersByTheirLastState) {
  AddCustomer(1);
  const Micros t = kNow - days(10);
  // Closed: not open.
  AddEvent({.customer = 1, .at = t, .step = kHelp, .matter = "wo:1", .state = kOpened});
  AddEvent({.customer = 1, .at = t + hours(5), .matter = "wo:1", .state = kClosed});
  // Open, its step from its first event, its kind and time from its last.
  AddEvent({.customer = 1,
            .at = t + hours(1),
            .step = kHelp,
            .matter = "wo:2",
            .state = kOpened,
            .kind = "maintenance.work_order.opened"});
  AddEvent({.customer = 1,
            .at = t + hours(3),
            .step = kUnderstand,
            .matter = "wo:2",
            .state = kUpdated,
            .kind = "maintenance.work_order.assigned"});
  // Closed, opened again: open and reopened.
  AddEvent({.customer = 1, .at = t + hours(2), .step = kHelp, .matter = "wo:3", .state = kOpened});
  AddEvent({.customer = 1, .at = t + hours(4), .matter = "wo:3", .state = kClosed});
  AddEvent({.customer = 1,
            .at = t + hours(6),
            .matter = "wo:3",
            .state = kOpened,
            .kind = "maintenance.work_order.reopened"});
  // A follow-up call and a rating after the close do not reopen it.
  AddEvent({.customer = 1, .at = t, .step = kHelp, .matter = "wo:4", .state = kOpened});
  AddEvent({.customer = 1, .at = t + hours(1), .matter = "wo:4", .state = kClosed});
  AddEvent({.customer = 1, .at = t + hours(2), .matter = "wo:4", .state = kUpdated});
  AddEvent({.customer = 1, .at = t + hours(3), .matter = "wo:4", .state = kNoState});
  // Order is (occurred_at, id), not insertion: the close was stored first but happened last.
  AddEvent({.customer = 1, .at = t + hours(9), .matter = "wo:5", .state = kClosed});
  AddEvent(
      {.customer = 1, .at = t + hours(8), .step = kDelight, .matter = "wo:5", .state = kOpened});
  // At the same time the id breaks the tie: opened, then closed.
  AddEvent({.customer = 1, .at = t, .step = kDelight, .matter = "wo:6", .state = kOpened});
  AddEvent({.customer = 1, .at = t, .matter = "wo:6", .state = kClosed});
  // Events without a matter form none.
  AddEvent({.customer = 1, .at = t});

  Customer customer = Read(1);
  ASSERT_EQ(customer.open_matters.size(), 2u);
  const OpenMatter& two = customer.open_matters[0];
  EXPECT_EQ(two.matter_id, "wo:2");
  EXPECT_EQ(two.step, sdk::Step::kHelp);
  EXPECT_EQ(two.last_kind, "maintenance.work_order.assigned");
  EXPECT_EQ(two.opened_at, t + hours(1));
  EXPECT_EQ(two.last_at, t + hours(3));
  EXPECT_FALSE(two.reopened);
  const OpenMatter& three = customer.open_matters[1];
  EXPECT_EQ(three.matter_id, "wo:3");
  EXPECT_EQ(three.opened_at, t + hours(2));
  EXPECT_EQ(three.last_at, t + hours(6));
  EXPECT_EQ(three.last_kind, "maintenance.work_order.reopened");
  EXPECT_TRUE(three.reopened);
}

TEST_F(CustomerReadsTest, ComplaintResolutionMedianOfClosedComplaints) {
  AddCustomer(1);
  const Micros t = kNow - days(30);
  int n = 0;
  // Closed complaints taking 2, 10, 4 and 6 hours: the lower middle of an even count is 4.
  for (int taken : {2, 10, 4, 6}) {
    const std::string matter = "cmp:" + std::to_string(++n);
    AddEvent({.customer = 1, .at = t, .step = kEmpathize, .matter = matter, .state = kOpened});
    AddEvent({.customer = 1,
              .at = t + hours(taken) - hours(1),
              .step = kEmpathize,
              .matter = matter,
              .state = kUpdated});
    AddEvent({.customer = 1,
              .at = t + hours(taken),
              .step = kEmpathize,
              .matter = matter,
              .state = kClosed});
  }
  // Not counted: an open complaint, a closed repair, a complaint closed, reopened and open.
  AddEvent({.customer = 1, .at = t, .step = kEmpathize, .matter = "cmp:open", .state = kOpened});
  AddEvent({.customer = 1, .at = t, .step = kHelp, .matter = "wo:1", .state = kOpened});
  AddEvent({.customer = 1, .at = t + hours(1), .step = kHelp, .matter = "wo:1", .state = kClosed});
  AddEvent({.customer = 1, .at = t, .step = kEmpathize, .matter = "cmp:re", .state = kOpened});
  AddEvent({.customer = 1, .at = t + hours(1), .matter = "cmp:re", .state = kClosed});
  AddEvent({.customer = 1, .at = t + hours(2), .matter = "cmp:re", .state = kOpened});
  EXPECT_EQ(Read(1).complaint_resolution_median, microseconds(hours(4)));

  // Closed again, it counts from its first event to its first close: 1 hour. Now 1, 2, 4, 6,
  // 10: the middle is 4.
  AddEvent({.customer = 1, .at = t + hours(50), .matter = "cmp:re", .state = kClosed});
  EXPECT_EQ(Read(1).complaint_resolution_median, microseconds(hours(4)));
  // 1, 1, 2, 4, 6, 10: the lower middle is 2.
  AddEvent({.customer = 1, .at = t, .step = kEmpathize, .matter = "cmp:q", .state = kOpened});
  AddEvent({.customer = 1, .at = t + hours(1), .matter = "cmp:q", .state = kClosed});
  EXPECT_EQ(Read(1).complaint_resolution_median, microseconds(hours(2)));
}

TEST_F(CustomerReadsTest, ComplaintPastSlaTriggersAndClears) {
  AddCustomer(1);
  AddEvent({.customer = 1,
            .at = kNow - hours(30),
            .step = kEmpathize,
            .matter = "cmp:C-1",
            .state = kOpened});
  AddEvent({.customer = 1,
            .at = kNow - hours(20),
            .step = kEmpathize,
            .matter = "cmp:C-1",
            .state = kUpdated});
  auto items = Outreach(OutreachReason::kComplaintPastSla);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].customer, 1);
  EXPECT_EQ(items[0].reason, OutreachReason::kComplaintPastSla);
  EXPECT_EQ(items[0].since, kNow - hours(30));
  EXPECT_EQ(api::OutreachDetail(items[0]), "complaint cmp:C-1 open 30 h (SLA 24 h)");
  EXPECT_EQ(items[0].community, "");

  // A longer SLA, then the complaint resolved: nothing.
  OutreachQuery lenient = Query({OutreachReason::kComplaintPastSla});
  lenient.rules.complaint_sla = hours(31);
  EXPECT_TRUE(Outreach(lenient).empty());
  AddEvent({.customer = 1,
            .at = kNow - hours(1),
            .step = kEmpathize,
            .matter = "cmp:C-1",
            .state = kClosed});
  EXPECT_TRUE(Outreach(OutreachReason::kComplaintPastSla).empty());

  // A fresh complaint is within the SLA; an open repair is no complaint.
  AddEvent({.customer = 1,
            .at = kNow - hours(2),
            .step = kEmpathize,
            .matter = "cmp:C-2",
            .state = kOpened});
  AddEvent(
      {.customer = 1, .at = kNow - days(9), .step = kHelp, .matter = "wo:1", .state = kOpened});
  EXPECT_TRUE(Outreach(OutreachReason::kComplaintPastSla).empty());

  // Two late complaints make one item, named by the older.
  AddEvent({.customer = 1,
            .at = kNow - hours(50),
            .step = kEmpathize,
            .matter = "cmp:C-3",
            .state = kOpened});
  AddEvent({.customer = 1,
            .at = kNow - hours(60),
            .step = kEmpathize,
            .matter = "cmp:C-4",
            .state = kOpened});
  items = Outreach(OutreachReason::kComplaintPastSla);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].since, kNow - hours(60));
  EXPECT_EQ(api::OutreachDetail(items[0]),
            "complaint cmp:C-4 open 60 h (SLA 24 h), and 1 more past the SLA");
}

TEST_F(CustomerReadsTest, NewOccupantNotWelcomedTriggersAndClears) {
  AddCustomer(1);
  const Micros moved_in = kNow - days(5);
  AddPeriod("Sunny", "3-2-1202", 1, moved_in);
  // A proactive KNOW visit before the move-in does not welcome them.
  AddEvent({.customer = 1, .at = moved_in - days(1), .step = kKnow, .initiative = kProactive});
  auto items = Outreach(OutreachReason::kNewOccupantNotWelcomed);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].customer, 1);
  EXPECT_EQ(items[0].reason, OutreachReason::kNewOccupantNotWelcomed);
  EXPECT_EQ(items[0].since, moved_in);
  EXPECT_EQ(items[0].community, "Sunny");
  EXPECT_EQ(api::OutreachDetail(items[0]),
            "moved into Sunny/3-2-1202 5 days ago, no proactive KNOW contact since (window 30 "
            "days)");

  // Reactive KNOW contacts, proactive contacts of other steps, or a proactive KNOW event that
  // met nobody (keys handed over to an agent) do not either; a proactive KNOW contact at the
  // move-in does.
  AddEvent({.customer = 1,
            .at = moved_in + days(1),
            .step = kKnow,
            .initiative = kReactive,
            .contact = true});
  AddEvent({.customer = 1,
            .at = moved_in + days(1),
            .step = kHelp,
            .initiative = kProactive,
            .contact = true});
  AddEvent({.customer = 1, .at = moved_in, .step = kKnow, .initiative = kProactive});
  EXPECT_EQ(Outreach(OutreachReason::kNewOccupantNotWelcomed).size(), 1u);
  AddEvent(
      {.customer = 1, .at = moved_in, .step = kKnow, .initiative = kProactive, .contact = true});
  EXPECT_TRUE(Outreach(OutreachReason::kNewOccupantNotWelcomed).empty());
}

TEST_F(CustomerReadsTest, NewOccupantOnlyForRecentExplicitCurrentMoveIns) {
  AddCustomer(1);  // moved in 40 days ago: outside the window
  AddPeriod("Sunny", "1-1-101", 1, kNow - days(40));
  AddCustomer(2);  // the period was inferred from an ordinary event
  AddPeriod("Sunny", "1-1-102", 2, kNow - days(3), std::nullopt, /*inferred=*/true);
  AddCustomer(3);  // moved in and out again
  AddPeriod("Sunny", "1-1-103", 3, kNow - days(10), kNow - days(2));
  AddCustomer(4);  // within a wider window
  AddPeriod("Sunny", "1-1-104", 4, kNow - days(40));
  OutreachQuery query = Query({OutreachReason::kNewOccupantNotWelcomed});
  query.rules.new_occupant_window = days(41);
  EXPECT_EQ(Customers(Outreach(query)), (std::vector<std::int64_t>{1, 4}));
  EXPECT_TRUE(Outreach(OutreachReason::kNewOccupantNotWelcomed).empty());
}

TEST_F(CustomerReadsTest, NewOccupantOfAnAbsorbedCustomersMoveIn) {
  AddCustomer(1);
  AddCustomer(2, 1);
  AddPeriod("Sunny", "1-1-101", 2, kNow - days(3));
  auto items = Outreach(OutreachReason::kNewOccupantNotWelcomed);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].customer, 1);
  // The absorbed customer's welcome visit was moved onto the root with its events.
  AddEvent({.customer = 1,
            .home = 2,
            .at = kNow - days(2),
            .step = kKnow,
            .initiative = kProactive,
            .contact = true});
  EXPECT_TRUE(Outreach(OutreachReason::kNewOccupantNotWelcomed).empty());
}

TEST_F(CustomerReadsTest, NoProactiveContactTriggersAndClears) {
  AddCustomer(1);
  AddEvent({.customer = 1, .at = kNow - days(200)});
  AddEvent({.customer = 1, .at = kNow - days(120), .initiative = kProactive, .contact = true});
  AddEvent({.customer = 1, .at = kNow - days(10), .initiative = kReactive, .contact = true});
  AddEvent({.customer = 1, .at = kNow - days(5), .initiative = kProactive});  // no contact
  auto items = Outreach(OutreachReason::kNoProactiveContact);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].customer, 1);
  EXPECT_EQ(items[0].reason, OutreachReason::kNoProactiveContact);
  EXPECT_EQ(items[0].since, kNow - days(120));
  EXPECT_EQ(api::OutreachDetail(items[0]),
            "no proactive contact for 120 days (quiet period 90 days)");

  AddEvent({.customer = 1, .at = kNow - days(89), .initiative = kProactive, .contact = true});
  EXPECT_TRUE(Outreach(OutreachReason::kNoProactiveContact).empty());
}

TEST_F(CustomerReadsTest, NoProactiveContactEverCountsFromTheFirstEvent) {
  AddCustomer(1);  // never contacted, seen 100 days ago
  AddEvent({.customer = 1, .at = kNow - days(100)});
  AddEvent({.customer = 1, .at = kNow - days(1), .initiative = kReactive, .contact = true});
  AddCustomer(2);  // never contacted, but first seen 10 days ago
  AddEvent({.customer = 2, .at = kNow - days(10)});
  AddCustomer(3);  // no events at all
  auto items = Outreach(OutreachReason::kNoProactiveContact);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].customer, 1);
  EXPECT_EQ(items[0].since, kNow - days(100));
  EXPECT_EQ(api::OutreachDetail(items[0]),
            "no proactive contact ever, first seen 100 days ago (quiet period 90 days)");
}

TEST_F(CustomerReadsTest, MatterReopenedTriggersAndClears) {
  AddCustomer(1);
  AddEvent(
      {.customer = 1, .at = kNow - days(6), .step = kHelp, .matter = "wo:W-3", .state = kOpened});
  AddEvent({.customer = 1, .at = kNow - days(5), .matter = "wo:W-3", .state = kClosed});
  // A rating after the close is no reopening.
  AddEvent({.customer = 1, .at = kNow - days(4), .matter = "wo:W-3", .state = kUpdated});
  EXPECT_TRUE(Outreach(OutreachReason::kMatterReopened).empty());

  AddEvent({.customer = 1, .at = kNow - days(2), .matter = "wo:W-3", .state = kOpened});
  AddEvent({.customer = 1, .at = kNow - days(1), .matter = "wo:W-3", .state = kUpdated});
  auto items = Outreach(OutreachReason::kMatterReopened);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].customer, 1);
  EXPECT_EQ(items[0].reason, OutreachReason::kMatterReopened);
  EXPECT_EQ(items[0].since, kNow - days(2));
  EXPECT_EQ(api::OutreachDetail(items[0]), "matter wo:W-3 reopened 2 days ago and still open");

  AddEvent({.customer = 1, .at = kNow - hours(1), .matter = "wo:W-3", .state = kClosed});
  EXPECT_TRUE(Outreach(OutreachReason::kMatterReopened).empty());
}

TEST_F(CustomerReadsTest, EveryReasonOfACustomerInReasonOrder) {
  AddCustomer(1);
  AddPeriod("Sunny", "1-1-101", 1, kNow - days(2));
  AddEvent({.customer = 1,
            .at = kNow - days(100),
            .step = kEmpathize,
            .matter = "cmp:1",
            .state = kOpened});
  AddEvent(
      {.customer = 1, .at = kNow - days(50), .step = kHelp, .matter = "wo:1", .state = kOpened});
  AddEvent({.customer = 1, .at = kNow - days(40), .matter = "wo:1", .state = kClosed});
  AddEvent({.customer = 1, .at = kNow - days(30), .matter = "wo:1", .state = kOpened});
  auto items = Outreach(Query());
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[0].reason, OutreachReason::kComplaintPastSla);
  EXPECT_EQ(items[1].reason, OutreachReason::kNewOccupantNotWelcomed);
  EXPECT_EQ(items[2].reason, OutreachReason::kNoProactiveContact);
  EXPECT_EQ(items[3].reason, OutreachReason::kMatterReopened);
  for (const OutreachItem& item : items) EXPECT_EQ(item.community, "Sunny");

  items = Outreach(Query({OutreachReason::kMatterReopened, OutreachReason::kComplaintPastSla}));
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].reason, OutreachReason::kComplaintPastSla);
  EXPECT_EQ(items[1].reason, OutreachReason::kMatterReopened);
}

TEST_F(CustomerReadsTest, OutreachPagesByCustomerId) {
  // 1, 3, 4 and 6 were never contacted; 2 was recently; 5 was merged into 4.
  for (std::int64_t id : {1, 2, 3, 4, 6}) {
    AddCustomer(id);
    AddEvent({.customer = id, .at = kNow - days(100)});
  }
  AddCustomer(5, 4);
  AddEvent({.customer = 2, .at = kNow - days(1), .initiative = kProactive, .contact = true});
  // Two reasons for 3: its items count as one customer of the limit.
  AddEvent({.customer = 3,
            .at = kNow - days(9),
            .step = kEmpathize,
            .matter = "cmp:1",
            .state = kOpened});

  OutreachPage page = OutreachPageOf(Page(0, 2));
  EXPECT_EQ(Customers(page.items), (std::vector<std::int64_t>{1, 3, 3}));
  EXPECT_EQ(page.next_after_customer, 3);
  page = OutreachPageOf(Page(page.next_after_customer, 2));
  EXPECT_EQ(Customers(page.items), (std::vector<std::int64_t>{4, 6}));
  EXPECT_EQ(page.next_after_customer, 6);
  page = OutreachPageOf(Page(page.next_after_customer, 2));
  EXPECT_TRUE(page.items.empty());
  EXPECT_EQ(page.next_after_customer, 0) << "the end has no next page";
  EXPECT_TRUE(Outreach(Page(0, 0)).empty());
}

TEST_F(CustomerReadsTest, OutreachStopsAfterTenThousandCustomersWithoutItems) {
  // 10,000 customers who need nothing, then one who does.
  Run("BEGIN");
  for (std::int64_t id = 1; id <= 10'000; ++id) AddCustomer(id);
  Run("COMMIT");
  AddCustomer(10'001);
  AddEvent({.customer = 10'001, .at = kNow - days(100)});
  OutreachPage first = OutreachPageOf(Query({OutreachReason::kNoProactiveContact}));
  EXPECT_TRUE(first.items.empty());
  // The empty page says where the scan stopped, and the next one goes on from there.
  EXPECT_EQ(first.next_after_customer, 10'000);
  EXPECT_EQ(Customers(Outreach(Page(first.next_after_customer, 50))),
            (std::vector<std::int64_t>{10'001}));
  // Starting one later, the 10,000th examined is the one.
  OutreachQuery query = Query({OutreachReason::kNoProactiveContact});
  query.after_customer = 1;
  EXPECT_EQ(Customers(Outreach(query)), (std::vector<std::int64_t>{10'001}));
}

TEST_F(CustomerReadsTest, OutreachCommunityIsWhereTheCustomerLivesNow) {
  // 1 lives in Sunny; 2 in Lake; 3 moved from Sunny to Lake; 4 moved out of Sunny and lives
  // nowhere now, so its latest period counts; 5 has units in both; 6 has none.
  for (std::int64_t id = 1; id <= 6; ++id) {
    AddCustomer(id);
    AddEvent({.customer = id, .at = kNow - days(100)});
  }
  AddPeriod("Sunny", "1-1-101", 1, kNow - days(200));
  AddPeriod("Lake", "2-1-101", 2, kNow - days(200));
  AddPeriod("Sunny", "1-1-103", 3, kNow - days(300), kNow - days(200));
  AddPeriod("Lake", "2-1-103", 3, kNow - days(200));
  AddPeriod("Lake", "2-1-104", 4, kNow - days(300), kNow - days(250));
  AddPeriod("Sunny", "1-1-104", 4, kNow - days(200), kNow - days(150));
  AddPeriod("Sunny", "1-1-105", 5, kNow - days(200));
  AddPeriod("Lake", "2-1-105", 5, kNow - days(100));

  auto all = Outreach(OutreachReason::kNoProactiveContact);
  ASSERT_EQ(Customers(all), (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(all[0].community, "Sunny");
  EXPECT_EQ(all[1].community, "Lake");
  EXPECT_EQ(all[2].community, "Lake");
  EXPECT_EQ(all[3].community, "Sunny");
  EXPECT_EQ(all[4].community, "Lake");  // the newer of its current units
  EXPECT_EQ(all[5].community, "");

  auto sunny = Outreach(Query({OutreachReason::kNoProactiveContact}, "Sunny"));
  EXPECT_EQ(Customers(sunny), (std::vector<std::int64_t>{1, 4, 5}));
  for (const OutreachItem& item : sunny) EXPECT_EQ(item.community, "Sunny");
  auto lake = Outreach(Query({OutreachReason::kNoProactiveContact}, "Lake"));
  EXPECT_EQ(Customers(lake), (std::vector<std::int64_t>{2, 3, 5}));
  EXPECT_TRUE(Outreach(Query({}, "Hill")).empty());
}

TEST_F(CustomerReadsTest, CommunityFigures) {
  // Sunny: 1 (with 2 merged into it, whose period is Sunny's), 3, and 4 who also lives in
  // Lake. Lake: 4 and 5. 6's period has no community; 7's begins after now.
  for (std::int64_t id : {1, 3, 4, 5, 6, 7}) AddCustomer(id);
  AddCustomer(2, 1);
  AddPeriod("Sunny", "1-1-101", 1, kNow - days(100));
  AddPeriod("Sunny", "1-1-102", 2, kNow - days(300), kNow - days(200));
  AddPeriod("Sunny", "1-1-103", 3, kNow - days(100));
  AddPeriod("Sunny", "1-1-104", 4, kNow - days(100));
  AddPeriod("Lake", "2-1-104", 4, kNow - days(50));
  AddPeriod("Lake", "2-1-105", 5, kNow - days(50));
  AddPeriod("", "9-9-906", 6, kNow - days(50));
  AddPeriod("Hill", "3-1-107", 7, kNow + days(1));

  const Micros t = kNow - days(20);
  AddEvent({.customer = 1, .at = t, .step = kKnow, .initiative = kProactive});
  AddEvent(
      {.customer = 1, .home = 2, .at = t, .step = kEmpathize, .matter = "cmp:1", .state = kOpened});
  AddEvent(
      {.customer = 1, .at = t + hours(3), .step = kEmpathize, .matter = "cmp:1", .state = kClosed});
  AddEvent({.customer = 3, .at = t, .step = kKnow});
  AddEvent({.customer = 3, .at = t, .step = kHelp, .initiative = kProactive});
  AddEvent({.customer = 4, .at = t, .step = kEmpathize, .matter = "cmp:4", .state = kOpened});
  AddEvent(
      {.customer = 4, .at = t + hours(7), .step = kEmpathize, .matter = "cmp:4", .state = kClosed});
  AddEvent({.customer = 5, .at = t, .step = kDelight, .initiative = kProactive});
  AddEvent({.customer = 6, .at = t, .step = kDelight});
  AddEvent({.customer = 7, .at = t, .step = kDelight});

  auto figures = Communities();
  ASSERT_EQ(figures.size(), 2u);
  const CommunityFigures& lake = figures[0];
  EXPECT_EQ(lake.community, "Lake");
  EXPECT_EQ(lake.customers, 2);
  EXPECT_EQ(lake.customers_reached, (std::array<std::int64_t, 5>{0, 0, 0, 1, 1}));
  EXPECT_EQ(lake.events, 3);
  EXPECT_EQ(lake.proactive, 1);
  EXPECT_EQ(lake.complaint_resolution_median, microseconds(hours(7)));
  const CommunityFigures& sunny = figures[1];
  EXPECT_EQ(sunny.community, "Sunny");
  EXPECT_EQ(sunny.customers, 3);
  EXPECT_EQ(sunny.customers_reached, (std::array<std::int64_t, 5>{2, 0, 1, 2, 0}));
  EXPECT_EQ(sunny.events, 7);
  EXPECT_EQ(sunny.proactive, 2);
  // 3 and 7 hours: the lower middle.
  EXPECT_EQ(sunny.complaint_resolution_median, microseconds(hours(3)));

  auto one = Communities("Lake");
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].community, "Lake");
  EXPECT_EQ(one[0].customers, 2);
  EXPECT_EQ(one[0].events, 3);
  EXPECT_TRUE(Communities("Atlantis").empty());
  EXPECT_TRUE(Communities("Hill").empty());
}

TEST_F(CustomerReadsTest, CommunityWithoutComplaintsHasNoMedian) {
  AddCustomer(1);
  AddPeriod("Sunny", "1-1-101", 1, kNow - days(100));
  auto figures = Communities();
  ASSERT_EQ(figures.size(), 1u);
  EXPECT_EQ(figures[0].customers, 1);
  EXPECT_EQ(figures[0].events, 0);
  EXPECT_EQ(figures[0].customers_reached, (std::array<std::int64_t, 5>{}));
  EXPECT_FALSE(figures[0].complaint_resolution_median.has_value());
}

TEST_F(CustomerReadsTest, ReadsJoinTheCallersTransaction) {
  AddCustomer(1);
  Run("BEGIN");
  EXPECT_EQ(Read(1).id, 1);
  EXPECT_TRUE(Outreach(Query()).empty());
  EXPECT_TRUE(Communities().empty());
  // Still the caller's: a read must not have committed or ended it.
  EXPECT_EQ(sqlite3_get_autocommit(db_), 0);
  Run("COMMIT");
  EXPECT_NE(sqlite3_get_autocommit(db_), 0);
}

}  // namespace
}  // namespace propbridge::store
