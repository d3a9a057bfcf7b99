#include "daemon/supervisor/emit_gate.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>

namespace propbridge::supervisor {

std::string_view FaultKindName(FaultKind kind) {
  switch (kind) {
    case FaultKind::kBatchRecords:
      return "batch_records";
    case FaultKind::kBatchBytes:
      return "batch_bytes";
    case FaultKind::kRate:
      return "rate";
    case FaultKind::kRecordTooLarge:
      return "record_too_large";
    case FaultKind::kProtocol:
      return "protocol";
  }
  return "unknown";
}

EmitGate::EmitGate(std::string source, ingest::Normalizer normalizer,
                   const config::PluginLimits& limits, ingest::Pipeline& pipeline)
    : source_(std::move(source)),
      limits_(limits),
      pipeline_(pipeline),
      normalizer_(std::make_shared<const ingest::Normalizer>(std::move(normalizer))),
      tokens_(static_cast<double>(limits.max_events_per_second)),
      refilled_(std::chrono::steady_clock::now()) {}

Status EmitGate::CheckLimits(const sdk::Batch& batch, FaultKind& kind) {
  std::size_t events = batch.events.size() + batch.rejected.size();
  if (events > limits_.max_batch_events) {
    kind = FaultKind::kBatchRecords;
    return ResourceExhausted("a batch of " + std::to_string(events) +
                             " records is over the limit of " +
                             std::to_string(limits_.max_batch_events) + "; emit smaller batches");
  }
  if (std::size_t bytes = wire::BatchBytes(batch); bytes > limits_.max_batch_bytes) {
    kind = FaultKind::kBatchBytes;
    return ResourceExhausted("a batch of " + std::to_string(bytes) +
                             " bytes is over the limit of " +
                             std::to_string(limits_.max_batch_bytes) + "; emit smaller batches");
  }
  if (limits_.max_events_per_second > 0) {
    // A token bucket holding at most one second's worth of events.
    sync::MutexLock lock(mu_);
    auto now = std::chrono::steady_clock::now();
    double rate = static_cast<double>(limits_.max_events_per_second);
    tokens_ =
        std::min(rate, tokens_ + rate * std::chrono::duration<double>(now - refilled_).count());
    refilled_ = now;
    if (static_cast<double>(events) > tokens_) {
      kind = FaultKind::kRate;
      return ResourceExhausted("over the limit of " +
                               std::to_string(limits_.max_events_per_second) +
                               " events a second; emit again later");
    }
    tokens_ -= static_cast<double>(events);
  }
  return Status::Ok();
}

void EmitGate::Submit(sdk::Batch batch, std::function<void(Status)> done) {
  FaultKind over = FaultKind::kBatchRecords;
  if (Status allowed = CheckLimits(batch, over); !allowed.ok()) {
    RecordFault(over, allowed.message());
    done(allowed);
    return;
  }
  events_emitted_ += batch.events.size();
  std::shared_ptr<const ingest::Normalizer> normalizer;
  {
    sync::MutexLock lock(mu_);
    ++in_flight_;
    normalizer = normalizer_;
  }
  // The callback holds the normaliser until the pipeline is done with the batch.
  const ingest::Normalizer& normalize = *normalizer;
  pipeline_.Submit(
      normalize, std::move(batch),
      [this, done = std::move(done), normalizer = std::move(normalizer)](Status status) {
        done(std::move(status));
        sync::MutexLock lock(mu_);
        if (--in_flight_ == 0) idle_.notify_all();
      });
}

void EmitGate::SetNormalizer(ingest::Normalizer normalizer) {
  auto next = std::make_shared<const ingest::Normalizer>(std::move(normalizer));
  sync::MutexLock lock(mu_);
  normalizer_ = std::move(next);
}

Status EmitGate::SubmitAndWait(sdk::Batch batch) {
  std::promise<Status> stored;
  std::future<Status> outcome = stored.get_future();
  Submit(std::move(batch), [&stored](Status status) { stored.set_value(std::move(status)); });
  return outcome.get();
}

void EmitGate::RecordFault(FaultKind kind, const std::string& what) {
  ++faults_;
  ++faults_by_kind_[static_cast<std::size_t>(kind)];
  sync::MutexLock lock(mu_);
  auto now = std::chrono::steady_clock::now();
  if (now - last_fault_log_ < std::chrono::seconds(1)) {
    ++faults_unlogged_;
    return;
  }
  if (faults_unlogged_ > 0) {
    spdlog::warn("[{}] fault: {} ({} more since the last line; {} in all)", source_, what,
                 faults_unlogged_, faults_.load());
  } else {
    spdlog::warn("[{}] fault: {} ({} in all)", source_, what, faults_.load());
  }
  faults_unlogged_ = 0;
  last_fault_log_ = now;
}

FaultCounts EmitGate::faults_by_kind() const {
  FaultCounts counts{};
  for (std::size_t i = 0; i < kFaultKinds; ++i) counts[i] = faults_by_kind_[i];
  return counts;
}

wire::BatchLimits EmitGate::PartLimits() const {
  wire::BatchLimits limits{limits_.max_batch_events, limits_.max_batch_bytes};
  if (limits_.max_events_per_second > 0) {
    limits.max_records =
        std::min(limits.max_records, static_cast<std::size_t>(limits_.max_events_per_second));
  }
  return limits;
}

void EmitGate::WaitIdle() {
  sync::MutexLock lock(mu_);
  lock.Wait(idle_, [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return in_flight_ == 0; });
}

}  // namespace propbridge::supervisor
