#include "tests/api/api_client.h"

namespace propbridge::testing {

namespace {

constexpr char kResumeKey[] = "propbridge-resume-after-id";

}  // namespace

std::shared_ptr<grpc::Channel> ChannelTo(const std::string& address, bool own) {
  grpc::ChannelArguments args;
  if (own) {
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  }
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

WatchCall::WatchCall(v1::TimelineService::Stub& stub, const v1::WatchTimelineRequest& request,
                     std::chrono::seconds timeout) {
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  reader = stub.WatchTimeline(&context, request);
}

bool WatchCall::Read(std::size_t count) {
  v1::WatchTimelineResponse response;
  for (std::size_t i = 0; i < count; ++i) {
    if (!reader->Read(&response)) return false;
    received.push_back(response.event());
  }
  return true;
}

grpc::Status WatchCall::ReadToEnd() {
  while (Read(1)) {
  }
  return reader->Finish();
}

std::optional<std::int64_t> WatchCall::ResumeId() const {
  const auto& trailers = context.GetServerTrailingMetadata();
  auto found = trailers.find(kResumeKey);
  if (found == trailers.end()) return std::nullopt;
  return std::stoll(std::string(found->second.data(), found->second.size()));
}

std::vector<std::int64_t> Ids(const std::vector<v1::TimelineEvent>& events) {
  std::vector<std::int64_t> ids;
  ids.reserve(events.size());
  for (const auto& event : events) ids.push_back(event.id());
  return ids;
}

}  // namespace propbridge::testing
