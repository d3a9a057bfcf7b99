// Mainland-China phone numbers as customers' identifiers: one canonical digit string per
// number, and a mask so logs never show a whole one. Pure functions, safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include "propbridge/sdk/status.h"

namespace propbridge::identity {

// The number as digits only: an 11-digit mobile number ("13800138000"), or a landline with
// its area code ("01088886666"). Spaces, dashes, dots and parentheses go; full-width digits
// fold; "+86", "0086" and a bare "86" before a mobile number go, and a landline written
// internationally ("+86 10 8888 6666") gets its leading 0 back. Anything else is refused
// with kInvalidArgument and the reason: letters, an extension, two numbers in one field, a
// landline without area code, a service (400/800) number, too few or too many digits. An
// all-zero number is a placeholder and comes back as kFailedPrecondition.
Result<std::string> NormalizePhone(std::string_view raw);

// `phone` (canonical or raw) with its digits masked for a log line: "13800138000" becomes
// "138****8000". With 11 or more digits the first 3 and last 4 stay, with 7 to 10 the last 4,
// with fewer none. Other characters are kept as they are.
std::string MaskPhone(std::string_view phone);

}  // namespace propbridge::identity
