// The real daemon's [metrics] endpoint, scraped over real HTTP while the synthetic plugin
// delivers through a real plugin host: the text passes promtool, the counters move by exactly
// what the plugin emitted and the calls the test makes, and slow or hostile scrapers hold back
// neither other scrapes nor ingest.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "propbridge/v1/admin.grpc.pb.h"
#include "propbridge/v1/timeline.grpc.pb.h"
#include "tests/metrics/http_client.h"
#include "tests/support/daemon_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_until.h"

namespace propbridge::testing {
namespace {

namespace v1 = propbridge::v1;
using namespace std::chrono_literals;

constexpr const char* kStored = "propbridge_events_stored_total{source=\"synth\"}";

class MetricsDaemonTest : public ::testing::Test {
 protected:
  // The synthetic plugin with `settings`, and metrics on a free loopback port.
  void StartDaemon(const std::string& settings) {
    const std::string config =
        "listen = \"127.0.0.1:0\"\ndata_dir = \"" + (dir_ / "data").string() +
        "\"\n[metrics]\nlisten = \"127.0.0.1:0\"\n" + SyntheticInstance("synth", settings);
    std::string error;
    daemon_ = DaemonProcess::Start(dir_.path(), config, dir_ / "data", error);
    ASSERT_TRUE(daemon_) << error;
    std::ifstream in(dir_ / "data" / "metrics-address");
    std::getline(in, metrics_);
    ASSERT_FALSE(metrics_.empty()) << daemon_->Log();
  }

  std::string Scrape() {
    HttpAnswer answer = HttpRequest(metrics_, "GET", "/metrics");
    EXPECT_EQ(answer.status, 200) << answer.headers;
    return answer.body;
  }

  TempDir dir_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::string metrics_;
};

TEST_F(MetricsDaemonTest, CountersMoveByExactlyWhatFlowed) {
  constexpr int kEvents = 3000;
  ASSERT_NO_FATAL_FAILURE(StartDaemon("count = 3000\nbatch_size = 100\ninterval_ms = 20\n"));
  std::string text;
  ASSERT_TRUE(WaitUntil(
      [&] {
        text = Scrape();
        return SampleValue(text, kStored) == kEvents;
      },
      60s, 100ms))
      << text;
  std::string promtool;
  EXPECT_TRUE(PromtoolAccepts(text, promtool)) << promtool << "\n" << text;

  EXPECT_EQ(SampleValue(text, "propbridge_plugin_events_emitted_total{plugin=\"synth\"}"), kEvents);
  EXPECT_EQ(SampleValue(text, "propbridge_duplicate_events_total{source=\"synth\"}"), 0);
  EXPECT_EQ(SampleValue(text, "propbridge_records_quarantined_total{source=\"synth\"}"), 0);
  EXPECT_EQ(SampleValue(text, "propbridge_plugin_state{plugin=\"synth\",state=\"running\"}"), 1);
  EXPECT_EQ(SampleValue(text, "propbridge_plugin_state{plugin=\"synth\",state=\"failed\"}"), 0);
  EXPECT_EQ(SampleValue(text, "propbridge_plugin_restarts_total{plugin=\"synth\"}"), 0);
  EXPECT_EQ(
      SampleValue(text, "propbridge_plugin_faults_total{plugin=\"synth\",kind=\"batch_records\"}"),
      0);
  EXPECT_EQ(SampleValue(text, "propbridge_ingest_queue_capacity_events"), 50000);
  EXPECT_GE(SampleValue(text, "propbridge_ingest_queue_events"), 0);
  const double commits = SampleValue(text, "propbridge_store_commit_seconds_count");
  EXPECT_GE(commits, 1);
  EXPECT_EQ(SampleValue(text, "propbridge_store_commit_seconds_bucket{le=\"+Inf\"}"), commits);
  EXPECT_GT(SampleValue(text, "propbridge_store_size_bytes"), 0);
  EXPECT_GT(SampleValue(text, "process_resident_memory_bytes"), 0);
  EXPECT_EQ(SampleValue(text, "propbridge_watches_open"), 0);

  // gRPC calls, by method and code.
  auto channel = grpc::CreateChannel(daemon_->address(), grpc::InsecureChannelCredentials());
  auto admin = v1::AdminService::NewStub(channel);
  const std::string list_ok =
      "propbridge_grpc_requests_total{service=\"propbridge.v1.AdminService\","
      "method=\"ListPlugins\",code=\"OK\"}";
  const double before = std::max(0.0, SampleValue(text, list_ok));
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext context;
    v1::ListPluginsResponse response;
    ASSERT_TRUE(admin->ListPlugins(&context, {}, &response).ok());
  }
  {
    grpc::ClientContext context;
    v1::GetTimelineRequest request;  // no customer: INVALID_ARGUMENT
    v1::GetTimelineResponse response;
    EXPECT_EQ(daemon_->TimelineStub()->GetTimeline(&context, request, &response).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  text = Scrape();
  EXPECT_EQ(SampleValue(text, list_ok), before + 3);
  EXPECT_EQ(SampleValue(text,
                        "propbridge_grpc_requests_total{service=\"propbridge.v1.TimelineService\","
                        "method=\"GetTimeline\",code=\"INVALID_ARGUMENT\"}"),
            1);
  EXPECT_EQ(SampleValue(text,
                        "propbridge_grpc_request_duration_seconds_count{service=\"propbridge.v1."
                        "AdminService\",method=\"ListPlugins\"}"),
            before + 3);

  // An open watch, and its end.
  {
    auto timelines = daemon_->TimelineStub();
    grpc::ClientContext context;
    v1::WatchTimelineRequest request;  // every customer, from now on
    auto reader = timelines->WatchTimeline(&context, request);
    EXPECT_TRUE(WaitUntil([&] { return SampleValue(Scrape(), "propbridge_watches_open") == 1; },
                          10s, 50ms));
    context.TryCancel();
    v1::WatchTimelineResponse ignored;
    while (reader->Read(&ignored)) {
    }
    reader->Finish();
  }
  EXPECT_TRUE(
      WaitUntil([&] { return SampleValue(Scrape(), "propbridge_watches_open") == 0; }, 10s, 50ms));
  EXPECT_TRUE(PromtoolAccepts(Scrape(), promtool)) << promtool;
  EXPECT_EQ(daemon_->Stop(SIGTERM, 30s), 0);
}

TEST_F(MetricsDaemonTest, SlowScrapersHoldBackNeitherScrapesNorIngest) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon("count = 100000000\nbatch_size = 10\ninterval_ms = 10\n"));
  ASSERT_TRUE(WaitUntil([&] { return SampleValue(Scrape(), kStored) > 0; }, 30s, 50ms));

