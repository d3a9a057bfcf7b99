// The outreach policy, which customers need a contact now and why, and the method's figures per
// community, from the store's rows (daemon/store/customer_rows.h). Matters open, close and
// reopen as event_figures.h says. Backend-neutral.
#pragma once

#include <string>
#include <vector>

#include "daemon/store/customer.h"
#include "daemon/store/customer_rows.h"
#include "daemon/store/event.h"
#include "propbridge/sdk/status.h"

namespace propbridge::customers {

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
// began within new_occupant_window, with no PROACTIVE KNOW contact of the customer since it
// began; kNoProactiveContact, no PROACTIVE contact for longer than quiet_period, counted from
// the customer's first event when there never was one (so a customer first seen yesterday is
// not listed, and one without events never is); kMatterReopened, an open matter reopened. When
// several matters qualify, the oldest names the item and more_matters counts the others.
//
// A customer's community is the community of its occupancy period covering `now` (the latest
// period when none does); with query.community set, only customers with such a period there.
Result<store::OutreachPage> ReadOutreach(store::CustomerRows& rows,
                                         const store::OutreachQuery& query);

// The method's figures for each community named by an occupancy period that began at or
// before `now`, by community name; only `community` when it is not empty (no element when no
// period names it). A customer counts in every community it has such a period in, with all
// of its events.
Result<std::vector<store::CommunityFigures>> ReadCommunityFigures(store::CustomerRows& rows,
                                                                  const std::string& community,
                                                                  store::Micros now);

}  // namespace propbridge::customers
