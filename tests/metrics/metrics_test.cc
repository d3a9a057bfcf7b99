// The metrics module on its own: values under concurrent updates, the text format (escaping,
// cumulative buckets, +Inf), checked by promtool, and the HTTP endpoint over real sockets,
// attacks included.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <ctime>
#include <limits>
#include <thread>
#include <vector>

#include "daemon/metrics/exposition.h"
#include "daemon/metrics/http_endpoint.h"
#include "daemon/metrics/metric.h"
#include "daemon/metrics/registry.h"
#include "tests/metrics/http_client.h"
#include "tests/support/wait_until.h"

namespace propbridge::metrics {
namespace {

using namespace std::chrono_literals;
using testing::HttpRequest;
using testing::PromtoolAccepts;
using testing::RawConnection;
using testing::SampleValue;

TEST(Exposition, EscapesLabelValuesAndHelp) {
  Exposition out;
  out.Begin("test_events_total", Type::kCounter, "Events, by source.\nA second line \\ here.");
  out.Sample({{"source", "quote\" back\\slash\nnewline"}}, 3);
  EXPECT_EQ(out.text(),
            "# HELP test_events_total Events, by source.\\nA second line \\\\ here.\n"
            "# TYPE test_events_total counter\n"
            "test_events_total{source=\"quote\\\" back\\\\slash\\nnewline\"} 3\n");
  std::string promtool;
  EXPECT_TRUE(PromtoolAccepts(out.text(), promtool)) << promtool;
}

TEST(Exposition, FormatsValues) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(1000000), "1000000");
  EXPECT_EQ(FormatValue(0.25), "0.25");
  EXPECT_EQ(FormatValue(0.0005), "0.0005");
  EXPECT_EQ(FormatValue(-2), "-2");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
}

TEST(Histogram, BucketsAreCumulativeWithInfOnTop) {
  Histogram histogram({0.01, 0.1, 1});
  for (double value : {0.005, 0.01, 0.05, 0.5, 0.5, 7.0}) histogram.Observe(value);
  Histogram::Snapshot snapshot = histogram.Read();
  EXPECT_EQ(snapshot.cumulative, (std::vector<std::uint64_t>{2, 3, 5, 6}));
  EXPECT_DOUBLE_EQ(snapshot.sum, 8.065);

  Exposition out;
  out.Begin("test_seconds", Type::kHistogram, "Latency.");
  out.Sample({{"method", "Get"}}, snapshot);
  const std::string& text = out.text();
  EXPECT_EQ(SampleValue(text, "test_seconds_bucket{method=\"Get\",le=\"0.01\"}"), 2);
  EXPECT_EQ(SampleValue(text, "test_seconds_bucket{method=\"Get\",le=\"0.1\"}"), 3);
  EXPECT_EQ(SampleValue(text, "test_seconds_bucket{method=\"Get\",le=\"1\"}"), 5);
  EXPECT_EQ(SampleValue(text, "test_seconds_bucket{method=\"Get\",le=\"+Inf\"}"), 6);
  EXPECT_EQ(SampleValue(text, "test_seconds_count{method=\"Get\"}"), 6);
  EXPECT_DOUBLE_EQ(SampleValue(text, "test_seconds_sum{method=\"Get\"}"), 8.065);
  std::string promtool;
  EXPECT_TRUE(PromtoolAccepts(text, promtool)) << promtool;
}

TEST(Metrics, ConcurrentUpdatesAddUpExactly) {
  Family<Counter> counters;
  Histogram histogram(LatencyBuckets());
  Gauge gauge;
  constexpr int kThreads = 4;
  constexpr int kEach = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Counter& mine = counters.With({"source", t % 2 == 0 ? "even" : "odd"});
      for (int i = 0; i < kEach; ++i) {
        mine.Add();
        histogram.Observe(0.002);
        gauge.Add(1);
        gauge.Add(-1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::uint64_t total = 0;
  counters.ForEach([&total](const std::vector<std::string>&, const Counter& counter) {
    total += counter.value();
  });
  EXPECT_EQ(total, std::uint64_t{kThreads} * kEach);
  EXPECT_EQ(histogram.Read().cumulative.back(), std::uint64_t{kThreads} * kEach);
  EXPECT_EQ(gauge.value(), 0);
}

TEST(Registry, RendersEveryCollectorAndTheProcess) {
  Registry registry;
  Counter stored;
  stored.Add(42);
  registry.Add([&stored](Exposition& out) {
    out.Single("test_stored_total", Type::kCounter, "Stored.", static_cast<double>(stored.value()));
  });
  registry.Add(CollectProcess);
  const std::string text = registry.Render();
  EXPECT_EQ(SampleValue(text, "test_stored_total"), 42);
  EXPECT_GT(SampleValue(text, "process_resident_memory_bytes"), 0);
  EXPECT_GT(SampleValue(text, "process_open_fds"), 2);
  EXPECT_GT(SampleValue(text, "process_max_fds"), 0);
  EXPECT_GT(SampleValue(text, "process_virtual_memory_bytes"), 0);
  EXPECT_GE(SampleValue(text, "process_cpu_seconds_total"), 0);
  // Started within the last hour, by the clock.
  const double now = static_cast<double>(std::time(nullptr));
  EXPECT_NEAR(SampleValue(text, "process_start_time_seconds"), now, 3600);
  std::string promtool;
  EXPECT_TRUE(PromtoolAccepts(text, promtool)) << promtool;
}

class EndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EndpointOptions options;
    options.request_timeout = 1000ms;
    options.max_connections = 8;
    auto endpoint = MetricsEndpoint::Start(
        "127.0.0.1:0",
        [this] {
          ++scrapes_;
          return std::string("# HELP test_up Up.\n# TYPE test_up gauge\ntest_up 1\n");
        },
        options);
    ASSERT_TRUE(endpoint.ok()) << endpoint.status().message();
    endpoint_ = std::move(*endpoint);
  }

  std::atomic<int> scrapes_{0};
  std::unique_ptr<MetricsEndpoint> endpoint_;
};

