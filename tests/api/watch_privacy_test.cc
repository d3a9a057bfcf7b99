// What a watch sends is what GetTimeline returns, field by field, for every event of every
// customer: the real daemon with the real billing and homeservice plugins on their bundled
// samples, whose events carry different sets of attributes (names on some rows and not on
// others, notes, amounts, workers). A message reused from one event to the next must not carry
// one customer's personal data into another customer's event.
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "plugins/homeservice/sample/vendor_api_server.h"
#include "propbridge/v1/admin.grpc.pb.h"
#include "tests/api/api_daemon.h"
#include "tests/integration/billing_fixture.h"
#include "tests/support/daemon_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_until.h"

namespace propbridge::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kVendorToken = "test-token";

TEST(WatchPrivacy, EveryWatchedEventEqualsItsStoredCopyAcrossCustomers) {
  TempDir dir;
  std::string error;
  auto vendor = homeservice::sample::VendorApiServer::Start(kVendorToken, 0, error);
  ASSERT_TRUE(vendor) << error;
  auto orders = homeservice::sample::LoadChangeLog(HOMESERVICE_SAMPLE_ORDERS, error);
  ASSERT_TRUE(orders) << error;
  const std::string end_of_orders = std::to_string(orders->size());
  vendor->Append(std::move(*orders));
  fs::create_directories(dir / "inbox");
  std::vector<fs::path> exports;
  for (const auto& file : fs::directory_iterator(BILLING_SAMPLES)) {
    exports.push_back(file.path().filename());
    fs::copy_file(file.path(), dir / "inbox" / exports.back());
  }
  const std::string homeservice =
      std::string("[plugins.homeservice]\nlibrary = \"") + HOMESERVICE_PLUGIN +
      "\"\ntime_zone = \"Asia/Shanghai\"\n"
      "[plugins.homeservice.settings]\nbase_url = \"" +
      vendor->BaseUrl() + "\"\napi_token = \"" + kVendorToken + "\"\npoll_interval_ms = 100\n";
  auto daemon = DaemonProcess::Start(
      dir.path(), BillingDaemonConfig(dir.path(), "settle_ms = 0\n", homeservice), dir / "data",
      error);
  ASSERT_TRUE(daemon) << error;
  auto stub = daemon->TimelineStub();

  // Every customer's watch from the start, until both sources have delivered everything.
  v1::WatchTimelineRequest request;
  request.set_after_id(0);
  WatchCall watch(*stub, request);
  std::map<std::string, std::map<std::int64_t, v1::TimelineEvent>> stored;  // by customer
  std::size_t compared = 0;
  std::set<std::string> customers;
  std::set<std::string> sources;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (sources.size() < 2 || watch.received.size() < 60) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline)
        << watch.received.size() << " events watched\n"
        << daemon->Log();
    ASSERT_TRUE(watch.Read(1)) << daemon->Log();
    sources.insert(watch.received.back().source());
  }
  // Both plugins are through their samples once billing has archived (or rejected) every
  // export, which it does after the file's last batch is durable, and homeservice has asked
  // for the orders after the last one, which it does after the last page is durable. Then
  // the watch has every stored event to send.
  const bool finished = WaitUntil(
      [&] {
        for (const fs::path& name : exports) {
          if (!fs::exists(dir / "inbox" / "archive" / name) &&
              !fs::exists(dir / "inbox" / "rejected" / name)) {
            return false;
          }
        }
        for (const auto& request : vendor->Requests()) {
          if (request.cursor == end_of_orders) return true;
        }
        return false;
      },
      60s, 50ms);
  ASSERT_TRUE(finished) << daemon->Log();
  auto admin = v1::AdminService::NewStub(
      grpc::CreateChannel(daemon->address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 10s);
  v1::ListPluginsResponse plugins;
  ASSERT_TRUE(admin->ListPlugins(&context, {}, &plugins).ok());
  std::size_t total = 0;
  for (const auto& plugin : plugins.plugins()) total += plugin.events_stored();
  ASSERT_GE(total, watch.received.size());
  ASSERT_TRUE(watch.Read(total - watch.received.size())) << daemon->Log();
  watch.context.TryCancel();
  (void)watch.ReadToEnd();

  google::protobuf::util::MessageDifferencer differ;
  std::string difference;
  differ.ReportDifferencesToString(&difference);
  for (const v1::TimelineEvent& watched : watch.received) {
    auto& copies = stored[watched.customer()];
    if (copies.empty()) {
      for (auto& event : ReadWholeTimeline(*stub, watched.customer())) {
        copies.emplace(event.id(), std::move(event));
      }
    }
    auto copy = copies.find(watched.id());
    ASSERT_NE(copy, copies.end()) << "event " << watched.id() << " is not on " << watched.customer()
                                  << "'s timeline";
    difference.clear();
    EXPECT_TRUE(differ.Compare(copy->second, watched))
        << "event " << watched.id() << " of " << watched.customer() << ": " << difference;
    customers.insert(watched.customer());
    ++compared;
  }
  EXPECT_GE(customers.size(), 5u);
  EXPECT_EQ(compared, watch.received.size());
}

}  // namespace
}  // namespace propbridge::testing
