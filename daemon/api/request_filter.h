// Checks what a client asks for and turns it into store terms. Every error is
// INVALID_ARGUMENT naming the field and what to fix.
#pragma once

#include <cstddef>

#include "daemon/store/timeline_filter.h"
#include "propbridge/sdk/status.h"
#include "propbridge/v1/timeline.pb.h"

namespace propbridge::api {

Result<store::TimelineFilter> ToStoreFilter(const v1::TimelineFilter& filter);

// The page sizes of the timeline and the quarantine listing.
inline constexpr std::size_t kDefaultPageSize = 50;
inline constexpr std::size_t kMaxPageSize = 1000;

// page_size 0 means `fallback`; negative or above `max` is an error.
Result<std::size_t> CheckPageSize(int page_size, std::size_t fallback, std::size_t max);

}  // namespace propbridge::api
