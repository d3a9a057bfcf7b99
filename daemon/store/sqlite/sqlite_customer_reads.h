// The SQLite store's customer reads: one customer with its figures, the outreach list and the
// per-community figures, derived from the events, customers, identifiers, merges and occupancy
// tables (sqlite_schema.h). Free functions on a connection the caller owns and uses from one
// thread at a time (a reader of the pool); each call reads one snapshot, its own transaction
// or the caller's when one is open.
//
// Matters, as every function here reads them: a matter's events (same non-empty matter_id,
// among the customer's events) are taken in (occurred_at, id) order. CLOSED closes it; OPENED
// after a CLOSED reopens it. UPDATED and unspecified states leave it as it was, because
// vendors send a follow-up call or a rating after the closing event (maintenance
// work_order.followed_up and .rated, a home-service feedback) without meaning to reopen it.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daemon/store/customer.h"
#include "daemon/store/event.h"
#include "propbridge/sdk/status.h"

namespace propbridge::store {

// The customer `id`, or the one it was merged into (customers.merged_into followed to the
// root), with everything under it: the identifiers and occupancy of every customer merged
// into it, its own events' figures, and the merges that kept a customer of its tree. nullopt
// for an unknown id. Every stored event counts, also those dated after `now`; no figure of a
// Customer depends on the clock yet, `now` is taken so that one can without an API change.
// Open matters are in order of their first event.
Result<std::optional<Customer>> QueryCustomer(sqlite3* db, std::int64_t id, Micros now);

// Customers who need a contact at query.now, in customer id order, with one item per reason
// that applies (in OutreachReason order). Candidates are customers standing on their own with
// an id above query.after_customer.
//
// Bounded work: a call returns the items of at most query.limit customers, and returns early,
// with what it has, once it has examined 10,000 customers that needed nothing (or lay outside
// query.community). next_after_customer says where the next page starts; 0 once every
// customer was examined.
//
// The reasons: kComplaintPastSla, an open EMPATHIZE matter whose first event is older than
// complaint_sla; kNewOccupantNotWelcomed, an explicit (not inferred) period still running that
// began within new_occupant_window, with no PROACTIVE KNOW contact of the customer since it began;
// kNoProactiveContact, no PROACTIVE contact for longer than quiet_period, counted from the
// customer's first event when there never was one (so a customer first seen yesterday is not
// listed, and one without events never is); kMatterReopened, an open matter reopened. When
// several matters qualify, the oldest names the item and its detail counts the others.
//
// A customer's community is the community of its occupancy period covering `now` (the latest
// period when none does); with query.community set, only customers with such a period there.
Result<OutreachPage> QueryOutreach(sqlite3* db, const OutreachQuery& query);

// The method's figures for each community named by an occupancy period that began at or
// before `now`, by community name; only `community` when it is not empty (no element when no
// period names it). A customer counts in every community it has such a period in, with all
// of its events.
Result<std::vector<CommunityFigures>> QueryCommunityFigures(sqlite3* db,
                                                            const std::string& community,
                                                            Micros now);

}  // namespace propbridge::store
