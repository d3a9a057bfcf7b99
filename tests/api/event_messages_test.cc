// GetTimeline's page is written in wire format by hand (TimelinePage); these hold it to the
// message that protobuf itself would build from the same events (ToProto), field by field.
#include "daemon/api/event_messages.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace propbridge::api {
namespace {

using namespace std::chrono;
using Attributes = std::vector<std::pair<std::string_view, std::string_view>>;

v1::GetTimelineResponse Parse(const TimelinePage& page) {
  v1::GetTimelineResponse response;
  EXPECT_TRUE(response.ParseFromString(page.bytes()));
  return response;
}

void ExpectSame(const v1::GetTimelineResponse& expected, const v1::GetTimelineResponse& got) {
  google::protobuf::util::MessageDifferencer differ;
  std::string difference;
  differ.ReportDifferencesToString(&difference);
  EXPECT_TRUE(differ.Compare(expected, got)) << difference;
}

store::EventView FullEvent(const Attributes& attributes) {
  store::EventView e;
  e.id = 9'007'199'254'740'993;  // past a double's exact integers
  e.customer = 42;
  e.step = sdk::Step::kEmpathize;
  e.kind = "service.complaint.reopened";
  e.occurred_at = store::Micros{sys_days{year{2026} / March / 2}} + microseconds(123'456);
  e.ingested_at = store::Micros{sys_days{year{2026} / March / 3}} + microseconds(7);
  e.source = "crm";
  e.source_event_id = "C-77";
  e.initiative = sdk::Initiative::kProactive;
  e.contact = true;
  e.channel = "phone";
  e.matter_id = "M-5";
  e.matter_state = sdk::MatterState::kUpdated;
  e.summary = "电梯又坏了, and a \"quoted\" word";
  e.attributes = attributes;
  return e;
}

TEST(TimelinePage, EveryFieldIsWrittenAsProtobufBuildsIt) {
  const Attributes attributes = {{"unit", "阳光花园/3-2-1202"}, {"", ""}, {"operator", "staff-7"}};
  store::EventView first = FullEvent(attributes);
  store::EventView second = FullEvent({});
  second.id = 1;
  second.summary = std::string_view("with\0nul", 8);

  TimelinePage page;
  page.Add(first);
  page.Add(second);
  page.SetNextPageToken("token");
  v1::GetTimelineResponse expected;
  ToProto(first, *expected.add_events());
  ToProto(second, *expected.add_events());
  expected.set_next_page_token("token");
  const v1::GetTimelineResponse got = Parse(page);
  ExpectSame(expected, got);

  // The event above sets every field TimelineEvent has: one added to the API without being
  // added to TimelinePage fails here.
  std::vector<const google::protobuf::FieldDescriptor*> set;
  got.events(0).GetReflection()->ListFields(got.events(0), &set);
  EXPECT_EQ(static_cast<int>(set.size()), v1::TimelineEvent::descriptor()->field_count());
}

TEST(ToProto, AReusedMessageKeepsNothingOfTheEventBefore) {
  const Attributes personal = {{"customer_name", "张伟"}, {"note", "2026年11月"}};
  store::EventView first = FullEvent(personal);
  const Attributes other = {{"item", "water"}};
  store::EventView second = FullEvent(other);
  second.id = 2;
  second.customer = 7;
  second.matter_id = "";
  second.matter_state = sdk::MatterState::kUnspecified;
  second.channel = "";
  second.contact = false;

  v1::WatchTimelineResponse reused;  // as a watch reuses its response for every event
  ToProto(first, *reused.mutable_event());
  ToProto(second, *reused.mutable_event());
  v1::WatchTimelineResponse fresh;
  ToProto(second, *fresh.mutable_event());
  google::protobuf::util::MessageDifferencer differ;
  std::string difference;
  differ.ReportDifferencesToString(&difference);
  EXPECT_TRUE(differ.Compare(fresh, reused)) << difference;
}

TEST(TimelinePage, DefaultsAndTimesBeforeTheEpochParseTheSame) {
  store::EventView empty;  // every field at its default: only the two times are written
  store::EventView old = FullEvent({});
  old.occurred_at = store::Micros{microseconds(-1'500'001)};  // nanos stay positive
  old.ingested_at = store::Micros{microseconds(-1)};
  old.id = -3;

  TimelinePage page;
  page.Add(empty);
  page.Add(old);
  v1::GetTimelineResponse expected;
  ToProto(empty, *expected.add_events());
  ToProto(old, *expected.add_events());
  const v1::GetTimelineResponse got = Parse(page);
  ExpectSame(expected, got);
  ASSERT_EQ(got.events_size(), 2);
  EXPECT_TRUE(got.events(0).has_occurred_at());
  EXPECT_EQ(got.events(1).occurred_at().seconds(), -2);
  EXPECT_EQ(got.events(1).occurred_at().nanos(), 499'999'000);
}

TEST(TimelinePage, AnEmptyPageIsAnEmptyResponse) {
  TimelinePage page;
  page.SetNextPageToken("");
  EXPECT_TRUE(page.bytes().empty());
  EXPECT_EQ(Parse(page).events_size(), 0);
}

TEST(TimelinePage, LongValuesTakeMultiByteLengths) {
  const std::string long_value(70'000, 'x');  // a three-byte length
  const Attributes attributes = {{"note", long_value}};
  store::EventView e = FullEvent(attributes);
  e.summary = long_value;
  TimelinePage page;
  page.Add(e);
  v1::GetTimelineResponse expected;
  ToProto(e, *expected.add_events());
  ExpectSame(expected, Parse(page));
}

}  // namespace
}  // namespace propbridge::api
