// The real propbridged with the real homeservice plugin, polling a vendor API server on
// loopback whose answers each test controls, read over real gRPC.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <set>

#include "daemon/store/sqlite/sqlite_store.h"
#include "daemon/store/store.h"
#include "plugins/homeservice/sample/vendor_api_server.h"
#include "tests/support/daemon_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_until.h"

namespace propbridge::testing {
namespace {

namespace v1 = propbridge::v1;
using homeservice::sample::LoadChangeLog;
using homeservice::sample::OrdersRequest;
using homeservice::sample::Reply;
using homeservice::sample::VendorApiServer;
using namespace std::chrono_literals;

constexpr const char* kToken = "test-token";

// The bundled sample: 27 revisions of 7 orders, one of them (a rating of 7) malformed. The two
// orders booked by phone alone are A-1003's: her account's orders carry the same phone.
constexpr std::size_t kSampleRevisions = 27;
const std::map<std::string, std::size_t> kSampleEventsPerCustomer = {{"account:A-1001", 7},
                                                                     {"account:A-1002", 4},
                                                                     {"account:A-1003", 7},
                                                                     {"account:A-1004", 3},
                                                                     {"account:A-1005", 5}};

std::vector<nlohmann::json> SampleLog() {
  std::string error;
  auto log = LoadChangeLog(HOMESERVICE_SAMPLE_ORDERS, error);
  EXPECT_TRUE(log) << error;
  return log.value_or(std::vector<nlohmann::json>{});
}

std::size_t CountLines(const std::string& log, const std::string& text) {
  std::size_t count = 0;
  for (std::size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) {
    ++count;
  }
  return count;
}

Reply ErrorReply(int status, std::vector<std::pair<std::string, std::string>> headers = {}) {
  return {status, R"({"error": "test"})", std::move(headers), 0ms};
}

class HomeServiceDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    api_ = VendorApiServer::Start(kToken, 0, error);
    ASSERT_TRUE(api_) << error;
  }

  // The daemon's configuration: the plugin polls the test's server every 100 ms, four
  // revisions a page, with short timeouts and backoffs. `settings` replaces or adds settings.
  std::string Config(std::map<std::string, std::string> settings = {}) const {
    std::map<std::string, std::string> values = {{"base_url", "\"" + api_->BaseUrl() + "\""},
                                                 {"api_token", std::string("\"") + kToken + "\""},
                                                 {"poll_interval_ms", "100"},
                                                 {"page_size", "4"},
                                                 {"connect_timeout_ms", "1000"},
                                                 {"request_timeout_ms", "2000"},
                                                 {"backoff_base_ms", "100"},
                                                 {"backoff_cap_ms", "400"},
                                                 {"max_retries", "4"}};
    for (auto& [key, value] : settings) values[key] = value;
    std::string config =
        "listen = \"127.0.0.1:0\"\n"
        "data_dir = \"" +
        (dir_ / "data").string() +
        "\"\n"
        "[shutdown]\n"
        "plugin_stop_timeout_ms = 3000\n"
        "[plugins.homeservice]\n"
        "library = \"" HOMESERVICE_PLUGIN
        "\"\n"
        "time_zone = \"Asia/Shanghai\"\n"
        "[plugins.homeservice.settings]\n";
    for (const auto& [key, value] : values) config += key + " = " + value + "\n";
    return config;
  }

  std::unique_ptr<DaemonProcess> StartDaemon(const std::string& config) {
    std::string error;
    auto daemon = DaemonProcess::Start(dir_.path(), config, dir_ / "data", error);
    EXPECT_TRUE(daemon) << error;
    return daemon;
  }

  // Waits for every event of the bundled sample, then checks that none is there twice.
  static void ExpectTheWholeSample(DaemonProcess& daemon) {
    for (const auto& [customer, count] : kSampleEventsPerCustomer) {
      auto events = WaitForEvents(daemon, customer, count, 20s);
      std::set<std::string> ids;
      for (const auto& e : events) ids.insert(e.source_event_id());
      EXPECT_EQ(events.size(), count) << customer;
      EXPECT_EQ(ids.size(), events.size()) << customer << " has a duplicate";
    }
  }

