#include "daemon/api/timeline_watch.h"

#include <algorithm>
#include <cctype>
#include <string>

#include "daemon/api/event_messages.h"
#include "daemon/api/status.h"
#include "daemon/store/customer.h"

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

WatchSlots::WatchSlots(std::size_t max_open, std::size_t max_per_client)
    : max_open_(max_open),
      max_per_client_(max_per_client != 0 ? max_per_client
                                          : std::max<std::size_t>(1, max_open / 4)) {}

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

bool SelectsCustomer(WatchSelection& selection, const store::Event& event) {
  if (selection.awaiting) {
    const auto& ids = event.identifiers;
    if (std::find(ids.begin(), ids.end(), *selection.awaiting) == ids.end()) return false;
    LearnCustomer(selection, event.customer);
    return true;
  }
  return selection.customer == 0 || event.customer == selection.customer;
}

void LearnCustomer(WatchSelection& selection, std::int64_t customer) {
  selection.customer = customer;
  selection.awaiting.reset();
  if (!selection.found_by) {
    selection.found_by =
        identity::Identifier{std::string(store::kCustomerIdType), std::to_string(customer)};
  }
}

TimelineWatch::TimelineWatch(grpc::CallbackServerContext* context, store::Store& store,
                             feed::ChangeFeed& feed, ScanQueue& lookups, WatchSelection selection,
                             WatchLimits limits, WatchSlots::Slot slot, const Status& refusal,
                             const auth::PersonalDataRules* mask)
    : context_(context),
      store_(store),
      feed_(feed),
      lookups_(lookups),
      limits_(limits),
      slot_(std::move(slot)),
      mask_(mask),
      selection_(std::move(selection)) {
  if (!refusal.ok()) {
    sync::MutexLock lock(mu_);
    FinishLocked(ToGrpc(refusal));
    return;
  }
  if (!selection_.after_id) {
    // From now on: every event published after subscribing, nothing from the store.
    std::int64_t now = feed_.last_id();
    {
      sync::MutexLock lock(mu_);
      live_ = subscribed_ = registered_ = true;
      last_queued_id_ = last_sent_id_ = now;
    }
    feed_.Subscribe(this);
    return;
  }
  last_queued_id_ = last_sent_id_ = *selection_.after_id;
  Continue();
}

void TimelineWatch::Continue() {
  {
    sync::MutexLock lock(mu_);
    if (pumping_) return;
    pumping_ = true;
  }
  Pump();
}

// The feed's lock is taken before this watch's own (OnEvents), never after: Subscribe is
// called with mu_ released. So is every read of the store, which the feed's thread may be
// waiting for mu_ meanwhile.
void TimelineWatch::Pump() {
  sync::MutexLock lock(mu_);
  queued_.reset();
  while (!finished_) {
    if (MergesMovedLocked()) {
      // Rare (merges are), and short: one indexed lookup on a reader.
      const std::uint64_t generation = store_.MergeGeneration();
      const identity::Identifier name = *selection_.found_by;
      lock.Unlock();
      auto found = store_.FindCustomer(name);
      lock.Lock();
      if (!found.ok()) {
        // Like a failed page: the client resumes after the last event it received.
        FinishLocked(ToGrpc(found.status()));
        break;
      }
      selection_.merges_seen = generation;
      if (*found) selection_.customer = **found;
      continue;  // a merge may have come meanwhile
    }
    if (!held_.empty()) {
      SelectLocked(std::exchange(held_, {}));
      if (finished_) break;
    }
    if (WriteNextLocked() || live_) break;

    store::ChangesQuery query;
    query.limit = limits_.catch_up_page;
    query.after_id = last_queued_id_;
    query.customer = selection_.customer;
    query.filter = selection_.filter;
    std::optional<identity::Identifier> awaiting = selection_.awaiting;
    lock.Unlock();
    if (awaiting) {
      // Known by now? Then its stored events are read like any customer's; if not, none is
      // stored yet and the feed will name it.
      auto found = store_.FindCustomer(*awaiting);
      if (found.ok() && *found) {
        query.customer = **found;
        awaiting.reset();
      }
    }
    // Awaiting a customer that has no events yet: nothing to read.
    auto page = awaiting ? Result<std::vector<store::Event>>(std::vector<store::Event>())
                         : store_.ReadChanges(query);
    lock.Lock();
    if (finished_) break;
    if (!page.ok()) {
      FinishLocked(ToGrpc(page.status()));
      break;
    }
    if (!awaiting && selection_.awaiting) LearnCustomer(selection_, query.customer);
    for (store::Event& event : *page) {
      pending_.push_back(std::make_shared<const store::Event>(std::move(event)));
      last_queued_id_ = pending_.back()->id;
    }
    if (page->size() == limits_.catch_up_page) continue;
    if (!subscribed_) {
      // Nearly caught up: from here the feed holds what a read may miss, and one more read
      // closes the gap between the last snapshot and the subscription.
      subscribed_ = true;
      if (!registered_) {
        registered_ = true;
        lock.Unlock();
        feed_.Subscribe(this);
        lock.Lock();
      }
    } else {
      live_ = true;
      for (auto& event : arrived_) {
        if (event->id > last_queued_id_) {
          pending_.push_back(std::move(event));
          last_queued_id_ = pending_.back()->id;
        }
      }
      arrived_.clear();
      if (pending_.size() > limits_.buffer_limit) OverflowLocked();
    }
  }
  pumping_ = false;
  const bool last = done_;
  lock.Unlock();
  if (last) delete this;
}

