// Billing export files in the bundled format, for tests that drive the real billing plugin.
#pragma once

#include <string>

namespace propbridge::testing {

inline constexpr const char* kBillingHeader =
    "record_id,record_type,account_no,unit,customer_name,phone,occurred_at,item,amount,note\n";

// `rows` rows of charges and payments over `accounts` accounts ("A-<n>"), record ids
// "<prefix><n>", one minute apart from 2026-10-01 08:00 local time.
std::string BillingRows(const std::string& prefix, int rows, int accounts);

}  // namespace propbridge::testing
