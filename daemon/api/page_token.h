// Page tokens for timeline reads: an opaque encoding of the keyset position and of the
// customer the listing is for, so a token is only accepted for the listing it came from.
#pragma once

#include <string>

#include "daemon/store/store.h"

namespace propbridge::api {

std::string EncodePageToken(const std::string& customer, const store::TimelineCursor& cursor);

// INVALID_ARGUMENT, saying what to do, for a token that is damaged or from another listing.
Result<store::TimelineCursor> DecodePageToken(const std::string& customer,
                                              const std::string& token);

}  // namespace propbridge::api
