// An in-memory store::Store for tests of what sits above the store (the API services, watches),
// without SQLite or a daemon. It keeps events, quarantined records and checkpoints, and
// resolves customers simply: every identifier names the customer it first came with (a unit
// too: there is no occupancy), and only an admin's LinkCustomers joins two customers, which
// SplitMerge undoes. ReadCustomer gives the identifiers, the merges and the step figures, no
// matters or occupancy; outreach, community figures and backups are UNIMPLEMENTED. Thread-safe,
// and like the real store, Write may run beside every read.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "daemon/store/store.h"
#include "daemon/sync/mutex.h"

namespace propbridge::testing {

class FakeStore final : public store::Store {
 public:
  // What a test controls beyond the interface.

  // From now on, FindCustomer waits until ReleaseLookups, as a read waits when every reader
  // connection is busy.
  void HoldLookups() ABSL_LOCKS_EXCLUDED(gate_mu_);
  void ReleaseLookups() ABSL_LOCKS_EXCLUDED(gate_mu_);
  // Whether `count` FindCustomer calls wait at once within `timeout`.
  bool WaitForHeldLookups(int count, std::chrono::milliseconds timeout)
      ABSL_LOCKS_EXCLUDED(gate_mu_);

  // store::Store
  std::vector<store::BatchOutcome> Write(std::span<const store::Batch> batches) override
      ABSL_LOCKS_EXCLUDED(mu_);
  Result<std::optional<std::string>> LoadCheckpoint(const std::string& source) override
      ABSL_LOCKS_EXCLUDED(mu_);
  Result<std::vector<store::Event>> ReadTimeline(const store::TimelineQuery& query) override
      ABSL_LOCKS_EXCLUDED(mu_);
  Result<std::optional<std::int64_t>> VisitTimeline(const identity::Identifier& who,
                                                    store::TimelineQuery query,
                                                    const store::EventVisitor& visit) override
      ABSL_LOCKS_EXCLUDED(mu_);
  Result<std::vector<store::Event>> ReadChanges(const store::ChangesQuery& query) override
      ABSL_LOCKS_EXCLUDED(mu_);
  Result<std::vector<store::QuarantineRecord>> ReadQuarantine(
      const store::QuarantineQuery& query) override ABSL_LOCKS_EXCLUDED(mu_);
  using Store::ReadQuarantine;
  Result<std::vector<store::CheckpointRecord>> ReadCheckpoints() override ABSL_LOCKS_EXCLUDED(mu_);
  // `at` is not used: no identifier names an occupant here.
  Result<std::optional<std::int64_t>> FindCustomer(const identity::Identifier& id,
                                                   std::optional<store::Micros> at = {}) override
      ABSL_LOCKS_EXCLUDED(mu_, gate_mu_);
  // Resolution here follows no rules (see above), so new ones change nothing.
  void UseIdentityRules(identity::IdentityRules) override {}
  std::uint64_t MergeGeneration() const override;
  Result<std::vector<std::int64_t>> FindCustomers(const identity::Identifier& id) override
      ABSL_LOCKS_EXCLUDED(mu_);
  Result<std::optional<store::Customer>> ReadCustomer(std::int64_t id, store::Micros now) override
      ABSL_LOCKS_EXCLUDED(mu_);
  Result<store::MergeRecord> LinkCustomers(std::int64_t a, std::int64_t b, const std::string& actor,
                                           const std::string& reason,
                                           store::AuditRecord audit) override
      ABSL_LOCKS_EXCLUDED(mu_);
  Result<store::MergeRecord> SplitMerge(std::int64_t merge_id, const std::string& actor,
                                        const std::string& reason,
                                        store::AuditRecord audit) override ABSL_LOCKS_EXCLUDED(mu_);
  Result<std::int64_t> RecordAudit(store::AuditRecord record) override ABSL_LOCKS_EXCLUDED(mu_);
  Result<std::vector<store::AuditRecord>> ReadAudit(const store::AuditQuery& query) override
      ABSL_LOCKS_EXCLUDED(mu_);
  Result<store::OutreachPage> ReadOutreach(const store::OutreachQuery& query,
                                           std::stop_token stop) override;
  Result<std::vector<store::CommunityFigures>> ReadCommunityFigures(const std::string& community,
                                                                    store::Micros now,
                                                                    std::stop_token stop) override;
  Result<store::BackupInfo> Backup(const std::filesystem::path& destination,
                                   std::stop_token stop) override;

 private:
  // An event as stored: `owner` is the customer its identifiers named when it was written,
  // and it belongs to whomever merges made of them since (Root).
  struct Stored {
    store::Event event;
    std::int64_t owner = 0;
  };

  // The customer `id` is now: itself, or the one it was merged into, through every merge.
  std::int64_t RootLocked(std::int64_t id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::optional<std::int64_t> FindLocked(const identity::Identifier& id) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The stored events of `customer` now, as Event (its `customer` set to them).
  std::vector<store::Event> EventsOfLocked(std::int64_t customer) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::vector<store::Event> TimelineLocked(std::int64_t customer,
                                           const store::TimelineQuery& query) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Result<store::MergeRecord> LinkLocked(std::int64_t a, std::int64_t b, const std::string& actor,
                                        const std::string& reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Result<store::MergeRecord> SplitLocked(std::int64_t merge_id, const std::string& actor,
                                         const std::string& reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records `audit` with the change's result, as the real store does, and passes it on.
  Result<store::MergeRecord> AuditedLocked(Result<store::MergeRecord> change,
                                           store::AuditRecord audit)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The customer the event's identifiers name, made when none does.
  std::int64_t ResolveLocked(const store::Event& event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable sync::Mutex mu_;
  std::vector<Stored> events_ ABSL_GUARDED_BY(mu_);  // in id order: id i at index i - 1
  std::map<std::pair<std::string, std::string>, std::int64_t> by_source_id_ ABSL_GUARDED_BY(mu_);
  std::vector<store::QuarantineRecord> quarantine_ ABSL_GUARDED_BY(mu_);  // in id order
  std::map<std::string, store::CheckpointRecord> checkpoints_ ABSL_GUARDED_BY(mu_);
  // Each customer by id: when it was made, and the customer it is merged into (0: none).
  struct CustomerRecord {
    store::Micros created_at;
    std::int64_t merged_into = 0;
  };
  std::map<std::int64_t, CustomerRecord> customers_ ABSL_GUARDED_BY(mu_);
  // Each identifier with the customer it first came with.
  std::map<identity::Identifier, std::pair<std::int64_t, store::Micros>> identifiers_
      ABSL_GUARDED_BY(mu_);
  std::vector<store::MergeRecord> merges_ ABSL_GUARDED_BY(mu_);  // merge i at index i - 1
  std::vector<store::AuditRecord> audit_ ABSL_GUARDED_BY(mu_);   // record i at index i - 1
  // Counted under mu_, read without it: like the real store's, MergeGeneration never waits.
  // It moves by 2, in one step under mu_, so it always reads as settled (store::MergesSettled).
  std::atomic<std::uint64_t> generation_{0};

  sync::Mutex gate_mu_;
  std::condition_variable gate_changed_;
  bool lookups_held_ ABSL_GUARDED_BY(gate_mu_) = false;
  int lookups_waiting_ ABSL_GUARDED_BY(gate_mu_) = 0;
};

}  // namespace propbridge::testing
