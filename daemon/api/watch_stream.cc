#include "daemon/api/watch_stream.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "daemon/store/customer.h"

namespace propbridge::api {

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

WatchStream::WatchStream(WatchSink& sink, store::Store& store, feed::ChangeFeed& feed,
                         ScanQueue& lookups, WatchSelection selection, WatchLimits limits)
    : sink_(sink),
      store_(store),
      feed_(feed),
      lookups_(lookups),
      limits_(limits),
      selection_(std::move(selection)) {}

void WatchStream::Start(const Status& refusal) {
  // Read before mu_ is taken, as the feed's lock is never taken under it.
  const std::int64_t now = feed_.last_id();
  bool live = false;
  {
    sync::MutexLock lock(mu_);
    if (!refusal.ok()) {
      FinishLocked(refusal);
      return;
    }
    // Without an after_id: every event published after subscribing, nothing from the store.
    live = !selection_.after_id;
    live_ = subscribed_ = registered_ = live;
    last_queued_id_ = last_sent_id_ = selection_.after_id.value_or(now);
  }
  if (live) {
    feed_.Subscribe(this);
  } else {
    Continue();
  }
}

void WatchStream::Continue() {
  {
    sync::MutexLock lock(mu_);
    if (pumping_) return;
    pumping_ = true;
  }
  Pump();
}

// The feed's lock is taken before this stream's own (OnEvents), never after: Subscribe is
// called with mu_ released. So is every read of the store, which the feed's thread may be
// waiting for mu_ meanwhile.
void WatchStream::Pump() {
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
        FinishLocked(found.status());
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
      FinishLocked(page.status());
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
  if (last) sink_.Release();
}

void WatchStream::ScheduleLocked() {
  if (pumping_ || finished_) return;
  auto ticket = lookups_.Submit([this] {
    Pump();
    return ScanQueue::Answer();
  });
  if (!ticket) {
    // Not while the queue has room for a job of every watch: nothing can go on without one.
    FinishLocked(Unavailable(
        "the daemon is too busy to follow this customer; watch again after the last event "
        "received"));
    return;
  }
  pumping_ = true;
  queued_ = *ticket;
}

bool WatchStream::MergesMovedLocked() const {
  return selection_.found_by && selection_.customer != 0 &&
         store_.MergeGeneration() != selection_.merges_seen;
}

void WatchStream::SelectLocked(std::span<const feed::SharedEvent> events) {
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

bool WatchStream::WriteNextLocked() {
  if (writing_ || finished_) return writing_;
  if (pending_.empty()) return false;
  const feed::SharedEvent event = std::move(pending_.front());
  pending_.pop_front();
  writing_ = true;
  writing_id_ = event->id;
  write_started_ = std::chrono::steady_clock::now();
  sink_.Send(*event);
  return true;
}

void WatchStream::WriteDone(bool ok) {
  {
    sync::MutexLock lock(mu_);
    writing_ = false;
    if (ok) last_sent_id_ = writing_id_;
    if (finished_) {
      SendStatusLocked();
      return;
    }
    if (!ok) {
      FinishLocked(Status(StatusCode::kUnavailable, "the stream broke"));
      return;
    }
  }
  Continue();
}

void WatchStream::OnEvents(std::span<const feed::SharedEvent> events) {
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

bool WatchStream::StalledLocked() const {
  return writing_ && std::chrono::steady_clock::now() - write_started_ > limits_.stall_timeout;
}

void WatchStream::OverflowLocked() {
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
      last_queued_id_ = writing_ ? writing_id_ : last_sent_id_;
    }
  }
  arrived_.clear();
  held_.clear();
  live_ = false;
  subscribed_ = false;
}

void WatchStream::FallBehindLocked() {
  if (finished_) return;
  fell_behind_ = true;
  // The message and the resume id are filled in by SendStatusLocked.
  FinishLocked(Status(StatusCode::kResourceExhausted, ""));
}

void WatchStream::FinishLocked(const Status& status) {
  if (finished_) return;
  finished_ = true;
  pending_.clear();
  arrived_.clear();
  held_.clear();
  final_status_ = status;
  if (!writing_) SendStatusLocked();
}

void WatchStream::SendStatusLocked() {
  if (!fell_behind_) {
    sink_.End(final_status_, std::nullopt);
    return;
  }
  // Every write has completed, so the client has what it will ever get of this stream up to
  // and including last_sent_id_: resuming after it neither repeats nor loses an event.
  const std::string resume = std::to_string(last_sent_id_);
  sink_.End(ResourceExhausted("the client fell more than " + std::to_string(limits_.buffer_limit) +
                              " events behind; resume with after_id=" + resume),
            last_sent_id_);
}

void WatchStream::Cancel() {
  sync::MutexLock lock(mu_);
  FinishLocked(Status(StatusCode::kCancelled, "the client cancelled the watch"));
}

void WatchStream::Done() {
  feed_.Unsubscribe(this);
  {
    // Nothing comes from the call after Done, and taking the lock waits out a thread still
    // leaving a locked section; but a Pump on lookups_ may still be queued or running.
    sync::MutexLock lock(mu_);
    done_ = true;
    if (queued_ && lookups_.Withdraw(*queued_)) {
      queued_.reset();
      pumping_ = false;
    }
    if (pumping_) return;  // the Pump releases the stream as it leaves
  }
  sink_.Release();
}

}  // namespace propbridge::api
