// The filter options of propbridgectl: step names and times read in the local time zone.
#include "tools/propbridgectl/filter.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

namespace propbridge::ctl {
namespace {

class FilterTest : public ::testing::Test {
 protected:
  static void InZone(const char* zone) {
    setenv("TZ", zone, 1);
    tzset();
  }

  static std::int64_t Seconds(const char* text) {
    auto time = ParseTime(text);
    EXPECT_TRUE(time) << text;
    return time ? time->seconds() : -1;
  }
};

TEST_F(FilterTest, StepsByNameInAnyCase) {
  EXPECT_EQ(ParseStep("KNOW"), v1::STEP_KNOW);
  EXPECT_EQ(ParseStep("help"), v1::STEP_HELP);
  EXPECT_EQ(ParseStep("Step_Delight"), v1::STEP_DELIGHT);
  EXPECT_FALSE(ParseStep("UNSPECIFIED"));
  EXPECT_FALSE(ParseStep("ACHIEVE"));
  EXPECT_FALSE(ParseStep(""));
}

TEST_F(FilterTest, TimesAreReadInTheLocalZone) {
  InZone("Asia/Shanghai");
  EXPECT_EQ(Seconds("2026-11-01"), 1793462400);
  EXPECT_EQ(Seconds("2026-11-01 09:00"), 1793494800);
  EXPECT_EQ(Seconds("2026-11-01T09:00:00"), 1793494800);
  EXPECT_EQ(Seconds("2026-11-01t09:00:30"), 1793494830);

  InZone("America/New_York");
  EXPECT_EQ(Seconds("2026-07-01 12:00"), 1782921600);
  EXPECT_EQ(Seconds("2026-01-01 12:00"), 1767286800);
}

TEST_F(FilterTest, AnOffsetOverridesTheLocalZone) {
  InZone("Asia/Shanghai");
  EXPECT_EQ(Seconds("2026-11-01T09:00:30Z"), 1793523630);
  EXPECT_EQ(Seconds("2026-11-01 17:00:30+08:00"), 1793523630);
  EXPECT_EQ(Seconds("2026-11-01 04:00:30-05:00"), 1793523630);
}

TEST_F(FilterTest, ImpossibleOrMalformedTimesAreRefused) {
  InZone("Asia/Shanghai");
  for (const char* text :
       {"", "2026", "2026-11", "2026-11-31", "2026-02-29", "2026-13-01", "2026-11-01 24:00",
        "2026-11-01 09:60", "2026-11-01 09:00:60", "2026-11-01 9:00", "2026/11/01",
        "2026-11-01 09:00 ", "2026-11-01 09:00+8", "2026-11-01 09:00+25:00", "yesterday"}) {
    EXPECT_FALSE(ParseTime(text)) << text;
  }
}

TEST_F(FilterTest, FlagsBecomeTheApiFilter) {
  InZone("Asia/Shanghai");
  FilterFlags flags;
  flags.steps = {"help", "KNOW"};
  flags.kinds = {"billing.reminder"};
  flags.sources = {"billing", "maintenance"};
  flags.since = "2026-11-01";
  flags.matter = "bill:C-1";
  flags.reactive = true;
  flags.contacts = true;
  v1::TimelineFilter filter = flags.ToFilter();
  ASSERT_EQ(filter.steps_size(), 2);
  EXPECT_EQ(filter.steps(0), v1::STEP_HELP);
  EXPECT_EQ(filter.steps(1), v1::STEP_KNOW);
  EXPECT_EQ(filter.kind_prefixes(0), "billing.reminder");
  EXPECT_EQ(filter.sources_size(), 2);
  EXPECT_EQ(filter.start_time().seconds(), 1793462400);
  EXPECT_FALSE(filter.has_end_time());
  EXPECT_EQ(filter.matter_id(), "bill:C-1");
  EXPECT_EQ(filter.initiative(), v1::INITIATIVE_REACTIVE);
  EXPECT_TRUE(filter.contacts_only());

  EXPECT_EQ(FilterFlags{}.ToFilter().ByteSizeLong(), 0u);
}

}  // namespace
}  // namespace propbridge::ctl
