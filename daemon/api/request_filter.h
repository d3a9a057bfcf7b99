// Checks what a client asks for and turns it into store terms. Every error is
// INVALID_ARGUMENT naming the field and what to fix.
#pragma once

#include "daemon/store/timeline_filter.h"
#include "propbridge/sdk/status.h"
#include "propbridge/v1/timeline.pb.h"

namespace propbridge::api {

Result<store::TimelineFilter> ToStoreFilter(const v1::TimelineFilter& filter);

// page_size 0 means `fallback`; negative or above `max` is an error.
Result<std::size_t> CheckPageSize(int page_size, std::size_t fallback, std::size_t max);

}  // namespace propbridge::api
