// propbridge.v1.TimelineService on gRPC's callback API. Reads go straight to the store's
// reader connections; watches follow the change feed. Thread-safe; the store, the feed and
// the tokens must outlive the service, and the server must be shut down before the service is
// destroyed.
#pragma once

#include <memory>

#include "daemon/api/access.h"
#include "daemon/api/event_messages.h"
#include "daemon/api/page_token.h"
#include "daemon/api/scan_queue.h"
#include "daemon/api/timeline_watch.h"
#include "daemon/feed/change_feed.h"
#include "daemon/store/store.h"
#include "daemon/sync/replaceable.h"
#include "propbridge/v1/timeline.grpc.pb.h"

namespace propbridge::api {

struct TimelineServiceOptions {
  int max_watches = 256;
  // Watches one client (ClientOf) may have open; 0: a quarter of max_watches, at least 1.
  int max_watches_per_client = 0;
  WatchLimits watch;
  // How the customer of a request is read; shared with the store's resolution.
  std::shared_ptr<const identity::IdentityRules> identity =
      std::make_shared<const identity::IdentityRules>(identity::IdentityRules::Defaults());
};

// GetTimeline takes and answers wire bytes (gRPC's raw method): its answer is written by
// TimelinePage straight from the store's rows rather than built as a message tree. A caller
// without personal data (`access`) reads it masked, in both methods.
class TimelineService final : public v1::TimelineService::WithRawCallbackMethod_GetTimeline<
                                  v1::TimelineService::CallbackService> {
 public:
  TimelineService(store::Store& store, feed::ChangeFeed& feed, const PageTokens& tokens,
                  TimelineServiceOptions options, const AccessControl& access)
      : store_(store),
        feed_(feed),
        tokens_(tokens),
        options_(options),
        access_(access),
        watches_(static_cast<std::size_t>(options.max_watches),
                 static_cast<std::size_t>(options.max_watches_per_client)),
        lookups_({.threads = kLookupThreads,
                  .max_waiting = static_cast<std::size_t>(options.max_watches)}) {}

  // New options (a reload) for the calls and watches that come next; the watches open go on
  // as they started.
  void UseOptions(TimelineServiceOptions options);

  grpc::ServerUnaryReactor* GetTimeline(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;

  grpc::ServerWriteReactor<v1::WatchTimelineResponse>* WatchTimeline(
      grpc::CallbackServerContext* context, const v1::WatchTimelineRequest* request) override;

 private:
  Status Read(const v1::GetTimelineRequest& request, TimelinePage& page);

  // Two: a lookup that waits for a reader connection does not hold back every other watch's.
  static constexpr std::size_t kLookupThreads = 2;

  store::Store& store_;
  feed::ChangeFeed& feed_;
  const PageTokens& tokens_;
  sync::Replaceable<TimelineServiceOptions> options_;
  const AccessControl& access_;
  WatchSlots watches_;
  // Where a watch reads the store for events the feed brought, which the writer thread that
  // publishes them must not wait for: its customer found again after a merge. A job at most
  // for each open watch, so one always has room. Last: its jobs use everything above.
  ScanQueue lookups_;
};

}  // namespace propbridge::api