void TimelineWatch::ScheduleLocked() {
  if (pumping_ || finished_) return;
  auto ticket = lookups_.Submit([this] {
    Pump();
    return ScanQueue::Answer();
  });
  if (!ticket) {
    // Not while the queue has room for a job of every watch: nothing can go on without one.
    FinishLocked(
        ToGrpc(Unavailable("the daemon is too busy to follow this customer; watch "
                           "again after the last event received")));
    return;
  }
  pumping_ = true;
  queued_ = *ticket;
}

bool TimelineWatch::MergesMovedLocked() const {
  return selection_.found_by && selection_.customer != 0 &&
         store_.MergeGeneration() != selection_.merges_seen;
}

void TimelineWatch::SelectLocked(std::span<const feed::SharedEvent> events) {
  auto& into = live_ ? pending_ : arrived_;
  for (const auto& event : events) {
    if (event->id <= last_queued_id_) continue;
    if (!SelectsCustomer(selection_, *event)) continue;
    if (!store::Matches(selection_.filter, *event)) continue;
    into.push_back(event);
    if (live_) last_queued_id_ = event->id;
  }
  if (into.size() > limits_.buffer_limit) OverflowLocked();
}

bool TimelineWatch::WriteNextLocked() {
  if (writing_ || finished_) return writing_;
  if (pending_.empty()) return false;
  ToProto(*pending_.front(), *response_.mutable_event(), mask_);
  pending_.pop_front();
  writing_ = true;
  write_started_ = std::chrono::steady_clock::now();
  StartWrite(&response_);
  return true;
}

void TimelineWatch::OnWriteDone(bool ok) {
  {
    sync::MutexLock lock(mu_);
    writing_ = false;
    if (ok) last_sent_id_ = response_.event().id();
    if (finished_) {
      SendStatusLocked();
      return;
    }
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the stream broke"));
      return;
    }
  }
  Continue();
}

void TimelineWatch::OnEvents(std::span<const feed::SharedEvent> events) {
  sync::MutexLock lock(mu_);
  if (finished_) return;
  if (!subscribed_) {
    // Reading the store after a burst: these events will be read there. A client that
    // stopped reading meanwhile is ended all the same.
    if (StalledLocked()) FallBehindLocked();
    return;
  }
  if (held_.empty() && !MergesMovedLocked()) {
    SelectLocked(events);
    // Live, or back to reading the store after a burst: the next write brings the pump.
    if (live_ || !subscribed_) WriteNextLocked();
    return;
  }
  // Whose they are is known once Pump has found the customer again: until then they wait here,
  // bounded like the queue, and a burst beyond that is read from the store instead.
  for (const auto& event : events) {
    if (event->id > last_queued_id_ && store::Matches(selection_.filter, *event)) {
      held_.push_back(event);
    }
  }
  if (held_.size() > limits_.buffer_limit) OverflowLocked();
  ScheduleLocked();
}

bool TimelineWatch::StalledLocked() const {
  return writing_ && std::chrono::steady_clock::now() - write_started_ > limits_.stall_timeout;
}

void TimelineWatch::OverflowLocked() {
  if (finished_) return;
  if (StalledLocked()) {
    FallBehindLocked();
    return;
  }
  // One group commit can hold more events than the buffer while the client keeps up: keep
  // what fits, and read the rest from the store as the client takes them.
  if (live_) {
    while (pending_.size() > limits_.buffer_limit) pending_.pop_back();
    if (!pending_.empty()) {
      last_queued_id_ = pending_.back()->id;
    } else {
      last_queued_id_ = writing_ ? response_.event().id() : last_sent_id_;
    }
  }
  arrived_.clear();
  held_.clear();
  live_ = false;
  subscribed_ = false;
}

void TimelineWatch::FallBehindLocked() {
  if (finished_) return;
  fell_behind_ = true;
  // The message and the resume id are filled in by SendStatusLocked.
  FinishLocked(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, ""));
}

void TimelineWatch::FinishLocked(const grpc::Status& status) {
  if (finished_) return;
  finished_ = true;
  pending_.clear();
  arrived_.clear();
  held_.clear();
  final_status_ = status;
  if (!writing_) SendStatusLocked();
}

void TimelineWatch::SendStatusLocked() {
  if (fell_behind_) {
    // Every write has completed, so the client has what it will ever get of this stream up
    // to and including last_sent_id_: resuming after it neither repeats nor loses an event.
    const std::string resume = std::to_string(last_sent_id_);
    context_->AddTrailingMetadata("propbridge-resume-after-id", resume);
    final_status_ =
        grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                     "the client fell more than " + std::to_string(limits_.buffer_limit) +
                         " events behind; resume with after_id=" + resume);
  }
  Finish(final_status_);
}

void TimelineWatch::OnCancel() {
  sync::MutexLock lock(mu_);
  FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "the client cancelled the watch"));
}

void TimelineWatch::OnDone() {
  feed_.Unsubscribe(this);
  {
    // No reaction comes after OnDone, and taking the lock waits out a thread still leaving a
    // locked section; but a Pump on lookups_ may still be queued or running.
    sync::MutexLock lock(mu_);
    done_ = true;
    if (queued_ && lookups_.Withdraw(*queued_)) {
      queued_.reset();
      pumping_ = false;
    }
    if (pumping_) return;  // the Pump deletes the watch as it leaves
  }
  delete this;  // and with it, the watch's slot
}

}  // namespace propbridge::api
