// Records as the vendor systems behind the three bundled bridges produce them, numbered so that
// a run can tell exactly which reached the store: billing export files, maintenance webhook
// deliveries (signed), and home-service order revisions. For the bridges benchmark and the soak
// test. Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace propbridge::bench {

// A billing export in the bundled format: rows `first` .. `first + rows - 1`, charges and
// payments by turns over accounts A-0 .. A-<accounts - 1>, each row's record_id
// BillingRecordId(run, n).
std::string BillingExport(std::string_view run, int first, int rows, int accounts);
std::string BillingRecordId(std::string_view run, int n);

// Delivery `n`: a work order opened for account A-<n % accounts>, its event_id
// MaintenanceEventId(run, n).
std::string MaintenanceDelivery(std::string_view run, int n, int accounts);
std::string MaintenanceEventId(std::string_view run, int n);
// The X-Signature header's value for `body` under `secret`.
std::string MaintenanceSignature(std::string_view secret, std::string_view body);

// Revision `n` of the home-service change log: orders of five revisions each (booked,
// scheduled, started, completed, feedback) for account A-<order % accounts>. The event the
// plugin makes of it has the source_event_id HomeServiceEventId(run, n).
nlohmann::json HomeServiceRevision(std::string_view run, int n, int accounts);
std::string HomeServiceEventId(std::string_view run, int n);

}  // namespace propbridge::bench
