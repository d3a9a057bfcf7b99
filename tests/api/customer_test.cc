// Customers through the real propbridged with the real billing, maintenance and homeservice
// plugins, each fed the way its system delivers (CSV exports dropped in an inbox, signed
// webhooks, a vendor API polled with a cursor), read and changed over real gRPC: one customer
// across the three systems, placeholders that never link, a unit that changes hands, merges
// undone and made by an admin, and the outreach list.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "plugins/homeservice/sample/vendor_api_server.h"
#include "propbridge/v1/admin.grpc.pb.h"
#include "propbridge/v1/customer.grpc.pb.h"
#include "tests/integration/billing_fixture.h"
#include "tests/plugins/maintenance/webhook_client.h"
#include "tests/support/daemon_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_until.h"

namespace propbridge::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using Clock = std::chrono::system_clock;
using Reasons = std::set<v1::OutreachReason>;

constexpr const char* kCommunity = "阳光花园";
constexpr const char* kVendorToken = "test-token";

// "2026-11-24T07:00:00Z": every plugin reads it as UTC.
std::string Iso(Clock::time_point t) {
  std::time_t seconds = Clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::int64_t Seconds(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// A maintenance delivery; the subject (work_order, complaint, handover) follows the type.
json Maintenance(const std::string& event_id, const std::string& type, Clock::time_point at,
                 json customer, json subject) {
  return {{"event_id", event_id},
          {"event_type", type},
          {"occurred_at", Iso(at)},
          {"customer", std::move(customer)},
          {type.substr(0, type.find('.')), std::move(subject)}};
}

// A row of the bundled billing export format.
std::string BillingRow(const std::string& id, const std::string& type, const std::string& account,
                       const std::string& unit, const std::string& phone, Clock::time_point at) {
  return id + "," + type + "," + account + "," + unit + ",Test Customer," + phone + "," + Iso(at) +
         ",property fee,100.00,\n";
}

// A home-service order booked, as the vendor API lists a revision.
json Booking(const std::string& order_id, Clock::time_point at, json customer) {
  return {{"order_id", order_id},       {"version", 1},
          {"change", "booked"},         {"changed_at", Iso(at)},
          {"service_type", "cleaning"}, {"customer", std::move(customer)}};
}

std::set<std::string> SourceEventIds(const std::vector<v1::TimelineEvent>& events) {
  std::set<std::string> ids;
  for (const auto& e : events) ids.insert(e.source_event_id());
  return ids;
}

class CustomerTest : public ::testing::Test {
 protected:
  void SetUp() override { now_ = std::chrono::floor<std::chrono::seconds>(Clock::now()); }

  // Starts the daemon with the three plugins in one community; `tables` adds to the
  // configuration.
  void Start(const std::string& tables = "") {
    std::string error;
    vendor_ = homeservice::sample::VendorApiServer::Start(kVendorToken, 0, error);
    ASSERT_TRUE(vendor_) << error;
    fs::create_directories(dir_ / "inbox");
    const std::string community = std::string("community = \"") + kCommunity + "\"\n";
    const std::string config =
        "listen = \"127.0.0.1:0\"\ndata_dir = \"" + (dir_ / "data").string() + "\"\n" +
        "[plugins.billing]\nlibrary = \"" BILLING_PLUGIN "\"\ntime_zone = \"Asia/Shanghai\"\n" +
        community + "[plugins.billing.settings]\ninbox = \"" + (dir_ / "inbox").string() +
        "\"\npoll_interval_ms = 100\nsettle_ms = 0\n" +
        "[plugins.maintenance]\nlibrary = \"" MAINTENANCE_PLUGIN
        "\"\ntime_zone = \"Asia/Shanghai\"\n" +
        community + "[plugins.maintenance.settings]\nport = 0\nsecret = \"" +
        maintenance::testing::kSecret + "\"\nport_file = \"" +
        (dir_ / "maintenance-address").string() + "\"\n" +
        "[plugins.homeservice]\nlibrary = \"" HOMESERVICE_PLUGIN
        "\"\ntime_zone = \"Asia/Shanghai\"\n" +
        community + "[plugins.homeservice.settings]\nbase_url = \"" + vendor_->BaseUrl() +
        "\"\napi_token = \"" + kVendorToken + "\"\npoll_interval_ms = 100\n" + tables;
    daemon_ = DaemonProcess::Start(dir_.path(), config, dir_ / "data", error);
    ASSERT_TRUE(daemon_) << error;
    WaitUntil([&] { return fs::exists(dir_ / "maintenance-address"); }, 20s);
    std::ifstream in(dir_ / "maintenance-address");
    std::getline(in, webhook_address_);
    ASSERT_FALSE(webhook_address_.empty()) << daemon_->Log();
    auto channel = grpc::CreateChannel(daemon_->address(), grpc::InsecureChannelCredentials());
    timeline_ = v1::TimelineService::NewStub(channel);
    customers_ = v1::CustomerService::NewStub(channel);
    admin_ = v1::AdminService::NewStub(channel);
  }

  // Answered 200 once the event is durable: on the timeline, or quarantined.
  void Post(const json& delivery) {
    maintenance::testing::Reply reply =
        maintenance::testing::PostSigned(webhook_address_, delivery);
    ASSERT_EQ(reply.status, 200) << reply.body;
  }

  // Drops an export with these rows and waits until the plugin has stored every one.
  void Bill(const std::vector<std::string>& rows) {
    std::string csv = kBillingHeader;
    for (const auto& row : rows) csv += row;
    const fs::path file = dir_ / "inbox" / ("export-" + std::to_string(++exports_) + ".csv");
    WriteFile(file.string() + ".part", csv);
    fs::rename(file.string() + ".part", file);
    billing_rows_ += static_cast<std::int64_t>(rows.size());
    WaitForStored("billing", billing_rows_);
  }

  // Publishes the revisions on the vendor API and waits until the plugin has stored them.
  void Book(const std::vector<json>& revisions) {
    vendor_->Append(revisions);
    bookings_ += static_cast<std::int64_t>(revisions.size());
    WaitForStored("homeservice", bookings_);
  }

  void WaitForStored(const std::string& plugin, std::int64_t count) {
    std::int64_t stored = 0;
    grpc::Status status;
    const bool done = WaitUntil(
        [&] {
          grpc::ClientContext context;
          context.set_deadline(Clock::now() + 10s);
          v1::ListPluginsResponse response;
          status = admin_->ListPlugins(&context, {}, &response);
          for (const auto& p : response.plugins()) {
            if (p.name() == plugin) stored = p.events_stored() + p.records_quarantined();
          }
          return !status.ok() || stored >= count;
        },
        30s, 50ms);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_TRUE(done) << plugin << " stored " << stored << " of " << count << "\n"
                      << daemon_->Log();
  }

  std::vector<v1::TimelineEvent> Timeline(const std::string& customer) {
    return ReadWholeTimeline(*timeline_, customer);
  }

  grpc::Status Get(const std::string& customer, v1::Customer* out = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(Clock::now() + 10s);
    v1::GetCustomerRequest request;
    request.set_customer(customer);
    v1::GetCustomerResponse response;
    grpc::Status status = customers_->GetCustomer(&context, request, &response);
    if (out) *out = response.customer();
    return status;
  }

  // The customer's key ("customer:<id>"), or empty when the daemon knows none by `ref`.
  std::string CustomerOf(const std::string& ref) {
    v1::Customer customer;
    grpc::Status status = Get(ref, &customer);
    EXPECT_TRUE(status.ok() || status.error_code() == grpc::StatusCode::NOT_FOUND)
        << ref << ": " << status.error_message();
    return status.ok() ? customer.id() : "";
  }

  v1::Customer Customer(const std::string& ref) {
    v1::Customer customer;
    grpc::Status status = Get(ref, &customer);
    EXPECT_TRUE(status.ok()) << ref << ": " << status.error_message();
    return customer;
  }

  grpc::Status Find(const std::string& identifier, v1::FindCustomersResponse* out = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(Clock::now() + 10s);
    v1::FindCustomersRequest request;
    request.set_identifier(identifier);
    v1::FindCustomersResponse response;
    grpc::Status status = customers_->FindCustomers(&context, request, &response);
    if (out) *out = response;
    return status;
  }

  grpc::Status OutreachPage(const v1::ListOutreachRequest& request,
                            v1::ListOutreachResponse* out = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(Clock::now() + 10s);
    v1::ListOutreachResponse response;
    grpc::Status status = customers_->ListOutreach(&context, request, &response);
    if (out) *out = response;
    return status;
  }

  // Every page of the outreach list.
  std::vector<v1::OutreachItem> Outreach(v1::ListOutreachRequest request = {}) {
    std::vector<v1::OutreachItem> items;
    do {
      v1::ListOutreachResponse response;
      grpc::Status status = OutreachPage(request, &response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (!status.ok()) break;
      items.insert(items.end(), response.items().begin(), response.items().end());
      request.set_page_token(response.next_page_token());
    } while (!request.page_token().empty());
    return items;
  }

  static Reasons ReasonsOf(const std::vector<v1::OutreachItem>& items,
                           const std::string& customer) {
    Reasons reasons;
    for (const auto& item : items) {
      if (item.customer() == customer) reasons.insert(item.reason());
    }
    return reasons;
  }

  static const v1::OutreachItem* ItemOf(const std::vector<v1::OutreachItem>& items,
                                        const std::string& customer, v1::OutreachReason reason) {
    for (const auto& item : items) {
      if (item.customer() == customer && item.reason() == reason) return &item;
    }
    return nullptr;
  }

  grpc::Status Link(const std::string& customer, const std::string& other, const std::string& actor,
                    const std::string& reason, v1::MergeRecord* out = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(Clock::now() + 10s);
    v1::LinkCustomersRequest request;
    request.set_customer(customer);
    request.set_other_customer(other);
    request.set_actor(actor);
    request.set_reason(reason);
    v1::LinkCustomersResponse response;
    grpc::Status status = admin_->LinkCustomers(&context, request, &response);
    if (out) *out = response.merge();
    return status;
  }

  grpc::Status Split(std::int64_t merge_id, const std::string& actor, const std::string& reason,
                     v1::MergeRecord* out = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(Clock::now() + 10s);
    v1::SplitCustomerRequest request;
    request.set_merge_id(merge_id);
    request.set_actor(actor);
    request.set_reason(reason);
    v1::SplitCustomerResponse response;
    grpc::Status status = admin_->SplitCustomer(&context, request, &response);
    if (out) *out = response.merge();
    return status;
  }

  Clock::time_point Ago(std::chrono::hours h) const { return now_ - h; }

  TempDir dir_;
  Clock::time_point now_;
  std::unique_ptr<homeservice::sample::VendorApiServer> vendor_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::string webhook_address_;
  std::unique_ptr<v1::TimelineService::Stub> timeline_;
  std::unique_ptr<v1::CustomerService::Stub> customers_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
  int exports_ = 0;
  std::int64_t billing_rows_ = 0;
  std::int64_t bookings_ = 0;
};

TEST_F(CustomerTest, APhoneAnAccountAndAUnitInThreeSystemsAreOneCustomer) {
  ASSERT_NO_FATAL_FAILURE(Start());
  // The maintenance system knows her phone, billing her account with unit and phone, the
  // home-service platform only her unit, written its own way.
  Post(Maintenance("M-1", "work_order.opened", Ago(240h), {{"phone", "13900000001"}},
                   {{"id", "WO-1"}, {"title", "kitchen tap leaking"}}));
  Bill({BillingRow("B-1", "charge", "A-7001", "3-2-1202", "13900000001", Ago(216h))});
  Book({Booking("HS-1", Ago(192h), {{"unit", "3栋2单元1202室"}})});

  const std::string id = CustomerOf("account:A-7001");
  ASSERT_FALSE(id.empty());
  EXPECT_TRUE(id.starts_with("customer:")) << id;
  for (const std::string& ref : std::vector<std::string>{
           "phone:13900000001", "phone:+86 139 0000 0001", "account:A-7001", "account:a-7001",
           "unit:阳光花园/3-2-1202", "unit:阳光花园/3栋2单元1202室", "mobile:139-0000-0001", id}) {
    auto events = Timeline(ref);
    EXPECT_EQ(SourceEventIds(events), (std::set<std::string>{"M-1", "B-1", "HS-1:booked:1"}))
        << ref;
    for (const auto& e : events) EXPECT_EQ(e.customer(), id) << ref << " " << e.source_event_id();
    EXPECT_EQ(CustomerOf(ref), id) << ref;
  }

  v1::Customer customer = Customer(id);
  std::set<std::string> identifiers;
  for (const auto& i : customer.identifiers()) identifiers.insert(i.type() + ":" + i.value());
  EXPECT_TRUE(identifiers.contains("account:A-7001"));
  EXPECT_TRUE(identifiers.contains("phone:13900000001"));
  // The unit names her through her occupancy.
  ASSERT_EQ(customer.occupancy_size(), 1);
  EXPECT_EQ(customer.occupancy(0).unit(), "阳光花园/3-2-1202");
  EXPECT_FALSE(customer.occupancy(0).has_end_time());
  ASSERT_EQ(customer.steps_size(), 5);
  std::map<v1::Step, std::int64_t> per_step;
  for (const auto& step : customer.steps()) per_step[step.step()] = step.events();
  EXPECT_EQ(per_step, (std::map<v1::Step, std::int64_t>{{v1::STEP_KNOW, 0},
                                                        {v1::STEP_UNDERSTAND, 1},
                                                        {v1::STEP_HELP, 1},
                                                        {v1::STEP_EMPATHIZE, 0},
                                                        {v1::STEP_DELIGHT, 1}}));

  v1::FindCustomersResponse found;
  ASSERT_TRUE(Find("unit:阳光花园/3-2-1202", &found).ok());
  ASSERT_EQ(found.customers_size(), 1);
  EXPECT_EQ(found.customers(0).id(), id);
}

TEST_F(CustomerTest, PlaceholderValuesNeverLinkTwoCustomers) {
  ASSERT_NO_FATAL_FAILURE(Start());
  Bill({BillingRow("B-20", "charge", "A-7020", "", "0", Ago(120h)),
        BillingRow("B-21", "charge", "A-7021", "", "0", Ago(119h))});
  Post(Maintenance("M-20", "work_order.opened", Ago(96h),
                   {{"account_no", "unknown"}, {"phone", "13900000020"}},
                   {{"id", "WO-20"}, {"title", "door lock stuck"}}));
  Post(Maintenance("M-21", "work_order.opened", Ago(95h),
                   {{"account_no", "unknown"}, {"phone", "13900000021"}},
                   {{"id", "WO-21"}, {"title", "window cracked"}}));
  // Only placeholders: quarantined, on nobody's timeline.
  Post(Maintenance("M-22", "work_order.opened", Ago(94h), {{"account_no", "0"}, {"phone", "未知"}},
                   {{"id", "WO-22"}, {"title", "no one knows"}}));

  const std::set<std::string> ids = {CustomerOf("account:A-7020"), CustomerOf("account:A-7021"),
                                     CustomerOf("phone:13900000020"),
                                     CustomerOf("phone:13900000021")};
  EXPECT_EQ(ids.size(), 4u);
  EXPECT_FALSE(ids.contains(""));
  EXPECT_EQ(SourceEventIds(Timeline("account:A-7020")), std::set<std::string>{"B-20"});
  EXPECT_EQ(SourceEventIds(Timeline("account:A-7021")), std::set<std::string>{"B-21"});
  EXPECT_EQ(SourceEventIds(Timeline("phone:13900000020")), std::set<std::string>{"M-20"});
  const v1::Customer alone = Customer("account:A-7020");
  for (const auto& i : alone.identifiers()) {
    EXPECT_EQ(i.type() + ":" + i.value(), "account:A-7020");
  }

  for (const char* placeholder : {"phone:0", "account:unknown", "account:0"}) {
    grpc::Status status = Get(placeholder);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << placeholder;
    EXPECT_EQ(Find(placeholder).error_code(), grpc::StatusCode::INVALID_ARGUMENT) << placeholder;
  }

  grpc::ClientContext context;
  context.set_deadline(Clock::now() + 10s);
  v1::ListQuarantineRequest request;
  request.set_source("maintenance");
  v1::ListQuarantineResponse quarantine;
  ASSERT_TRUE(admin_->ListQuarantine(&context, request, &quarantine).ok());
  EXPECT_EQ(quarantine.records_size(), 1);
}

TEST_F(CustomerTest, AUnitNamesWhoeverOccupiedItWhenTheEventHappened) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const auto handover = Ago(480h);
  Bill({BillingRow("B-30", "charge", "A-7030", "5-1-101", "13900000030", Ago(1440h))});
  Book({Booking("HS-30", Ago(1200h), {{"unit", "5-1-101"}})});
  Post(Maintenance("M-31", "handover.keys_handed_over", handover,
                   {{"account_no", "A-7031"}, {"unit", "5-1-101"}},
                   {{"id", "HO-5-1-101"}, {"title", "unit 5-1-101, 2 door cards"}}));
  Book({Booking("HS-31", Ago(240h), {{"unit", "5-1-101"}})});
  Post(Maintenance("M-32", "work_order.opened", Ago(120h), {{"unit", "5-1-101"}},
                   {{"id", "WO-32"}, {"title", "heating cold"}}));
  // Delivered after the handover, but it happened before it: the previous owner's.
  Post(Maintenance("M-33", "work_order.opened", Ago(720h), {{"unit", "5-1-101"}},
                   {{"id", "WO-33"}, {"title", "balcony drain blocked"}}));

  const std::string previous = CustomerOf("account:A-7030");
  const std::string next = CustomerOf("account:A-7031");
  ASSERT_FALSE(previous.empty());
  ASSERT_FALSE(next.empty());
  EXPECT_NE(previous, next);
  EXPECT_EQ(SourceEventIds(Timeline("account:A-7030")),
            (std::set<std::string>{"B-30", "HS-30:booked:1", "M-33"}));
  EXPECT_EQ(SourceEventIds(Timeline("account:A-7031")),
            (std::set<std::string>{"M-31", "HS-31:booked:1", "M-32"}));
  EXPECT_EQ(CustomerOf("unit:阳光花园/5-1-101"), next);

  v1::FindCustomersResponse found;
  ASSERT_TRUE(Find("unit:阳光花园/5-1-101", &found).ok());
  ASSERT_EQ(found.customers_size(), 2);
  EXPECT_EQ(found.customers(0).id(), next);
  EXPECT_EQ(found.customers(1).id(), previous);

  v1::Customer before = Customer(previous);
  ASSERT_EQ(before.occupancy_size(), 1);
  EXPECT_TRUE(before.occupancy(0).inferred());
  EXPECT_EQ(before.occupancy(0).start_time().seconds(), Seconds(Ago(1440h)));
  EXPECT_EQ(before.occupancy(0).end_time().seconds(), Seconds(handover));
  v1::Customer after = Customer(next);
  ASSERT_EQ(after.occupancy_size(), 1);
  EXPECT_EQ(after.occupancy(0).unit(), "阳光花园/5-1-101");
  EXPECT_FALSE(after.occupancy(0).inferred());
  EXPECT_EQ(after.occupancy(0).start_time().seconds(), Seconds(handover));
  EXPECT_FALSE(after.occupancy(0).has_end_time());
}

TEST_F(CustomerTest, AMergeByASharedPhoneIsUndoneBySplitCustomer) {
  ASSERT_NO_FATAL_FAILURE(Start());
  Bill({BillingRow("B-40", "charge", "A-7040", "", "13900000040", Ago(960h)),
        BillingRow("B-41", "charge", "A-7041", "", "", Ago(936h))});
  // A-7041 reports a repair with A-7040's phone: the daemon takes them for one person.
  Post(Maintenance("M-40", "work_order.opened", Ago(720h),
                   {{"account_no", "A-7041"}, {"phone", "13900000040"}},
                   {{"id", "WO-40"}, {"title", "kitchen tap leaking"}}));

  const std::string kept = CustomerOf("account:A-7040");
  ASSERT_EQ(CustomerOf("account:A-7041"), kept);
  auto joined = Timeline("account:A-7041");
  EXPECT_EQ(SourceEventIds(joined), (std::set<std::string>{"B-40", "B-41", "M-40"}));
  std::int64_t linking_event = 0;
  for (const auto& e : joined) {
    if (e.source_event_id() == "M-40") linking_event = e.id();
  }

  v1::Customer customer = Customer(kept);
  ASSERT_EQ(customer.merges_size(), 1);
  const v1::MergeRecord merge = customer.merges(0);
  EXPECT_EQ(merge.kept(), kept);
  EXPECT_NE(merge.absorbed(), kept);
  EXPECT_EQ(merge.cause(), "phone:13900000040");
  EXPECT_EQ(merge.event_id(), linking_event);
  EXPECT_EQ(merge.actor(), "propbridged");
  EXPECT_FALSE(merge.reason().empty());
  EXPECT_FALSE(merge.has_undone_at());

  v1::MergeRecord split;
  grpc::Status status = Split(merge.id(), "ops:li.wei", "two tenants share one phone", &split);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(split.id(), merge.id());
  EXPECT_TRUE(split.has_undone_at());
  EXPECT_EQ(split.undone_by(), "ops:li.wei");
  EXPECT_EQ(split.undone_reason(), "two tenants share one phone");

  // Each event is back with the customer its identifiers named.
  EXPECT_EQ(CustomerOf("account:A-7040"), kept);
  EXPECT_EQ(CustomerOf("account:A-7041"), merge.absorbed());
  EXPECT_EQ(SourceEventIds(Timeline("account:A-7040")), std::set<std::string>{"B-40"});
  EXPECT_EQ(SourceEventIds(Timeline("account:A-7041")), (std::set<std::string>{"B-41", "M-40"}));
  for (const auto& e : Timeline("account:A-7041")) EXPECT_EQ(e.customer(), merge.absorbed());

  customer = Customer(kept);
  ASSERT_EQ(customer.merges_size(), 1);
  EXPECT_TRUE(customer.merges(0).has_undone_at());
  EXPECT_EQ(customer.merges(0).undone_by(), "ops:li.wei");
  EXPECT_EQ(customer.merges(0).undone_reason(), "two tenants share one phone");

  status = Split(merge.id(), "ops:li.wei", "again");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
  status = Split(999999, "ops:li.wei", "no such merge");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << status.error_message();

  // The same two identifiers together again no longer join them.
  Post(Maintenance("M-41", "work_order.opened", Ago(24h),
                   {{"account_no", "A-7041"}, {"phone", "13900000040"}},
                   {{"id", "WO-41"}, {"title", "hallway light"}}));
  EXPECT_NE(CustomerOf("account:A-7040"), CustomerOf("account:A-7041"));
  EXPECT_EQ(SourceEventIds(Timeline("account:A-7041")),
            (std::set<std::string>{"B-41", "M-40", "M-41"}));
}

TEST_F(CustomerTest, LinkCustomersJoinsTwoAndSplitCustomerPartsThemAgain) {
  ASSERT_NO_FATAL_FAILURE(Start());
  Bill({BillingRow("B-50", "charge", "A-7050", "", "", Ago(480h))});
  Post(Maintenance("M-50", "work_order.opened", Ago(240h), {{"account_no", "A-7051"}},
                   {{"id", "WO-50"}, {"title", "door bell"}}));
  const std::string older = CustomerOf("account:A-7050");
  const std::string newer = CustomerOf("account:A-7051");
  ASSERT_NE(older, newer);

  v1::MergeRecord merge;
  grpc::Status status =
      Link("account:a-7051", older, "ops:li.wei", "one household with two accounts", &merge);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(merge.kept(), older);
  EXPECT_EQ(merge.absorbed(), newer);
  EXPECT_EQ(merge.cause(), "");
  EXPECT_EQ(merge.event_id(), 0);
  EXPECT_EQ(merge.actor(), "ops:li.wei");
  EXPECT_EQ(merge.reason(), "one household with two accounts");
  EXPECT_EQ(CustomerOf("account:A-7051"), older);
  EXPECT_EQ(CustomerOf(newer), older);
  EXPECT_EQ(SourceEventIds(Timeline("account:A-7051")), (std::set<std::string>{"B-50", "M-50"}));
  EXPECT_EQ(Customer(older).merges_size(), 1);

  status = Link("account:A-7050", "account:A-7051", "ops:li.wei", "again");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_NE(status.error_message().find("one customer already"), std::string::npos);

  ASSERT_TRUE(Split(merge.id(), "ops:li.wei", "two households after all").ok());
  EXPECT_EQ(CustomerOf("account:A-7051"), newer);
  EXPECT_EQ(SourceEventIds(Timeline("account:A-7050")), std::set<std::string>{"B-50"});
  EXPECT_EQ(SourceEventIds(Timeline("account:A-7051")), std::set<std::string>{"M-50"});
}

// A page token is bound to the customer as the client names them: after a merge the same
// name leads to the customer kept, and the walk goes on through their timeline.
TEST_F(CustomerTest, AWalkThroughATimelineGoesOnAcrossAMerge) {
  ASSERT_NO_FATAL_FAILURE(Start());
  Bill({BillingRow("B-60", "charge", "A-7060", "", "", Ago(480h))});
  Post(Maintenance("M-60", "work_order.opened", Ago(240h), {{"account_no", "A-7061"}},
                   {{"id", "WO-60"}, {"title", "tap"}}));
  Post(Maintenance("M-61", "work_order.opened", Ago(120h), {{"account_no", "A-7061"}},
                   {{"id", "WO-61"}, {"title", "window"}}));
  const std::string older = CustomerOf("account:A-7060");
  ASSERT_NE(older, CustomerOf("account:A-7061"));

  std::vector<std::string> walked;
  v1::GetTimelineRequest request;
  request.set_customer("account:A-7061");
  request.set_page_size(1);
  for (int page = 0; page < 10; ++page) {
    grpc::ClientContext context;
    context.set_deadline(Clock::now() + 10s);
    v1::GetTimelineResponse response;
    grpc::Status status = timeline_->GetTimeline(&context, request, &response);
    ASSERT_TRUE(status.ok()) << "page " << page << ": " << status.error_message();
    for (const auto& e : response.events()) walked.push_back(e.source_event_id());
    if (page == 0) {
      ASSERT_TRUE(Link("account:A-7061", older, "ops:li.wei", "one household").ok());
    }
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  EXPECT_EQ(walked, (std::vector<std::string>{"M-61", "M-60", "B-60"}));

  // A token names the listing it came from: another name for the same customer is another
  // listing.
  request.set_customer(older);
  grpc::ClientContext context;
  context.set_deadline(Clock::now() + 10s);
  v1::GetTimelineResponse response;
  EXPECT_EQ(timeline_->GetTimeline(&context, request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// A watch of one customer follows them: into the customer a merge keeps, and back out when
// an admin splits them again.
TEST_F(CustomerTest, AWatchFollowsItsCustomerThroughAMergeAndASplit) {
  ASSERT_NO_FATAL_FAILURE(Start());
  Bill({BillingRow("B-70", "charge", "A-7070", "", "", Ago(480h))});
  Post(Maintenance("M-70", "work_order.opened", Ago(240h), {{"account_no", "A-7071"}},
                   {{"id", "WO-70"}, {"title", "tap"}}));
  const std::string older = CustomerOf("account:A-7070");
  const std::string newer = CustomerOf("account:A-7071");
  ASSERT_NE(older, newer);
  const std::vector<v1::TimelineEvent> before = Timeline("account:A-7071");
  ASSERT_EQ(before.size(), 1u);

  grpc::ClientContext context;
  context.set_deadline(Clock::now() + 30s);
  v1::WatchTimelineRequest request;
  request.set_customer("account:A-7071");
  request.set_after_id(before.back().id());
  auto watch = timeline_->WatchTimeline(&context, request);
  v1::WatchTimelineResponse response;

  v1::MergeRecord merge;
  ASSERT_TRUE(Link("account:A-7071", older, "ops:li.wei", "one household", &merge).ok());
  Post(Maintenance("M-71", "work_order.opened", Ago(2h), {{"account_no", "A-7071"}},
                   {{"id", "WO-71"}, {"title", "window"}}));
  ASSERT_TRUE(watch->Read(&response)) << "the watch lost its customer to the merge";
  EXPECT_EQ(response.event().source_event_id(), "M-71");
  EXPECT_EQ(response.event().customer(), older);

  ASSERT_TRUE(Split(merge.id(), "ops:li.wei", "two households after all").ok());
  Post(Maintenance("M-72", "work_order.opened", Ago(1h), {{"account_no", "A-7071"}},
                   {{"id", "WO-72"}, {"title", "door"}}));
  ASSERT_TRUE(watch->Read(&response)) << "the watch lost its customer to the split";
  EXPECT_EQ(response.event().source_event_id(), "M-72");
  EXPECT_EQ(response.event().customer(), newer);

  context.TryCancel();
  EXPECT_EQ(watch->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(CustomerTest, OutreachListsEachReasonUntilALaterEventClearsIt) {
  // This estate records keys collected at the counter: the customer came, nobody welcomed them.
  ASSERT_NO_FATAL_FAILURE(Start(
      "[plugins.maintenance.mapping]\n"
      "\"maintenance.handover.keys_handed_over\" = { step = \"KNOW\", initiative = \"REACTIVE\" "
      "}\n"));
  auto who = [](const char* account, const char* unit) {
    return json{{"account_no", account}, {"unit", unit}};
  };
  Post(Maintenance("M-60", "complaint.opened", Ago(72h), who("A-7060", "6-1-101"),
                   {{"id", "C-60"}, {"title", "noise at night"}}));
  Post(Maintenance("M-61", "complaint.opened", Ago(2h), who("A-7061", "6-1-102"),
                   {{"id", "C-61"}, {"title", "lift out of order"}}));
  Post(Maintenance("M-62", "work_order.opened", Ago(120h), who("A-7062", "6-1-103"),
                   {{"id", "WO-62"}, {"title", "pipe leaking"}}));
  Post(Maintenance("M-62b", "work_order.completed", Ago(96h), who("A-7062", "6-1-103"),
                   {{"id", "WO-62"}, {"title", "pipe leaking"}, {"result", "sealed"}}));
  Post(Maintenance("M-62c", "work_order.reopened", Ago(48h), who("A-7062", "6-1-103"),
                   {{"id", "WO-62"}, {"title", "pipe leaking"}, {"reason", "leaking again"}}));
  Post(Maintenance("M-63", "handover.keys_handed_over", Ago(72h), who("A-7063", "6-1-104"),
                   {{"id", "HO-63"}, {"title", "unit 6-1-104"}}));
  Bill({BillingRow("B-64", "charge", "A-7064", "6-1-105", "", Ago(120 * 24h))});

  const std::string complaint = CustomerOf("account:A-7060");
  const std::string fresh_complaint = CustomerOf("account:A-7061");
  const std::string reopened = CustomerOf("account:A-7062");
  const std::string newcomer = CustomerOf("account:A-7063");
  const std::string quiet = CustomerOf("account:A-7064");

  auto items = Outreach();
  EXPECT_EQ(ReasonsOf(items, complaint), Reasons{v1::OUTREACH_REASON_COMPLAINT_PAST_SLA});
  EXPECT_EQ(ReasonsOf(items, fresh_complaint), Reasons{});
  EXPECT_EQ(ReasonsOf(items, reopened), Reasons{v1::OUTREACH_REASON_MATTER_REOPENED});
  EXPECT_EQ(ReasonsOf(items, newcomer), Reasons{v1::OUTREACH_REASON_NEW_OCCUPANT_NOT_WELCOMED});
  EXPECT_EQ(ReasonsOf(items, quiet), Reasons{v1::OUTREACH_REASON_NO_PROACTIVE_CONTACT});
  if (auto* item = ItemOf(items, complaint, v1::OUTREACH_REASON_COMPLAINT_PAST_SLA)) {
    EXPECT_EQ(item->since().seconds(), Seconds(Ago(72h)));
    EXPECT_EQ(item->community(), kCommunity);
    EXPECT_NE(item->detail().find("complaint:C-60"), std::string::npos) << item->detail();
  }
  if (auto* item = ItemOf(items, quiet, v1::OUTREACH_REASON_NO_PROACTIVE_CONTACT)) {
    EXPECT_EQ(item->since().seconds(), Seconds(Ago(120 * 24h)));
  }
  if (auto* item = ItemOf(items, reopened, v1::OUTREACH_REASON_MATTER_REOPENED)) {
    EXPECT_EQ(item->since().seconds(), Seconds(Ago(48h)));
  }

  // The customer's own view of the reopened repair.
  v1::Customer repair = Customer(reopened);
  ASSERT_EQ(repair.open_matters_size(), 1);
  EXPECT_EQ(repair.open_matters(0).matter_id(), "wo:WO-62");
  EXPECT_EQ(repair.open_matters(0).step(), v1::STEP_HELP);
  EXPECT_TRUE(repair.open_matters(0).reopened());
  EXPECT_EQ(repair.open_matters(0).last_kind(), "maintenance.work_order.reopened");
  EXPECT_NEAR(repair.open_matters(0).age().seconds(), 120 * 3600, 300);

  // Filters: a reason, a community, pages of one customer.
  v1::ListOutreachRequest sla;
  sla.add_reasons(v1::OUTREACH_REASON_COMPLAINT_PAST_SLA);
  for (const auto& item : Outreach(sla)) {
    EXPECT_EQ(item.reason(), v1::OUTREACH_REASON_COMPLAINT_PAST_SLA) << item.customer();
  }
  EXPECT_EQ(ReasonsOf(Outreach(sla), complaint), Reasons{v1::OUTREACH_REASON_COMPLAINT_PAST_SLA});
  v1::ListOutreachRequest here;
  here.set_community(kCommunity);
  EXPECT_EQ(Outreach(here).size(), items.size());
  v1::ListOutreachRequest elsewhere;
  elsewhere.set_community("别的小区");
  EXPECT_TRUE(Outreach(elsewhere).empty());
  v1::ListOutreachRequest paged;
  paged.set_page_size(1);
  std::vector<std::string> order;
  std::size_t paged_items = 0;
  do {
    v1::ListOutreachResponse page;
    ASSERT_TRUE(OutreachPage(paged, &page).ok());
    std::set<std::string> customers;
    for (const auto& item : page.items()) customers.insert(item.customer());
    EXPECT_LE(customers.size(), 1u);
    if (!customers.empty()) order.push_back(*customers.begin());
    paged_items += page.items_size();
    paged.set_page_token(page.next_page_token());
  } while (!paged.page_token().empty());
  EXPECT_EQ(paged_items, items.size());
  EXPECT_EQ(order.size(), 4u);
  EXPECT_EQ(std::set<std::string>(order.begin(), order.end()).size(), order.size());

  // Figures of the community: its five customers and their seven events.
  grpc::ClientContext context;
  context.set_deadline(Clock::now() + 10s);
  v1::GetCommunityFiguresRequest figures_request;
  figures_request.set_community(kCommunity);
  v1::GetCommunityFiguresResponse figures;
  ASSERT_TRUE(customers_->GetCommunityFigures(&context, figures_request, &figures).ok());
  ASSERT_EQ(figures.communities_size(), 1);
  EXPECT_EQ(figures.communities(0).community(), kCommunity);
  EXPECT_EQ(figures.communities(0).customers(), 5);
  EXPECT_EQ(figures.communities(0).events(), 7);
  ASSERT_EQ(figures.communities(0).steps_size(), 5);
  EXPECT_EQ(figures.communities(0).steps(3).step(), v1::STEP_EMPATHIZE);
  EXPECT_EQ(figures.communities(0).steps(3).customers(), 2);

  // Later events clear each reason.
  Post(Maintenance("M-60r", "complaint.resolved", Ago(1h), who("A-7060", "6-1-101"),
                   {{"id", "C-60"}, {"title", "noise at night"}, {"resolution", "mediated"}}));
  Post(Maintenance("M-62d", "work_order.completed", Ago(1h), who("A-7062", "6-1-103"),
                   {{"id", "WO-62"}, {"title", "pipe leaking"}, {"result", "pipe replaced"}}));
  json welcome = Maintenance("M-63w", "handover.inspected", Ago(1h), who("A-7063", "6-1-104"),
                             {{"id", "HO-63"}, {"title", "welcome visit"}});
  welcome["channel"] = "visit";
  welcome["initiated_by"] = "property";
  Post(welcome);
  Bill({BillingRow("B-64r", "reminder", "A-7064", "6-1-105", "", Ago(1h))});

  items = Outreach();
  for (const auto& customer : {complaint, reopened, newcomer, quiet}) {
    EXPECT_EQ(ReasonsOf(items, customer), Reasons{}) << customer;
  }
  v1::Customer resolved = Customer(complaint);
  EXPECT_TRUE(resolved.open_matters().empty());
  EXPECT_EQ(resolved.complaint_resolution_median().seconds(), 71 * 3600);
}

TEST_F(CustomerTest, BadArgumentsSayWhatToFix) {
  ASSERT_NO_FATAL_FAILURE(Start());
  Bill({BillingRow("B-90", "charge", "A-7090", "", "", Ago(24h))});
  const std::string customer = CustomerOf("account:A-7090");

  struct Case {
    std::string ref;
    grpc::StatusCode code;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {"", grpc::StatusCode::INVALID_ARGUMENT, "customer is required"},
           {"A-7090", grpc::StatusCode::INVALID_ARGUMENT, "is not '<type>:<value>'"},
           {"customer:abc", grpc::StatusCode::INVALID_ARGUMENT, "positive number"},
           {"customer:0", grpc::StatusCode::INVALID_ARGUMENT, "positive number"},
           {"phone:12", grpc::StatusCode::INVALID_ARGUMENT, "customer: "},
           {"unit:阳光花园/3楼", grpc::StatusCode::INVALID_ARGUMENT, "customer: "},
           {"account:NOBODY", grpc::StatusCode::NOT_FOUND, "account:NOBODY"},
           {"customer:999999", grpc::StatusCode::NOT_FOUND, "customer:999999"},
       }) {
    grpc::Status status = Get(c.ref);
    EXPECT_EQ(status.error_code(), c.code) << c.ref << ": " << status.error_message();
    EXPECT_NE(status.error_message().find(c.message), std::string::npos)
        << c.ref << ": " << status.error_message();
  }
  v1::FindCustomersResponse found;
  EXPECT_EQ(Find("").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Find("account:NOBODY", &found).ok());
  EXPECT_EQ(found.customers_size(), 0);

  auto outreach = [&](auto spoil) {
    v1::ListOutreachRequest request;
    spoil(request);
    return OutreachPage(request);
  };
  for (auto [status, message] : std::vector<std::pair<grpc::Status, std::string>>{
           {outreach([](auto& r) { r.set_page_size(-1); }), "page_size"},
           {outreach([](auto& r) { r.set_page_size(501); }), "page_size"},
           {outreach([](auto& r) { r.set_page_token("abc"); }), "page_token"},
           {outreach([](auto& r) { r.set_page_token("-5"); }), "page_token"},
           {outreach([](auto& r) { r.add_reasons(v1::OUTREACH_REASON_UNSPECIFIED); }), "reasons"},
           {outreach([](auto& r) { r.add_reasons(static_cast<v1::OutreachReason>(9)); }),
            "reasons"},
           {outreach([](auto& r) { r.set_community("a/b"); }), "community"},
       }) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << message;
    EXPECT_NE(status.error_message().find(message), std::string::npos) << status.error_message();
  }
  EXPECT_TRUE(outreach([](auto& r) { r.set_page_size(500); }).ok());

  grpc::ClientContext context;
  context.set_deadline(Clock::now() + 10s);
  v1::GetCommunityFiguresRequest figures;
  figures.set_community("别的小区");
  v1::GetCommunityFiguresResponse ignored;
  EXPECT_EQ(customers_->GetCommunityFigures(&context, figures, &ignored).error_code(),
            grpc::StatusCode::NOT_FOUND);

  const std::string long_text(201, 'x');
  for (auto [status, message] : std::vector<std::pair<grpc::Status, std::string>>{
           {Link(customer, "account:NOBODY", "ops", "why"), "account:NOBODY"},
           {Link(customer, "", "ops", "why"), "other_customer is required"},
           {Link(customer, customer, "", "why"), "actor is required"},
           {Link(customer, customer, "ops", "  "), "reason is required"},
           {Link(customer, customer, long_text, "why"), "actor is longer than 200 bytes"},
           {Link(customer, customer, "ops", long_text), "reason is longer than 200 bytes"},
           {Link(customer, customer, "ops", "why"), "one customer already"},
           {Split(0, "ops", "why"), "merge_id is required"},
           {Split(1, "", "why"), "actor is required"},
           {Split(999999, "ops", "why"), "999999"},
       }) {
    EXPECT_NE(status.error_code(), grpc::StatusCode::OK) << message;
    EXPECT_NE(status.error_message().find(message), std::string::npos)
        << message << ": " << status.error_message();
  }
  EXPECT_EQ(Link(customer, "account:NOBODY", "ops", "why").error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Link(customer, customer, "", "why").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Split(999999, "ops", "why").error_code(), grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace propbridge::testing
