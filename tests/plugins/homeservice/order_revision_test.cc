#include "plugins/homeservice/order_revision.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>

namespace propbridge::homeservice {
namespace {

using nlohmann::json;

json Revision(std::string change, int version) {
  return {{"order_id", "HS-2611-0007"},
          {"version", version},
          {"change", std::move(change)},
          {"changed_at", "2026-11-24T18:30:00+08:00"},
          {"status", "booked"},
          {"service_type", "cleaning"},
          {"customer",
           {{"account_no", "A-1001"},
            {"phone", "13800138001"},
            {"unit", "3-2-1202"},
            {"name", "张伟"}}},
          {"appointment_at", "2026-11-28T14:00:00+08:00"},
          {"booked_via", "App"}};
}

sdk::RawEvent Event(const json& revision) {
  auto converted = ConvertRevision(revision, "orders after cursor 12, entry 0");
  if (auto* rejected = std::get_if<sdk::RejectedRecord>(&converted)) {
    ADD_FAILURE() << "rejected: " << rejected->reason;
    return {};
  }
  return std::get<sdk::RawEvent>(converted);
}

std::string Rejection(const json& revision) {
  auto converted = ConvertRevision(revision, "orders after cursor 12, entry 3");
  if (!std::holds_alternative<sdk::RejectedRecord>(converted)) {
    ADD_FAILURE() << "not rejected";
    return "";
  }
  const auto& rejected = std::get<sdk::RejectedRecord>(converted);
  EXPECT_EQ(rejected.origin, "orders after cursor 12, entry 3");
  EXPECT_EQ(json::parse(rejected.raw), revision);
  return rejected.reason;
}

std::map<std::string, std::string> Attributes(const sdk::RawEvent& event) {
  return {event.attributes.begin(), event.attributes.end()};
}

TEST(HomeServiceRevisionTest, ABookingOpensTheOrderOnTheChannelItCameThrough) {
  sdk::RawEvent event = Event(Revision("booked", 1));
  EXPECT_EQ(event.kind, "homeservice.order.booked");
  EXPECT_EQ(event.source_event_id, "HS-2611-0007:booked:1");
  EXPECT_EQ(event.summary, "Home cleaning booked for 28 Nov 14:00");
  EXPECT_EQ(event.matter_id, "order:HS-2611-0007");
  EXPECT_EQ(event.matter_state, sdk::MatterState::kOpened);
  EXPECT_TRUE(event.contact);
  EXPECT_EQ(event.channel, "app");
  EXPECT_EQ(event.proposed_step, sdk::Step::kDelight);
  EXPECT_EQ(event.proposed_initiative, sdk::Initiative::kReactive);
  EXPECT_EQ(event.origin, "orders after cursor 12, entry 0");
  // 18:30 at +08:00 is 10:30 UTC.
  ASSERT_TRUE(std::holds_alternative<sdk::UtcTime>(event.occurred_at));
  EXPECT_EQ(std::get<sdk::UtcTime>(event.occurred_at),
            sdk::UtcTime{std::chrono::sys_days{std::chrono::year{2026} / 11 / 24} +
                         std::chrono::hours{10} + std::chrono::minutes{30}});
  auto attributes = Attributes(event);
  EXPECT_EQ(attributes["service_type"], "cleaning");
  EXPECT_EQ(attributes["order_version"], "1");
  EXPECT_EQ(attributes["appointment_at"], "2026-11-28T14:00:00+08:00");
  EXPECT_EQ(attributes["customer_name"], "张伟");
  EXPECT_EQ(attributes.count("phone"), 0u);
}

TEST(HomeServiceRevisionTest, IdentifiersGoAccountFirstThenPhoneThenUnit) {
  sdk::RawEvent event = Event(Revision("booked", 1));
  ASSERT_EQ(event.identifiers.size(), 3u);
  EXPECT_EQ(event.identifiers[0].type, "account");
  EXPECT_EQ(event.identifiers[0].value, "A-1001");
  EXPECT_EQ(event.identifiers[1].type, "phone");
  EXPECT_EQ(event.identifiers[1].value, "13800138001");
  EXPECT_EQ(event.identifiers[2].type, "unit");
  EXPECT_EQ(event.identifiers[2].value, "3-2-1202");

  json walk_in = Revision("booked", 1);
  walk_in["customer"] = {{"phone", " 13700137003 "}, {"unit", "5-1-0302"}, {"account_no", ""}};
  event = Event(walk_in);
  ASSERT_EQ(event.identifiers.size(), 2u);
  EXPECT_EQ(event.identifiers[0].type, "phone");
  EXPECT_EQ(event.identifiers[0].value, "13700137003");
  EXPECT_EQ(event.identifiers[1].type, "unit");
}

TEST(HomeServiceRevisionTest, EachChangeHasItsKindMatterStateAndContact) {
  struct Expected {
    std::string change;
    std::string kind;
    sdk::MatterState state;
    std::string channel;
  };
  for (const Expected& expected : std::vector<Expected>{
           {"scheduled", "homeservice.order.scheduled", sdk::MatterState::kUpdated, ""},
           {"started", "homeservice.order.started", sdk::MatterState::kUpdated, "visit"},
           {"completed", "homeservice.order.completed", sdk::MatterState::kClosed, "visit"},
           {"cancelled", "homeservice.order.cancelled", sdk::MatterState::kClosed, ""},
       }) {
    SCOPED_TRACE(expected.change);
    sdk::RawEvent event = Event(Revision(expected.change, 2));
    EXPECT_EQ(event.kind, expected.kind);
    EXPECT_EQ(event.source_event_id, "HS-2611-0007:" + expected.change + ":2");
    EXPECT_EQ(event.matter_id, "order:HS-2611-0007");
    EXPECT_EQ(event.matter_state, expected.state);
    EXPECT_EQ(event.contact, !expected.channel.empty());
    EXPECT_EQ(event.channel, expected.channel);
  }
}

TEST(HomeServiceRevisionTest, SummariesReadLikeTheFrontDeskWouldSayIt) {
  json scheduled = Revision("scheduled", 2);
  scheduled["technician"] = "Zhou Min";
  EXPECT_EQ(Event(scheduled).summary, "Home cleaning scheduled for 28 Nov 14:00 with Zhou Min");
  EXPECT_EQ(Event(Revision("started", 3)).summary, "Home cleaning started at home");

  json completed = Revision("completed", 4);
  completed["service_type"] = "appliance_repair";
  completed["price_fen"] = 128050;
  sdk::RawEvent event = Event(completed);
  EXPECT_EQ(event.summary, "Appliance repair completed at home, ¥1,280.50");
  EXPECT_EQ(Attributes(event)["price_fen"], "128050");

  json cancelled = Revision("cancelled", 3);
  cancelled["service_type"] = "moving";
  cancelled["cancel_reason"] = "Move postponed by the customer";
  EXPECT_EQ(Event(cancelled).summary, "Moving service cancelled: Move postponed by the customer");

  json unbooked = Revision("booked", 1);
  unbooked.erase("appointment_at");
  unbooked["service_type"] = "pest_control";
  EXPECT_EQ(Event(unbooked).summary, "Pest control booked");
}

TEST(HomeServiceRevisionTest, FeedbackCarriesItsRatingAndBelongsToTheOrderWithoutReopeningIt) {
  json feedback = Revision("feedback", 5);
  feedback["service_type"] = "appliance_repair";
  feedback["feedback"] = {{"rating", 5}, {"comment", "very careful"}, {"channel", "app"}};
  sdk::RawEvent event = Event(feedback);
  EXPECT_EQ(event.kind, "homeservice.feedback.received");
  EXPECT_EQ(event.source_event_id, "HS-2611-0007:feedback:5");
  EXPECT_EQ(event.summary, "Rated appliance repair 5/5: 'very careful'");
  EXPECT_EQ(event.matter_id, "order:HS-2611-0007");
  EXPECT_EQ(event.matter_state, sdk::MatterState::kUnspecified);
  EXPECT_TRUE(event.contact);
  EXPECT_EQ(event.channel, "app");
  auto attributes = Attributes(event);
  EXPECT_EQ(attributes["rating"], "5");
  EXPECT_EQ(attributes["comment"], "very careful");

  feedback["feedback"] = {{"rating", 3}};
  event = Event(feedback);
  EXPECT_EQ(event.summary, "Rated appliance repair 3/5");
  EXPECT_FALSE(event.contact);

  feedback["feedback"]["comment"] = std::string(400, 'x');
  EXPECT_LT(Event(feedback).summary.size(), 200u);
}

TEST(HomeServiceRevisionTest, ATimeWithoutAnOffsetIsLocalToTheSource) {
  json revision = Revision("booked", 1);
  revision["changed_at"] = "2026-11-24 18:30";
  EXPECT_TRUE(std::holds_alternative<sdk::LocalTime>(Event(revision).occurred_at));
}

TEST(HomeServiceRevisionTest, ABadRevisionIsRejectedWithEveryProblem) {
  json revision = Revision("rescheduled", 0);
  revision.erase("order_id");
  revision["changed_at"] = "2026-11-31T10:00:00";
  revision["customer"] = {{"name", "张伟"}};
  std::string reason = Rejection(revision);
  EXPECT_NE(reason.find("order_id is missing"), std::string::npos) << reason;
  EXPECT_NE(reason.find("version must be a whole number from 1"), std::string::npos) << reason;
  EXPECT_NE(reason.find("change 'rescheduled' is not one of"), std::string::npos) << reason;
  EXPECT_NE(reason.find("changed_at '2026-11-31T10:00:00' is not a date-time"), std::string::npos)
      << reason;
  EXPECT_NE(reason.find("customer names no account_no, phone or unit"), std::string::npos)
      << reason;
  EXPECT_EQ(reason.find("13800138001"), std::string::npos);
}

TEST(HomeServiceRevisionTest, FeedbackNeedsARatingFromOneToFive) {
  json feedback = Revision("feedback", 5);
  EXPECT_EQ(Rejection(feedback), "feedback is missing");
  feedback["feedback"] = {{"rating", 7}};
  EXPECT_EQ(Rejection(feedback), "feedback.rating must be a whole number from 1 to 5, not 7");
  feedback["feedback"] = {{"rating", "5"}};
  EXPECT_EQ(Rejection(feedback), "feedback.rating must be a whole number from 1 to 5, not \"5\"");
}

TEST(HomeServiceRevisionTest, WrongTypesAreRejected) {
  EXPECT_EQ(Rejection(json::array()), "an order revision must be a JSON object");
  json revision = Revision("booked", 1);
  revision["service_type"] = json::array();
  revision["customer"] = "A-1001";
  revision["price_fen"] = 12.5;
  std::string reason = Rejection(revision);
  EXPECT_NE(reason.find("service_type must be a string"), std::string::npos) << reason;
  EXPECT_NE(reason.find("customer must be an object"), std::string::npos) << reason;
  EXPECT_NE(reason.find("price_fen must be a whole number"), std::string::npos) << reason;
}

TEST(HomeServiceRevisionTest, NumericIdsAreTakenAsText) {
  json revision = Revision("booked", 1);
  revision["order_id"] = 90210;
  EXPECT_EQ(Event(revision).source_event_id, "90210:booked:1");
}

TEST(HomeServiceRevisionTest, FormatsAppointmentsPricesAndServices) {
  EXPECT_EQ(FormatAppointment("2026-11-28T14:00:00+08:00"), "28 Nov 14:00");
  EXPECT_EQ(FormatAppointment("2026-12-05 09:30"), "5 Dec 09:30");
  EXPECT_EQ(FormatAppointment("2026-01-07"), "7 Jan");
  EXPECT_EQ(FormatAppointment("soon"), std::nullopt);
  EXPECT_EQ(FormatYuan(18000), "¥180.00");
  EXPECT_EQ(FormatYuan(123456789), "¥1,234,567.89");
  EXPECT_EQ(FormatYuan(-1250), "-¥12.50");
  EXPECT_EQ(ServiceName("housekeeping"), "Housekeeping");
  EXPECT_EQ(ServiceName(""), "Home service");
  EXPECT_EQ(Shorten("阿姨很耐心", 8), "阿…");
  EXPECT_EQ(Shorten("short", 8), "short");
}

TEST(HomeServiceRevisionTest, TheBundledSampleConvertsWithOneDeliberateRejection) {
  std::ifstream in(HOMESERVICE_SAMPLE_ORDERS);
  json log = json::parse(in);
  ASSERT_TRUE(log.is_array());
  std::size_t events = 0;
  std::vector<std::string> reasons;
  for (const json& revision : log) {
    auto converted = ConvertRevision(revision, "sample");
    if (auto* rejected = std::get_if<sdk::RejectedRecord>(&converted)) {
      reasons.push_back(rejected->reason);
    } else {
      ++events;
    }
  }
  EXPECT_EQ(events, 26u);
  EXPECT_EQ(reasons,
            std::vector<std::string>{"feedback.rating must be a whole number from 1 to 5, not 7"});
}

}  // namespace
}  // namespace propbridge::homeservice
