// GetCustomer and FindCustomers served in the test's process over a FakeStore: a customer as
// the store resolves them, under any of their names, before and after an admin's link.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "tests/api/api_server.h"

namespace propbridge::testing {
namespace {

using namespace std::chrono_literals;

class CustomerServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = ApiServer::Start();
    ASSERT_TRUE(server_);
    store::Event paid = AccountEvent("P-1", "A-1", 1, "billing.payment.received");
    paid.identifiers.push_back({"phone", "13800138000"});
    server_->Write("billing", {AccountEvent("C-1", "A-1", 0), paid, AccountEvent("C-2", "A-2", 2)});
  }

  grpc::Status Get(const std::string& customer, v1::Customer* out = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::GetCustomerRequest request;
    request.set_customer(customer);
    v1::GetCustomerResponse response;
    grpc::Status status = server_->customers().GetCustomer(&context, request, &response);
    if (out != nullptr) *out = response.customer();
    return status;
  }

  std::unique_ptr<ApiServer> server_;
};

std::set<std::string> Identifiers(const v1::Customer& customer) {
  std::set<std::string> texts;
  for (const auto& id : customer.identifiers()) texts.insert(id.type() + ":" + id.value());
  return texts;
}

TEST_F(CustomerServiceTest, ACustomerReadsTheSameUnderEachOfTheirNames) {
  v1::Customer by_account;
  ASSERT_TRUE(Get("account:A-1", &by_account).ok());
  EXPECT_EQ(by_account.id(), store::CustomerKey(server_->CustomerOf("A-1")));
  EXPECT_EQ(Identifiers(by_account), (std::set<std::string>{"account:A-1", "phone:13800138000"}));
  v1::Customer by_id;
  ASSERT_TRUE(Get(by_account.id(), &by_id).ok());
  EXPECT_EQ(by_id.id(), by_account.id());
  v1::Customer by_phone;
  ASSERT_TRUE(Get("phone:138 0013 8000", &by_phone).ok()) << "read in any accepted form";
  EXPECT_EQ(by_phone.id(), by_account.id());
}

TEST_F(CustomerServiceTest, AfterALinkEitherNameReadsTheCustomerKeptWithTheMerge) {
  const std::int64_t kept = server_->CustomerOf("A-1");
  ASSERT_TRUE(
      server_->store().LinkCustomers(kept, server_->CustomerOf("A-2"), "ops:test", "one", {}).ok());
  v1::Customer customer;
  ASSERT_TRUE(Get("account:A-2", &customer).ok());
  EXPECT_EQ(customer.id(), store::CustomerKey(kept));
  EXPECT_EQ(Identifiers(customer),
            (std::set<std::string>{"account:A-1", "account:A-2", "phone:13800138000"}));
  ASSERT_EQ(customer.merges_size(), 1);
  EXPECT_EQ(customer.merges(0).actor(), "ops:test");

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 10s);
  v1::FindCustomersRequest request;
  request.set_identifier("account:A-2");
  v1::FindCustomersResponse found;
  ASSERT_TRUE(server_->customers().FindCustomers(&context, request, &found).ok());
  ASSERT_EQ(found.customers_size(), 1);
  EXPECT_EQ(found.customers(0).id(), store::CustomerKey(kept));
}

TEST_F(CustomerServiceTest, ACustomerThatCannotBeReadSaysWhy) {
  EXPECT_EQ(Get("account:A-404").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Get("customer:404").error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::Status status = Get("A-1");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("customer"), std::string::npos) << status.error_message();
}

}  // namespace
}  // namespace propbridge::testing