  // Polls until the server has received `count` requests (or 20 s pass).
  std::vector<OrdersRequest> WaitForRequests(std::size_t count) const {
    std::vector<OrdersRequest> requests;
    WaitUntil(
        [&] {
          requests = api_->Requests();
          return requests.size() >= count;
        },
        20s);
    return requests;
  }

  std::unique_ptr<store::Store> OpenStore() const {
    store::StoreOptions options;
    options.path = dir_ / "data" / "propbridge.db";
    auto store = store::OpenSqliteStore(options);
    EXPECT_TRUE(store.ok()) << store.status().message();
    return store.ok() ? std::move(*store) : nullptr;
  }

  TempDir dir_;
  std::unique_ptr<VendorApiServer> api_;
};

TEST_F(HomeServiceDaemonTest, PagesOfOrderChangesReachTheTimeline) {
  api_->Append(SampleLog());
  auto daemon = StartDaemon(Config());
  ASSERT_TRUE(daemon);
  ExpectTheWholeSample(*daemon);

  auto events = WaitForEvents(*daemon, "account:A-1001", 7, 20s);
  ASSERT_EQ(events.size(), 7u);
  // Newest first: the cleaning booked on 24 Nov for the 28th, then the one in October.
  EXPECT_EQ(events[0].source_event_id(), "HS-2611-0007:scheduled:2");
  EXPECT_EQ(events[0].summary(), "Home cleaning scheduled for 28 Nov 14:00 with Zhou Min");
  EXPECT_EQ(events[0].matter_state(), v1::MATTER_STATE_UPDATED);
  const v1::TimelineEvent& booked = events[1];
  EXPECT_EQ(booked.kind(), "homeservice.order.booked");
  EXPECT_EQ(booked.summary(), "Home cleaning booked for 28 Nov 14:00");
  EXPECT_EQ(booked.step(), v1::STEP_DELIGHT);
  EXPECT_EQ(booked.initiative(), v1::INITIATIVE_REACTIVE);
  EXPECT_EQ(booked.matter_id(), "order:HS-2611-0007");
  EXPECT_EQ(booked.matter_state(), v1::MATTER_STATE_OPENED);
  EXPECT_TRUE(booked.contact());
  EXPECT_EQ(booked.channel(), "app");
  EXPECT_EQ(booked.source(), "homeservice");
  // 2026-11-24 18:30 at +08:00.
  EXPECT_EQ(booked.occurred_at().seconds(), 1795516200);
  const v1::TimelineEvent& feedback = events[2];
  EXPECT_EQ(feedback.kind(), "homeservice.feedback.received");
  EXPECT_EQ(feedback.summary(), "Rated home cleaning 5/5: 'very careful, the kitchen is spotless'");
  EXPECT_EQ(feedback.attributes().at("rating"), "5");
  const v1::TimelineEvent& completed = events[3];
  EXPECT_EQ(completed.source_event_id(), "HS-2610-0001:completed:4");
  EXPECT_EQ(completed.summary(), "Home cleaning completed at home, ¥180.00");
  EXPECT_EQ(completed.matter_state(), v1::MATTER_STATE_CLOSED);
  EXPECT_EQ(completed.channel(), "visit");
  EXPECT_EQ(completed.attributes().at("price_fen"), "18000");
  EXPECT_EQ(completed.attributes().at("service_type"), "cleaning");

  // Seven pages of four, each asked for from the cursor the previous one ended at, then polls
  // that find nothing new.
  auto requests = WaitForRequests(9);
  ASSERT_GE(requests.size(), 9u);
  const char* cursors[] = {"", "4", "8", "12", "16", "20", "24", "27", "27"};
  for (std::size_t i = 0; i < 9; ++i) {
    EXPECT_EQ(requests[i].cursor, cursors[i]) << "request " << i + 1;
    EXPECT_EQ(requests[i].page_size, 4u);
    EXPECT_EQ(requests[i].authorization, std::string("Bearer ") + kToken);
  }

  ASSERT_EQ(daemon->Stop(SIGTERM, 10s), 0) << daemon->Log();
  std::string log = daemon->Log();
  EXPECT_EQ(log.find("13800138001"), std::string::npos) << "a full phone number was logged";
  EXPECT_EQ(log.find("13700137003"), std::string::npos) << "a full phone number was logged";
  auto store = OpenStore();
  ASSERT_TRUE(store);
  EXPECT_EQ(*store->LoadCheckpoint("homeservice"), std::optional<std::string>("27"));
  auto quarantined = store->ReadQuarantine("homeservice", 10);
  ASSERT_TRUE(quarantined.ok());
  ASSERT_EQ(quarantined->size(), 1u);
  EXPECT_EQ((*quarantined)[0].origin, "orders after cursor 24, entry 0");
  EXPECT_EQ((*quarantined)[0].reason, "feedback.rating must be a whole number from 1 to 5, not 7");
  EXPECT_NE((*quarantined)[0].raw.find("HS-2611-0006"), std::string::npos);
}

