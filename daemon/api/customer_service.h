// propbridge.v1.CustomerService on gRPC's callback API: customers as the store resolves them,
// read on gRPC's threads; the outreach list and the communities' figures, which scan many
// customers, run on a ScanQueue of the service's own. Thread-safe; the store must outlive the
// service, and the server must be shut down before the service is destroyed.
#pragma once

#include <google/protobuf/duration.pb.h>

#include <chrono>
#include <memory>
#include <stop_token>
#include <string>

#include "daemon/api/access.h"
#include "daemon/api/scan_queue.h"
#include "daemon/identity/identifier.h"
#include "daemon/outreach/rules.h"
#include "daemon/store/customer.h"
#include "daemon/store/store.h"
#include "daemon/sync/replaceable.h"
#include "propbridge/v1/customer.grpc.pb.h"

namespace propbridge::api {

inline constexpr std::size_t kDefaultOutreachPageSize = 50;
inline constexpr std::size_t kMaxOutreachPageSize = 500;
// FindCustomers answers with at most this many customers (a unit's latest occupants).
inline constexpr std::size_t kMaxFoundCustomers = 50;

struct CustomerServiceOptions {
  // How a request's customer reference is read; shared with the store's resolution.
  std::shared_ptr<const identity::IdentityRules> identity =
      std::make_shared<const identity::IdentityRules>(identity::IdentityRules::Defaults());
  // When a customer needs a contact ([outreach]).
  outreach::Rules outreach;
  // ListOutreach and GetCommunityFigures: how many run and wait at once.
  ScanLimits scans;
};

class CustomerService final : public v1::CustomerService::CallbackService {
 public:
  // A caller without personal data (`access`) reads customers' personal identifiers masked.
  CustomerService(store::Store& store, CustomerServiceOptions options, const AccessControl& access)
      : store_(store), options_(options), access_(access), scans_(options.scans) {}

  // New options (a reload) for the calls that come next; scans already queued keep their
  // rules, and the scan threads stay as many as they started.
  void UseOptions(CustomerServiceOptions options);

  grpc::ServerUnaryReactor* GetCustomer(grpc::CallbackServerContext* context,
                                        const v1::GetCustomerRequest* request,
                                        v1::GetCustomerResponse* response) override;
  grpc::ServerUnaryReactor* FindCustomers(grpc::CallbackServerContext* context,
                                          const v1::FindCustomersRequest* request,
                                          v1::FindCustomersResponse* response) override;
  grpc::ServerUnaryReactor* ListOutreach(grpc::CallbackServerContext* context,
                                         const v1::ListOutreachRequest* request,
                                         v1::ListOutreachResponse* response) override;
  grpc::ServerUnaryReactor* GetCommunityFigures(grpc::CallbackServerContext* context,
                                                const v1::GetCommunityFiguresRequest* request,
                                                v1::GetCommunityFiguresResponse* response) override;

 private:
  Status Get(const v1::GetCustomerRequest& request, const auth::PersonalDataRules* mask,
             v1::GetCustomerResponse& response);
  Status Find(const v1::FindCustomersRequest& request, const auth::PersonalDataRules* mask,
              v1::FindCustomersResponse& response);
  // The store's query for a request, checked before the scan is queued.
  Result<store::OutreachQuery> OutreachQueryFor(const v1::ListOutreachRequest& request) const;
  // The scans, on a thread of scans_.
  Status Outreach(const store::OutreachQuery& query, std::stop_token stop,
                  v1::ListOutreachResponse& response);
  Status Figures(const std::string& community, std::stop_token stop,
                 v1::GetCommunityFiguresResponse& response);

  store::Store& store_;
  sync::Replaceable<CustomerServiceOptions> options_;
  const AccessControl& access_;
  // Last: its threads run scans that use everything above.
  ScanQueue scans_;
};

// Store customer data -> API messages; `now` dates the open matters' ages.
// With `mask` (a caller without personal data): identifiers of personal types masked, in the
// customer's identifiers and in what caused a merge, and phone numbers in admins' notes.
void ToProto(const store::Customer& customer, store::Micros now, v1::Customer& out,
             const auth::PersonalDataRules* mask);
void ToProto(const store::MergeRecord& merge, v1::MergeRecord& out,
             const auth::PersonalDataRules* mask);
void SetDuration(std::chrono::microseconds d, google::protobuf::Duration& out);
void ToProto(const store::OutreachItem& item, v1::OutreachItem& out);
// An outreach item's facts in words, for a person: "complaint cmp:C-1 open 30 h (SLA 24 h)".
std::string OutreachDetail(const store::OutreachItem& item);

}  // namespace propbridge::api
