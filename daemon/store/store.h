// The store: normalised events, quarantined records and checkpoints, durable together.
// An interface so that SQLite (embedded default) and, later, PostgreSQL sit behind it.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/identity/identifier.h"
#include "daemon/store/customer.h"
#include "daemon/store/event.h"
#include "daemon/store/timeline_filter.h"
#include "propbridge/sdk/event.h"
#include "propbridge/sdk/status.h"

namespace propbridge::store {

// A record that did not make it onto the timeline, kept with its reason so it can be
// inspected and replayed.
struct QuarantineRecord {
  std::int64_t id = 0;  // assigned by the store; increases with every record
  std::string source;
  std::string origin;  // where in the vendor's data: "charges.csv line 17"
  std::string reason;
  std::string raw;  // the record as the vendor sent it, or the raw event as JSON
  Micros quarantined_at;
};

// One plugin batch, ready to store: its events, its quarantined records and its checkpoint
// commit in one transaction or not at all.
struct Batch {
  std::string source;
  std::vector<Event> events;
  std::vector<QuarantineRecord> quarantined;
  std::string checkpoint;
};

struct BatchOutcome {
  Status status;
  std::size_t inserted = 0;    // new events
  std::size_t duplicates = 0;  // events whose (source, source_event_id) was already stored
  // Per event of the batch, in order: the id it was stored under, or 0 for a duplicate.
  std::vector<std::int64_t> ids;
  // Per event of the batch, in order: the customer it was stored under (0 for a duplicate).
  std::vector<std::int64_t> customers;
  // Per event of the batch, in order: the MergeGeneration its customer was resolved under,
  // after the merges and splits the event itself made (0 for a duplicate). Settled (see
  // MergesSettled), and never beyond MergeGeneration once Write has returned.
  std::vector<std::uint64_t> merge_generations;
};

// Keyset position in a timeline: the last event of the previous page. The next page holds
// the events strictly beyond (occurred_at, id) in the query's order.
struct TimelineCursor {
  Micros occurred_at;
  std::int64_t id = 0;
};

// An event as a read hands it to a visitor, without copying it out of the store: its text
// points into the store's buffers and is valid only during the call that receives it.
struct EventView {
  std::int64_t id = 0;
  std::int64_t customer = 0;
  sdk::Step step = sdk::Step::kUnspecified;
  std::string_view kind;
  Micros occurred_at;
  Micros ingested_at;
  std::string_view source;
  std::string_view source_event_id;
  sdk::Initiative initiative = sdk::Initiative::kUnspecified;
  bool contact = false;
  std::string_view channel;
  std::string_view matter_id;
  sdk::MatterState matter_state = sdk::MatterState::kUnspecified;
  std::string_view summary;
  std::span<const std::pair<std::string_view, std::string_view>> attributes;
};

using EventVisitor = std::function<void(const EventView&)>;

struct TimelineQuery {
  std::int64_t customer = 0;
  std::size_t limit = 50;
  std::optional<TimelineCursor> after = std::nullopt;
  bool oldest_first = false;
  TimelineFilter filter = {};
};

// Events in id order, for a change feed: every customer's, or one customer's.
struct ChangesQuery {
  std::int64_t after_id = 0;
  std::int64_t customer = 0;  // 0 for every customer
  TimelineFilter filter;
  std::size_t limit = 500;
};

// Quarantined records, newest first.
struct QuarantineQuery {
  std::string source;  // empty for every source
  std::optional<std::int64_t> before_id;
  std::size_t limit = 50;
};

// A change someone asked for through the API: who (the identity they proved, and the actor
// their request names), what, and how it ended. The store keeps it for good, in the same
// transaction as the change when the change is the store's (a link, a split).
struct AuditRecord {
  std::int64_t id = 0;  // assigned by the store; increases with every record
  Micros at;            // assigned by the store
  std::string caller;   // the authenticated identity: "token crm-app", "certificate x", "anyone"
  std::string actor;    // who the request says asks, e.g. "ops:li.wei"; empty when it names none
  std::string method;   // "AdminService.LinkCustomers"
  // The request's fields that say what was asked, as text, in the request's order.
  std::vector<std::pair<std::string, std::string>> arguments;
  // "OK", or the error's code and message (Status::ToString); the store sets it for its own
  // changes.
  std::string result;
};

// Audit records, newest first.
struct AuditQuery {
  std::optional<std::int64_t> before_id;
  std::size_t limit = 50;
};

struct CheckpointRecord {
  std::string source;
  std::string checkpoint;
  Micros updated_at;
};

// What Store::Backup wrote.
struct BackupInfo {
  std::uint64_t bytes = 0;         // the copy's size
  std::int64_t last_event_id = 0;  // the newest event in the copy; 0 when it holds none
  Micros taken_at;                 // the moment whose committed state the copy holds
  // What the copy is, for whoever restores it: "sqlite3", a database file that replaces the
  // store's own.
  std::string format;
};

struct StoreOptions {
  // The database file; its folder must exist. It, its -wal and its -shm are made readable and
  // writable by their owner alone (0600) whatever the umask: created so, or set so at open
  // when their mode lets the group or others in. Never reached through a symbolic link.
  std::filesystem::path path;
  // Read-only connections for short reads (timelines, customers, changes, checkpoints).
  std::size_t reader_connections = 4;
  // How events' identifiers resolve to customers. Must pass identity::ValidateRules.
  identity::IdentityRules identity = identity::IdentityRules::Defaults();
  // Read-only connections of their own for scans of many customers (ReadOutreach,
  // ReadCommunityFigures), so that scans never hold a connection a short read waits for.
  std::size_t scan_connections = 2;
  // How long a read waits for a free connection of its kind before it fails with
  // UNAVAILABLE, rather than blocking its caller without limit.
  std::chrono::milliseconds connection_wait{1000};
  // Told, at open, what the store changed on its own (a file's mode), for the log; may be
  // empty.
  std::function<void(const std::string& message)> warn = nullptr;
};

// Whether a MergeGeneration is settled: no merge or split is being committed.
inline bool MergesSettled(std::uint64_t generation) { return generation % 2 == 0; }

// Thread-safety: Write is called by one writer thread at a time (the ingest pipeline);
// every other method is safe from any thread, concurrently with Write. Writes of admins
// (LinkCustomers, SplitMerge) take turns with Write on the one writer connection. A read
// that finds every connection of its kind busy for StoreOptions::connection_wait fails with
// UNAVAILABLE.
class Store {
 public:
  virtual ~Store() = default;

