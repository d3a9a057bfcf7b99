// One answer of the home-service platform's order listing, as its API returns it: the page,
// its cursor, and every order revision on it turned into an event or a rejection.
#include <string>
#include <variant>

#include "fuzz/fuzz_check.h"
#include "plugins/homeservice/order_revision.h"
#include "plugins/homeservice/orders_page.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace propbridge::homeservice;
  using propbridge::fuzz::Require;
  propbridge::Result<OrdersPage> page = ParseOrdersPage(propbridge::fuzz::AsText(data, size));
  if (!page.ok()) return 0;
  Require(IsValidCursor(page->next_cursor), "a page's cursor is valid");
  Require(CompareCursors(page->next_cursor, page->next_cursor) == 0, "a cursor equals itself");
  Require(CompareCursors("", page->next_cursor) < 0, "every position is after the start");
  for (const nlohmann::json& order : page->orders) {
    auto converted = ConvertRevision(order, "orders page");
    if (const auto* rejected = std::get_if<propbridge::sdk::RejectedRecord>(&converted)) {
      Require(!rejected->reason.empty(), "a rejection says why");
    }
  }
  return 0;
}
