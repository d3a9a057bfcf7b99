#include "daemon/api/timeline_service.h"

#include "daemon/api/page_token.h"
#include "daemon/api/status.h"

namespace propbridge::api {
namespace {

constexpr std::size_t kMaxCustomerBytes = 512;

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

}  // namespace

void ToProto(const store::Event& e, v1::TimelineEvent& out) {
  out.set_id(e.id);
  out.set_customer(e.customer);
  out.set_step(static_cast<v1::Step>(e.step));
  out.set_kind(e.kind);
  SetTimestamp(e.occurred_at, *out.mutable_occurred_at());
  SetTimestamp(e.ingested_at, *out.mutable_ingested_at());
  out.set_source(e.source);
  out.set_source_event_id(e.source_event_id);
  out.set_initiative(static_cast<v1::Initiative>(e.initiative));
  out.set_contact(e.contact);
  out.set_channel(e.channel);
  out.set_matter_id(e.matter_id);
  out.set_matter_state(static_cast<v1::MatterState>(e.matter_state));
  out.set_summary(e.summary);
  auto& attributes = *out.mutable_attributes();
  for (const auto& [key, value] : e.attributes) attributes[key] = value;
}

grpc::ServerUnaryReactor* TimelineService::GetTimeline(grpc::CallbackServerContext* context,
                                                       const v1::GetTimelineRequest* request,
                                                       v1::GetTimelineResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpc(Read(*request, *response)));
  return reactor;
}

Status TimelineService::Read(const v1::GetTimelineRequest& request,
                             v1::GetTimelineResponse& response) {
  if (request.customer().empty()) {
    return InvalidArgument("customer is required: a customer key such as 'account:A-1001'");
  }
  if (request.customer().size() > kMaxCustomerBytes) {
    return InvalidArgument("customer is longer than 512 bytes");
  }
  if (request.page_size() < 0 || request.page_size() > kMaxPageSize) {
    return InvalidArgument("page_size must be between 0 (the default, 50) and 1000, not " +
                           std::to_string(request.page_size()));
  }
  store::TimelineQuery query;
  query.customer = request.customer();
  std::size_t page_size = request.page_size() == 0 ? kDefaultPageSize : request.page_size();
  query.limit = page_size + 1;  // one more tells whether another page follows
  if (!request.page_token().empty()) {
    auto cursor = DecodePageToken(request.customer(), request.page_token());
    if (!cursor.ok()) return cursor.status();
    query.after = *cursor;
  }
  auto events = store_.ReadTimeline(query);
  if (!events.ok()) return events.status();
  if (events->empty() && request.page_token().empty()) {
    return NotFound("customer '" + request.customer() + "' has no events on the timeline");
  }
  bool more = events->size() > page_size;
  if (more) events->resize(page_size);
  for (const store::Event& e : *events) ToProto(e, *response.add_events());
  if (more) {
    const store::Event& last = events->back();
    response.set_next_page_token(EncodePageToken(request.customer(), {last.occurred_at, last.id}));
  }
  return Status::Ok();
}

}  // namespace propbridge::api