  // Group commit: all batches in one transaction, each in a savepoint of its own, so one
  // failing batch fails alone. Returns one outcome per batch, in order.
  virtual std::vector<BatchOutcome> Write(std::span<const Batch> batches) = 0;

  // The source's last committed checkpoint, or nullopt if it never committed one.
  virtual Result<std::optional<std::string>> LoadCheckpoint(const std::string& source) = 0;

  // ORDER BY occurred_at DESC, id DESC (or ASC for oldest_first): a keyset range scan on
  // (customer, occurred_at, id), whatever the store's size.
  virtual Result<std::vector<Event>> ReadTimeline(const TimelineQuery& query) = 0;

  // The same events in the same order for the customer `who` names now (as FindCustomer
  // finds them), each handed to `visit` as it is read, copied nowhere: for a caller that
  // turns them into something else at once (an API response). The customer and their page
  // come from one read and one snapshot. Returns the customer, or nullopt, visiting nothing,
  // when nobody is known by `who`; `query.customer` is not used. `visit` must not call the
  // store. On an error, `visit` may have seen some of the events.
  virtual Result<std::optional<std::int64_t>> VisitTimeline(const identity::Identifier& who,
                                                            TimelineQuery query,
                                                            const EventVisitor& visit) = 0;

  // ORDER BY id: what was stored after `after_id`.
  virtual Result<std::vector<Event>> ReadChanges(const ChangesQuery& query) = 0;

  // Newest first.
  virtual Result<std::vector<QuarantineRecord>> ReadQuarantine(const QuarantineQuery& query) = 0;
  Result<std::vector<QuarantineRecord>> ReadQuarantine(const std::string& source,
                                                       std::size_t limit) {
    QuarantineQuery query;
    query.source = source;
    query.limit = limit;
    return ReadQuarantine(query);
  }

