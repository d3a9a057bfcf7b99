// One customer as the store's rows make it (daemon/store/customer_rows.h): the customer with
// everything merged into it, the five steps' figures and the open matters (event_figures.h says
// how matters open and close). Backend-neutral.
#pragma once

#include <cstdint>
#include <optional>

#include "daemon/store/customer.h"
#include "daemon/store/customer_rows.h"
#include "daemon/store/event.h"
#include "propbridge/sdk/status.h"

namespace propbridge::customers {

// The customer `id`, or the one it was merged into (merged_into followed to the root), with
// everything under it: the identifiers and occupancy of every customer merged into it (its
// periods under the root's id), its own events' figures, and the merges that kept a customer of
// its tree. nullopt for an unknown id. Every stored event counts, also those dated after `now`;
// no figure of a Customer depends on the clock yet, `now` is taken so that one can without an
// API change. Open matters are in order of their first event.
Result<std::optional<store::Customer>> ReadCustomer(store::CustomerRows& rows, std::int64_t id,
                                                    store::Micros now);

}  // namespace propbridge::customers
