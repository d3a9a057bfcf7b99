// propbridge.v1.TimelineService on gRPC's callback API. Reads go straight to the store's
// reader connections. Thread-safe; the store must outlive the service.
#pragma once

#include "daemon/store/store.h"
#include "propbridge/v1/timeline.grpc.pb.h"

namespace propbridge::api {

inline constexpr int kDefaultPageSize = 50;
inline constexpr int kMaxPageSize = 1000;

class TimelineService final : public v1::TimelineService::CallbackService {
 public:
  explicit TimelineService(store::Store& store) : store_(store) {}

  grpc::ServerUnaryReactor* GetTimeline(grpc::CallbackServerContext* context,
                                        const v1::GetTimelineRequest* request,
                                        v1::GetTimelineResponse* response) override;

 private:
  Status Read(const v1::GetTimelineRequest& request, v1::GetTimelineResponse& response);

  store::Store& store_;
};

// Store event -> API message.
void ToProto(const store::Event& event, v1::TimelineEvent& out);

}  // namespace propbridge::api