  virtual Result<std::vector<CheckpointRecord>> ReadCheckpoints() = 0;

  // Customers. An identifier in canonical form (identity::NormalizeIdentifier), or
  // "customer:<id>" for a customer by id.

  // The customer the identifier names now: its holder (after any merges), a unit's occupant at
  // `at` (now when nullopt), a customer by id (or the one it was merged into). nullopt: none.
  virtual Result<std::optional<std::int64_t>> FindCustomer(const identity::Identifier& id,
                                                           std::optional<Micros> at = {}) = 0;
  // New rules for resolving identifiers (a reload; they must pass identity::ValidateRules):
  // the batches written and the customers found from now on follow them. What is stored stays
  // as it was resolved. Waits for a Write under way.
  virtual void UseIdentityRules(identity::IdentityRules rules) = 0;
  // Changes when a merge or a split is committed, by resolution or by an admin, and before
  // any write that follows it: whoever follows a customer by name finds them again when it
  // has changed (a watch). It only grows. It is odd (not MergesSettled) from just before such
  // a commit until just after it, so that a FindCustomer between two reads of the same settled
  // value answers for exactly the merges and splits that value counts. Cheap, and never waits
  // for a connection or a lock: a watch reads it on the ingest writer's thread.
  virtual std::uint64_t MergeGeneration() const = 0;
  // Every customer the identifier named, as they stand now, most recent first: for a unit,
  // each occupant over time; for other identifiers at most one.
  virtual Result<std::vector<std::int64_t>> FindCustomers(const identity::Identifier& id) = 0;
  // The customer with its identifiers, units, merges and five-step figures as of `now`;
  // nullopt for an unknown id. A merged-away id reads as the customer it was merged into.
  virtual Result<std::optional<Customer>> ReadCustomer(std::int64_t id, Micros now) = 0;
  // Joins two customers as an admin asks: the older id is kept. kInvalidArgument when they
  // are already one, kNotFound for an unknown id. `audit` is recorded with the result: in the
  // link's transaction, or on its own when the link fails; a link whose record cannot be
  // written is not made.
  virtual Result<MergeRecord> LinkCustomers(std::int64_t a, std::int64_t b,
                                            const std::string& actor, const std::string& reason,
                                            AuditRecord audit) = 0;
  // Undoes a merge: the absorbed customer stands alone again, with every event whose
  // identifiers resolved to it. Events that later carry identifiers of both no longer merge
  // them. kNotFound for an unknown merge, kFailedPrecondition when already undone. `audit` as
  // for LinkCustomers.
  virtual Result<MergeRecord> SplitMerge(std::int64_t merge_id, const std::string& actor,
                                         const std::string& reason, AuditRecord audit) = 0;

  // Audit. Records a change made outside the store (a plugin restarted), with the result
  // its caller set; returns the record's id.
  virtual Result<std::int64_t> RecordAudit(AuditRecord record) = 0;
  virtual Result<std::vector<AuditRecord>> ReadAudit(const AuditQuery& query) = 0;

  // Writes a copy of everything the store holds (events, customers, quarantine, audit and
  // every source's checkpoint), as committed at one moment, to `destination`: a new file the
  // store creates owner-only (0600), never through a symbolic link; ALREADY_EXISTS when
  // something is there. Write and every other method go on meanwhile, and none waits for the
  // backup. Once `stop` is requested it gives up within a few milliseconds with CANCELLED. On
  // an error nothing is left at `destination`; on success the file is the caller's.
  virtual Result<BackupInfo> Backup(const std::filesystem::path& destination,
                                    std::stop_token stop) = 0;

  // Scans: they read many customers, on connections of their own (scan_connections). Once
  // `stop` is requested, a scan gives up within a few milliseconds with CANCELLED.

  // Customers who need a contact now, by customer id, each with every reason that applies, a
  // bounded amount of work at a time.
  virtual Result<OutreachPage> ReadOutreach(const OutreachQuery& query, std::stop_token stop) = 0;
  // The method's figures for each community (one when `community` is not empty).
  virtual Result<std::vector<CommunityFigures>> ReadCommunityFigures(const std::string& community,
                                                                     Micros now,
                                                                     std::stop_token stop) = 0;
};

}  // namespace propbridge::store
