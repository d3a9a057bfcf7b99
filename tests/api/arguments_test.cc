// Every request the daemon must refuse with INVALID_ARGUMENT, and NOT_FOUND, checked against
// the real daemon over real gRPC: the status and a message that says what to fix.
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <functional>
#include <mutex>

#include "tests/api/api_daemon.h"

namespace propbridge::testing {
namespace {

using namespace std::chrono_literals;

constexpr char kCustomer[] = "account:C0";

struct BadRequest {
  std::string name;
  std::function<void(v1::GetTimelineRequest&)> spoil;
  std::string message;  // a part of the error message
};

class ApiArguments : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    daemon_ = ApiDaemon::Start(*dir_, SyntheticInstance(
                                          "seed", "count = 240\nbatch_size = 240\ncustomers = 2\n"))
                  .release();
    if (daemon_) daemon_->WaitForCount(kCustomer, 120);
  }
  static void TearDownTestSuite() {
    delete daemon_;
    delete dir_;
  }
  void SetUp() override { ASSERT_TRUE(daemon_); }

  static grpc::Status Get(const v1::GetTimelineRequest& request,
                          v1::GetTimelineResponse* response = nullptr) {
    v1::GetTimelineResponse ignored;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    return daemon_->stub().GetTimeline(&context, request, response ? response : &ignored);
  }

  static grpc::Status Watch(const v1::WatchTimelineRequest& request) {
    WatchCall call(daemon_->stub(), request, 10s);
    return call.ReadToEnd();
  }