  // Twice the endpoint's 32 places, each with a request begun and a header line every 100 ms.
  std::vector<std::unique_ptr<RawConnection>> slow;
  for (int i = 0; i < 64; ++i) {
    slow.push_back(std::make_unique<RawConnection>(metrics_));
    slow.back()->Send("GET /metrics HTTP/1.1\r\n");
  }
  std::atomic<bool> attacking{true};
  std::thread trickle([&] {
    while (attacking) {
      for (auto& connection : slow) connection->Send("X: 1\r\n");
      std::this_thread::sleep_for(100ms);
    }
  });

  double stored = SampleValue(Scrape(), kStored);
  for (int i = 0; i < 6; ++i) {
    std::this_thread::sleep_for(500ms);
    const auto began = std::chrono::steady_clock::now();
    const std::string text = Scrape();
    EXPECT_LT(std::chrono::steady_clock::now() - began, 1s) << "scrape " << i;
    const double now = SampleValue(text, kStored);
    EXPECT_GT(now, stored) << "ingest stalled at scrape " << i;
    stored = now;
  }
  // A request line of 64 KiB is refused, and the endpoint serves on.
  RawConnection huge(metrics_);
  huge.Send("GET /metrics?" + std::string(64 * 1024, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(huge.ReadUntilClosed(5s).starts_with("HTTP/1.1 431 "));
  attacking = false;
  trickle.join();
  EXPECT_EQ(HttpRequest(metrics_, "GET", "/metrics").status, 200);
  EXPECT_EQ(daemon_->Stop(SIGTERM, 30s), 0);
}

TEST_F(MetricsDaemonTest, AMistakenAddressStopsTheStart) {
  const std::string base =
      "listen = \"127.0.0.1:0\"\ndata_dir = \"" + (dir_ / "data").string() + "\"\n[metrics]\n";
  DaemonProcess::Exit exit =
      DaemonProcess::RunToExit(dir_.path(), base + "listen = \"9464\"\n", 30s);
  EXPECT_EQ(exit.code, 1);
  EXPECT_NE(exit.log.find("metrics.listen: must be host:port, like 127.0.0.1:9464, not '9464'"),
            std::string::npos)
      << exit.log;

  exit = DaemonProcess::RunToExit(dir_.path(), base + "listen = \"192.0.2.1:9464\"\n", 30s);
  EXPECT_EQ(exit.code, 1);
  EXPECT_NE(exit.log.find("cannot serve metrics on 192.0.2.1:9464"), std::string::npos) << exit.log;
}

}  // namespace
}  // namespace propbridge::testing
