// The endpoint over real HTTP, with a context standing in for the daemon, so that a test can
// hold an emit in flight or make it fail.
#include "webhook_endpoint.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "tests/plugins/maintenance/webhook_client.h"

namespace propbridge::maintenance {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::kSecret;
using testing::PartialUpload;
using testing::Post;
using testing::PostSigned;
using testing::Reply;
using testing::WorkOrderOpened;

class FakeContext final : public sdk::Context, private sdk::Logger {
 public:
  const std::string& InstanceName() const noexcept override { return name_; }
  const sdk::Settings& Config() const noexcept override { return settings_; }
  const std::string& TimeZone() const noexcept override { return time_zone_; }
  sdk::Logger& Log() noexcept override { return *this; }
  const std::optional<std::string>& LastCheckpoint() const noexcept override { return checkpoint_; }

  Status Emit(sdk::Batch batch) noexcept override {
    std::unique_lock lock(mu_);
    ++emitting_;
    changed_.notify_all();
    changed_.wait(lock, [this] { return !held_; });
    --emitting_;
    if (!result_.ok()) return result_;
    batches_.push_back(std::move(batch));
    return Status::Ok();
  }

  void Hold() {
    std::lock_guard lock(mu_);
    held_ = true;
  }
  void Release() {
    std::lock_guard lock(mu_);
    held_ = false;
    changed_.notify_all();
  }
  void FailWith(Status status) {
    std::lock_guard lock(mu_);
    result_ = std::move(status);
  }
  bool AwaitEmitting(int count) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, 10s, [&] { return emitting_ >= count; });
  }
  std::vector<sdk::Batch> Batches() {
    std::lock_guard lock(mu_);
    return batches_;
  }
  std::string Lines() {
    std::lock_guard lock(mu_);
    return lines_;
  }

 private:
  void Log(sdk::LogLevel, std::string_view message) noexcept override {
    std::lock_guard lock(mu_);
    lines_ += std::string(message) + "\n";
  }

  const std::string name_ = "maintenance";
  const std::string time_zone_ = "Asia/Shanghai";
  const sdk::Settings settings_;
  const std::optional<std::string> checkpoint_;
  std::mutex mu_;
  std::condition_variable changed_;
  bool held_ = false;
  int emitting_ = 0;
  Status result_;
  std::vector<sdk::Batch> batches_;
  std::string lines_;
};

class MaintenanceEndpointTest : public ::testing::Test {
 protected:
  std::unique_ptr<WebhookEndpoint> Start(std::size_t max_in_flight = 4,
                                         std::size_t max_body_bytes = 4096) {
    EndpointConfig config;
    config.port = 0;
    config.secret = kSecret;
    config.max_in_flight = max_in_flight;
    config.max_body_bytes = max_body_bytes;
    auto endpoint = WebhookEndpoint::Start(config, context_);
    EXPECT_TRUE(endpoint.ok()) << endpoint.status().message();
    return endpoint.ok() ? std::move(*endpoint) : nullptr;
  }

  FakeContext context_;
};

TEST_F(MaintenanceEndpointTest, AnswersOnlyOnceTheEventIsDurable) {
  auto endpoint = Start();
  ASSERT_TRUE(endpoint);
  EXPECT_EQ(endpoint->address().rfind("127.0.0.1:", 0), 0u);
  context_.Hold();
  auto reply = std::async(std::launch::async,
                          [&] { return PostSigned(endpoint->address(), WorkOrderOpened("E-1")); });
  ASSERT_TRUE(context_.AwaitEmitting(1));
  EXPECT_EQ(reply.wait_for(200ms), std::future_status::timeout);
  context_.Release();
  Reply answer = reply.get();
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(json::parse(answer.body), json({{"status", "stored"}, {"event_id", "E-1"}}));
  auto batches = context_.Batches();
  ASSERT_EQ(batches.size(), 1u);
  ASSERT_EQ(batches[0].events.size(), 1u);
  EXPECT_EQ(batches[0].events[0].kind, "maintenance.work_order.opened");
  EXPECT_TRUE(batches[0].checkpoint.empty());
}

TEST_F(MaintenanceEndpointTest, AFailedEmitIsAnswered503SoThatTheSenderRetries) {
  auto endpoint = Start();
  ASSERT_TRUE(endpoint);
  context_.FailWith(Unavailable("the daemon is shutting down"));
  Reply stored = PostSigned(endpoint->address(), WorkOrderOpened("E-2"));
  EXPECT_EQ(stored.status, 503);
  EXPECT_NE(stored.body.find("the daemon is shutting down"), std::string::npos);
  std::string malformed = "{not json";
  EXPECT_EQ(Post(endpoint->address(), malformed, testing::SignatureHeader(malformed)).status, 503);
  EXPECT_TRUE(context_.Batches().empty());
}

