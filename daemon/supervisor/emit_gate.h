// Where a plugin instance's batches enter the daemon, whichever way the plugin runs: checks
// the instance's limits, counts what it emitted and every fault, and queues the batch on the
// pipeline with the instance's normaliser. A batch over a limit is refused with
// RESOURCE_EXHAUSTED and counted as a fault; nothing of it is stored.
// Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "daemon/config/config.h"
#include "daemon/ingest/normalizer.h"
#include "daemon/ingest/pipeline.h"
#include "daemon/plugin_wire/batch_split.h"
#include "daemon/sync/mutex.h"

namespace propbridge::supervisor {

// What a plugin did wrong short of ending its run, as its faults are counted: a batch over
// max_batch_events or max_batch_bytes, emitting over max_events_per_second, a single record too
// large for any batch, a message of its host that breaks the protocol.
enum class FaultKind { kBatchRecords, kBatchBytes, kRate, kRecordTooLarge, kProtocol };
inline constexpr std::size_t kFaultKinds = 5;
using FaultCounts = std::array<std::uint64_t, kFaultKinds>;

// "batch_records", "batch_bytes", "rate", "record_too_large", "protocol".
std::string_view FaultKindName(FaultKind kind);

class EmitGate {
 public:
  // `pipeline` must outlive the gate.
  EmitGate(std::string source, ingest::Normalizer normalizer, const config::PluginLimits& limits,
           ingest::Pipeline& pipeline);

  // Returns once the batch is queued (or refused); `done` gets the outcome exactly once, from
  // any thread, and must not block.
  void Submit(sdk::Batch batch, std::function<void(Status)> done) ABSL_LOCKS_EXCLUDED(mu_);

  // Returns once the batch is durable, or why not.
  Status SubmitAndWait(sdk::Batch batch) ABSL_LOCKS_EXCLUDED(mu_);

  // A fault of the plugin's that is not a crash (an over-limit batch, a broken message):
  // counted, and logged at most once a second.
  void RecordFault(FaultKind kind, const std::string& what) ABSL_LOCKS_EXCLUDED(mu_);

  // Blocks until no batch submitted through this gate is still waiting for its outcome.
  void WaitIdle() ABSL_LOCKS_EXCLUDED(mu_);

  // Normalises the batches submitted from now on (a reload's new mapping); batches queued
  // already keep the normaliser they were submitted with.
  void SetNormalizer(ingest::Normalizer normalizer) ABSL_LOCKS_EXCLUDED(mu_);

  // The parts a plugin's batch is sent in (batch_split.h): within the limits on records and
  // bytes, and never more events than a second's rate allows, which could never pass.
  wire::BatchLimits PartLimits() const;

  std::uint64_t events_emitted() const { return events_emitted_; }
  std::uint64_t faults() const { return faults_; }
  FaultCounts faults_by_kind() const;

 private:
  // OK, or why the batch is refused and, in `kind`, which limit it is over.
  Status CheckLimits(const sdk::Batch& batch, FaultKind& kind) ABSL_LOCKS_EXCLUDED(mu_);

  // Constant after construction.
  const std::string source_;
  const config::PluginLimits limits_;
  ingest::Pipeline& pipeline_;

  std::atomic<std::uint64_t> events_emitted_{0};
  std::atomic<std::uint64_t> faults_{0};
  std::array<std::atomic<std::uint64_t>, kFaultKinds> faults_by_kind_{};

  sync::Mutex mu_;
  std::condition_variable idle_;
  // Shared with the batches queued with it, which keep it alive until their outcome.
  std::shared_ptr<const ingest::Normalizer> normalizer_ ABSL_GUARDED_BY(mu_);
  std::uint64_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  double tokens_ ABSL_GUARDED_BY(mu_);  // events the rate limit lets through now
  std::chrono::steady_clock::time_point refilled_ ABSL_GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point last_fault_log_ ABSL_GUARDED_BY(mu_);
  std::uint64_t faults_unlogged_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace propbridge::supervisor
