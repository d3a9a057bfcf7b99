#include "daemon/api/timeline_watch.h"

#include <algorithm>
#include <cctype>
#include <string>

#include "daemon/api/event_messages.h"
#include "daemon/api/status.h"

namespace propbridge::api {

std::string ClientOf(const grpc::CallbackServerContext& context) {
  return PeerAddress(context.peer());
}

std::string PeerAddress(std::string_view peer) {
  // "ipv4:10.0.0.7:50000", "ipv6:[::1]:50000" (the brackets may come URI-encoded, %5B %5D);
  // anything else ("unix:/run/x.sock") names no port.
  const bool ipv4 = peer.starts_with("ipv4:");
  if (!ipv4 && !peer.starts_with("ipv6:")) return std::string(peer);
  const std::size_t colon = peer.rfind(':');
  const std::string_view address = peer.substr(0, colon);
  const std::string_view port = peer.substr(colon + 1);
  const bool ends_address =
      ipv4 ? address.size() > 4 : address.ends_with("]") || address.ends_with("%5D");
  const bool digits = !port.empty() && std::all_of(port.begin(), port.end(), [](unsigned char c) {
    return std::isdigit(c) != 0;
  });
  return std::string(ends_address && digits ? address : peer);
}

WatchSlots::Slot& WatchSlots::Slot::operator=(Slot&& other) noexcept {
  if (this != &other) {
    Release();
    slots_ = std::exchange(other.slots_, nullptr);
    client_ = std::move(other.client_);
  }
  return *this;
}

void WatchSlots::Slot::Release() {
  if (slots_ != nullptr) std::exchange(slots_, nullptr)->Give(client_);
}

namespace {

std::size_t ShareOf(std::size_t max_open, std::size_t max_per_client) {
  return max_per_client != 0 ? max_per_client : std::max<std::size_t>(1, max_open / 4);
}

}  // namespace

WatchSlots::WatchSlots(std::size_t max_open, std::size_t max_per_client)
    : max_open_(max_open), max_per_client_(ShareOf(max_open, max_per_client)) {}

void WatchSlots::SetLimits(std::size_t max_open, std::size_t max_per_client) {
  sync::MutexLock lock(mu_);
  max_open_ = max_open;
  max_per_client_ = ShareOf(max_open, max_per_client);
}

std::size_t WatchSlots::max_per_client() const {
  sync::MutexLock lock(mu_);
  return max_per_client_;
}

Result<WatchSlots::Slot> WatchSlots::Take(const std::string& client) {
  sync::MutexLock lock(mu_);
  auto it = per_client_.find(client);
  const std::size_t own = it == per_client_.end() ? 0 : it->second;
  if (own >= max_per_client_) {
    return ResourceExhausted("this client (" + client + ") has " + std::to_string(own) +
                             " watches open, the most one client may have ([api] "
                             "max_watches_per_client); close one of them first");
  }
  if (open_ >= max_open_) {
    return ResourceExhausted("too many watches are open (" + std::to_string(max_open_) +
                             ", [api] max_watches); close one or try again later");
  }
  ++open_;
  if (it == per_client_.end()) it = per_client_.emplace(client, 0).first;
  ++it->second;
  return Slot(this, client);
}

void WatchSlots::Give(const std::string& client) {
  sync::MutexLock lock(mu_);
  --open_;
  auto it = per_client_.find(client);
  if (--it->second == 0) per_client_.erase(it);
}

TimelineWatch::TimelineWatch(grpc::CallbackServerContext* context, store::Store& store,
                             feed::ChangeFeed& feed, ScanQueue& lookups, WatchSelection selection,
                             WatchLimits limits, WatchSlots::Slot slot, const Status& refusal,
                             const auth::PersonalDataRules* mask)
    : context_(context),
      slot_(std::move(slot)),
      mask_(mask),
      stream_(*this, store, feed, lookups, std::move(selection), limits) {
  stream_.Start(refusal);
}

// The one place where a stored event becomes what the client receives.
void TimelineWatch::Send(const store::Event& event) {
  ToProto(event, *response_.mutable_event(), mask_);
  StartWrite(&response_);
}

void TimelineWatch::End(const Status& status, std::optional<std::int64_t> resume_after_id) {
  if (resume_after_id) {
    context_->AddTrailingMetadata("propbridge-resume-after-id", std::to_string(*resume_after_id));
  }
  Finish(ToGrpc(status));
}

}  // namespace propbridge::api
