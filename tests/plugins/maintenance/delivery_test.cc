#include "plugins/maintenance/delivery.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "tests/plugins/maintenance/webhook_client.h"

namespace propbridge::maintenance {
namespace {

using nlohmann::json;
using sdk::Initiative;
using sdk::MatterState;
using testing::WorkOrderOpened;

sdk::RawEvent Parsed(const json& delivery) {
  auto result = ParseDelivery(delivery.dump());
  if (auto* error = std::get_if<DeliveryError>(&result)) {
    ADD_FAILURE() << "rejected: " << error->reason;
    return {};
  }
  return std::get<sdk::RawEvent>(std::move(result));
}

DeliveryError Rejected(std::string_view body) {
  auto result = ParseDelivery(body);
  if (!std::holds_alternative<DeliveryError>(result)) {
    ADD_FAILURE() << "accepted: " << body;
    return {};
  }
  return std::get<DeliveryError>(std::move(result));
}

std::string Attribute(const sdk::RawEvent& event, const std::string& name) {
  for (const auto& [key, value] : event.attributes) {
    if (key == name) return value;
  }
  return "";
}

sdk::LocalTime Local(int y, unsigned mo, unsigned d, int h, int mi) {
  using namespace std::chrono;
  return sdk::LocalTime{local_days{year{y} / mo / d} + hours{h} + minutes{mi}};
}

// A delivery of `type` about the subject `field`, from the work order delivery's parts.
json Delivery(const std::string& type, const std::string& field, json subject) {
  json delivery = WorkOrderOpened("E-" + type);
  delivery.erase("work_order");
  delivery.erase("channel");
  delivery["event_type"] = type;
  subject["id"] = "X-1";
  subject["title"] = "noise from 1502";
  delivery[field] = std::move(subject);
  return delivery;
}

TEST(MaintenanceDeliveryTest, AWorkOrderOpenedByPhoneBecomesAnEvent) {
  sdk::RawEvent event = Parsed(WorkOrderOpened("E-1"));
  EXPECT_EQ(event.source_event_id, "E-1");
  EXPECT_EQ(event.kind, "maintenance.work_order.opened");
  ASSERT_EQ(event.identifiers.size(), 3u);
  EXPECT_EQ(event.identifiers[0].type, "account");
  EXPECT_EQ(event.identifiers[0].value, "A-1001");
  EXPECT_EQ(event.identifiers[1].type, "phone");
  EXPECT_EQ(event.identifiers[2].type, "unit");
  EXPECT_EQ(event.identifiers[2].value, "3-2-1202");
  EXPECT_EQ(event.summary, "Repair order opened: kitchen tap leaking");
  EXPECT_TRUE(event.contact);
  EXPECT_EQ(event.channel, "phone");
  EXPECT_EQ(event.matter_id, "wo:WO-20261012-0031");
  EXPECT_EQ(event.matter_state, MatterState::kOpened);
  ASSERT_TRUE(std::holds_alternative<sdk::LocalTime>(event.occurred_at));
  EXPECT_EQ(std::get<sdk::LocalTime>(event.occurred_at), Local(2026, 10, 12, 8, 15));
  EXPECT_EQ(event.origin, "webhook delivery E-1");
  EXPECT_EQ(event.proposed_step, sdk::Step::kUnspecified);
  EXPECT_EQ(event.proposed_initiative, Initiative::kUnspecified);
  EXPECT_EQ(Attribute(event, "category"), "plumbing");
  EXPECT_EQ(Attribute(event, "customer_name"), "张伟");
  for (const auto& [key, value] : event.attributes) {
    EXPECT_EQ(value.find("13800138001"), std::string::npos) << key;
  }
}

TEST(MaintenanceDeliveryTest, EveryEventTypeHasItsKindStateAndSummary) {
  struct Case {
    std::string type, field;
    json details;
    MatterState state;
    std::string summary;
    std::string matter_prefix;
  };
  const Case cases[] = {
      {"work_order.opened", "work_order", json::object(), MatterState::kOpened,
       "Repair order opened: noise from 1502", "wo"},
      {"work_order.assigned",
       "work_order",
       {{"assignee", "Zhou Qiang"}},
       MatterState::kUpdated,
       "Repair order assigned to Zhou Qiang: noise from 1502",
       "wo"},
      {"work_order.assigned", "work_order", json::object(), MatterState::kUpdated,
       "Repair order assigned: noise from 1502", "wo"},
      {"work_order.visited",
       "work_order",
       {{"assignee", "Zhou Qiang"}},
       MatterState::kUpdated,
       "Repair visit by Zhou Qiang: noise from 1502",
       "wo"},
      {"work_order.completed",
       "work_order",
       {{"result", "sealed the pipe"}},
       MatterState::kClosed,
       "Repair order completed: noise from 1502 — sealed the pipe",
       "wo"},
      {"work_order.rated",
       "work_order",
       {{"rating", 4}},
       MatterState::kUpdated,
       "Repair rated 4/5: noise from 1502",
       "wo"},
      {"work_order.reopened",
       "work_order",
       {{"reason", "still dripping"}},
       MatterState::kOpened,
       "Repair order reopened: noise from 1502 (still dripping)",
       "wo"},
      {"violation.noticed", "violation", json::object(), MatterState::kOpened,
       "Rule violation noticed: noise from 1502", "violation"},
      {"violation.rectified", "violation", json::object(), MatterState::kClosed,
       "Rule violation rectified: noise from 1502", "violation"},
      {"complaint.opened", "complaint", json::object(), MatterState::kOpened,
       "Complaint opened: noise from 1502", "complaint"},
      {"complaint.acknowledged",
       "complaint",
       {{"handler", "Ms. Gao"}},
       MatterState::kUpdated,
       "Complaint acknowledged by Ms. Gao: noise from 1502",
       "complaint"},
      {"complaint.escalated",
       "complaint",
       {{"escalated_to", "the manager"}},
       MatterState::kUpdated,
       "Complaint escalated to the manager: noise from 1502",
       "complaint"},
      {"complaint.resolved",
       "complaint",
       {{"resolution", "quiet hours agreed"}},
       MatterState::kClosed,
       "Complaint resolved: noise from 1502 — quiet hours agreed",
       "complaint"},
      {"complaint.reopened", "complaint", json::object(), MatterState::kOpened,
       "Complaint reopened: noise from 1502", "complaint"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.type);
    sdk::RawEvent event = Parsed(Delivery(c.type, c.field, c.details));
    EXPECT_EQ(event.kind, "maintenance." + c.type);
    EXPECT_EQ(event.matter_state, c.state);
    EXPECT_EQ(event.matter_id, c.matter_prefix + ":X-1");
    EXPECT_EQ(event.summary, c.summary);
  }
}

TEST(MaintenanceDeliveryTest, AChannelMakesAContactAndAVisitIsAlwaysOne) {
  EXPECT_FALSE(Parsed(Delivery("complaint.escalated", "complaint", json::object())).contact);
  json acknowledged = Delivery("complaint.acknowledged", "complaint", json::object());
  acknowledged["channel"] = "Phone";
  sdk::RawEvent event = Parsed(acknowledged);
  EXPECT_TRUE(event.contact);
  EXPECT_EQ(event.channel, "phone");
  event = Parsed(Delivery("work_order.visited", "work_order", json::object()));
  EXPECT_TRUE(event.contact);
  EXPECT_EQ(event.channel, "visit");
}

TEST(MaintenanceDeliveryTest, AHandoverIsOneMatterFromAppointmentToKeys) {
  json booked = Delivery("handover.appointment_booked", "handover", json::object());
  booked["initiated_by"] = "property";
  sdk::RawEvent event = Parsed(booked);
  EXPECT_EQ(event.kind, "maintenance.handover.appointment_booked");
  EXPECT_EQ(event.summary, "Handover appointment booked: noise from 1502");
  EXPECT_EQ(event.matter_state, MatterState::kOpened);
  EXPECT_EQ(event.proposed_initiative, Initiative::kProactive);
  json inspected = Delivery("handover.inspected", "handover",
                            json{{"assignee", "Chen Jing"}, {"result", "two scratches noted"}});
  event = Parsed(inspected);
  EXPECT_EQ(event.summary,
            "Unit inspected with the owner by Chen Jing: noise from 1502 — two scratches noted");
  EXPECT_EQ(event.matter_state, MatterState::kUpdated);
  event = Parsed(Delivery("handover.keys_handed_over", "handover", json::object()));
  EXPECT_EQ(event.summary, "Keys handed over: noise from 1502");
  EXPECT_EQ(event.matter_state, MatterState::kClosed);
  EXPECT_EQ(event.matter_id.rfind("handover:", 0), 0u) << event.matter_id;
}

TEST(MaintenanceDeliveryTest, FollowUpsAndViolationsAreProposedAsProactive) {
  json follow_up = Delivery("work_order.followed_up", "work_order", json::object());
  follow_up["channel"] = "phone";
  sdk::RawEvent event = Parsed(follow_up);
  EXPECT_EQ(event.kind, "maintenance.work_order.followed_up");
  EXPECT_EQ(event.summary, "Follow-up call after repair: noise from 1502");
  EXPECT_EQ(event.proposed_initiative, Initiative::kProactive);
  EXPECT_EQ(event.matter_state, MatterState::kUpdated);
  follow_up["channel"] = "visit";
  EXPECT_EQ(Parsed(follow_up).summary, "Follow-up visit after repair: noise from 1502");
  follow_up.erase("channel");
  EXPECT_NE(Rejected(follow_up.dump()).reason.find("channel is missing"), std::string::npos);

  EXPECT_EQ(Parsed(Delivery("violation.noticed", "violation", json::object())).proposed_initiative,
            Initiative::kProactive);

  json opened = WorkOrderOpened("E-2");
  opened["initiated_by"] = "property";
  EXPECT_EQ(Parsed(opened).proposed_initiative, Initiative::kProactive);
  opened["initiated_by"] = "customer";
  EXPECT_EQ(Parsed(opened).proposed_initiative, Initiative::kReactive);
  opened["initiated_by"] = "neighbour";
  EXPECT_EQ(Rejected(opened.dump()).reason, "initiated_by must be 'property' or 'customer'");
}

TEST(MaintenanceDeliveryTest, TimesWithAnOffsetAreUtcAndOthersLocal) {
  using namespace std::chrono;
  json delivery = WorkOrderOpened("E-3");
  delivery["occurred_at"] = "2026-10-12T08:15:00+08:00";
  sdk::EventTime at = Parsed(delivery).occurred_at;
  ASSERT_TRUE(std::holds_alternative<sdk::UtcTime>(at));
  EXPECT_EQ(std::get<sdk::UtcTime>(at), sdk::UtcTime{sys_days{2026y / 10 / 12} + minutes{15}});
  delivery["occurred_at"] = "2026-10-12T00:15:00Z";
  EXPECT_EQ(std::get<sdk::UtcTime>(Parsed(delivery).occurred_at),
            sdk::UtcTime{sys_days{2026y / 10 / 12} + minutes{15}});
  delivery["occurred_at"] = "2026-10-12 08:15";
  EXPECT_EQ(std::get<sdk::LocalTime>(Parsed(delivery).occurred_at), Local(2026, 10, 12, 8, 15));
  for (const char* bad : {"2026-02-30T08:00:00", "yesterday", "2026-10-12T08:15:00+0800"}) {
    delivery["occurred_at"] = bad;
    EXPECT_EQ(Rejected(delivery.dump()).reason,
              "occurred_at is not a date-time such as 2026-11-02T09:30:00+08:00")
        << bad;
  }
}

TEST(MaintenanceDeliveryTest, TheAccountComesFirstThenThePhoneThenTheUnit) {
  json delivery = WorkOrderOpened("E-4");
  delivery["customer"] = {{"unit", "7-3-1501"}, {"phone", 13600136005LL}};
  sdk::RawEvent event = Parsed(delivery);
  ASSERT_EQ(event.identifiers.size(), 2u);
  EXPECT_EQ(event.identifiers[0].type, "phone");
  EXPECT_EQ(event.identifiers[0].value, "13600136005");
  EXPECT_EQ(event.identifiers[1].type, "unit");

  delivery["customer"] = {{"name", "Li"}, {"account_no", "  "}};
  EXPECT_EQ(Rejected(delivery.dump()).reason, "customer needs account_no, phone or unit");
  delivery["customer"] = "A-1001";
  EXPECT_EQ(Rejected(delivery.dump()).reason, "customer must be an object");
}

TEST(MaintenanceDeliveryTest, ARejectionListsEveryProblemAndKeepsTheEventId) {
  json delivery = WorkOrderOpened("E-5");
  delivery.erase("occurred_at");
  delivery.erase("customer");
  delivery["work_order"].erase("title");
  delivery["work_order"]["id"] = 12.5;
  DeliveryError error = Rejected(delivery.dump());
  EXPECT_EQ(error.event_id, "E-5");
  EXPECT_EQ(error.reason,
            "occurred_at is missing; customer is missing; work_order.id must be a string; "
            "work_order.title is missing");

  delivery = WorkOrderOpened("E-6");
  delivery["event_type"] = "work_order.exploded";
  EXPECT_EQ(Rejected(delivery.dump()).reason, "unknown event_type 'work_order.exploded'");
  delivery["event_type"] = "work_order.rated";
  EXPECT_EQ(Rejected(delivery.dump()).reason, "work_order.rating is missing");
  delivery["work_order"]["rating"] = 6;
  EXPECT_EQ(Rejected(delivery.dump()).reason, "work_order.rating must be between 1 and 5");
  delivery["work_order"]["rating"] = "5";
  EXPECT_EQ(Rejected(delivery.dump()).reason, "work_order.rating must be a whole number");

  delivery = WorkOrderOpened(std::string(200, 'x'));
  error = Rejected(delivery.dump());
  EXPECT_EQ(error.reason, "event_id is longer than 128 bytes");
  EXPECT_EQ(error.event_id, "");
}

TEST(MaintenanceDeliveryTest, BodiesThatAreNotAJsonObjectAreRejected) {
  EXPECT_EQ(Rejected("").reason, "the body is not valid JSON (at byte 1)");
  EXPECT_EQ(Rejected("{\"event_id\": \"E-7\",").reason, "the body is not valid JSON (at byte 20)");
  EXPECT_EQ(Rejected("[1, 2]").reason, "the body is not a JSON object");
  EXPECT_EQ(Rejected("{\"title\": \"caf\xe9\"}").reason.rfind("the body is not valid JSON", 0), 0u);
  EXPECT_EQ(Rejected(std::string(100000, '[')).reason.rfind("the body is not valid JSON", 0), 0u);
  std::string deep = "{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_NE(Rejected(deep).reason.find("event_id is missing"), std::string::npos);
  // Valid JSON, but beyond a double: the parser threw out_of_range, which escaped ParseDelivery
  // (found by fuzz/maintenance_delivery_fuzz.cc).
  EXPECT_EQ(Rejected("{\"event_id\": \"E-7\", \"event_type\": 536e2852}").reason,
            "the body holds a number too large to read");
}

TEST(MaintenanceDeliveryTest, LongTextIsClippedToOneLineOnACharacterBoundary) {
  json delivery = WorkOrderOpened("E-8");
  std::string title = "水管\n漏水";
  for (int i = 0; i < 200; ++i) title += "漏";
  delivery["work_order"]["title"] = title;
  delivery["work_order"]["comment"] = std::string(5000, 'c');
  sdk::RawEvent event = Parsed(delivery);
  EXPECT_LE(event.summary.size(), 300u);
  EXPECT_EQ(event.summary.rfind("Repair order opened: 水管 漏水漏", 0), 0u);
  EXPECT_TRUE(event.summary.ends_with("…"));
  EXPECT_EQ(event.summary.find('\n'), std::string::npos);
  EXPECT_LE(Attribute(event, "comment").size(), 1000u);
}

TEST(MaintenanceDeliveryTest, TheSamplesAreDeliveriesOfTheBillingHouseholds) {
  const std::set<std::string> households = {"A-1001", "A-1002", "A-1003", "A-1004", "A-1005"};
  std::set<std::string> seen_households, seen_ids;
  int events = 0, rejected = 0;
  for (const auto& entry : std::filesystem::directory_iterator(MAINTENANCE_SAMPLE_DIR)) {
    if (entry.path().extension() != ".json") continue;
    SCOPED_TRACE(entry.path().filename().string());
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    auto result = ParseDelivery(text.str());
    if (auto* error = std::get_if<DeliveryError>(&result)) {
      ++rejected;
      EXPECT_EQ(error->reason, "occurred_at is missing; complaint.title is missing");
      continue;
    }
    ++events;
    const sdk::RawEvent& event = std::get<sdk::RawEvent>(result);
    EXPECT_TRUE(seen_ids.insert(event.source_event_id).second);
    ASSERT_FALSE(event.identifiers.empty());
    EXPECT_EQ(event.identifiers[0].type, "account");
    EXPECT_TRUE(households.count(event.identifiers[0].value));
    seen_households.insert(event.identifiers[0].value);
  }
  EXPECT_EQ(events, 19);
  EXPECT_EQ(rejected, 1);
  EXPECT_EQ(seen_households, households);
}

}  // namespace
}  // namespace propbridge::maintenance