TEST_F(MaintenanceEndpointTest, UnreadableBodiesAreQuarantinedThenAnswered400) {
  auto endpoint = Start();
  ASSERT_TRUE(endpoint);
  std::string body = "{\"event_id\": \"E-3\"}";
  Reply reply = Post(endpoint->address(), body, testing::SignatureHeader(body));
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(json::parse(reply.body)["status"], "quarantined");
  std::string malformed = "{not json";
  EXPECT_EQ(Post(endpoint->address(), malformed, testing::SignatureHeader(malformed),
                 testing::kPath, {{"X-Delivery-Id", "dlv-77"}})
                .status,
            400);
  auto batches = context_.Batches();
  ASSERT_EQ(batches.size(), 2u);
  ASSERT_EQ(batches[0].rejected.size(), 1u);
  EXPECT_TRUE(batches[0].events.empty());
  EXPECT_EQ(batches[0].rejected[0].origin, "webhook delivery E-3");
  EXPECT_EQ(batches[0].rejected[0].raw, body);
  EXPECT_EQ(batches[0].rejected[0].reason,
            "event_type is missing; occurred_at is missing; customer is missing");
  EXPECT_EQ(batches[1].rejected[0].origin, "webhook delivery dlv-77");
}

TEST_F(MaintenanceEndpointTest, OtherPathsAndMethodsAreRefused) {
  auto endpoint = Start();
  ASSERT_TRUE(endpoint);
  std::string body = WorkOrderOpened("E-4").dump();
  EXPECT_EQ(Post(endpoint->address(), body, testing::SignatureHeader(body), "/webhooks").status,
            404);
  std::size_t colon = endpoint->address().rfind(':');
  httplib::Client client("127.0.0.1", std::stoi(endpoint->address().substr(colon + 1)));
  auto get = client.Get(testing::kPath);
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 405);
  EXPECT_EQ(get->get_header_value("Allow"), "POST");
  EXPECT_TRUE(context_.Batches().empty());
}

TEST_F(MaintenanceEndpointTest, ChunkedBodiesOverTheLimitGet413) {
  auto endpoint = Start();
  ASSERT_TRUE(endpoint);
  std::size_t colon = endpoint->address().rfind(':');
  httplib::Client client("127.0.0.1", std::stoi(endpoint->address().substr(colon + 1)));
  std::string chunk(1000, ' ');
  auto reply = client.Post(
      testing::kPath,
      [&](std::size_t offset, httplib::DataSink& sink) {
        if (offset < 10000) {
          sink.write(chunk.data(), chunk.size());
        } else {
          sink.done();
        }
        return true;
      },
      "application/json");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 413);
  EXPECT_TRUE(context_.Batches().empty());
}

TEST_F(MaintenanceEndpointTest, APortInUseIsRefusedAtStart) {
  auto first = Start();
  ASSERT_TRUE(first);
  EndpointConfig config;
  config.secret = kSecret;
  config.port = std::stoi(first->address().substr(first->address().rfind(':') + 1));
  auto second = WebhookEndpoint::Start(config, context_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(second.status().message(),
            "cannot listen on " + first->address() + ": Address already in use");
}

TEST_F(MaintenanceEndpointTest, StopFinishesDeliveriesBeingStoredAndRefusesTheRest) {
  auto endpoint = Start();
  ASSERT_TRUE(endpoint);
  std::string address = endpoint->address();
  context_.Hold();
  auto storing =
      std::async(std::launch::async, [&] { return PostSigned(address, WorkOrderOpened("E-5")); });
  ASSERT_TRUE(context_.AwaitEmitting(1));
  PartialUpload reading(address, WorkOrderOpened("E-6"));
  ASSERT_TRUE(reading.connected());
  std::this_thread::sleep_for(100ms);

  auto started = std::chrono::steady_clock::now();
  auto stopped = std::async(std::launch::async, [&] { endpoint->Stop(); });
  std::this_thread::sleep_for(100ms);
  EXPECT_NE(PostSigned(address, WorkOrderOpened("E-7")).status, 200);
  context_.Release();
  EXPECT_EQ(storing.get().status, 200);
  int refused = reading.AwaitAnswer();
  EXPECT_TRUE(refused == 503 || refused == 0) << refused;
  stopped.get();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 4s);

  auto batches = context_.Batches();
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].events[0].source_event_id, "E-5");
}

}  // namespace
}  // namespace propbridge::maintenance
