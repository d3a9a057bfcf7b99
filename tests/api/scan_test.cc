// Scans against the real daemon, on a store large enough that one ListOutreach page takes a
// while: a short call answers while scans run, and scans beyond those that may run and wait
// (the defaults: 2 and 8) are refused at once with RESOURCE_EXHAUSTED.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "propbridge/v1/customer.grpc.pb.h"
#include "tests/api/api_daemon.h"

namespace propbridge::testing {
namespace {

using namespace std::chrono_literals;

// 500 customers of 400 events each, dated from 2026-01-01: every customer is long without a
// proactive contact, so a page of 500 folds all 200,000 events, which takes far longer than
// reading one timeline page.
constexpr int kCustomers = 500;
constexpr int kEventsPerCustomer = 400;
// More than the default scan_threads (2) and scan_queue (8) hold.
constexpr int kScans = 16;

TEST(ApiScans, ShortCallsAnswerWhileScansRunAndScansBeyondTheQueueAreRefused) {
  TempDir dir;
  auto daemon = ApiDaemon::Start(
      dir, SyntheticInstance("many", "count = " + std::to_string(kCustomers * kEventsPerCustomer) +
                                         "\nbatch_size = 5000\ncustomers = " +
                                         std::to_string(kCustomers) + "\n"));
  ASSERT_TRUE(daemon);
  daemon->WaitForCount("account:C" + std::to_string(kCustomers - 1), kEventsPerCustomer);
  auto customers = v1::CustomerService::NewStub(
      grpc::CreateChannel(daemon->process().address(), grpc::InsecureChannelCredentials()));

  std::mutex mu;
  std::condition_variable changed;
  int answered = 0;  // guarded by mu, like the two below
  int listed = 0;
  std::vector<grpc::Status> refused;
  std::vector<std::thread> scans;
  for (int i = 0; i < kScans; ++i) {
    scans.emplace_back([&] {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + 240s);
      v1::ListOutreachRequest request;
      request.set_page_size(500);
      v1::ListOutreachResponse response;
      grpc::Status status = customers->ListOutreach(&context, request, &response);
      std::lock_guard lock(mu);
      ++answered;
      if (status.ok()) {
        ++listed;
        EXPECT_EQ(response.items_size(), kCustomers);
      } else if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
        refused.push_back(status);
      } else {
        ADD_FAILURE() << "ListOutreach: " << status.error_code() << " " << status.error_message();
      }
      changed.notify_all();
    });
  }
  {
    // The first answers are the refusals, while the scans admitted run or wait.
    std::unique_lock lock(mu);
    EXPECT_TRUE(changed.wait_for(lock, 120s, [&] { return answered > 0; }));
  }
  v1::GetTimelineRequest request;
  request.set_customer("account:C7");
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 120s);
  v1::GetTimelineResponse page;
  grpc::Status status = daemon->stub().GetTimeline(&context, request, &page);
  int listed_before_the_page = 0;
  {
    std::lock_guard lock(mu);
    listed_before_the_page = listed;
  }
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(page.events_size(), 50);
  EXPECT_EQ(listed_before_the_page, 0) << "GetTimeline answered only after a scan was done";

  for (std::thread& scan : scans) scan.join();
  EXPECT_EQ(listed + static_cast<int>(refused.size()), kScans);
  EXPECT_GE(refused.size(), 1u) << "every scan was admitted, beyond the 2 running and 8 waiting";
  for (const grpc::Status& refusal : refused) {
    EXPECT_NE(refusal.error_message().find("ListOutreach refused: 2 scans"), std::string::npos)
        << refusal.error_message();
    EXPECT_NE(refusal.error_message().find("retry"), std::string::npos);
  }
}

}  // namespace
}  // namespace propbridge::testing
