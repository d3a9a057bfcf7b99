#include "plugins/homeservice/orders_page.h"

#include <gtest/gtest.h>

namespace propbridge::homeservice {
namespace {

TEST(HomeServicePageTest, ReadsAPage) {
  Result<OrdersPage> page = ParseOrdersPage(
      R"({"orders": [{"order_id": "HS-1"}, 42], "next_cursor": "0012", "has_more": true})");
  ASSERT_TRUE(page.ok()) << page.status().message();
  ASSERT_EQ(page->orders.size(), 2u);
  EXPECT_EQ(page->orders[0]["order_id"], "HS-1");
  EXPECT_EQ(page->orders[1], 42);
  EXPECT_EQ(page->next_cursor, "0012");
  EXPECT_TRUE(page->has_more);

  page = ParseOrdersPage(R"({"orders": [], "next_cursor": "7", "extra": 1})");
  ASSERT_TRUE(page.ok());
  EXPECT_FALSE(page->has_more);
}

TEST(HomeServicePageTest, SaysWhatIsWrongWithSomethingThatIsNotAPage) {
  auto error = [](std::string_view body) { return ParseOrdersPage(body).status().message(); };
  EXPECT_EQ(error("<html>502 Bad Gateway</html>"), "the answer is not JSON");
  EXPECT_EQ(error("[]"), "the answer is not a JSON object");
  EXPECT_EQ(error(R"({"next_cursor": "1"})"), "the answer has no \"orders\" array");
  EXPECT_EQ(error(R"({"orders": [], "has_more": false})"),
            "the answer's \"next_cursor\" is not a position in decimal: missing");
  EXPECT_EQ(error(R"({"orders": [], "next_cursor": "abc"})"),
            "the answer's \"next_cursor\" is not a position in decimal: \"abc\"");
  EXPECT_EQ(error(R"({"orders": [], "next_cursor": 5})"),
            "the answer's \"next_cursor\" is not a position in decimal: 5");
  EXPECT_EQ(error(R"({"orders": [], "next_cursor": "5", "has_more": "yes"})"),
            "the answer's \"has_more\" is not true or false");
}

// Writing an order nested 100,000 levels deep into its rejection (nlohmann's dump() recurses)
// overflowed the plugin's stack: the host process crashed on every poll of that page.
TEST(HomeServicePageTest, RefusesAnAnswerNestedDeeperThanAnyPage) {
  auto nested = [](int depth) {
    return R"({"orders": [)" + std::string(depth, '[') + std::string(depth, ']') +
           R"(], "next_cursor": "1"})";
  };
  Result<OrdersPage> page = ParseOrdersPage(nested(60));
  ASSERT_TRUE(page.ok()) << page.status().message();
  EXPECT_EQ(page->orders.size(), 1u);
  EXPECT_EQ(ParseOrdersPage(nested(100000)).status().message(),
            "the answer nests values more than 64 levels deep");
}

TEST(HomeServicePageTest, CursorsArePositionsInDecimal) {
  EXPECT_TRUE(IsValidCursor(""));
  EXPECT_TRUE(IsValidCursor("0"));
  EXPECT_TRUE(IsValidCursor("18446744073709551616000"));
  EXPECT_FALSE(IsValidCursor("-1"));
  EXPECT_FALSE(IsValidCursor("12a"));
  EXPECT_FALSE(IsValidCursor(std::string(41, '1')));

  EXPECT_LT(CompareCursors("", "0"), 0);
  EXPECT_EQ(CompareCursors("", ""), 0);
  EXPECT_GT(CompareCursors("10", "9"), 0);
  EXPECT_LT(CompareCursors("9", "10"), 0);
  EXPECT_EQ(CompareCursors("007", "7"), 0);
  EXPECT_EQ(CompareCursors("0", "000"), 0);
  EXPECT_LT(CompareCursors("18446744073709551615", "18446744073709551616"), 0);
}

}  // namespace
}  // namespace propbridge::homeservice