TEST_F(HomeServiceDaemonTest, ARestartResumesFromTheCursorWithoutLossOrDuplicates) {
  std::vector<nlohmann::json> sample = SampleLog();
  ASSERT_EQ(sample.size(), kSampleRevisions);
  api_->Append({sample.begin(), sample.begin() + 10});
  {
    auto daemon = StartDaemon(Config());
    ASSERT_TRUE(daemon);
    // The first ten revisions are every change of HS-2610-0001 and HS-2610-0002.
    ASSERT_EQ(WaitForEvents(*daemon, "account:A-1001", 5).size(), 5u);
    ASSERT_EQ(WaitForEvents(*daemon, "account:A-1003", 5).size(), 5u);
    ASSERT_EQ(daemon->Stop(SIGTERM, 10s), 0) << daemon->Log();
  }
  ASSERT_EQ(*OpenStore()->LoadCheckpoint("homeservice"), std::optional<std::string>("10"));
  const std::size_t before_restart = api_->Requests().size();
  api_->Append({sample.begin() + 10, sample.end()});

  auto daemon = StartDaemon(Config());
  ASSERT_TRUE(daemon);
  ExpectTheWholeSample(*daemon);
  auto requests = api_->Requests();
  ASSERT_GT(requests.size(), before_restart);
  EXPECT_EQ(requests[before_restart].cursor, "10");
  for (std::size_t i = before_restart; i < requests.size(); ++i) {
    EXPECT_FALSE(requests[i].cursor.empty()) << "request " << i + 1 << " started over";
  }
  EXPECT_NE(daemon->Log().find("resuming after cursor 10"), std::string::npos);
}

TEST_F(HomeServiceDaemonTest, ServerErrorsAreRetriedWithGrowingBackoff) {
  api_->Append(SampleLog());
  api_->SetOverride([](const OrdersRequest& request) -> std::optional<Reply> {
    if (request.number == 1) return ErrorReply(500);
    if (request.number <= 3) return ErrorReply(503);
    return std::nullopt;
  });
  auto daemon = StartDaemon(Config());
  ASSERT_TRUE(daemon);
  ExpectTheWholeSample(*daemon);

  auto requests = api_->Requests();
  ASSERT_GE(requests.size(), 4u);
  // Jitter keeps each wait between half and all of 100, 200, 400 ms.
  EXPECT_GE(requests[1].received - requests[0].received, 50ms);
  EXPECT_GE(requests[2].received - requests[1].received, 100ms);
  EXPECT_GE(requests[3].received - requests[2].received, 200ms);
  EXPECT_LT(requests[3].received - requests[0].received, 2s);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(requests[i].cursor, "");
  std::string log = daemon->Log();
  EXPECT_NE(log.find("failed (HTTP 500); retry 1 of 4"), std::string::npos) << log;
  EXPECT_NE(log.find("failed (HTTP 503); retry 3 of 4"), std::string::npos) << log;
  EXPECT_EQ(log.find("not reading orders"), std::string::npos) << log;
}

