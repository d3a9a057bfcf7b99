// Walking a timeline page by page while a plugin keeps inserting events between the ones
// already stored: the real daemon, the real synthetic plugin, real gRPC and SQLite.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "tests/api/api_daemon.h"

namespace propbridge::testing {
namespace {

constexpr char kCustomer[] = "account:C0";
constexpr std::size_t kSeeded = 3000;

std::int64_t Micros(const v1::TimelineEvent& e) {
  return e.occurred_at().seconds() * 1'000'000 + e.occurred_at().nanos() / 1000;
}

// Two instances on one customer: "seed" at even seconds, done at once, and "live" at odd
// seconds, emitting slowly, so that its events land between the seeded ones while the walk
// runs.
std::string Plugins() {
  return SyntheticInstance("seed",
                           "count = 3000\nbatch_size = 500\ncustomers = 1\n"
                           "time_step_s = 2\n") +
         SyntheticInstance("live",
                           "count = 1000000\nbatch_size = 2\ncustomers = 1\n"
                           "time_step_s = 2\ntime_offset_s = 1\ninterval_ms = 5\n");
}

class PaginationTest : public ::testing::TestWithParam<v1::TimelineOrder> {};

TEST_P(PaginationTest, AWalkDuringInsertsNeitherSkipsNorRepeatsAndStaysSorted) {
  TempDir dir;
  auto daemon = ApiDaemon::Start(dir, Plugins());
  ASSERT_TRUE(daemon);
  v1::GetTimelineRequest seeded;
  seeded.set_customer(kCustomer);
  seeded.set_page_size(1000);
  seeded.mutable_filter()->add_sources("seed");
  // The daemon serves before its plugins have stored anything.
  daemon->WaitForCount(kCustomer, 1);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (daemon->ReadPages(seeded).size() < kSeeded) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the seed plugin did not finish";
  }

  v1::GetTimelineRequest all;
  all.set_customer(kCustomer);
  all.set_page_size(1000);
  // Ids are given in commit order, so every event up to the largest id read here was stored
  // before the walk below began.
  const auto before = Ids(daemon->ReadPages(all));
  const std::int64_t existing_up_to = *std::max_element(before.begin(), before.end());

  v1::GetTimelineRequest walk_request;
  walk_request.set_customer(kCustomer);
  walk_request.set_page_size(37);
  walk_request.set_order(GetParam());
  const auto walk = daemon->ReadPages(walk_request);
  const auto after = daemon->ReadPages(all);

  const bool oldest_first = GetParam() == v1::TIMELINE_ORDER_OLDEST_FIRST;
  for (std::size_t i = 1; i < walk.size(); ++i) {
    auto previous = std::pair(Micros(walk[i - 1]), walk[i - 1].id());
    auto current = std::pair(Micros(walk[i]), walk[i].id());
    ASSERT_TRUE(oldest_first ? previous < current : current < previous)
        << "out of order at position " << i;
  }
  std::set<std::int64_t> walked;
  for (std::int64_t id : Ids(walk)) EXPECT_TRUE(walked.insert(id).second) << "repeated " << id;
  std::set<std::int64_t> stored_after;
  for (std::int64_t id : Ids(after)) stored_after.insert(id);
  for (std::int64_t id : stored_after) {
    if (id <= existing_up_to) {
      EXPECT_TRUE(walked.contains(id)) << "skipped " << id;
    }
  }
  for (std::int64_t id : walked) EXPECT_TRUE(stored_after.contains(id)) << "unknown " << id;

  // The walk really ran while events were inserted, and some of them between stored ones.
  std::int64_t seeded_until = 0;
  for (const auto& event : after) {
    if (event.source() == "seed") seeded_until = std::max(seeded_until, Micros(event));
  }
  std::size_t inserted_between = 0;
  for (const auto& event : after) {
    if (event.id() > existing_up_to && Micros(event) < seeded_until) ++inserted_between;
  }
  EXPECT_GT(inserted_between, 0u) << "no insert landed inside the walked range";
}

INSTANTIATE_TEST_SUITE_P(Api, PaginationTest,
                         ::testing::Values(v1::TIMELINE_ORDER_OLDEST_FIRST,
                                           v1::TIMELINE_ORDER_NEWEST_FIRST),
                         [](const auto& info) { return v1::TimelineOrder_Name(info.param); });

}  // namespace
}  // namespace propbridge::testing
