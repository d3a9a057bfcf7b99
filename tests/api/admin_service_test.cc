// AdminService served in the test's process over a FakeStore and a FakePluginControl: the
// plugin instances as the daemon reports them and the commands it runs on them, the quarantine
// page by page, and an admin's links and splits.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/api/api_server.h"

namespace propbridge::testing {
namespace {

using namespace std::chrono_literals;

std::vector<api::PluginStatus> Plugins() {
  api::PluginStatus billing;
  billing.name = "billing";
  billing.library = "libpropbridge_billing.so";
  billing.state = v1::PLUGIN_STATE_FAILED;
  billing.last_error = "the inbox is missing";
  billing.events_stored = 12;
  api::PluginStatus legacy;
  legacy.name = "legacy";
  legacy.state = v1::PLUGIN_STATE_DISABLED;
  return {billing, legacy};
}

class AdminServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = ApiServer::Start({}, Plugins());
    ASSERT_TRUE(server_);
  }

  // A context with a deadline, for one call.
  static std::unique_ptr<grpc::ClientContext> Call() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + 10s);
    return context;
  }

  grpc::Status Restart(const std::string& name, v1::RestartPluginResponse* out = nullptr) {
    v1::RestartPluginRequest request;
    request.set_name(name);
    v1::RestartPluginResponse response;
    grpc::Status status = server_->admin().RestartPlugin(Call().get(), request, &response);
    if (out != nullptr) *out = response;
    return status;
  }

  std::unique_ptr<ApiServer> server_;
};

TEST_F(AdminServiceTest, ListsEveryInstanceWithItsLastCheckpoint) {
  server_->Write("billing", {AccountEvent("C-1", "A-1", 0)}, "charges-7.csv");
  v1::ListPluginsResponse response;
  ASSERT_TRUE(server_->admin().ListPlugins(Call().get(), {}, &response).ok());
  ASSERT_EQ(response.plugins_size(), 2);
  const v1::PluginInstance& billing = response.plugins(0);
  EXPECT_EQ(billing.name(), "billing");
  EXPECT_EQ(billing.library(), "libpropbridge_billing.so");
  EXPECT_EQ(billing.state(), v1::PLUGIN_STATE_FAILED);
  EXPECT_EQ(billing.last_error(), "the inbox is missing");
  EXPECT_EQ(billing.events_stored(), 12);
  EXPECT_EQ(billing.last_checkpoint(), "charges-7.csv");
  EXPECT_TRUE(billing.has_last_checkpoint_time());
  EXPECT_EQ(response.plugins(1).state(), v1::PLUGIN_STATE_DISABLED);
  EXPECT_FALSE(response.plugins(1).has_last_checkpoint_time());
}

TEST_F(AdminServiceTest, RestartsAndStopsAnInstanceAndAnswersWithItsNewState) {
  v1::RestartPluginResponse restarted;
  ASSERT_TRUE(Restart("billing", &restarted).ok());
  EXPECT_EQ(restarted.plugin().state(), v1::PLUGIN_STATE_RUNNING);
  EXPECT_EQ(restarted.plugin().restarts(), 1);

  v1::StopPluginRequest request;
  request.set_name("billing");
  v1::StopPluginResponse stopped;
  ASSERT_TRUE(server_->admin().StopPlugin(Call().get(), request, &stopped).ok());
  EXPECT_EQ(stopped.plugin().state(), v1::PLUGIN_STATE_STOPPED);
  EXPECT_EQ(server_->plugins().commands(),
            (std::vector<std::string>{"restart billing", "stop billing"}));
}

TEST_F(AdminServiceTest, ACommandThatCannotRunSaysWhyAndRunsNothing) {
  EXPECT_EQ(Restart("").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Restart("nobody").error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::Status disabled = Restart("legacy");
  EXPECT_EQ(disabled.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(disabled.error_message().find("disabled"), std::string::npos);
  // The empty name never reaches the plugins.
  EXPECT_EQ(server_->plugins().commands(),
            (std::vector<std::string>{"restart nobody", "restart legacy"}));
}

TEST_F(AdminServiceTest, TheQuarantineIsListedNewestFirstPageByPage) {
  store::Batch batch;
  batch.source = "billing";
  for (int i = 1; i <= 5; ++i) {
    store::QuarantineRecord& record = batch.quarantined.emplace_back();
    record.origin = "charges.csv line " + std::to_string(i);
    record.reason = "no account";
    record.raw = "row " + std::to_string(i);
  }
  server_->store().Write({&batch, 1});
  v1::ListQuarantineRequest request;
  request.set_source("billing");
  request.set_page_size(2);
  std::vector<std::string> origins;
  do {
    v1::ListQuarantineResponse response;
    ASSERT_TRUE(server_->admin().ListQuarantine(Call().get(), request, &response).ok());
    for (const auto& record : response.records()) origins.push_back(record.origin());
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  EXPECT_EQ(origins, (std::vector<std::string>{"charges.csv line 5", "charges.csv line 4",
                                               "charges.csv line 3", "charges.csv line 2",
                                               "charges.csv line 1"}));
}

TEST_F(AdminServiceTest, LinksAndSplitsCustomersAsAnAdminAsks) {
  server_->Write("billing", {AccountEvent("C-1", "A-1", 0), AccountEvent("C-2", "A-2", 1)});
  v1::LinkCustomersRequest link;
  link.set_customer("account:A-2");
  link.set_other_customer("account:A-1");
  link.set_reason("one household");
  v1::LinkCustomersResponse linked;
  EXPECT_EQ(server_->admin().LinkCustomers(Call().get(), link, &linked).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT)
      << "without an actor";
  link.set_actor("ops:test");
  ASSERT_TRUE(server_->admin().LinkCustomers(Call().get(), link, &linked).ok());
  EXPECT_EQ(linked.merge().kept(), store::CustomerKey(server_->CustomerOf("A-1")));
  EXPECT_EQ(server_->CustomerOf("A-2"), server_->CustomerOf("A-1"));

  v1::SplitCustomerRequest split;
  split.set_merge_id(linked.merge().id());
  split.set_actor("ops:test");
  split.set_reason("two households");
  v1::SplitCustomerResponse undone;
  ASSERT_TRUE(server_->admin().SplitCustomer(Call().get(), split, &undone).ok());
  EXPECT_TRUE(undone.merge().has_undone_at());
  EXPECT_NE(server_->CustomerOf("A-2"), server_->CustomerOf("A-1"));
}

}  // namespace
}  // namespace propbridge::testing
