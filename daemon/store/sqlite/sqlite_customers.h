// Identity resolution in the SQLite store: which customer a new event belongs to, and the
// merges, splits and occupancy periods that follow from it. Runs on the writer connection,
// inside the writer's transaction, so resolution sees every event stored before and none
// after: one writer, no races between two events that name the same person.
//
// The rules, per event (identifiers in canonical form, see daemon/identity):
//  1. Strong identifiers without a per-type limit (account, contract, member) decide first.
//     Known ones that sit on different customers merge those customers; unknown ones join
//     the event's customer (a new one when none is known).
//  2. Strong identifiers with a limit (phone) link the same way, but every customer they join
//     is counted: once one would join more customers that hold an unlimited identifier than
//     its type allows, it is demoted and the merges it made are undone (a switchboard phone).
//  3. With no strong identifier, a unit names whoever occupied it at the event's time; with no
//     occupant, the unit's own customer (events about the unit before anyone was known).
//  4. Handover and move-in kinds open an occupancy period for the event's customer (closing
//     the previous occupant's); move-out kinds close it; any other event decided by a strong
//     identifier opens an inferred period when nobody occupied the unit at its time.
//  5. Weak identifiers never link; they are kept for search.
//
// Every merge is recorded with its cause; SplitMerge undoes one, and customers that an admin
// split are never merged again by resolution.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daemon/identity/identifier.h"
#include "daemon/store/customer.h"
#include "daemon/store/event.h"
#include "daemon/store/sqlite/sqlite_support.h"
#include "propbridge/sdk/status.h"

namespace propbridge::store {

class CustomerResolver {
 public:
  // `db` is the writer connection; it must outlive the resolver.
  CustomerResolver(sqlite3* db, identity::IdentityRules rules);

  struct Resolution {
    std::int64_t customer = 0;         // the customer the event belongs to now
    std::int64_t home = 0;             // the customer its identifiers resolved to
    std::vector<std::int64_t> merges;  // ids of the merges this event made
  };
  // Within a transaction: resolves a new event, creating, merging and opening occupancy as
  // its identifiers require. Call before inserting it; then RecordMergeEvent.
  Result<Resolution> Resolve(const Event& event);
  // Names the inserted event as the cause of the merges its resolution made.
  Status RecordMergeEvent(const Resolution& resolution, std::int64_t event_id);

  // Within a transaction: an admin's link and split.
  Result<MergeRecord> Link(std::int64_t a, std::int64_t b, const std::string& actor,
                           const std::string& reason, Micros now);
  Result<MergeRecord> Split(std::int64_t merge_id, const std::string& actor,
                            const std::string& reason, Micros now);

  // The rules for the events resolved from now on.
  void UseRules(identity::IdentityRules rules) { rules_ = std::move(rules); }

  // How many merges and splits this resolver has made, committed or not; it only grows.
  std::uint64_t merges_made() const { return merges_made_; }

 private:
  struct Known {
    std::int64_t home = 0;
    int role = 0;
    bool demoted = false;
  };
  Result<std::optional<Known>> Lookup(const identity::Identifier& id);
  Result<std::int64_t> Root(std::int64_t customer);
  Result<std::int64_t> NewCustomer(Micros at);
  Status Attach(const identity::Identifier& id, std::int64_t home, int role, Micros at);
  // Joins the customers that `a` and `b` belong to (unless an admin split them apart).
  Result<std::optional<std::int64_t>> Join(std::int64_t a, std::int64_t b, const std::string& cause,
                                           const std::string& actor, const std::string& reason,
                                           Micros at, bool respect_splits = true);
  Status Unmerge(std::int64_t merge_id, const std::string& actor, const std::string& reason,
                 Micros at);
  // Links `home`'s customer and the one a limited identifier sits on, or demotes it.
  Status LinkThroughLimited(const identity::Identifier& id, const Known& known, std::int64_t home,
                            Micros at, std::vector<std::int64_t>& merges);
  Result<std::optional<std::int64_t>> OccupantAt(const std::string& unit, Micros at);
  Status Occupy(const std::string& unit, std::int64_t home, Micros at, bool inferred);
  Status Vacate(const std::string& unit, std::int64_t home, Micros at);
  Result<MergeRecord> ReadMerge(std::int64_t merge_id);
  Result<sqlite3_stmt*> Statement(const char* sql) { return statements_.Get(sql, sql); }

  sqlite3* db_;
  identity::IdentityRules rules_;
  StatementCache statements_;
  std::uint64_t merges_made_ = 0;
};

// The merges table's columns in the order MergeFromRow reads them, without a table prefix.
inline constexpr const char* kMergeColumns =
    "id, at, kept, absorbed, cause, event_id, actor, reason, undone_at, undone_by, undone_reason";
MergeRecord MergeFromRow(sqlite3_stmt* stmt);

// Reads for the API, on a read connection.
Result<std::optional<std::int64_t>> QueryRoot(StatementCache& statements, std::int64_t customer);
Result<std::optional<std::int64_t>> QueryCustomerFor(StatementCache& statements,
                                                     const identity::Identifier& id,
                                                     const identity::IdentityRules& rules,
                                                     Micros at);
Result<std::vector<std::int64_t>> QueryCustomersFor(StatementCache& statements,
                                                    const identity::Identifier& id,
                                                    const identity::IdentityRules& rules);

}  // namespace propbridge::store