TEST_F(HomeServiceDaemonTest, TooManyRequestsWaitsAsLongAsRetryAfterSays) {
  api_->Append(SampleLog());
  api_->SetOverride([](const OrdersRequest& request) -> std::optional<Reply> {
    if (request.number == 1) return ErrorReply(429, {{"Retry-After", "1"}});
    return std::nullopt;
  });
  auto daemon = StartDaemon(Config({{"backoff_base_ms", "10"}, {"backoff_cap_ms", "20"}}));
  ASSERT_TRUE(daemon);
  ExpectTheWholeSample(*daemon);

  auto requests = api_->Requests();
  ASSERT_GE(requests.size(), 2u);
  EXPECT_GE(requests[1].received - requests[0].received, 990ms);
  EXPECT_LT(requests[1].received - requests[0].received, 3s);
  EXPECT_NE(daemon->Log().find("failed (HTTP 429 with Retry-After: 1); retry 1 of 4 in 1000 ms"),
            std::string::npos)
      << daemon->Log();
}

TEST_F(HomeServiceDaemonTest, AnAnswerSlowerThanTheTimeoutIsRetried) {
  api_->Append(SampleLog());
  api_->SetOverride([this](const OrdersRequest& request) -> std::optional<Reply> {
    if (request.number != 1) return std::nullopt;
    Reply slow = api_->AnswerFromLog(request);
    slow.delay = 5s;
    return slow;
  });
  auto daemon = StartDaemon(Config({{"request_timeout_ms", "300"}}));
  ASSERT_TRUE(daemon);
  ExpectTheWholeSample(*daemon);

  auto requests = api_->Requests();
  ASSERT_GE(requests.size(), 2u);
  // Given up 300 ms after sending, then retried 50 to 100 ms later. The server sees the first
  // request only some time after it was sent (up to ~100 ms on a loaded machine), so the gap
  // it measures can be shorter than the plugin's.
  EXPECT_GE(requests[1].received - requests[0].received, 250ms);
  EXPECT_LT(requests[1].received - requests[0].received, 2s);
  EXPECT_EQ(requests[1].cursor, "");
  EXPECT_NE(daemon->Log().find("failed (no answer within 300 ms"), std::string::npos)
      << daemon->Log();
}

TEST_F(HomeServiceDaemonTest, ARefusalIsLoggedOnceAndTriedAgainOnlyEachPollUntilItClears) {
  api_->Append(SampleLog());
  std::atomic<bool> refusing = true;
  api_->SetOverride([&refusing](const OrdersRequest&) -> std::optional<Reply> {
    if (refusing) return ErrorReply(401);
    return std::nullopt;
  });
  auto daemon = StartDaemon(Config({{"poll_interval_ms", "300"}, {"backoff_base_ms", "10"}}));
  ASSERT_TRUE(daemon);
  // One request a poll, not a retry storm: each comes a poll interval after the one before.
  auto requests = WaitForRequests(5);
  ASSERT_GE(requests.size(), 5u);
  for (std::size_t i = 1; i < requests.size(); ++i) {
    EXPECT_GE(requests[i].received - requests[i - 1].received, 250ms) << "request " << i + 1;
  }
  EXPECT_TRUE(ReadWholeTimeline(*daemon->TimelineStub(), "account:A-1001").empty());

  refusing = false;
  ExpectTheWholeSample(*daemon);
  std::string log = daemon->Log();
  EXPECT_EQ(CountLines(log, "error [homeservice] not reading orders: GET " + api_->BaseUrl() +
                                "/v1/orders?page_size=4 was refused with HTTP 401 (check the "
                                "api_token setting): {\"error\": \"test\"}; trying again every "
                                "300 ms"),
            1u)
      << log;
  EXPECT_EQ(CountLines(log, "the platform answers again"), 1u) << log;
}

