#include "daemon/customers/customer_view.h"

#include <utility>

#include "daemon/customers/event_figures.h"

namespace propbridge::customers {

Result<std::optional<store::Customer>> ReadCustomer(store::CustomerRows& rows, std::int64_t id,
                                                    store::Micros /*now*/) {
  auto root = rows.FindRoot(id);
  if (!root.ok()) return root.status();
  if (!*root) return std::optional<store::Customer>();

  store::Customer customer;
  customer.id = (*root)->id;
  customer.created_at = (*root)->created_at;

  auto identifiers = rows.TreeIdentifiers(customer.id);
  if (!identifiers.ok()) return identifiers.status();
  customer.identifiers = std::move(identifiers).value();

  auto occupancy = rows.TreeOccupancy({&customer.id, 1});
  if (!occupancy.ok()) return occupancy.status();
  customer.occupancy.reserve(occupancy->size());
  for (store::OccupancyRow& row : *occupancy) {
    row.period.customer = customer.id;
    customer.occupancy.push_back(std::move(row.period));
  }

  EventFigures figures;
  Status events = rows.VisitEvents({&customer.id, 1}, [&figures](const store::EventFacts& event) {
    figures.Add(event);
    return true;
  });
  if (!events.ok()) return events;
  customer.steps = figures.steps;
  // Created with the first event to arrive; events arrive out of order, so an earlier one
  // that came later says when the customer was first seen.
  if (figures.first_event && *figures.first_event < customer.created_at) {
    customer.created_at = *figures.first_event;
  }
  for (const MatterTrack* matter : figures.OpenMatters()) {
    customer.open_matters.push_back({matter->id, matter->step, matter->last_kind, matter->opened_at,
                                     matter->last_at, matter->reopened_at.has_value()});
  }
  customer.complaint_resolution_median = Median(figures.ComplaintResolutions());
  customer.last_proactive_contact = figures.last_proactive_contact;

  auto merges = rows.TreeMerges(customer.id);
  if (!merges.ok()) return merges.status();
  customer.merges = std::move(merges).value();
  return std::optional<store::Customer>(std::move(customer));
}

}  // namespace propbridge::customers
