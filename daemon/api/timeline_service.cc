#include "daemon/api/timeline_service.h"

#include <string_view>

#include "daemon/api/customer_ref.h"
#include "daemon/api/request_filter.h"
#include "daemon/api/status.h"

namespace propbridge::api {
void SetTimestamp(store::Micros t, google::protobuf::Timestamp& out) {
  auto micros = t.time_since_epoch().count();
  auto seconds = micros / 1'000'000;
  auto rest = micros % 1'000'000;
  if (rest < 0) {
    rest += 1'000'000;
    --seconds;
  }
  out.set_seconds(seconds);
  out.set_nanos(static_cast<int>(rest * 1000));
}

namespace {

void SetText(std::string_view text, std::string* out) { out->assign(text.data(), text.size()); }

// For store::Event and store::EventView alike.
template <typename E>
void FillProto(const E& e, v1::TimelineEvent& out) {
  out.set_id(e.id);
  out.set_customer(store::CustomerKey(e.customer));
  out.set_step(static_cast<v1::Step>(e.step));
  SetText(e.kind, out.mutable_kind());
  SetTimestamp(e.occurred_at, *out.mutable_occurred_at());
  SetTimestamp(e.ingested_at, *out.mutable_ingested_at());
  SetText(e.source, out.mutable_source());
  SetText(e.source_event_id, out.mutable_source_event_id());
  out.set_initiative(static_cast<v1::Initiative>(e.initiative));
  out.set_contact(e.contact);
  SetText(e.channel, out.mutable_channel());
  SetText(e.matter_id, out.mutable_matter_id());
  out.set_matter_state(static_cast<v1::MatterState>(e.matter_state));
  SetText(e.summary, out.mutable_summary());
  auto& attributes = *out.mutable_attributes();
  for (const auto& [key, value] : e.attributes) SetText(value, &attributes[key]);
}

}  // namespace

void ToProto(const store::Event& e, v1::TimelineEvent& out) { FillProto(e, out); }
void ToProto(const store::EventView& e, v1::TimelineEvent& out) { FillProto(e, out); }

grpc::ServerUnaryReactor* TimelineService::GetTimeline(grpc::CallbackServerContext* context,
                                                       const v1::GetTimelineRequest* request,
                                                       v1::GetTimelineResponse* response) {
  return FinishUnary(context, Read(*request, *response));
}

Status TimelineService::Read(const v1::GetTimelineRequest& request,
                             v1::GetTimelineResponse& response) {
  auto customer = ResolveCustomerRef(store_, request.customer(), "customer", *options_.identity);
  if (!customer.ok()) return customer.status();
  auto page_size = CheckPageSize(request.page_size(), kDefaultPageSize, kMaxPageSize);
  if (!page_size.ok()) return page_size.status();
  auto filter = ToStoreFilter(request.filter());
  if (!filter.ok()) return filter.status();
  if (!v1::TimelineOrder_IsValid(request.order())) {
    return InvalidArgument("order must be NEWEST_FIRST, OLDEST_FIRST or unspecified");
  }

  store::TimelineQuery query;
  query.customer = *customer;
  query.limit = *page_size + 1;  // one more tells whether another page follows
  query.oldest_first = request.order() == v1::TIMELINE_ORDER_OLDEST_FIRST;
  query.filter = std::move(*filter);
  const std::string listing = "timeline\n" + std::to_string(query.customer) + "\n" +
                              (query.oldest_first ? "asc" : "desc") + "\n" +
                              query.filter.Fingerprint();
  if (!request.page_token().empty()) {
    auto position = tokens_.Decode(listing, request.page_token());
    if (!position.ok()) return position.status();
    query.after = store::TimelineCursor{store::Micros{std::chrono::microseconds{position->time}},
                                        position->id};
  }
  // Straight from the store's rows into the response: no store::Event in between.
  std::size_t rows = 0;
  store::TimelineCursor last;
  auto& events = *response.mutable_events();
  Status read = store_.VisitTimeline(query, [&](const store::EventView& e) {
    if (++rows > *page_size) return;  // the extra row only tells that another page follows
    ToProto(e, *events.Add());
    last = {e.occurred_at, e.id};
  });
  if (!read.ok()) {
    response.Clear();
    return read;
  }
  if (rows > *page_size) {
    response.set_next_page_token(
        tokens_.Encode(listing, {last.occurred_at.time_since_epoch().count(), last.id}));
  }
  return Status::Ok();
}

grpc::ServerWriteReactor<v1::WatchTimelineResponse>* TimelineService::WatchTimeline(
    grpc::CallbackServerContext* context, const v1::WatchTimelineRequest* request) {
  WatchSelection selection;
  Status refusal = Status::Ok();
  if (!request->customer().empty()) {
    auto id = ParseCustomerRef(request->customer(), "customer", *options_.identity);
    if (!id.ok()) {
      refusal = id.status();
    } else if (auto customer = store_.FindCustomer(*id); !customer.ok()) {
      refusal = customer.status();
    } else if (*customer) {
      selection.customer = **customer;
    } else if (id->type == store::kCustomerIdType) {
      refusal = NotFound("no customer is known by '" + request->customer() + "'");
    } else {
      // Not known yet: the watch waits for the first event that names them.
      selection.awaiting = std::move(id).value();
    }
  }
  if (refusal.ok()) {
    auto filter = ToStoreFilter(request->filter());
    if (filter.ok()) {
      selection.filter = std::move(*filter);
    } else {
      refusal = filter.status();
    }
  }
  if (refusal.ok() && request->has_after_id() && request->after_id() < 0) {
    refusal = InvalidArgument("after_id must be 0 or the id of an event received");
  }
  if (request->has_after_id()) selection.after_id = request->after_id();
  if (refusal.ok() && ++active_watches_ > options_.max_watches) {
    refusal = Status(StatusCode::kResourceExhausted, "too many watches are open (" +
                                                         std::to_string(options_.max_watches) +
                                                         "); close one or try again later");
  } else if (!refusal.ok()) {
    ++active_watches_;
  }
  return new TimelineWatch(context, store_, feed_, std::move(selection), options_.watch,
                           active_watches_, refusal);
}

}  // namespace propbridge::api
