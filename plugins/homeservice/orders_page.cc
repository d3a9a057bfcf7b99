#include "orders_page.h"

#include <utility>

namespace propbridge::homeservice {
namespace {

// Longer cursors are not positions any platform reaches; refusing them bounds the checkpoint.
constexpr std::size_t kMaxCursorDigits = 40;
// Far deeper than a page goes (an order's fields are three levels down), and shallow enough that
// code walking a value recursively, as nlohmann's dump() does, never exhausts a thread's stack.
constexpr int kMaxDepth = 64;

std::string_view WithoutLeadingZeros(std::string_view cursor) {
  while (cursor.size() > 1 && cursor.front() == '0') cursor.remove_prefix(1);
  return cursor;
}

}  // namespace

Result<OrdersPage> ParseOrdersPage(std::string_view body) {
  bool too_deep = false;
  nlohmann::json page = nlohmann::json::parse(
      body,
      [&](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
        if (depth > kMaxDepth) too_deep = true;
        return !too_deep;
      },
      false);
  if (too_deep) {
    return InvalidArgument("the answer nests values more than " + std::to_string(kMaxDepth) +
                           " levels deep");
  }
  if (page.is_discarded()) return InvalidArgument("the answer is not JSON");
  if (!page.is_object()) return InvalidArgument("the answer is not a JSON object");

  OrdersPage result;
  auto orders = page.find("orders");
  if (orders == page.end() || !orders->is_array()) {
    return InvalidArgument("the answer has no \"orders\" array");
  }
  auto next_cursor = page.find("next_cursor");
  if (next_cursor == page.end() || !next_cursor->is_string() ||
      next_cursor->get_ref<const std::string&>().empty() ||
      !IsValidCursor(next_cursor->get_ref<const std::string&>())) {
    return InvalidArgument(
        "the answer's \"next_cursor\" is not a position in decimal: " +
        (next_cursor == page.end() ? std::string("missing") : next_cursor->dump().substr(0, 64)));
  }
  auto has_more = page.find("has_more");
  if (has_more != page.end() && !has_more->is_boolean()) {
    return InvalidArgument("the answer's \"has_more\" is not true or false");
  }
  result.next_cursor = next_cursor->get<std::string>();
  result.has_more = has_more != page.end() && has_more->get<bool>();
  result.orders.reserve(orders->size());
  for (auto& order : *orders) result.orders.push_back(std::move(order));
  return result;
}

bool IsValidCursor(std::string_view cursor) {
  if (cursor.size() > kMaxCursorDigits) return false;
  for (char c : cursor) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

int CompareCursors(std::string_view a, std::string_view b) {
  if (a.empty() || b.empty()) return a.empty() == b.empty() ? 0 : (a.empty() ? -1 : 1);
  a = WithoutLeadingZeros(a);
  b = WithoutLeadingZeros(b);
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  return a.compare(b) < 0 ? -1 : (a == b ? 0 : 1);
}

}  // namespace propbridge::homeservice
