// GetTimeline served in the test's process over a FakeStore: pages and their tokens, filters,
// orders, a walk across a merge, and the statuses of requests that cannot be answered.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/api/api_server.h"

namespace propbridge::testing {
namespace {

using namespace std::chrono_literals;

class TimelineServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = ApiServer::Start();
    ASSERT_TRUE(server_);
    // five charges a minute apart and two payments; A-2: one charge among them.
    std::vector<store::Event> events;
    for (int i = 0; i < 5; ++i) events.push_back(AccountEvent("C-" + std::to_string(i), "A-1", i));
    events.push_back(AccountEvent("P-0", "A-1", 10, "billing.payment.received"));
    events.push_back(AccountEvent("X-0", "A-2", 2));
    events.push_back(AccountEvent("P-1", "A-1", 11, "billing.payment.received"));
    server_->Write("billing", std::move(events));
  }

  grpc::Status Get(const v1::GetTimelineRequest& request, v1::GetTimelineResponse& response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    return server_->timeline().GetTimeline(&context, request, &response);
  }

  // The source event ids of every page, walked with `request`'s page size; fails the test on
  // an error.
  std::vector<std::string> Walk(v1::GetTimelineRequest request) {
    std::vector<std::string> walked;
    do {
      v1::GetTimelineResponse response;
      grpc::Status status = Get(request, response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (!status.ok()) break;
      EXPECT_LE(response.events_size(), request.page_size());
      for (const auto& event : response.events()) walked.push_back(event.source_event_id());
      request.set_page_token(response.next_page_token());
    } while (!request.page_token().empty());
    return walked;
  }

  std::unique_ptr<ApiServer> server_;
};

TEST_F(TimelineServiceTest, PagesWalkTheWholeTimelineInEitherOrder) {
  v1::GetTimelineRequest request;
  request.set_customer("account:A-1");
  request.set_page_size(3);
  EXPECT_EQ(Walk(request),
            (std::vector<std::string>{"P-1", "P-0", "C-4", "C-3", "C-2", "C-1", "C-0"}));
  request.set_order(v1::TIMELINE_ORDER_OLDEST_FIRST);
  EXPECT_EQ(Walk(request),
            (std::vector<std::string>{"C-0", "C-1", "C-2", "C-3", "C-4", "P-0", "P-1"}));
  // The customer by id is the same listing's customer.
  request.set_customer(store::CustomerKey(server_->CustomerOf("A-2")));
  EXPECT_EQ(Walk(request), std::vector<std::string>{"X-0"});
}

TEST_F(TimelineServiceTest, AFilterSelectsWhatItNamesOnEveryPage) {
  v1::GetTimelineRequest request;
  request.set_customer("account:A-1");
  request.set_page_size(1);
  request.mutable_filter()->add_kind_prefixes("billing.payment");
  EXPECT_EQ(Walk(request), (std::vector<std::string>{"P-1", "P-0"}));

  request.clear_filter();
  request.mutable_filter()->mutable_start_time()->set_seconds(1795478400 + 60);
  request.mutable_filter()->mutable_end_time()->set_seconds(1795478400 + 180);
  request.set_page_size(10);
  EXPECT_EQ(Walk(request), (std::vector<std::string>{"C-2", "C-1"}));
}

TEST_F(TimelineServiceTest, AWalkGoesOnAcrossAMergeUnderTheNameItStartedWith) {
  v1::GetTimelineRequest request;
  request.set_customer("account:A-2");
  request.set_page_size(1);
  server_->Write("billing", {AccountEvent("X-1", "A-2", 20)});
  v1::GetTimelineResponse first;
  ASSERT_TRUE(Get(request, first).ok());
  ASSERT_EQ(first.events(0).source_event_id(), "X-1");
  ASSERT_TRUE(server_->store()
                  .LinkCustomers(server_->CustomerOf("A-1"), server_->CustomerOf("A-2"), "ops:test",
                                 "one household", {})
                  .ok());
  request.set_page_token(first.next_page_token());
  request.set_page_size(3);
  // Beyond X-1 in the kept customer's timeline: both customers' older events (X-0 and C-2
  // occurred at the same minute; the later id comes first).
  EXPECT_EQ(Walk(request),
            (std::vector<std::string>{"P-1", "P-0", "C-4", "C-3", "X-0", "C-2", "C-1", "C-0"}));
}

TEST_F(TimelineServiceTest, RequestsThatCannotBeAnsweredSayWhy) {
  struct Case {
    std::string customer;
    int page_size;
    std::string page_token;
    grpc::StatusCode code;
    std::string message;  // a part of it
  };
  v1::GetTimelineRequest first;
  first.set_customer("account:A-1");
  first.set_page_size(2);
  v1::GetTimelineResponse page;
  ASSERT_TRUE(Get(first, page).ok());
  const Case cases[] = {
      {"A-1", 10, "", grpc::StatusCode::INVALID_ARGUMENT, "customer"},
      {"account:A-1", -1, "", grpc::StatusCode::INVALID_ARGUMENT, "page_size"},
      {"account:A-1", 10, "not a token", grpc::StatusCode::INVALID_ARGUMENT, "page_token"},
      // A token belongs to the listing it came from.
      {"account:A-2", 2, page.next_page_token(), grpc::StatusCode::INVALID_ARGUMENT, "page_token"},
      {"account:A-404", 10, "", grpc::StatusCode::NOT_FOUND, "account:A-404"},
      {"customer:404", 10, "", grpc::StatusCode::NOT_FOUND, "customer:404"},
  };
  for (const Case& c : cases) {
    v1::GetTimelineRequest request;
    request.set_customer(c.customer);
    request.set_page_size(c.page_size);
    request.set_page_token(c.page_token);
    v1::GetTimelineResponse response;
    grpc::Status status = Get(request, response);
    EXPECT_EQ(status.error_code(), c.code) << c.customer << " " << c.page_size;
    EXPECT_NE(status.error_message().find(c.message), std::string::npos) << status.error_message();
  }
}

}  // namespace
}  // namespace propbridge::testing
