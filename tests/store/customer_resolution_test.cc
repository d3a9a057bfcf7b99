// Identity resolution in the real store, on every backend: events written with Store::Write,
// customers read back with FindCustomer, ReadTimeline and ReadCustomer, merges made and undone.
#include <gtest/gtest.h>

#include <chrono>
#include <latch>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "daemon/store/store.h"
#include "tests/support/store_backend.h"

namespace propbridge::store {
namespace {

using namespace std::chrono;
using Ids = std::vector<identity::Identifier>;

const Micros kDay{sys_days{year{2026} / October / 1}};

class CustomerResolutionTest : public testing::StoreBackendTest {
 protected:
  void SetUp() override {
    store_ = backend_.Open();
    ASSERT_TRUE(store_);
  }

  // Stores one event of `kind` with `ids` at `at`; returns the customer it was stored under.
  std::int64_t Put(const std::string& id, Ids ids, Micros at,
                   const std::string& kind = "billing.charge.posted") {
    Batch batch;
    batch.source = "test";
    Event& event = batch.events.emplace_back();
    event.source = "test";
    event.source_event_id = id;
    event.identifiers = std::move(ids);
    event.kind = kind;
    event.step = sdk::Step::kUnderstand;
    event.occurred_at = at;
    event.ingested_at = kDay + days(60);
    auto outcomes = store_->Write({&batch, 1});
    EXPECT_TRUE(outcomes[0].status.ok()) << outcomes[0].status.message();
    return outcomes[0].customers.empty() ? 0 : outcomes[0].customers[0];
  }

  std::int64_t Who(const identity::Identifier& id, std::optional<Micros> at = {}) {
    auto customer = store_->FindCustomer(id, at);
    EXPECT_TRUE(customer.ok()) << customer.status().message();
    return customer.ok() ? customer->value_or(0) : 0;
  }

