// One WatchTimeline call: a WatchStream (watch_stream.h), which decides what the client gets
// and when, carried over gRPC's callback API; and the places that watches hold, per client and
// in all. Thread-safe (gRPC and the feed call in from any thread); deletes itself when the call
// is done.
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "daemon/api/scan_queue.h"
#include "daemon/api/watch_stream.h"
#include "daemon/auth/personal_data.h"
#include "daemon/feed/change_feed.h"
#include "daemon/store/store.h"
#include "daemon/sync/mutex.h"
#include "propbridge/v1/timeline.grpc.pb.h"

namespace propbridge::api {

// Who a call counts against for the per-client limits: the peer's address without its port
// ("ipv4:127.0.0.1", "ipv6:[::1]"), so that all connections from one host are one client. Once
// clients authenticate, this becomes their identity.
std::string ClientOf(const grpc::CallbackServerContext& context);

// The address of a gRPC peer string: "ipv4:10.0.0.7:50000" -> "ipv4:10.0.0.7",
// "ipv6:[::1]:50000" -> "ipv6:[::1]"; a peer without a port ("unix:/run/x.sock") as it is.
std::string PeerAddress(std::string_view peer);

// The open watches, against a limit for all of them and a smaller one for each client, so
// that one client cannot take every place. Thread-safe; must outlive every Slot it gave.
class WatchSlots {
 public:
  // One watch's place; given back when the Slot is destroyed. An empty Slot holds none.
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& other) noexcept
        : slots_(std::exchange(other.slots_, nullptr)), client_(std::move(other.client_)) {}
    Slot& operator=(Slot&& other) noexcept;
    ~Slot() { Release(); }

   private:
    friend class WatchSlots;
    Slot(WatchSlots* slots, std::string client) : slots_(slots), client_(std::move(client)) {}
    void Release();

    WatchSlots* slots_ = nullptr;
    std::string client_;
  };

  // `max_per_client` 0: a quarter of `max_open`, at least 1.
  WatchSlots(std::size_t max_open, std::size_t max_per_client);

  // New limits (a reload), for the watches that come next: those open stay open, even when
  // there are more of them than the new limits allow.
  void SetLimits(std::size_t max_open, std::size_t max_per_client) ABSL_LOCKS_EXCLUDED(mu_);

  // A place for one more watch of `client`, or RESOURCE_EXHAUSTED saying which limit it hit.
  Result<Slot> Take(const std::string& client) ABSL_LOCKS_EXCLUDED(mu_);

  std::size_t max_per_client() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Give(const std::string& client) ABSL_LOCKS_EXCLUDED(mu_);

  mutable sync::Mutex mu_;
  std::size_t max_open_ ABSL_GUARDED_BY(mu_);
  std::size_t max_per_client_ ABSL_GUARDED_BY(mu_);
  std::size_t open_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, std::size_t, std::less<>> per_client_ ABSL_GUARDED_BY(mu_);
};

class TimelineWatch final : public grpc::ServerWriteReactor<v1::WatchTimelineResponse>,
                            private WatchSink {
 public:
  // Starts streaming `selection`, or finishes at once with `refusal` when it is not OK.
  // The watch holds `slot` (empty when refused) until it is done. When the feed brings events
  // that wait for a read of the store, the read runs on `lookups`, which must have room for a
  // job of every open watch and outlive them all. With `mask` (a caller without personal
  // data), every event is sent masked; it must outlive the watch.
  TimelineWatch(grpc::CallbackServerContext* context, store::Store& store, feed::ChangeFeed& feed,
                ScanQueue& lookups, WatchSelection selection, WatchLimits limits,
                WatchSlots::Slot slot, const Status& refusal, const auth::PersonalDataRules* mask);

  void OnWriteDone(bool ok) override { stream_.WriteDone(ok); }
  void OnCancel() override { stream_.Cancel(); }
  void OnDone() override { stream_.Done(); }

 private:
  // WatchSink: the stream calls these with its lock held, one write at a time.
  void Send(const store::Event& event) override;
  void End(const Status& status, std::optional<std::int64_t> resume_after_id) override;
  void Release() override { delete this; }  // and with it, the watch's slot

  // Constant after construction.
  grpc::CallbackServerContext* const context_;
  const WatchSlots::Slot slot_;
  const auth::PersonalDataRules* const mask_;

  // The write in flight: filled by Send, read by gRPC until the stream's WriteDone.
  v1::WatchTimelineResponse response_;
  // Last: it calls into what is above, from its Start in the constructor on.
  WatchStream stream_;
};

}  // namespace propbridge::api
