#include "tests/fakes/fake_store.h"

#include <algorithm>
#include <charconv>
#include <string_view>
#include <tuple>

namespace propbridge::testing {

namespace {

Status Unimplemented(const std::string& what) {
  return Status(StatusCode::kUnimplemented, "the fake store does not " + what);
}

// Whether `event` comes strictly after `after` in the query's order.
bool Beyond(const store::Event& event, const store::TimelineCursor& after, bool oldest_first) {
  const auto key = std::tie(event.occurred_at, event.id);
  const auto cursor = std::tie(after.occurred_at, after.id);
  return oldest_first ? key > cursor : key < cursor;
}

}  // namespace

void FakeStore::HoldLookups() {
  sync::MutexLock lock(gate_mu_);
  lookups_held_ = true;
}

void FakeStore::ReleaseLookups() {
  {
    sync::MutexLock lock(gate_mu_);
    lookups_held_ = false;
  }
  gate_changed_.notify_all();
}

bool FakeStore::WaitForHeldLookups(int count, std::chrono::milliseconds timeout) {
  sync::MutexLock lock(gate_mu_);
  return lock.WaitFor(gate_changed_, timeout, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(gate_mu_) {
    return lookups_waiting_ >= count;
  });
}

std::vector<store::BatchOutcome> FakeStore::Write(std::span<const store::Batch> batches) {
  sync::MutexLock lock(mu_);
  const store::Micros now = store::MicrosNow();
  std::vector<store::BatchOutcome> outcomes;
  for (const store::Batch& batch : batches) {
    store::BatchOutcome& outcome = outcomes.emplace_back();
    for (const store::Event& event : batch.events) {
      auto key = std::make_pair(batch.source, event.source_event_id);
      if (by_source_id_.contains(key)) {
        ++outcome.duplicates;
        outcome.ids.push_back(0);
        outcome.customers.push_back(0);
        outcome.merge_generations.push_back(0);
        continue;
      }
      Stored& stored = events_.emplace_back(Stored{event, ResolveLocked(event)});
      stored.event.id = static_cast<std::int64_t>(events_.size());
      stored.event.source = batch.source;
      by_source_id_.emplace(std::move(key), stored.event.id);
      ++outcome.inserted;
      outcome.ids.push_back(stored.event.id);
      outcome.customers.push_back(RootLocked(stored.owner));
      outcome.merge_generations.push_back(generation_.load());
    }
    for (store::QuarantineRecord record : batch.quarantined) {
      record.id = static_cast<std::int64_t>(quarantine_.size()) + 1;
      record.source = batch.source;
      record.quarantined_at = now;
      quarantine_.push_back(std::move(record));
    }
    if (!batch.checkpoint.empty()) {
      checkpoints_[batch.source] = {batch.source, batch.checkpoint, now};
    }
  }
  return outcomes;
}

Result<std::optional<std::string>> FakeStore::LoadCheckpoint(const std::string& source) {
  sync::MutexLock lock(mu_);
  auto it = checkpoints_.find(source);
  if (it == checkpoints_.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second.checkpoint);
}

Result<std::vector<store::Event>> FakeStore::ReadTimeline(const store::TimelineQuery& query) {
  sync::MutexLock lock(mu_);
  return TimelineLocked(query.customer, query);
}

Result<std::optional<std::int64_t>> FakeStore::VisitTimeline(const identity::Identifier& who,
                                                             store::TimelineQuery query,
                                                             const store::EventVisitor& visit) {
  // One lock for the customer and their page, as the real store reads both in one snapshot.
  sync::MutexLock lock(mu_);
  std::optional<std::int64_t> customer = FindLocked(who);
  if (!customer) return customer;
  for (const store::Event& e : TimelineLocked(*customer, query)) {
    std::vector<std::pair<std::string_view, std::string_view>> attributes(e.attributes.begin(),
                                                                          e.attributes.end());
    visit(store::EventView{
        .id = e.id,
        .customer = e.customer,
        .step = e.step,
        .kind = e.kind,
        .occurred_at = e.occurred_at,
        .ingested_at = e.ingested_at,
        .source = e.source,
        .source_event_id = e.source_event_id,
        .initiative = e.initiative,
        .contact = e.contact,
        .channel = e.channel,
        .matter_id = e.matter_id,
        .matter_state = e.matter_state,
        .summary = e.summary,
        .attributes = attributes,
    });
  }
  return customer;
}

Result<std::vector<store::Event>> FakeStore::ReadChanges(const store::ChangesQuery& query) {
  sync::MutexLock lock(mu_);
  std::vector<store::Event> changes;
  for (const Stored& stored : events_) {
    if (changes.size() == query.limit) break;
    if (stored.event.id <= query.after_id) continue;
    const std::int64_t customer = RootLocked(stored.owner);
    if (query.customer != 0 && customer != query.customer) continue;
    if (!store::Matches(query.filter, stored.event)) continue;
    changes.push_back(stored.event);
    changes.back().customer = customer;
  }
  return changes;
}

Result<std::vector<store::QuarantineRecord>> FakeStore::ReadQuarantine(
    const store::QuarantineQuery& query) {
  sync::MutexLock lock(mu_);
  std::vector<store::QuarantineRecord> records;
  for (auto it = quarantine_.rbegin(); it != quarantine_.rend() && records.size() < query.limit;
       ++it) {
    if (query.before_id && it->id >= *query.before_id) continue;
    if (!query.source.empty() && it->source != query.source) continue;
    records.push_back(*it);
  }
  return records;
}

Result<std::vector<store::CheckpointRecord>> FakeStore::ReadCheckpoints() {
  sync::MutexLock lock(mu_);
  std::vector<store::CheckpointRecord> records;
  for (const auto& [source, record] : checkpoints_) records.push_back(record);
  return records;
}

Result<std::optional<std::int64_t>> FakeStore::FindCustomer(const identity::Identifier& id,
                                                            std::optional<store::Micros>) {
  {
    sync::MutexLock lock(gate_mu_);
    ++lookups_waiting_;
    gate_changed_.notify_all();
    lock.Wait(gate_changed_,
              [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(gate_mu_) { return !lookups_held_; });
    --lookups_waiting_;
  }
  sync::MutexLock lock(mu_);
  return FindLocked(id);
}

std::uint64_t FakeStore::MergeGeneration() const { return generation_.load(); }

Result<std::vector<std::int64_t>> FakeStore::FindCustomers(const identity::Identifier& id) {
  sync::MutexLock lock(mu_);
  std::vector<std::int64_t> found;
  if (auto customer = FindLocked(id)) found.push_back(*customer);
  return found;
}

Result<std::optional<store::Customer>> FakeStore::ReadCustomer(std::int64_t id, store::Micros) {
  sync::MutexLock lock(mu_);
  if (!customers_.contains(id)) return std::optional<store::Customer>();
  store::Customer customer;
  customer.id = RootLocked(id);
  customer.created_at = customers_.at(customer.id).created_at;
  for (const auto& [identifier, holder] : identifiers_) {
    if (RootLocked(holder.first) == customer.id) {
      customer.identifiers.push_back({identifier, false, holder.second});
    }
  }
  for (std::size_t i = 0; i < customer.steps.size(); ++i) {
    customer.steps[i].step = static_cast<sdk::Step>(i + 1);
  }
  for (const store::Event& event : EventsOfLocked(customer.id)) {
    const int step = static_cast<int>(event.step);
    if (step < 1 || step > static_cast<int>(customer.steps.size())) continue;
    store::StepFigures& figures = customer.steps[static_cast<std::size_t>(step - 1)];
    ++figures.events;
    if (event.initiative == sdk::Initiative::kProactive) ++figures.proactive;
    figures.first = std::min(figures.first.value_or(event.occurred_at), event.occurred_at);
    figures.last = std::max(figures.last.value_or(event.occurred_at), event.occurred_at);
  }
  for (const store::MergeRecord& merge : merges_) {
    if (RootLocked(merge.kept) == customer.id) customer.merges.push_back(merge);
  }
  return std::optional<store::Customer>(std::move(customer));
}

Result<store::MergeRecord> FakeStore::LinkCustomers(std::int64_t a, std::int64_t b,
                                                    const std::string& actor,
                                                    const std::string& reason,
                                                    store::AuditRecord audit) {
  sync::MutexLock lock(mu_);
  return AuditedLocked(LinkLocked(a, b, actor, reason), std::move(audit));
}

Result<store::MergeRecord> FakeStore::SplitMerge(std::int64_t merge_id, const std::string& actor,
                                                 const std::string& reason,
                                                 store::AuditRecord audit) {
  sync::MutexLock lock(mu_);
  return AuditedLocked(SplitLocked(merge_id, actor, reason), std::move(audit));
}

Result<store::MergeRecord> FakeStore::AuditedLocked(Result<store::MergeRecord> change,
                                                    store::AuditRecord audit) {
  audit.result =
      change.ok() ? "OK: merge " + std::to_string(change->id) : change.status().ToString();
  audit.at = store::MicrosNow();
  audit.id = static_cast<std::int64_t>(audit_.size()) + 1;
  audit_.push_back(std::move(audit));
  return change;
}

Result<std::int64_t> FakeStore::RecordAudit(store::AuditRecord record) {
  sync::MutexLock lock(mu_);
  record.at = store::MicrosNow();
  record.id = static_cast<std::int64_t>(audit_.size()) + 1;
  audit_.push_back(std::move(record));
  return audit_.back().id;
}

Result<std::vector<store::AuditRecord>> FakeStore::ReadAudit(const store::AuditQuery& query) {
  sync::MutexLock lock(mu_);
  std::vector<store::AuditRecord> records;
  for (auto it = audit_.rbegin(); it != audit_.rend() && records.size() < query.limit; ++it) {
    if (!query.before_id || it->id < *query.before_id) records.push_back(*it);
  }
  return records;
}

Result<store::MergeRecord> FakeStore::LinkLocked(std::int64_t a, std::int64_t b,
                                                 const std::string& actor,
                                                 const std::string& reason) {
  for (std::int64_t id : {a, b}) {
    if (!customers_.contains(id)) return NotFound("no customer " + store::CustomerKey(id));
  }
  const std::int64_t first = RootLocked(a);
  const std::int64_t second = RootLocked(b);
  if (first == second) {
    return InvalidArgument(store::CustomerKey(a) + " and " + store::CustomerKey(b) +
                           " are one customer already");
  }
  store::MergeRecord& merge = merges_.emplace_back();
  merge.id = static_cast<std::int64_t>(merges_.size());
  merge.at = store::MicrosNow();
  merge.kept = std::min(first, second);
  merge.absorbed = std::max(first, second);
  merge.actor = actor;
  merge.reason = reason;
  customers_[merge.absorbed].merged_into = merge.kept;
  generation_ += 2;
  return merge;
}

Result<store::MergeRecord> FakeStore::SplitLocked(std::int64_t merge_id, const std::string& actor,
                                                  const std::string& reason) {
  if (merge_id < 1 || merge_id > static_cast<std::int64_t>(merges_.size())) {
    return NotFound("no merge " + std::to_string(merge_id));
  }
  store::MergeRecord& merge = merges_[static_cast<std::size_t>(merge_id - 1)];
  if (merge.undone_at) {
    return FailedPrecondition("merge " + std::to_string(merge_id) + " is undone already");
  }
  merge.undone_at = store::MicrosNow();
  merge.undone_by = actor;
  merge.undone_reason = reason;
  customers_[merge.absorbed].merged_into = 0;
  generation_ += 2;
  return merge;
}

Result<store::OutreachPage> FakeStore::ReadOutreach(const store::OutreachQuery&, std::stop_token) {
  return Unimplemented("compute outreach");
}

Result<std::vector<store::CommunityFigures>> FakeStore::ReadCommunityFigures(const std::string&,
                                                                             store::Micros,
                                                                             std::stop_token) {
  return Unimplemented("compute community figures");
}

Result<store::BackupInfo> FakeStore::Backup(const std::filesystem::path&, std::stop_token) {
  return Unimplemented("make a backup");
}

std::int64_t FakeStore::RootLocked(std::int64_t id) const {
  for (auto it = customers_.find(id); it != customers_.end() && it->second.merged_into != 0;
       it = customers_.find(id)) {
    id = it->second.merged_into;
  }
  return id;
}

std::optional<std::int64_t> FakeStore::FindLocked(const identity::Identifier& id) const {
  if (id.type == store::kCustomerIdType) {
    std::int64_t customer = 0;
    const char* end = id.value.data() + id.value.size();
    if (std::from_chars(id.value.data(), end, customer).ptr != end) return std::nullopt;
    if (!customers_.contains(customer)) return std::nullopt;
    return RootLocked(customer);
  }
  auto it = identifiers_.find(id);
  if (it == identifiers_.end()) return std::nullopt;
  return RootLocked(it->second.first);
}

std::vector<store::Event> FakeStore::EventsOfLocked(std::int64_t customer) const {
  std::vector<store::Event> events;
  for (const Stored& stored : events_) {
    if (RootLocked(stored.owner) != customer) continue;
    events.push_back(stored.event);
    events.back().customer = customer;
  }
  return events;
}

std::vector<store::Event> FakeStore::TimelineLocked(std::int64_t customer,
                                                    const store::TimelineQuery& query) const {
  std::vector<store::Event> events = EventsOfLocked(customer);
  std::erase_if(events, [&](const store::Event& e) {
    return !store::Matches(query.filter, e) ||
           (query.after && !Beyond(e, *query.after, query.oldest_first));
  });
  std::sort(events.begin(), events.end(), [&](const store::Event& x, const store::Event& y) {
    const auto a = std::tie(x.occurred_at, x.id);
    const auto b = std::tie(y.occurred_at, y.id);
    return query.oldest_first ? a < b : a > b;
  });
  if (events.size() > query.limit) events.resize(query.limit);
  return events;
}

std::int64_t FakeStore::ResolveLocked(const store::Event& event) {
  std::optional<std::int64_t> owner;
  for (const identity::Identifier& id : event.identifiers) {
    if (auto it = identifiers_.find(id); it != identifiers_.end()) {
      owner = it->second.first;
      break;
    }
  }
  const store::Micros now = store::MicrosNow();
  if (!owner) {
    owner = customers_.empty() ? 1 : customers_.rbegin()->first + 1;
    customers_[*owner].created_at = now;
  }
  for (const identity::Identifier& id : event.identifiers) {
    identifiers_.try_emplace(id, *owner, now);
  }
  return *owner;
}

}  // namespace propbridge::testing
