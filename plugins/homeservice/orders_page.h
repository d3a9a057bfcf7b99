// One page of the platform's order listing, and its cursors. Pure functions; thread-compatible.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "propbridge/sdk/status.h"

namespace propbridge::homeservice {

struct OrdersPage {
  // The order revisions after the requested cursor, oldest change first; each is checked only
  // when it is converted, so one bad revision does not cost the page.
  std::vector<nlohmann::json> orders;
  // Where the next request starts: the position after the last revision of this page.
  std::string next_cursor;
  bool has_more = false;
};

// The body of a 200 answer. InvalidArgument saying what is wrong when it is not a page.
Result<OrdersPage> ParseOrdersPage(std::string_view body);

// A cursor is a position in the platform's change log, written in decimal. The empty cursor
// is the start of the log, before every position.
bool IsValidCursor(std::string_view cursor);

// Negative, zero or positive as `a` is before, at or after `b`. Both must be valid.
int CompareCursors(std::string_view a, std::string_view b);

}  // namespace propbridge::homeservice
