// What one WatchTimeline stream sends and when, without gRPC: TimelineWatch (timeline_watch.h)
// carries it over a call, and a test can drive it through a sink of its own.
//
// It first reads what the store holds after the client's after_id, page by page, then
// subscribes to the change feed and goes live. Stored and live events are both sent in id order
// and only if their id is beyond the last one queued, so the seam has no gap and no duplicate.
// Memory is bounded: a client that falls more than `buffer_limit` events behind is ended with
// RESOURCE_EXHAUSTED and the id to resume after, which is the last event it received: the
// status goes out only after the write in flight, and names that write if it went out. A watch
// of one customer follows them through merges and splits: each event from the feed is selected
// against whomever the name the watch was opened with led to when the event was written, that
// is under the event's merge_generation (an event committed before a merge but published with
// it is still its old customer's). Finding them again reads the store, which the feed's thread
// (the ingest writer) must never wait for: an event written under a generation later than the
// last finding is held back, in order with those after it, until the watch has found its
// customer again on another thread. An event whose generation the watch has found them at is
// selected exactly. One written between two findings (more than one merge or split came
// before one lookup) is not known exactly, and is sent only if its customer is one of the two
// found and it shows the name: it carries the identifier, or, for a "customer:<id>" name, it
// is stored under that id. So another customer's events are never sent, at the price of
// missing, in that rare case, some that the name led to only between the two findings.
// Thread-safe (the call and the feed call in from any thread).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <vector>

#include "daemon/api/scan_queue.h"
#include "daemon/feed/change_feed.h"
#include "daemon/store/store.h"
#include "daemon/sync/mutex.h"
#include "propbridge/sdk/status.h"

namespace propbridge::api {

// Whom a watch's name led to at one store::MergeGeneration.
struct CustomerFound {
  std::uint64_t generation = 0;  // settled (store::MergesSettled)
  std::int64_t customer = 0;     // 0: nobody was known by the name
};

// Whom `name` names now, and the MergeGeneration that answer is exact for: the generation read
// before and after the lookup is the same and settled, or the lookup runs again. Reads the
// store; never call it on the feed's thread.
Result<CustomerFound> FindCustomerExactly(store::Store& store, const identity::Identifier& name);

struct WatchSelection {
  // 0 for every customer, unless `awaiting` is set; else the customer last found, whose stored
  // events a catch-up reads.
  std::int64_t customer = 0;
  // A customer not known yet: the first event stored with this identifier names it.
  std::optional<identity::Identifier> awaiting;
  // How the customer is found again after a merge or a split: the name the client gave, or
  // "customer:<id>" for a unit, which names whoever lives there rather than one customer.
  std::optional<identity::Identifier> found_by;
  // Whom found_by led to, at each generation the watch found them, oldest first; the last is
  // the latest finding. Earlier ones are kept while events written under them may still come
  // from the feed, at most kMaxFindings in all.
  std::vector<CustomerFound> found;
  store::TimelineFilter filter;
  std::optional<std::int64_t> after_id;  // unset: from now on
};

struct WatchLimits {
  std::size_t buffer_limit = 1000;  // events queued for one stream
  std::size_t catch_up_page = 500;  // events read from the store at a time
  // A write the client has not taken for this long, when the buffer overflows, means the
  // client stopped reading: the stream ends with RESOURCE_EXHAUSTED. A client that reads on
  // is moved back to reading the store instead, however large the burst.
  std::chrono::milliseconds stall_timeout{1000};
};

// How many findings a selection keeps: older ones are dropped first, which can only make the
// watch miss events, never send another customer's.
inline constexpr std::size_t kMaxFindings = 16;

// Whether `event`, from the feed, belongs to the selected customer as the header comment
// says, learning the customer from the event when the selection awaits one. Events must come
// in id order: findings that only older events could need are dropped. The filter is applied
// apart.
bool SelectsCustomer(WatchSelection& selection, const store::Event& event);

// Whether `event` was written under a generation beyond the selection's latest finding, so
// that whose it is waits until the customer is found again.
bool FoundTooEarlyFor(const WatchSelection& selection, const store::Event& event);

// The selection's customer, known now as `customer` at `generation` (settled); the selection
// follows them by found_by from now on, by "customer:<id>" when it has no name.
void LearnCustomer(WatchSelection& selection, std::int64_t customer, std::uint64_t generation);

// Whom the selection's name led to at `found.generation`, which is beyond every earlier
// finding.
void FoundAgain(WatchSelection& selection, const CustomerFound& found);

// Where a WatchStream's events and its end go: the client's call. The stream calls Send and
// End with its own lock held, so they must return quickly and never call back into the stream.
class WatchSink {
 public:
  virtual ~WatchSink() = default;

  // Starts writing `event` to the client; it is the only write in flight until the stream's
  // WriteDone. `event` is valid during the call only.
  virtual void Send(const store::Event& event) = 0;

  // Ends the call with `status`, once, with no write in flight. `resume_after_id` is set when
  // the client fell behind: the last event it received, the one to resume after.
  virtual void End(const Status& status, std::optional<std::int64_t> resume_after_id) = 0;