TEST_F(HomeServiceDaemonTest, AWrongBaseUrlIsLoggedWithItsHintAndNotRetriedInALoop) {
  api_->Append(SampleLog());
  auto daemon = StartDaemon(
      Config({{"base_url", "\"" + api_->BaseUrl() + "/api\""}, {"poll_interval_ms", "300"}}));
  ASSERT_TRUE(daemon);
  // Three polls that fail alike: said as an error once, and at debug level after that.
  EXPECT_TRUE(WaitUntil(
      [&] { return CountLines(daemon->Log(), "[homeservice] not reading orders") >= 3; }, 20s))
      << daemon->Log();
  std::string log = daemon->Log();
  EXPECT_EQ(CountLines(log, "error [homeservice] not reading orders"), 1u) << log;
  EXPECT_NE(log.find("was refused with HTTP 404 (check the base_url setting)"), std::string::npos)
      << log;
  EXPECT_EQ(log.find("retry 1 of"), std::string::npos) << log;
}

TEST_F(HomeServiceDaemonTest, ACursorThatGoesBackwardsNeverMovesTheCheckpointBack) {
  api_->Append(SampleLog());
  std::atomic<int> rewinds = 0;
  api_->SetOverride([&](const OrdersRequest& request) -> std::optional<Reply> {
    if (request.cursor != "8" || rewinds >= 2) return std::nullopt;
    ++rewinds;
    // The platform answers as if asked from position 2: its next_cursor is 6, behind 8.
    OrdersRequest rewound = request;
    rewound.cursor = "2";
    return api_->AnswerFromLog(rewound);
  });
  {
    auto daemon = StartDaemon(Config());
    ASSERT_TRUE(daemon);
    ExpectTheWholeSample(*daemon);
    ASSERT_EQ(daemon->Stop(SIGTERM, 10s), 0) << daemon->Log();
    std::string log = daemon->Log();
    EXPECT_EQ(CountLines(log,
                         "the platform answered cursor 8 with next_cursor 6, which is behind "
                         "it: ignoring that page and keeping cursor 8"),
              1u)
        << log;
  }
  EXPECT_EQ(rewinds, 2);
  auto requests = api_->Requests();
  auto at_eight = std::count_if(requests.begin(), requests.end(),
                                [](const OrdersRequest& r) { return r.cursor == "8"; });
  EXPECT_EQ(at_eight, 3);
  for (const OrdersRequest& r : requests) EXPECT_NE(r.cursor, "6");
  EXPECT_EQ(*OpenStore()->LoadCheckpoint("homeservice"), std::optional<std::string>("27"));

  const std::size_t before_restart = requests.size();
  auto daemon = StartDaemon(Config());
  ASSERT_TRUE(daemon);
  requests = WaitForRequests(before_restart + 1);
  ASSERT_GT(requests.size(), before_restart);
  EXPECT_EQ(requests[before_restart].cursor, "27");
  ExpectTheWholeSample(*daemon);
}

TEST_F(HomeServiceDaemonTest, StopIsPromptInTheMiddleOfASlowRequest) {
  api_->SetOverride([](const OrdersRequest&) -> std::optional<Reply> {
    return Reply{200, "{}", {}, 20s};
  });
  auto daemon = StartDaemon(Config({{"request_timeout_ms", "30000"}}));
  ASSERT_TRUE(daemon);
  ASSERT_FALSE(WaitForRequests(1).empty());  // the answer to it is 20 s away
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(daemon->Stop(SIGTERM, 10s), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  EXPECT_EQ(daemon->Log().find("did not stop within its deadline"), std::string::npos)
      << daemon->Log();
}

TEST_F(HomeServiceDaemonTest, StopIsPromptInTheMiddleOfABackoff) {
  api_->SetOverride([](const OrdersRequest&) -> std::optional<Reply> {
    return ErrorReply(503, {{"Retry-After", "60"}});
  });
  auto daemon = StartDaemon(Config());
  ASSERT_TRUE(daemon);
  ASSERT_TRUE(WaitUntil(
      [&] { return daemon->Log().find("retry 1 of 4 in 60000 ms") != std::string::npos; }, 20s))
      << daemon->Log();
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(daemon->Stop(SIGTERM, 10s), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  std::string log = daemon->Log();
  EXPECT_EQ(log.find("did not stop within its deadline"), std::string::npos) << log;
}

}  // namespace
}  // namespace propbridge::testing
