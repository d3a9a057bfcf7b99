#include "daemon/api/watch_stream.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "daemon/store/customer.h"

namespace propbridge::api {

namespace {

// Whether `event` shows that the selection's name led to its customer when it was written: it
// carries the identifier, or it is stored under the customer a "customer:<id>" name is (an
// event is stored under a customer that stood alone then, whom their own id named).
bool ShowsName(const WatchSelection& selection, const store::Event& event) {
  const identity::Identifier& name = *selection.found_by;
  if (name.type == store::kCustomerIdType) return name.value == std::to_string(event.customer);
  const auto& ids = event.identifiers;
  return std::find(ids.begin(), ids.end(), name) != ids.end();
}

}  // namespace

Result<CustomerFound> FindCustomerExactly(store::Store& store, const identity::Identifier& name) {
  while (true) {
    const std::uint64_t generation = store.MergeGeneration();
    if (!store::MergesSettled(generation)) {
      // A merge or a split is being committed: it is counted in a moment.
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    auto found = store.FindCustomer(name);
    if (!found.ok()) return found.status();
    if (store.MergeGeneration() == generation) {
      return CustomerFound{.generation = generation, .customer = found->value_or(0)};
    }
  }
}

bool SelectsCustomer(WatchSelection& selection, const store::Event& event) {
  if (selection.awaiting) {
    const auto& ids = event.identifiers;
    if (std::find(ids.begin(), ids.end(), *selection.awaiting) == ids.end()) return false;
    LearnCustomer(selection, event.customer, event.merge_generation);
    return true;
  }
  if (selection.customer == 0) return true;
  auto& findings = selection.found;
  if (findings.empty() || !selection.found_by) return event.customer == selection.customer;
  const std::uint64_t written = event.merge_generation;
  // Later events are written under this generation or a later one: a finding superseded by
  // one at or before it is of no more use.
  while (findings.size() > 1 && findings[1].generation <= written) {
    findings.erase(findings.begin());
  }
  const CustomerFound* before = nullptr;
  const CustomerFound* after = nullptr;
  for (const CustomerFound& found : findings) {
    if (found.generation == written) return event.customer == found.customer;
    if (found.generation > written) {
      after = &found;
      break;
    }
    before = &found;
  }
  // Found only before, after, or around the event's generation: see the header comment.
  const auto was = [&event](const CustomerFound* found) {
    return found != nullptr && found->customer == event.customer;
  };
  return (was(before) || was(after)) && ShowsName(selection, event);
}

bool FoundTooEarlyFor(const WatchSelection& selection, const store::Event& event) {
  return selection.customer != 0 && !selection.found.empty() &&
         event.merge_generation > selection.found.back().generation;
}

void LearnCustomer(WatchSelection& selection, std::int64_t customer, std::uint64_t generation) {
  selection.awaiting.reset();
  if (!selection.found_by) {
    selection.found_by =
        identity::Identifier{std::string(store::kCustomerIdType), std::to_string(customer)};
  }
  FoundAgain(selection, {.generation = generation, .customer = customer});
}

void FoundAgain(WatchSelection& selection, const CustomerFound& found) {
  auto& findings = selection.found;
  while (!findings.empty() && findings.back().generation >= found.generation) {
    findings.pop_back();
  }
  findings.push_back(found);
  if (findings.size() > kMaxFindings) findings.erase(findings.begin());
  // Nobody known by the name any more: catch-up reads stay with the customer last found.
  if (found.customer != 0) selection.customer = found.customer;
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
      const identity::Identifier name = *selection_.found_by;
      lock.Unlock();
      auto found = FindCustomerExactly(store_, name);
      lock.Lock();
      if (!found.ok()) {
        // Like a failed page: the client resumes after the last event it received.
        FinishLocked(found.status());
        break;
      }
      FoundAgain(selection_, *found);
      continue;  // a merge may have come meanwhile
    }
    if (!held_.empty()) {
      // Each was written under a generation the feed had published before this Pump saw the
      // generation unmoved since the latest finding: none is beyond it.
      SelectLocked(std::exchange(held_, {}), /*may_stop=*/false);
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
    std::optional<CustomerFound> learned;
    if (awaiting) {
      // Known by now? Then its stored events are read like any customer's; if not, none is
      // stored yet and the feed will name it.
      auto found = FindCustomerExactly(store_, *awaiting);
      if (found.ok() && found->customer != 0) {
        query.customer = found->customer;
        learned = *found;
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
    if (learned && selection_.awaiting) {
      LearnCustomer(selection_, learned->customer, learned->generation);
    }
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
  return selection_.found_by && selection_.customer != 0 && !selection_.found.empty() &&
         store_.MergeGeneration() != selection_.found.back().generation;
}

std::size_t WatchStream::SelectLocked(std::span<const feed::SharedEvent> events, bool may_stop) {
  auto& into = live_ ? pending_ : arrived_;
  std::size_t taken = 0;
  for (; taken < events.size(); ++taken) {
    const feed::SharedEvent& event = events[taken];
    if (event->id <= last_queued_id_) continue;
    if (may_stop && FoundTooEarlyFor(selection_, *event)) break;
    if (!SelectsCustomer(selection_, *event)) continue;
    if (!store::Matches(selection_.filter, *event)) continue;
    into.push_back(event);
    if (live_) last_queued_id_ = event->id;
  }
  if (into.size() > limits_.buffer_limit) OverflowLocked();
  return taken;
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
  if (held_.empty()) {
    events = events.subspan(SelectLocked(events, /*may_stop=*/true));
    // Live, or back to reading the store after a burst: the next write brings the pump.
    if (live_ || !subscribed_) WriteNextLocked();
    if (events.empty() || !subscribed_ || finished_) return;
  }
  // Whose these are is known once Pump has found the customer again: until then they wait
  // here, bounded like the queue, and a burst beyond that is read from the store instead.
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
