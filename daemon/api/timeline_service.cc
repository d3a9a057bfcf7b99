#include "daemon/api/timeline_service.h"

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include <string_view>

#include "daemon/api/customer_ref.h"
#include "daemon/api/request_filter.h"
#include "daemon/api/status.h"

namespace propbridge::api {

grpc::ServerUnaryReactor* TimelineService::GetTimeline(grpc::CallbackServerContext* context,
                                                       const grpc::ByteBuffer* request,
                                                       grpc::ByteBuffer* response) {
  v1::GetTimelineRequest parsed;
  grpc::ByteBuffer request_bytes(*request);  // shares the slices; parsing consumes a buffer
  if (!grpc::SerializationTraits<v1::GetTimelineRequest>::Deserialize(&request_bytes, &parsed)
           .ok()) {
    return FinishUnary(context, InvalidArgument("the request is not a GetTimelineRequest"));
  }
  TimelinePage page(access_.MaskFor(*context));
  Status read = Read(parsed, page);
  if (read.ok()) {
    grpc::Slice bytes(page.bytes());
    *response = grpc::ByteBuffer(&bytes, 1);
  }
  return FinishUnary(context, read);
}

Status TimelineService::Read(const v1::GetTimelineRequest& request, TimelinePage& page) {
  auto who = ParseCustomerRef(request.customer(), "customer", *options_.Get()->identity);
  if (!who.ok()) return who.status();
  auto page_size = CheckPageSize(request.page_size(), kDefaultPageSize, kMaxPageSize);
  if (!page_size.ok()) return page_size.status();
  auto filter = ToStoreFilter(request.filter());
  if (!filter.ok()) return filter.status();
  if (!v1::TimelineOrder_IsValid(request.order())) {
    return InvalidArgument("order must be NEWEST_FIRST, OLDEST_FIRST or unspecified");
  }

  store::TimelineQuery query;
  query.limit = *page_size + 1;  // one more tells whether another page follows
  query.oldest_first = request.order() == v1::TIMELINE_ORDER_OLDEST_FIRST;
  query.filter = std::move(*filter);
  // Bound to the customer as the client names them, not to the id that name leads to now:
  // a walk goes on across a merge, after which the name leads to the customer kept.
  const std::string listing = "timeline\n" + who->Text() + "\n" +
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
  auto customer = store_.VisitTimeline(*who, query, [&](const store::EventView& e) {
    if (++rows > *page_size) return;  // the extra row only tells that another page follows
    page.Add(e);
    last = {e.occurred_at, e.id};
  });
  if (!customer.ok()) return customer.status();
  if (!*customer) return NotFound("no customer is known by '" + request.customer() + "'");
  if (rows > *page_size) {
    page.SetNextPageToken(
        tokens_.Encode(listing, {last.occurred_at.time_since_epoch().count(), last.id}));
  }
  return Status::Ok();
}

void TimelineService::UseOptions(TimelineServiceOptions options) {
  watches_.SetLimits(static_cast<std::size_t>(options.max_watches),
                     static_cast<std::size_t>(options.max_watches_per_client));
  lookups_.SetLimits({.max_waiting = static_cast<std::size_t>(options.max_watches)});
  options_.Replace(std::move(options));
}

grpc::ServerWriteReactor<v1::WatchTimelineResponse>* TimelineService::WatchTimeline(
    grpc::CallbackServerContext* context, const v1::WatchTimelineRequest* request) {
  const std::shared_ptr<const TimelineServiceOptions> options = options_.Get();
  WatchSelection selection;
  Status refusal = Status::Ok();
  if (!request->customer().empty()) {
    auto id = ParseCustomerRef(request->customer(), "customer", *options->identity);
    if (!id.ok()) {
      refusal = id.status();
    } else if (auto found = FindCustomerExactly(store_, *id); !found.ok()) {
      refusal = found.status();
    } else if (id->type == store::kCustomerIdType && found->customer == 0) {
      refusal = NotFound("no customer is known by '" + request->customer() + "'");
    } else {
      // A unit names whoever lives there; the watch follows the customer it named first.
      const bool names_occupant =
          id->type != store::kCustomerIdType &&
          options->identity->RuleFor(id->type).linkage == identity::Linkage::kOccupancy;
      if (!names_occupant) selection.found_by = *id;
      if (found->customer != 0) {
        // Followed from this generation on: a merge committed after it is found again.
        LearnCustomer(selection, found->customer, found->generation);
      } else {
        // Not known yet: the watch waits for the first event that names them.
        selection.awaiting = std::move(id).value();
      }
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
  WatchSlots::Slot slot;
  if (refusal.ok()) {
    // Each caller has a share of the watches; without auth, each host.
    std::string client = access_.ShareholderOf(*context);
    auto taken = watches_.Take(client.empty() ? ClientOf(*context) : client);
    if (taken.ok()) {
      slot = std::move(*taken);
    } else {
      refusal = taken.status();
    }
  }
  return new TimelineWatch(context, store_, feed_, lookups_, std::move(selection), options->watch,
                           std::move(slot), refusal, access_.MaskFor(*context));
}

}  // namespace propbridge::api
