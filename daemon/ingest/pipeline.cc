#include "daemon/ingest/pipeline.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <future>

namespace propbridge::ingest {
namespace {

std::size_t Weight(const sdk::Batch& batch) {
  return std::max<std::size_t>(1, batch.events.size() + batch.rejected.size());
}

constexpr const char* kClosed = "the daemon is shutting down; emit again after restart";

}  // namespace

Pipeline::Pipeline(store::Store& store, PipelineOptions options, feed::ChangeFeed* feed)
    : store_(store), options_(options), feed_(feed), writer_([this] { WriterLoop(); }) {}

std::size_t Pipeline::queued_events() const {
  sync::MutexLock lock(mu_);
  return queued_events_;
}

SourceCounts Pipeline::CountsOf(const std::string& source) const {
  sync::MutexLock lock(counts_mu_);
  auto it = counts_.find(source);
  return it == counts_.end() ? SourceCounts{} : it->second;
}

std::map<std::string, SourceCounts> Pipeline::AllCounts() const {
  sync::MutexLock lock(counts_mu_);
  return counts_;
}

Pipeline::~Pipeline() { Close(); }

Status Pipeline::Submit(const Normalizer& normalizer, sdk::Batch batch) {
  std::promise<Status> stored;
  std::future<Status> done = stored.get_future();
  Submit(normalizer, std::move(batch), [&stored](Status status) { stored.set_value(status); });
  return done.get();
}

void Pipeline::Submit(const Normalizer& normalizer, sdk::Batch batch,
                      std::function<void(Status)> done) {
  {
    sync::MutexLock lock(mu_);
    std::size_t weight = Weight(batch);
    lock.Wait(has_room_, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return closed_ || queued_events_ == 0 || queued_events_ + weight <= options_.queue_capacity;
    });
    if (!closed_) {
      queue_.push_back(Pending{&normalizer, std::move(batch), std::move(done)});
      queued_events_ += weight;
      done = nullptr;
    }
  }
  if (done) {
    done(Unavailable(kClosed));
    return;
  }
  has_work_.notify_one();
}

void Pipeline::Ping(std::function<void(Status)> done) {
  {
    sync::MutexLock lock(mu_);
    if (!closed_) {
      queue_.push_back(Pending{nullptr, {}, std::move(done)});
      done = nullptr;
    }
  }
  if (done) {
    done(Unavailable(kClosed));
    return;
  }
  has_work_.notify_one();
}

void Pipeline::Close() {
  {
    sync::MutexLock lock(mu_);
    closed_ = true;
  }
  has_room_.notify_all();
  has_work_.notify_all();
  if (writer_.joinable()) writer_.join();
}

void Pipeline::WriterLoop() {
  std::vector<Pending> group;
  std::vector<std::function<void(Status)>> pings;
  while (true) {
    {
      sync::MutexLock lock(mu_);
      lock.Wait(has_work_,
                [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return closed_ || !queue_.empty(); });
      if (queue_.empty()) return;  // closed and drained
      std::size_t taken = 0;
      while (!queue_.empty()) {
        Pending& next = queue_.front();
        if (next.normalizer == nullptr) {
          pings.push_back(std::move(next.done));
        } else if (group.empty() || taken + Weight(next.batch) <= options_.max_group_events) {
          taken += Weight(next.batch);
          group.push_back(std::move(next));
        } else {
          break;
        }
        queue_.pop_front();
      }
      queued_events_ -= taken;
    }
    has_room_.notify_all();
    if (!group.empty()) CommitGroup(group);
    group.clear();
    // Each ping was queued behind batches that are now committed.
    for (auto& ping : pings) ping(Status::Ok());
    pings.clear();
  }
}

void Pipeline::CommitGroup(std::vector<Pending>& group) {
  store::Micros now = store::MicrosNow();
  std::vector<store::Batch> batches;
  std::vector<IdentifierProblems> problems(group.size());
  batches.reserve(group.size());
  for (std::size_t i = 0; i < group.size(); ++i) {
    batches.push_back(group[i].normalizer->Normalize(std::move(group[i].batch), now, &problems[i]));
  }
  const auto began = std::chrono::steady_clock::now();
  std::vector<store::BatchOutcome> outcomes = store_.Write(batches);
  stats_.commit_seconds.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count());
  std::vector<store::Event> committed;
  for (std::size_t i = 0; i < group.size(); ++i) {
    const store::BatchOutcome& outcome = outcomes[i];
    store::Batch& batch = batches[i];
    stats_.batches++;
    if (outcome.status.ok()) {
      stats_.events_stored += outcome.inserted;
      stats_.duplicates += outcome.duplicates;
      stats_.quarantined += batch.quarantined.size();
      {
        sync::MutexLock lock(counts_mu_);
        SourceCounts& counts = counts_[batch.source];
        counts.events_stored += outcome.inserted;
        counts.quarantined += batch.quarantined.size();
        counts.duplicates += outcome.duplicates;
        counts.identifier_problems.unreadable += problems[i].unreadable;
        counts.identifier_problems.placeholders += problems[i].placeholders;
      }
      for (std::size_t e = 0; feed_ != nullptr && e < outcome.ids.size(); ++e) {
        if (outcome.ids[e] == 0) continue;
        batch.events[e].id = outcome.ids[e];
        batch.events[e].customer = outcome.customers[e];
        batch.events[e].merge_generation = outcome.merge_generations[e];
        committed.push_back(std::move(batch.events[e]));
      }
      if (!batch.quarantined.empty()) {
        spdlog::warn("[{}] quarantined {} record(s); first: {}: {}", batch.source,
                     batch.quarantined.size(), batch.quarantined.front().origin,
                     batch.quarantined.front().reason);
      }
    } else {
      stats_.failed_batches++;
      spdlog::error("[{}] batch of {} event(s) not stored: {}", batch.source, batch.events.size(),
                    outcome.status.message());
    }
    group[i].done(outcome.status);
  }
  // Batches commit in order, so their new ids increase through `committed`.
  if (feed_ != nullptr) feed_->Publish(std::move(committed));
}

}  // namespace propbridge::ingest
