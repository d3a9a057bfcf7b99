#include "daemon/api/customer_service.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "daemon/api/customer_ref.h"
#include "daemon/api/event_messages.h"
#include "daemon/api/request_filter.h"
#include "daemon/api/status.h"
#include "daemon/identity/unit_address.h"

namespace propbridge::api {
namespace {

constexpr std::size_t kMaxCommunityBytes = 200;

double Share(std::int64_t part, std::int64_t whole) {
  return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

// A community as the store names it in canonical units; empty stays empty (every community).
Result<std::string> CheckCommunity(const std::string& community) {
  if (community.empty()) return std::string();
  if (community.size() > kMaxCommunityBytes) {
    return InvalidArgument("community is longer than " + std::to_string(kMaxCommunityBytes) +
                           " bytes");
  }
  auto normalized = identity::NormalizeCommunity(community);
  if (!normalized.ok()) return InvalidArgument("community: " + normalized.status().message());
  return normalized;
}

// The outreach page token: the id of the last customer of the previous page, in decimal.
std::string OutreachToken(std::int64_t after_customer) { return std::to_string(after_customer); }

Result<std::int64_t> ReadOutreachToken(const std::string& token) {
  std::int64_t customer = 0;
  const char* end = token.data() + token.size();
  auto [stop, error] = std::from_chars(token.data(), end, customer);
  if (error != std::errc() || stop != end || customer <= 0 || token.front() == '0') {
    return InvalidArgument(
        "page_token is not a next_page_token of ListOutreach; pass it back unchanged, or leave "
        "it empty for the first page");
  }
  return customer;
}

// One scan's unary call. It waits in the scan queue without holding a gRPC thread and runs on
// one of the queue's, or is refused at once when the queue is full. When the call ends early
// (the client cancels, its deadline passes, the server shuts down), a scan still waiting is
// withdrawn and one running is stopped. Deletes itself when the call is done.
class ScanCall final : public grpc::ServerUnaryReactor {
 public:
  // `scan` fills the call's response; it runs on a thread of `queue`.
  using Scan = std::function<Status(std::stop_token)>;

  // `client` (AccessControl::ShareholderOf) has a share of the queue's places.
  static grpc::ServerUnaryReactor* Start(ScanQueue& queue, std::string_view method,
                                         const std::string& client, Scan scan) {
    auto* call = new ScanCall(queue, std::move(scan));
    // The call cannot be done (and deleted) before this returns it to gRPC.
    call->ticket_ = queue.Submit([call] { return call->Run(); }, client);
    if (!call->ticket_) {
      const ScanLimits limits = queue.limits();
      if (queue.HasShare(client)) {
        call->Finish(ToGrpc(ResourceExhausted(
            std::string(method) + " refused: " + client + " has " +
            std::to_string(limits.max_per_client) +
            " scans (ListOutreach, GetCommunityFigures) running or waiting, the most one caller "
            "may, half of [api] scan_threads and scan_queue; retry once one has answered")));
        return call;
      }
      call->Finish(ToGrpc(ResourceExhausted(
          std::string(method) + " refused: " + std::to_string(limits.threads) +
          " scans (ListOutreach, GetCommunityFigures) are running and " +
          std::to_string(limits.max_waiting) +
          " waiting, the most the daemon allows ([api] scan_threads, scan_queue); retry in a "
          "few seconds")));
    }
    return call;
  }

  void OnCancel() override {
    if (ticket_ && queue_.Withdraw(*ticket_)) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the call ended while its scan waited"));
      return;
    }
    stop_.request_stop();
  }

  void OnDone() override { delete this; }

 private:
  ScanCall(ScanQueue& queue, Scan scan) : queue_(queue), scan_(std::move(scan)) {}

  // The scan, and then the answer; finishing is the last use of this call, which may be
  // deleted from then on.
  ScanQueue::Answer Run() {
    const Status status = scan_(stop_.get_token());
    return [this, status] { Finish(ToGrpc(status)); };
  }

  ScanQueue& queue_;
  const Scan scan_;
  std::stop_source stop_;
  std::optional<ScanQueue::Ticket> ticket_;  // none: refused
};

std::int64_t Whole(std::chrono::microseconds d, std::chrono::microseconds unit) {
  return std::max<std::int64_t>(0, d / unit);
}

std::string Hours(std::chrono::microseconds d) {
  return std::to_string(Whole(d, std::chrono::hours(1))) + " h";
}

std::string Days(std::chrono::microseconds d) {
  const std::int64_t days = Whole(d, std::chrono::days(1));
  return std::to_string(days) + (days == 1 ? " day" : " days");
}

std::string AndMore(std::size_t more, std::string_view what) {
  if (more == 0) return "";
  return ", and " + std::to_string(more) + " more " + std::string(what);
}

void ToProto(const store::StepFigures& figures, v1::Step step, v1::StepSummary& out) {
  out.set_step(step);
  out.set_events(figures.events);
  out.set_proactive(figures.proactive);
  out.set_proactive_share(Share(figures.proactive, figures.events));
  if (figures.first) SetTimestamp(*figures.first, *out.mutable_first_at());
  if (figures.last) SetTimestamp(*figures.last, *out.mutable_last_at());
}

}  // namespace

void SetDuration(std::chrono::microseconds d, google::protobuf::Duration& out) {
  // Seconds and nanos carry the same sign, as Duration requires.
  out.set_seconds(d.count() / 1'000'000);
  out.set_nanos(static_cast<int>(d.count() % 1'000'000) * 1000);
}

void ToProto(const store::MergeRecord& merge, v1::MergeRecord& out,
             const auth::PersonalDataRules* mask) {
  // An admin's note may hold a phone number; the cause is an identifier, "phone:<number>".
  auto note = [mask](const std::string& text) {
    return mask != nullptr ? auth::MaskPhoneNumbers(text) : text;
  };
  out.set_id(merge.id);
  SetTimestamp(merge.at, *out.mutable_merged_at());
  out.set_kept(store::CustomerKey(merge.kept));
  out.set_absorbed(store::CustomerKey(merge.absorbed));
  out.set_cause(mask != nullptr ? auth::MaskIdentifier(merge.cause, *mask) : merge.cause);
  out.set_event_id(merge.event_id);
  out.set_actor(merge.actor);
  out.set_reason(note(merge.reason));
  if (merge.undone_at) SetTimestamp(*merge.undone_at, *out.mutable_undone_at());
  out.set_undone_by(merge.undone_by);
  out.set_undone_reason(note(merge.undone_reason));
}

void ToProto(const store::Customer& customer, store::Micros now, v1::Customer& out,
             const auth::PersonalDataRules* mask) {
  out.set_id(store::CustomerKey(customer.id));
  SetTimestamp(customer.created_at, *out.mutable_created_at());
  for (const store::CustomerIdentifier& identifier : customer.identifiers) {
    v1::CustomerIdentifier& id = *out.add_identifiers();
    id.set_type(identifier.id.type);
    id.set_value(mask != nullptr && mask->IsPersonalType(identifier.id.type)
                     ? auth::MaskValue(identifier.id.value)
                     : identifier.id.value);
    id.set_demoted(identifier.demoted);
    SetTimestamp(identifier.first_seen, *id.mutable_first_seen());
  }
  for (const store::OccupancyPeriod& period : customer.occupancy) {
    v1::OccupancyPeriod& p = *out.add_occupancy();
    p.set_unit(period.unit);
    SetTimestamp(period.from, *p.mutable_start_time());
    if (period.to) SetTimestamp(*period.to, *p.mutable_end_time());
    p.set_inferred(period.inferred);
  }
  for (std::size_t i = 0; i < customer.steps.size(); ++i) {
    ToProto(customer.steps[i], static_cast<v1::Step>(v1::STEP_KNOW + i), *out.add_steps());
  }
  for (const store::OpenMatter& matter : customer.open_matters) {
    v1::OpenMatter& m = *out.add_open_matters();
    m.set_matter_id(matter.matter_id);
    m.set_step(static_cast<v1::Step>(matter.step));
    m.set_last_kind(matter.last_kind);
    SetTimestamp(matter.opened_at, *m.mutable_opened_at());
    SetTimestamp(matter.last_at, *m.mutable_last_at());
    m.set_reopened(matter.reopened);
    // A matter opened by an event dated ahead of the clock is not open for a negative time.
    SetDuration(std::max(now - matter.opened_at, std::chrono::microseconds::zero()),
                *m.mutable_age());
  }
  if (customer.complaint_resolution_median) {
    SetDuration(*customer.complaint_resolution_median, *out.mutable_complaint_resolution_median());
  }
  if (customer.last_proactive_contact) {
    SetTimestamp(*customer.last_proactive_contact, *out.mutable_last_proactive_contact());
  }
  for (const store::MergeRecord& merge : customer.merges) {
    ToProto(merge, *out.add_merges(), mask);
  }
}

void ToProto(const store::OutreachItem& item, v1::OutreachItem& out) {
  out.set_customer(store::CustomerKey(item.customer));
  out.set_reason(static_cast<v1::OutreachReason>(item.reason));
  out.set_detail(OutreachDetail(item));
  out.set_community(item.community);
  SetTimestamp(item.since, *out.mutable_since());
}

std::string OutreachDetail(const store::OutreachItem& item) {
  switch (item.reason) {
    case store::OutreachReason::kComplaintPastSla:
      return "complaint " + item.matter_id + " open " + Hours(item.elapsed) + " (SLA " +
             Hours(item.threshold) + ")" + AndMore(item.more_matters, "past the SLA");
    case store::OutreachReason::kNewOccupantNotWelcomed:
      return "moved into " + item.unit + " " + Days(item.elapsed) +
             " ago, no proactive KNOW contact since (window " + Days(item.threshold) + ")";
    case store::OutreachReason::kNoProactiveContact: {
      const std::string quiet = " (quiet period " + Days(item.threshold) + ")";
      if (item.never_contacted) {
        return "no proactive contact ever, first seen " + Days(item.elapsed) + " ago" + quiet;
      }
      return "no proactive contact for " + Days(item.elapsed) + quiet;
    }
    case store::OutreachReason::kMatterReopened:
      return "matter " + item.matter_id + " reopened " + Days(item.elapsed) +
             " ago and still open" + AndMore(item.more_matters, "reopened");
    case store::OutreachReason::kUnspecified:
      break;
  }
  return "";
}

grpc::ServerUnaryReactor* CustomerService::GetCustomer(grpc::CallbackServerContext* context,
                                                       const v1::GetCustomerRequest* request,
                                                       v1::GetCustomerResponse* response) {
  return FinishUnary(context, Get(*request, access_.MaskFor(*context), *response));
}

grpc::ServerUnaryReactor* CustomerService::FindCustomers(grpc::CallbackServerContext* context,
                                                         const v1::FindCustomersRequest* request,
                                                         v1::FindCustomersResponse* response) {
  return FinishUnary(context, Find(*request, access_.MaskFor(*context), *response));
}

grpc::ServerUnaryReactor* CustomerService::ListOutreach(grpc::CallbackServerContext* context,
                                                        const v1::ListOutreachRequest* request,
                                                        v1::ListOutreachResponse* response) {
  auto query = OutreachQueryFor(*request);
  if (!query.ok()) return FinishUnary(context, query.status());
  return ScanCall::Start(scans_, "ListOutreach", access_.ShareholderOf(*context),
                         [this, query = std::move(*query), response](std::stop_token stop) {
                           return Outreach(query, std::move(stop), *response);
                         });
}

grpc::ServerUnaryReactor* CustomerService::GetCommunityFigures(
    grpc::CallbackServerContext* context, const v1::GetCommunityFiguresRequest* request,
    v1::GetCommunityFiguresResponse* response) {
  auto community = CheckCommunity(request->community());
  if (!community.ok()) return FinishUnary(context, community.status());
  return ScanCall::Start(scans_, "GetCommunityFigures", access_.ShareholderOf(*context),
                         [this, community = std::move(*community), response](std::stop_token stop) {
                           return Figures(community, std::move(stop), *response);
                         });
}

void CustomerService::UseOptions(CustomerServiceOptions options) {
  scans_.SetLimits(options.scans);
  options_.Replace(std::move(options));
}

Status CustomerService::Get(const v1::GetCustomerRequest& request,
                            const auth::PersonalDataRules* mask,
                            v1::GetCustomerResponse& response) {
  auto id = ResolveCustomerRef(store_, request.customer(), "customer", *options_.Get()->identity);
  if (!id.ok()) return id.status();
  const store::Micros now = store::MicrosNow();
  auto customer = store_.ReadCustomer(*id, now);
  if (!customer.ok()) return customer.status();
  if (!*customer) return NotFound("no customer is known by '" + request.customer() + "'");
  ToProto(**customer, now, *response.mutable_customer(), mask);
  return Status::Ok();
}

Status CustomerService::Find(const v1::FindCustomersRequest& request,
                             const auth::PersonalDataRules* mask,
                             v1::FindCustomersResponse& response) {
  auto identifier = ParseCustomerRef(request.identifier(), "identifier", *options_.Get()->identity);
  if (!identifier.ok()) return identifier.status();
  auto ids = store_.FindCustomers(*identifier);
  if (!ids.ok()) return ids.status();
  if (ids->size() > kMaxFoundCustomers) ids->resize(kMaxFoundCustomers);
  const store::Micros now = store::MicrosNow();
  for (std::int64_t id : *ids) {
    auto customer = store_.ReadCustomer(id, now);
    if (!customer.ok()) return customer.status();
    if (*customer) ToProto(**customer, now, *response.add_customers(), mask);
  }
  return Status::Ok();
}

Result<store::OutreachQuery> CustomerService::OutreachQueryFor(
    const v1::ListOutreachRequest& request) const {
  auto page_size =
      CheckPageSize(request.page_size(), kDefaultOutreachPageSize, kMaxOutreachPageSize);
  if (!page_size.ok()) return page_size.status();
  auto community = CheckCommunity(request.community());
  if (!community.ok()) return community.status();

  store::OutreachQuery query;
  query.rules = options_.Get()->outreach;
  query.now = store::MicrosNow();
  query.community = std::move(*community);
  query.limit = *page_size;
  for (int reason : request.reasons()) {
    if (reason == v1::OUTREACH_REASON_UNSPECIFIED || !v1::OutreachReason_IsValid(reason)) {
      return InvalidArgument("reasons: " + std::to_string(reason) +
                             " is not a reason; use COMPLAINT_PAST_SLA, NEW_OCCUPANT_NOT_WELCOMED, "
                             "NO_PROACTIVE_CONTACT or MATTER_REOPENED, or none for every reason");
    }
    query.reasons.push_back(static_cast<store::OutreachReason>(reason));
  }
  if (!request.page_token().empty()) {
    auto after = ReadOutreachToken(request.page_token());
    if (!after.ok()) return after.status();
    query.after_customer = *after;
  }
  return query;
}

Status CustomerService::Outreach(const store::OutreachQuery& query, std::stop_token stop,
                                 v1::ListOutreachResponse& response) {
  auto page = store_.ReadOutreach(query, std::move(stop));
  if (!page.ok()) return page.status();
  for (const store::OutreachItem& item : page->items) ToProto(item, *response.add_items());
  // The store's page may stop short of page_size customers (it bounds its work); the token
  // goes on from where it stopped, and the last page has none.
  if (page->next_after_customer != 0) {
    response.set_next_page_token(OutreachToken(page->next_after_customer));
  }
  return Status::Ok();
}

Status CustomerService::Figures(const std::string& community, std::stop_token stop,
                                v1::GetCommunityFiguresResponse& response) {
  auto figures = store_.ReadCommunityFigures(community, store::MicrosNow(), std::move(stop));
  if (!figures.ok()) return figures.status();
  if (!community.empty() && figures->empty()) {
    return NotFound("no unit of community '" + community + "' is known");
  }
  for (const store::CommunityFigures& f : *figures) {
    v1::CommunityFigures& out = *response.add_communities();
    out.set_community(f.community);
    out.set_customers(f.customers);
    for (std::size_t i = 0; i < f.customers_reached.size(); ++i) {
      v1::StepReach& reach = *out.add_steps();
      reach.set_step(static_cast<v1::Step>(v1::STEP_KNOW + i));
      reach.set_customers(f.customers_reached[i]);
    }
    out.set_events(f.events);
    out.set_proactive(f.proactive);
    out.set_proactive_share(Share(f.proactive, f.events));
    if (f.complaint_resolution_median) {
      SetDuration(*f.complaint_resolution_median, *out.mutable_complaint_resolution_median());
    }
  }
  return Status::Ok();
}

}  // namespace propbridge::api
