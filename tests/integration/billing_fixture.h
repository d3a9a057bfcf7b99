// The real billing plugin under the real daemon: its configuration and export files in the
// bundled format.
#pragma once

#include <filesystem>
#include <string>

namespace propbridge::testing {

inline constexpr const char* kBillingHeader =
    "record_id,record_type,account_no,unit,customer_name,phone,occurred_at,item,amount,note\n";

// `rows` rows of charges and payments over `accounts` accounts ("A-<n>"), record ids
// "<prefix><n>", one minute apart from 2026-10-01 08:00 local time.
std::string BillingRows(const std::string& prefix, int rows, int accounts);

// A daemon configuration on <dir>/data listening on a free port, with the billing plugin
// reading <dir>/inbox every 100 ms. `settings` adds lines to the plugin's settings table,
// `tables` adds tables after it (more plugin instances).
std::string BillingDaemonConfig(const std::filesystem::path& dir, const std::string& settings = "",
                                const std::string& tables = "");

}  // namespace propbridge::testing