  // After the stream's Done, once nothing of the stream runs any more: the sink may destroy
  // the stream, and itself, in this call. Called once, without the stream's lock.
  virtual void Release() = 0;
};

class WatchStream final : private feed::ChangeFeed::Subscriber {
 public:
  // `sink`, `store`, `feed` and `lookups` must outlive the stream. When the feed brings
  // events that wait for a read of the store, the read runs on `lookups`, which must have room
  // for a job of every open watch.
  WatchStream(WatchSink& sink, store::Store& store, feed::ChangeFeed& feed, ScanQueue& lookups,
              WatchSelection selection, WatchLimits limits);

  // Starts streaming, or ends at once with `refusal` when it is not OK. Called once, first.
  void Start(const Status& refusal) ABSL_LOCKS_EXCLUDED(mu_);
  // The write the stream started went out to the client (`ok`), or the call broke.
  void WriteDone(bool ok) ABSL_LOCKS_EXCLUDED(mu_);
  // The client cancelled the call.
  void Cancel() ABSL_LOCKS_EXCLUDED(mu_);
  // The call is over (after End): nothing more comes from it. The sink's Release follows, in
  // this call or once a read on `lookups` has left.
  void Done() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // On the feed's thread: selects and queues what it can without the store, holds back the
  // rest for Pump, and never reads the store.
  void OnEvents(std::span<const feed::SharedEvent> events) override ABSL_LOCKS_EXCLUDED(mu_);

  // Runs Pump unless one runs or is queued already (that one takes up what the caller brings).
  void Continue() ABSL_LOCKS_EXCLUDED(mu_);
  // Once this thread has claimed pumping_: does what reads the store, with mu_ released while
  // it reads, then starts the next write. In order: finds the customer again after a merge,
  // selects the events the feed held back meanwhile, and reads the next page while catching
  // up. Runs on the call's threads or on lookups_, never on the feed's. Releases the stream
  // when it leaves after Done.
  void Pump() ABSL_LOCKS_EXCLUDED(mu_);
  // Queues Pump on lookups_, unless one runs or is queued.
  void ScheduleLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether a merge or a split was committed since the followed customer was last found, so
  // that they are found again before the next catch-up read or held event.
  bool MergesMovedLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues those of `events` that the watch selects, in order: to send when live, else beside
  // the store's pages while catching up. With `may_stop`, stops at the first event written
  // after the latest finding (FoundTooEarlyFor) and returns how many it took; without, takes
  // them all.
  std::size_t SelectLocked(std::span<const feed::SharedEvent> events, bool may_stop)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts the next write if one can go.
  bool WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the call with `status` once no write is in flight.
  void FinishLocked(const Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FallBehindLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After more than buffer_limit events arrived: back to reading the store (keeping what is
  // queued), or FallBehindLocked when the client stopped reading.
  void OverflowLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool StalledLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // With no write in flight: sends the final status, naming the resume id if the client fell
  // behind.
  void SendStatusLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  WatchSink& sink_;
  store::Store& store_;
  feed::ChangeFeed& feed_;
  ScanQueue& lookups_;
  const WatchLimits limits_;

  sync::Mutex mu_;
  // Its customer is learned when awaited, and found again after merges.
  WatchSelection selection_ ABSL_GUARDED_BY(mu_);
  bool registered_ ABSL_GUARDED_BY(mu_) = false;  // with the feed, for good once subscribed
  bool subscribed_ ABSL_GUARDED_BY(mu_) = false;  // taking the feed's events (else the store's)
  bool live_ ABSL_GUARDED_BY(mu_) = false;        // caught up: pending_ is fed by the feed alone
  std::deque<feed::SharedEvent> pending_ ABSL_GUARDED_BY(mu_);  // to send, in id order
  std::deque<feed::SharedEvent> arrived_ ABSL_GUARDED_BY(mu_);  // from the feed, catching up
  // From the feed, in order, from the first written after the latest finding, until the
  // customer is found again.
  std::vector<feed::SharedEvent> held_ ABSL_GUARDED_BY(mu_);
  bool pumping_ ABSL_GUARDED_BY(mu_) = false;  // a Pump runs, or is queued on lookups_
  std::optional<ScanQueue::Ticket> queued_ ABSL_GUARDED_BY(mu_);  // that Pump, until it starts
  bool done_ ABSL_GUARDED_BY(mu_) = false;  // Done came: the last to leave releases the stream
  std::int64_t last_queued_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::int64_t last_sent_id_ ABSL_GUARDED_BY(mu_) = 0;  // the last event whose write went out
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  std::int64_t writing_id_ ABSL_GUARDED_BY(mu_) = 0;  // the event in flight, while writing_
  std::chrono::steady_clock::time_point write_started_ ABSL_GUARDED_BY(mu_);
  // No more writes start; the status goes once writing_ is false.
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool fell_behind_ ABSL_GUARDED_BY(mu_) = false;
  Status final_status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace propbridge::api