  // A valid request for the first page, and the token of the second page it leads to.
  static std::pair<v1::GetTimelineRequest, std::string> FirstPage() {
    v1::GetTimelineRequest request;
    request.set_customer(kCustomer);
    request.set_page_size(10);
    request.mutable_filter()->add_steps(v1::STEP_UNDERSTAND);
    v1::GetTimelineResponse response;
    grpc::Status status = Get(request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_FALSE(response.next_page_token().empty());
    return {request, response.next_page_token()};
  }

  static TempDir* dir_;
  static ApiDaemon* daemon_;
};

TempDir* ApiArguments::dir_ = nullptr;
ApiDaemon* ApiArguments::daemon_ = nullptr;

google::protobuf::Timestamp At(std::int64_t seconds) {
  google::protobuf::Timestamp t;
  t.set_seconds(seconds);
  return t;
}

// The filter checks, shared by GetTimeline and WatchTimeline.
std::vector<std::pair<std::string, std::function<void(v1::TimelineFilter&)>>> BadFilters() {
  return {
      {"filter.steps", [](auto& f) { f.add_steps(v1::STEP_UNSPECIFIED); }},
      {"filter.steps", [](auto& f) { f.add_steps(static_cast<v1::Step>(9)); }},
      {"at most 32",
       [](auto& f) {
         for (int i = 0; i < 33; ++i) f.add_steps(v1::STEP_HELP);
       }},
      {"at most 32",
       [](auto& f) {
         for (int i = 0; i < 33; ++i) f.add_sources("billing");
       }},
      {"filter.kind_prefixes", [](auto& f) { f.add_kind_prefixes("Billing.Charge"); }},
      {"filter.kind_prefixes", [](auto& f) { f.add_kind_prefixes(""); }},
      {"filter.kind_prefixes", [](auto& f) { f.add_kind_prefixes(".billing"); }},
      {"filter.kind_prefixes", [](auto& f) { f.add_kind_prefixes("billing."); }},
      {"filter.kind_prefixes", [](auto& f) { f.add_kind_prefixes("billing..charge"); }},
      {"filter.kind_prefixes", [](auto& f) { f.add_kind_prefixes(std::string(129, 'a')); }},
      {"filter.sources", [](auto& f) { f.add_sources(""); }},
      {"filter.sources", [](auto& f) { f.add_sources(std::string(65, 's')); }},
      {"end_time must be after start_time",
       [](auto& f) {
         *f.mutable_start_time() = At(2000);
         *f.mutable_end_time() = At(1000);
       }},
      {"end_time must be after start_time",
       [](auto& f) {
         *f.mutable_start_time() = At(1000);
         *f.mutable_end_time() = At(1000);
       }},
      {"filter.matter_id", [](auto& f) { f.set_matter_id(std::string(257, 'm')); }},
      {"filter.initiative", [](auto& f) { f.set_initiative(static_cast<v1::Initiative>(7)); }},
  };
}

TEST_F(ApiArguments, GetTimelineRefusesEveryBadRequest) {
  std::vector<BadRequest> bad = {
      {"no customer", [](auto& r) { r.clear_customer(); }, "customer is required"},
      {"long customer", [](auto& r) { r.set_customer(std::string(513, 'c')); }, "512 bytes"},
      {"negative page_size", [](auto& r) { r.set_page_size(-1); }, "page_size"},
      {"page_size over the maximum", [](auto& r) { r.set_page_size(1001); }, "page_size"},
      {"unknown order", [](auto& r) { r.set_order(static_cast<v1::TimelineOrder>(7)); }, "order"},
      {"token that is not one", [](auto& r) { r.set_page_token("not-a-token"); }, "page_token"},
  };
  for (const auto& [message, spoil] : BadFilters()) {
    bad.push_back({message, [spoil = spoil](auto& r) { spoil(*r.mutable_filter()); }, message});
  }
  for (const BadRequest& b : bad) {
    v1::GetTimelineRequest request;
    request.set_customer(kCustomer);
    b.spoil(request);
    grpc::Status status = Get(request);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << b.name;
    EXPECT_NE(status.error_message().find(b.message), std::string::npos)
        << b.name << ": " << status.error_message();
  }
}

TEST_F(ApiArguments, APageTokenWorksOnlyUnchangedAndForItsOwnQuery) {
  auto [first_request, first_token] = FirstPage();
  v1::GetTimelineRequest request = first_request;
  const std::string token =
      first_token;  // a lambda cannot capture a structured binding in clang 14
  request.set_page_token(token);
  EXPECT_TRUE(Get(request).ok()) << "the token as issued";

  std::vector<std::pair<std::string, std::function<void(v1::GetTimelineRequest&)>>> misuse = {
      {"a changed character",
       [&](auto& r) {
         std::string tampered = token;
         tampered[4] = tampered[4] == '0' ? '1' : '0';  // in the position, not the signature
         r.set_page_token(tampered);
       }},
      {"cut short", [&](auto& r) { r.set_page_token(token.substr(0, token.size() / 2)); }},
      {"another filter", [](auto& r) { r.mutable_filter()->add_steps(v1::STEP_HELP); }},
      {"no filter", [](auto& r) { r.clear_filter(); }},
      {"another order", [](auto& r) { r.set_order(v1::TIMELINE_ORDER_OLDEST_FIRST); }},
      {"another customer", [](auto& r) { r.set_customer("account:C1"); }},
  };
  for (const auto& [name, spoil] : misuse) {
    v1::GetTimelineRequest changed = request;
    spoil(changed);
    grpc::Status status = Get(changed);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << name;
    EXPECT_NE(status.error_message().find("page_token"), std::string::npos)
        << name << ": " << status.error_message();
  }
  // A different page size is the same listing: the token still reads on.
  request.set_page_size(25);
  EXPECT_TRUE(Get(request).ok());
}

// GetTimeline reads its request's bytes itself (its answer is written in wire format): bytes
// that are no GetTimelineRequest get INVALID_ARGUMENT, and the daemon serves on.
TEST_F(ApiArguments, BytesThatAreNoRequestAreRefused) {
  auto channel =
      grpc::CreateChannel(daemon_->process().address(), grpc::InsecureChannelCredentials());
  grpc::GenericStub generic(channel);
  for (const std::string& junk : {std::string("\x0a\xff\xff\xff\xff\x0f", 6),
                                  std::string("\xff\xff\xff"), std::string(1, '\x0a')}) {
    grpc::Slice slice(junk);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    std::mutex mu;
    std::condition_variable done_cv;
    bool done = false;
    grpc::Status status;
    generic.UnaryCall(&context, "/propbridge.v1.TimelineService/GetTimeline", {}, &request,
                      &response, [&](grpc::Status s) {
                        std::lock_guard lock(mu);
                        status = std::move(s);
                        done = true;
                        done_cv.notify_one();
                      });
    std::unique_lock lock(mu);
    done_cv.wait(lock, [&] { return done; });
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
    EXPECT_NE(status.error_message().find("not a GetTimelineRequest"), std::string::npos)
        << status.error_message();
  }
  v1::GetTimelineRequest good;
  good.set_customer(kCustomer);
  EXPECT_TRUE(Get(good).ok());
}

TEST_F(ApiArguments, AnUnknownCustomerIsNotFound) {
  v1::GetTimelineRequest request;
  request.set_customer("account:nobody");
  grpc::Status status = Get(request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(status.error_message().find("account:nobody"), std::string::npos);
  // A known customer whose events the filter excludes is an empty page, not NOT_FOUND.
  request.set_customer(kCustomer);
  request.mutable_filter()->add_kind_prefixes("billing");
  v1::GetTimelineResponse response;
  EXPECT_TRUE(Get(request, &response).ok());
  EXPECT_EQ(response.events_size(), 0);
}

TEST_F(ApiArguments, WatchTimelineRefusesEveryBadRequest) {
  std::vector<std::pair<std::string, std::function<void(v1::WatchTimelineRequest&)>>> bad = {
      {"512 bytes", [](auto& r) { r.set_customer(std::string(513, 'c')); }},
      {"after_id", [](auto& r) { r.set_after_id(-1); }},
  };
  for (const auto& [message, spoil] : BadFilters()) {
    bad.push_back({message, [spoil = spoil](auto& r) { spoil(*r.mutable_filter()); }});
  }
  for (const auto& [message, spoil] : bad) {
    v1::WatchTimelineRequest request;
    request.set_customer(kCustomer);
    spoil(request);
    grpc::Status status = Watch(request);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << message;
    EXPECT_NE(status.error_message().find(message), std::string::npos)
        << message << ": " << status.error_message();
  }
}

}  // namespace
}  // namespace propbridge::testing