  // The source event ids on a customer's timeline.
  std::set<std::string> Timeline(std::int64_t customer) {
    auto events = store_->ReadTimeline({.customer = customer, .limit = 100'000});
    EXPECT_TRUE(events.ok()) << events.status().message();
    std::set<std::string> ids;
    for (const Event& event : *events) ids.insert(event.source_event_id);
    return ids;
  }

  std::unique_ptr<Store> store_;
};

TEST_P(CustomerResolutionTest, OnePersonByAccountPhoneAndUnitIsOneCustomer) {
  const identity::Identifier account{"account", "A-1001"};
  const identity::Identifier phone{"phone", "13800138001"};
  const identity::Identifier unit{"unit", "阳光花园/3-2-1202"};
  std::int64_t billing = Put("bill", {account, unit, phone}, kDay);
  EXPECT_EQ(Put("repair", {phone}, kDay + days(1)), billing);
  EXPECT_EQ(Put("cleaning", {unit}, kDay + days(2)), billing);
  EXPECT_EQ(Who(account), billing);
  EXPECT_EQ(Who(phone), billing);
  EXPECT_EQ(Who(unit), billing);
  EXPECT_EQ(Timeline(billing), (std::set<std::string>{"bill", "repair", "cleaning"}));
}

TEST_P(CustomerResolutionTest, AReplayChangesNobody) {
  std::int64_t a = Put("e1", {{"account", "A-1"}}, kDay);
  std::int64_t b = Put("e2", {{"account", "A-2"}}, kDay);
  // The same event again, now with both accounts: it is a duplicate and merges nothing.
  EXPECT_EQ(Put("e1", {{"account", "A-1"}, {"account", "A-2"}}, kDay), 0);
  EXPECT_NE(Who({"account", "A-1"}), Who({"account", "A-2"}));
  EXPECT_EQ(Who({"account", "A-1"}), a);
  EXPECT_EQ(Who({"account", "A-2"}), b);
}

// A reload's new rules: a phone that linked two customers' events before no longer links
// once phones are weak, and what was resolved before stays as it was.
TEST_P(CustomerResolutionTest, NewRulesApplyToTheEventsThatComeNext) {
  const identity::Identifier phone{"phone", "13800138001"};
  const std::int64_t first = Put("e1", {{"account", "A-1"}, phone}, kDay);
  EXPECT_EQ(Put("e2", {phone}, kDay + days(1)), first);

  identity::IdentityRules rules = identity::IdentityRules::Defaults();
  rules.types["phone"].linkage = identity::Linkage::kWeak;
  store_->UseIdentityRules(rules);
  const std::int64_t later = Put("e3", {phone}, kDay + days(2));
  EXPECT_NE(later, first) << "a weak phone names nobody: the event is a customer of its own";
  EXPECT_EQ(Put("e4", {{"account", "A-2"}, phone}, kDay + days(3)),
            Put("e5", {{"account", "A-2"}}, kDay + days(4)));
  EXPECT_NE(Who({"account", "A-2"}), first) << "the phone joins A-2 to nobody";
  EXPECT_EQ(Timeline(first), (std::set<std::string>{"e1", "e2"}));
}

TEST_P(CustomerResolutionTest, AMergeIsRecordedAndASplitPutsEveryEventBack) {
  std::int64_t by_account = Put("bill", {{"account", "A-1"}}, kDay);
  std::int64_t by_contract = Put("contract", {{"contract", "K-1"}}, kDay + hours(1));
  ASSERT_NE(by_account, by_contract);
  // One event names both: one customer, the older id kept.
  std::int64_t joined = Put("both", {{"account", "A-1"}, {"contract", "K-1"}}, kDay + hours(2));
  EXPECT_EQ(joined, std::min(by_account, by_contract));
  EXPECT_EQ(Who({"contract", "K-1"}), joined);
  EXPECT_EQ(Put("later", {{"contract", "K-1"}}, kDay + hours(3)), joined);
  EXPECT_EQ(Timeline(joined), (std::set<std::string>{"bill", "contract", "both", "later"}));

  auto customer = store_->ReadCustomer(joined, kDay + days(60));
  ASSERT_TRUE(customer.ok() && *customer) << customer.status().message();
  ASSERT_EQ((*customer)->merges.size(), 1u);
  const MergeRecord merge = (*customer)->merges[0];
  EXPECT_EQ(merge.cause, "contract:K-1");
  EXPECT_EQ(merge.actor, "propbridged");
  EXPECT_GT(merge.event_id, 0);

  auto split = store_->SplitMerge(merge.id, "ops:li", "two people: the contract is her son's", {});
  ASSERT_TRUE(split.ok()) << split.status().message();
  EXPECT_TRUE(split->undone_at.has_value());
  EXPECT_EQ(split->undone_by, "ops:li");
  const std::int64_t account_customer = Who({"account", "A-1"});
  const std::int64_t contract_customer = Who({"contract", "K-1"});
  EXPECT_NE(account_customer, contract_customer);
  // Each event back where its identifiers resolved: "both" resolved by its account.
  EXPECT_EQ(Timeline(account_customer), (std::set<std::string>{"bill", "both"}));
  EXPECT_EQ(Timeline(contract_customer), (std::set<std::string>{"contract", "later"}));
  // The split holds: an event naming both again does not merge them.
  Put("again", {{"account", "A-1"}, {"contract", "K-1"}}, kDay + hours(4));
  EXPECT_NE(Who({"account", "A-1"}), Who({"contract", "K-1"}));

  auto twice = store_->SplitMerge(merge.id, "ops:li", "again", {});
  EXPECT_EQ(twice.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->SplitMerge(999, "ops:li", "no such", {}).status().code(),
            StatusCode::kNotFound);
}

// What a watch relies on to follow its customer: the generation moves with every merge and
// split, by resolution or by an admin, and with nothing else.
TEST_P(CustomerResolutionTest, MergeGenerationMovesWithEveryMergeAndSplitOnly) {
  std::uint64_t seen = store_->MergeGeneration();
  auto moved = [&] {
    const std::uint64_t now = store_->MergeGeneration();
    const bool changed = now != seen;
    seen = now;
    return changed;
  };
  std::int64_t a = Put("a", {{"account", "A-1"}}, kDay);
  std::int64_t b = Put("b", {{"account", "B-1"}}, kDay);
  Put("a2", {{"account", "A-1"}}, kDay + hours(1));
  EXPECT_FALSE(moved()) << "new customers and their events merge nobody";

  Put("ab", {{"account", "A-1"}, {"account", "B-1"}}, kDay + hours(2));
  EXPECT_TRUE(moved()) << "resolution merged two customers";
  auto customer = store_->ReadCustomer(a, kDay + days(60));
  ASSERT_TRUE(customer.ok() && *customer);
  ASSERT_EQ((*customer)->merges.size(), 1u);
  ASSERT_TRUE(store_->SplitMerge((*customer)->merges[0].id, "ops:li", "two people", {}).ok());
  EXPECT_TRUE(moved()) << "an admin split them";
  ASSERT_TRUE(store_->LinkCustomers(a, b, "ops:li", "one person after all", {}).ok());
  EXPECT_TRUE(moved()) << "an admin linked them";
  EXPECT_FALSE(store_->LinkCustomers(a, b, "ops:li", "again", {}).ok());
  Put("c", {{"account", "C-1"}}, kDay + hours(3));
  EXPECT_FALSE(moved()) << "a refused link and a new customer change nothing";
}

// What a watch tells whose an event was by: each event of a batch carries the generation its
// customer was resolved under, counting the merge it made itself, and so do admins' changes
// between batches. Every one is settled, and none is beyond the store's once Write returned.
TEST_P(CustomerResolutionTest, EachEventCarriesTheMergeGenerationItWasResolvedUnder) {
  Put("a", {{"account", "A-1"}}, kDay);
  std::int64_t b = Put("b", {{"account", "B-1"}}, kDay);
  const std::uint64_t before = store_->MergeGeneration();
  Batch batch;
  batch.source = "test";
  for (auto [id, ids] : {std::pair{"a1", Ids{{"account", "A-1"}}},
                         std::pair{"ab", Ids{{"account", "A-1"}, {"account", "B-1"}}},
                         std::pair{"b1", Ids{{"account", "B-1"}}}}) {
    Event& event = batch.events.emplace_back();
    event.source = "test";
    event.source_event_id = id;
    event.identifiers = ids;
    event.kind = "billing.charge.posted";
    event.occurred_at = kDay + hours(1);
    event.ingested_at = kDay + days(60);
  }
  auto outcomes = store_->Write({&batch, 1});
  ASSERT_TRUE(outcomes[0].status.ok()) << outcomes[0].status.message();
  const std::uint64_t merged = store_->MergeGeneration();
  EXPECT_GT(merged, before);
  EXPECT_TRUE(MergesSettled(merged));
  EXPECT_EQ(outcomes[0].merge_generations, (std::vector<std::uint64_t>{before, merged, merged}));

  auto customer = store_->ReadCustomer(b, kDay + days(60));
  ASSERT_TRUE(customer.ok() && *customer);
  ASSERT_TRUE(store_->SplitMerge((*customer)->merges[0].id, "ops:li", "two people", {}).ok());
  const std::uint64_t split = store_->MergeGeneration();
  EXPECT_GT(split, merged);
  EXPECT_TRUE(MergesSettled(split));
  batch.events.resize(1);
  batch.events[0].source_event_id = "a2";
  outcomes = store_->Write({&batch, 1});
  ASSERT_TRUE(outcomes[0].status.ok()) << outcomes[0].status.message();
  EXPECT_EQ(outcomes[0].merge_generations, std::vector<std::uint64_t>{split});
}

TEST_P(CustomerResolutionTest, AnAdminLinkJoinsTwoCustomersAndSaysWhoAndWhy) {
  std::int64_t a = Put("e1", {{"account", "A-1"}}, kDay);
  std::int64_t b = Put("e2", {{"member", "M-9"}}, kDay);
  auto link = store_->LinkCustomers(a, b, "ops:wang", "same person, checked at the counter", {});
  ASSERT_TRUE(link.ok()) << link.status().message();
  EXPECT_EQ(link->kept, std::min(a, b));
  EXPECT_EQ(link->actor, "ops:wang");
  EXPECT_EQ(link->reason, "same person, checked at the counter");
  EXPECT_EQ(Who({"member", "M-9"}), Who({"account", "A-1"}));
  EXPECT_EQ(Timeline(link->kept), (std::set<std::string>{"e1", "e2"}));
  EXPECT_EQ(store_->LinkCustomers(a, b, "ops:wang", "again", {}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->LinkCustomers(a, 12345, "ops:wang", "x", {}).status().code(),
            StatusCode::kNotFound);
}

TEST_P(CustomerResolutionTest, ASwitchboardPhoneStopsIdentifyingAndItsMergesAreUndone) {
  const identity::Identifier switchboard{"phone", "01088886666"};
  std::vector<std::int64_t> accounts;
  for (int i = 1; i <= 3; ++i) {
    Put("own-" + std::to_string(i), {{"account", "A-" + std::to_string(i)}}, kDay);
  }
  // Three account holders calling from one number: still within the limit of 3, one customer.
  for (int i = 1; i <= 3; ++i) {
    Put("call-" + std::to_string(i), {{"account", "A-" + std::to_string(i)}, switchboard},
        kDay + hours(i));
  }
  EXPECT_EQ(Who({"account", "A-1"}), Who({"account", "A-3"}));
  // A fourth: more than 3 customers with accounts of their own. The phone is a switchboard.
  Put("own-4", {{"account", "A-4"}}, kDay);
  Put("call-4", {{"account", "A-4"}, switchboard}, kDay + hours(4));
  std::set<std::int64_t> customers;
  for (int i = 1; i <= 4; ++i) customers.insert(Who({"account", "A-" + std::to_string(i)}));
  EXPECT_EQ(customers.size(), 4u) << "the switchboard's merges were not undone";
  for (int i = 1; i <= 4; ++i) {
    EXPECT_EQ(Timeline(Who({"account", "A-" + std::to_string(i)})),
              (std::set<std::string>{"own-" + std::to_string(i), "call-" + std::to_string(i)}))
        << i;
  }
  // From now on it links no one: a fifth account stays alone.
  Put("call-5", {{"account", "A-5"}, switchboard}, kDay + hours(5));
  EXPECT_FALSE(customers.contains(Who({"account", "A-5"})));
  auto customer = store_->ReadCustomer(Who({"account", "A-1"}), kDay + days(60));
  ASSERT_TRUE(customer.ok() && *customer);
  bool demoted = false;
  for (const auto& id : (*customer)->identifiers) demoted |= id.id == switchboard && id.demoted;
  EXPECT_TRUE(demoted);
}

TEST_P(CustomerResolutionTest, AUnitThatChangesHandsBelongsToWhoeverLivedThereThen) {
  const identity::Identifier unit{"unit", "阳光花园/5-1-302"};
  std::int64_t old_owner = Put("old-bill", {{"account", "A-1"}, unit}, kDay);
  EXPECT_EQ(Put("old-repair", {unit}, kDay + days(10)), old_owner);
  std::int64_t new_owner = Put("keys", {{"account", "A-2"}, unit}, kDay + days(30),
                               "maintenance.handover.keys_handed_over");
  ASSERT_NE(new_owner, old_owner);
  EXPECT_EQ(Put("new-cleaning", {unit}, kDay + days(31)), new_owner);
  // A late report about the old owner's time still goes to the old owner.
  EXPECT_EQ(Put("late-old-report", {unit}, kDay + days(20)), old_owner);
  EXPECT_EQ(Timeline(new_owner), (std::set<std::string>{"keys", "new-cleaning"}));
  EXPECT_EQ(Timeline(old_owner),
            (std::set<std::string>{"old-bill", "old-repair", "late-old-report"}));
  EXPECT_EQ(Who(unit, kDay + days(5)), old_owner);
  EXPECT_EQ(Who(unit, kDay + days(40)), new_owner);
  auto occupants = store_->FindCustomers(unit);
  ASSERT_TRUE(occupants.ok());
  EXPECT_EQ(*occupants, (std::vector<std::int64_t>{new_owner, old_owner}));
  // Moving out ends the period: later unit-only events no longer reach the new owner.
  Put("move-out", {{"account", "A-2"}, unit}, kDay + days(50), "crm.household.moved_out");
  EXPECT_NE(Put("after", {unit}, kDay + days(51)), new_owner);
}

TEST_P(CustomerResolutionTest, EventsArrivingOutOfOrderMakeOneStayNotFragments) {
  const identity::Identifier unit{"unit", "阳光花园/7-3-1501"};
  const identity::Identifier account{"account", "A-1005"};
  // The home-service booking arrives first, the complaint next, the handover last.
  const std::int64_t customer = Put("booking", {account, unit}, kDay + days(40));
  Put("complaint", {account, unit}, kDay + days(35));
  Put("appointment", {account, unit}, kDay, "maintenance.handover.appointment_booked");
  Put("keys", {account, unit}, kDay + days(12), "maintenance.handover.keys_handed_over");
  auto read = store_->ReadCustomer(customer, kDay + days(60));
  ASSERT_TRUE(read.ok() && *read) << read.status().message();
  ASSERT_EQ((*read)->occupancy.size(), 1u);
  const OccupancyPeriod& stay = (*read)->occupancy[0];
  EXPECT_EQ(stay.from, kDay);
  EXPECT_FALSE(stay.to.has_value());
  EXPECT_FALSE(stay.inferred) << "the keys handover confirms the stay";
}

TEST_P(CustomerResolutionTest, EventsWrittenWhileAnAdminLinksEndOnTheOneCustomer) {
  Put("a-0", {{"account", "A-1"}}, kDay);
  Put("b-0", {{"account", "B-1"}}, kDay);
  std::latch writing(1);
  std::thread writer([&] {
    for (int i = 1; i <= 200; ++i) {
      Put("a-" + std::to_string(i), {{"account", "A-1"}}, kDay + minutes(i));
      Put("b-" + std::to_string(i), {{"account", "B-1"}}, kDay + minutes(i));
      if (i == 1) writing.count_down();
    }
  });
  writing.wait();  // the link comes while the writer is under way
  auto link = store_->LinkCustomers(Who({"account", "A-1"}), Who({"account", "B-1"}), "ops:li",
                                    "same household account", {});
  writer.join();
  ASSERT_TRUE(link.ok()) << link.status().message();
  EXPECT_EQ(Who({"account", "A-1"}), Who({"account", "B-1"}));
  EXPECT_EQ(Timeline(link->kept).size(), 402u);
}

PROPBRIDGE_STORE_BACKENDS(CustomerResolutionTest);

}  // namespace
}  // namespace propbridge::store
