// What the API tests' clients share, whether the API runs in the daemon or in the test: their
// channels, and watch reads.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "propbridge/v1/timeline.grpc.pb.h"

namespace propbridge::testing {

// A channel to `address`; with `own`, on a connection no other channel shares, without HTTP/2
// window growth (BDP probing), so a stream that is not read holds the server's writes back
// after a fixed 64 KiB.
std::shared_ptr<grpc::Channel> ChannelTo(const std::string& address, bool own = false);

// One watch call: its context, its reader and what it received.
struct WatchCall {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::WatchTimelineResponse>> reader;
  std::vector<v1::TimelineEvent> received;

  // Starts the call with a deadline of `timeout`.
  WatchCall(v1::TimelineService::Stub& stub, const v1::WatchTimelineRequest& request,
            std::chrono::seconds timeout = std::chrono::seconds(60));

  // Reads until `count` events more have arrived (true) or the stream ends (false).
  bool Read(std::size_t count);
  // Reads to the end of the stream and returns its status.
  grpc::Status ReadToEnd();
  // The resume id in the trailing metadata, once the call is finished.
  std::optional<std::int64_t> ResumeId() const;
};

std::vector<std::int64_t> Ids(const std::vector<v1::TimelineEvent>& events);

}  // namespace propbridge::testing
