// propbridge.v1.TimelineService on gRPC's callback API. Reads go straight to the store's
// reader connections; watches follow the change feed. Thread-safe; the store, the feed and
// the tokens must outlive the service.
#pragma once

#include <atomic>
#include <memory>

#include "daemon/api/arena_messages.h"
#include "daemon/api/page_token.h"
#include "daemon/api/timeline_watch.h"
#include "daemon/feed/change_feed.h"
#include "daemon/store/store.h"
#include "propbridge/v1/timeline.grpc.pb.h"

namespace propbridge::api {

inline constexpr std::size_t kDefaultPageSize = 50;
inline constexpr std::size_t kMaxPageSize = 1000;

struct TimelineServiceOptions {
  int max_watches = 256;
  WatchLimits watch;
  // How the customer of a request is read; shared with the store's resolution.
  std::shared_ptr<const identity::IdentityRules> identity =
      std::make_shared<const identity::IdentityRules>(identity::IdentityRules::Defaults());
};

class TimelineService final : public v1::TimelineService::CallbackService {
 public:
  TimelineService(store::Store& store, feed::ChangeFeed& feed, const PageTokens& tokens,
                  TimelineServiceOptions options)
      : store_(store), feed_(feed), tokens_(tokens), options_(options) {
    SetMessageAllocatorFor_GetTimeline(&page_messages_);
  }

  grpc::ServerUnaryReactor* GetTimeline(grpc::CallbackServerContext* context,
                                        const v1::GetTimelineRequest* request,
                                        v1::GetTimelineResponse* response) override;

  grpc::ServerWriteReactor<v1::WatchTimelineResponse>* WatchTimeline(
      grpc::CallbackServerContext* context, const v1::WatchTimelineRequest* request) override;

 private:
  Status Read(const v1::GetTimelineRequest& request, v1::GetTimelineResponse& response);

  store::Store& store_;
  feed::ChangeFeed& feed_;
  const PageTokens& tokens_;
  const TimelineServiceOptions options_;
  std::atomic<int> active_watches_{0};
  // GetTimeline's request and response, on pooled arenas.
  ArenaMessages<v1::GetTimelineRequest, v1::GetTimelineResponse> page_messages_;
};

// Store event -> API message.
void ToProto(const store::Event& event, v1::TimelineEvent& out);
void ToProto(const store::EventView& event, v1::TimelineEvent& out);
void SetTimestamp(store::Micros t, google::protobuf::Timestamp& out);

}  // namespace propbridge::api