TEST_F(EndpointTest, ServesMetricsAndNothingElse) {
  testing::HttpAnswer answer = HttpRequest(endpoint_->address(), "GET", "/metrics");
  EXPECT_EQ(answer.status, 200);
  EXPECT_NE(answer.headers.find("Content-Type: text/plain; version=0.0.4; charset=utf-8"),
            std::string::npos)
      << answer.headers;
  EXPECT_EQ(answer.body, "# HELP test_up Up.\n# TYPE test_up gauge\ntest_up 1\n");

  answer = HttpRequest(endpoint_->address(), "HEAD", "/metrics");
  EXPECT_EQ(answer.status, 200);
  EXPECT_NE(answer.headers.find("Content-Length: 50"), std::string::npos) << answer.headers;
  EXPECT_EQ(answer.body, "");

  EXPECT_EQ(HttpRequest(endpoint_->address(), "GET", "/metrics?name[]=x").status, 200);
  EXPECT_EQ(HttpRequest(endpoint_->address(), "GET", "/").status, 404);
  EXPECT_EQ(HttpRequest(endpoint_->address(), "GET", "/metricsx").status, 404);
  EXPECT_EQ(HttpRequest(endpoint_->address(), "POST", "/metrics").status, 405);
}

TEST_F(EndpointTest, KeepsAConnectionAliveForTheNextScrape) {
  RawConnection connection(endpoint_->address());
  const std::string request = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(connection.Send(request));
    ASSERT_TRUE(testing::WaitUntil([&] { return scrapes_ == i + 1; }, 5000ms)) << "request " << i;
  }
}

TEST_F(EndpointTest, RefusesAHugeRequestLine) {
  RawConnection connection(endpoint_->address());
  connection.Send("GET /metrics?" + std::string(64 * 1024, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string answer = connection.ReadUntilClosed(5s);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 431 ")) << answer.substr(0, 100);
  EXPECT_EQ(scrapes_, 0);
}

TEST_F(EndpointTest, ClosesARequestThatTricklesPastItsDeadline) {
  RawConnection slow(endpoint_->address());
  ASSERT_TRUE(slow.Send("GET /metrics HTTP/1.1\r\n"));
  const auto began = std::chrono::steady_clock::now();
  // A header line every 200 ms: each read is quick, the whole request never ends.
  bool closed = false;
  for (int i = 0; i < 25 && !closed; ++i) {
    closed = !slow.Send("X-Slow-" + std::to_string(i) + ": 1\r\n") || slow.ClosedWithin(200ms);
  }
  EXPECT_TRUE(closed);
  EXPECT_LT(std::chrono::steady_clock::now() - began, 3s);
}

TEST_F(EndpointTest, SlowClientsDoNotKeepOthersOut) {
  // Twice as many connections as there are places, each with a request begun and trickling.
  std::vector<std::unique_ptr<RawConnection>> slow;
  for (int i = 0; i < 16; ++i) {
    slow.push_back(std::make_unique<RawConnection>(endpoint_->address()));
    slow.back()->Send("GET /metrics HTTP/1.1\r\n");
  }
  std::atomic<bool> attacking{true};
  std::thread trickle([&] {
    while (attacking) {
      for (auto& connection : slow) connection->Send("X: 1\r\n");
      std::this_thread::sleep_for(100ms);
    }
  });
  for (int i = 0; i < 5; ++i) {
    const auto began = std::chrono::steady_clock::now();
    testing::HttpAnswer answer = HttpRequest(endpoint_->address(), "GET", "/metrics", 3s);
    EXPECT_EQ(answer.status, 200) << "scrape " << i;
    EXPECT_LT(std::chrono::steady_clock::now() - began, 1s) << "scrape " << i;
  }
  attacking = false;
  trickle.join();
}

TEST(Endpoint, SaysWhyItCannotListen) {
  auto first = MetricsEndpoint::Start("127.0.0.1:0", [] { return std::string(); });
  ASSERT_TRUE(first.ok());
  auto second = MetricsEndpoint::Start((*first)->address(), [] { return std::string(); });
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("cannot serve metrics on " + (*first)->address()),
            std::string::npos)
      << second.status().message();
}

}  // namespace
}  // namespace propbridge::metrics
