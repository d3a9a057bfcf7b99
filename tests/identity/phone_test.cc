#include "daemon/identity/phone.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace propbridge::identity {
namespace {

struct Case {
  const char* raw;
  const char* canonical;
};

TEST(NormalizePhone, MobileNumbersAsVendorsWriteThem) {
  const Case cases[] = {
      {"13800138000", "13800138000"},
      {" 13800138000 ", "13800138000"},
      {"\t13800138000\r\n", "13800138000"},
      {"138 0013 8000", "13800138000"},
      {"138-0013-8000", "13800138000"},
      {"138.0013.8000", "13800138000"},
      {"(138)0013-8000", "13800138000"},
      {"+86 138 0013 8000", "13800138000"},
      {"+86-138-0013-8000", "13800138000"},
      {"+8613800138000", "13800138000"},
      {"(+86) 13800138000", "13800138000"},
      {"0086 13800138000", "13800138000"},
      {"008613800138000", "13800138000"},
      {"8613800138000", "13800138000"},
      {"86 138 0013 8000", "13800138000"},
      {"１３８００１３８０００", "13800138000"},              // full-width digits
      {"＋８６　１３８　００１３　８０００", "13800138000"},  // full-width plus, ideographic spaces
      {"１３８－００１３－８０００", "13800138000"},
      {"138\xC2\xA0"
       "0013\xC2\xA0"
       "8000",
       "13800138000"},  // no-break spaces from a spreadsheet
      {"\xEF\xBB\xBF"
       "13800138000",
       "13800138000"},                   // a BOM glued to the first column
      {"138—0013—8000", "13800138000"},  // em dashes
      {"19912345678", "19912345678"},
      {"16612345678", "16612345678"},
  };
  for (const Case& c : cases) {
    Result<std::string> phone = NormalizePhone(c.raw);
    ASSERT_TRUE(phone.ok()) << c.raw << ": " << phone.status().message();
    EXPECT_EQ(*phone, c.canonical) << c.raw;
  }
}

TEST(NormalizePhone, LandlinesKeepTheirAreaCode) {
  const Case cases[] = {
      {"010-8888 6666", "01088886666"},    {"(010)88886666", "01088886666"},
      {"010 88886666", "01088886666"},     {"021-6666 8888", "02166668888"},
      {"0755-8888 6666", "075588886666"},  {"0571-8888666", "05718888666"},  // 7-digit local number
      {"+86 10 8888 6666", "01088886666"}, {"+86 (0)10 8888 6666", "01088886666"},
      {"0086-21-66668888", "02166668888"}, {"０１０－８８８８　６６６６", "01088886666"},
  };
  for (const Case& c : cases) {
    Result<std::string> phone = NormalizePhone(c.raw);
    ASSERT_TRUE(phone.ok()) << c.raw << ": " << phone.status().message();
    EXPECT_EQ(*phone, c.canonical) << c.raw;
  }
}

struct Refused {
  const char* raw;
  const char* reason;  // a part of the message
};

TEST(NormalizePhone, RefusesWhatIsNotOnePhoneNumberAndSaysWhy) {
  const Refused cases[] = {
      {"", "empty"},
      {"   ", "empty"},
      {"　", "empty"},
      {"138001380", "11 digits"},
      {"138001380001", "11 digits"},
      {"12800138000", "no mobile number"},
      {"88886666", "without its area code"},
      {"8888666", "without its area code"},
      {"4008001234", "400/800"},
      {"800-810-1234", "400/800"},
      {"010-888866", "7 or 8 digits"},
      {"010-888866666", "7 or 8 digits"},
      {"0123-4567890", "01x"},
      {"13800138000/13900139000", "more than one number"},
      {"13800138000,13900139000", "more than one number"},
      {"13800138000；13900139000", "more than one number"},  // full-width semicolon
      {"13800138000、13900139000", "more than one number"},
      {"010-88886666转8001", "extension"},
      {"010-88886666 ext. 8001", "extension"},
      {"010 8888 6666 x801", "extension"},
      {"138OO138000", "letters"},  // capital O for zero
      {"tel:13800138000", "letters"},
      {"手机13800138000", "cannot have"},
      {"+1 415 555 0100", "other than +86"},
      {"+852 9123 4567", "other than +86"},
      {"138+00138000", "'+' inside"},
      {"95588", "too few digits"},
      {"1380013800013800", "11 digits"},
      {"2345678901234", "too many digits"},
  };
  for (const Refused& c : cases) {
    Result<std::string> phone = NormalizePhone(c.raw);
    ASSERT_FALSE(phone.ok()) << c.raw << " became " << *phone;
    EXPECT_EQ(phone.status().code(), StatusCode::kInvalidArgument) << c.raw;
    EXPECT_NE(phone.status().message().find(c.reason), std::string::npos)
        << c.raw << ": " << phone.status().message();
  }
}

TEST(NormalizePhone, AllZeroNumbersArePlaceholders) {
  for (const char* raw : {"00000000000", "000-0000-0000", "+86 000 0000 0000", "0086 00000000000",
                          "０００００００００００", "0"}) {
    Result<std::string> phone = NormalizePhone(raw);
    ASSERT_FALSE(phone.ok()) << raw;
    EXPECT_EQ(phone.status().code(), StatusCode::kFailedPrecondition) << raw;
  }
}

TEST(MaskPhone, HidesTheMiddleOfAMobileNumber) {
  EXPECT_EQ(MaskPhone("13800138000"), "138****8000");
  EXPECT_EQ(MaskPhone("01088886666"), "010****6666");
  EXPECT_EQ(MaskPhone("075588886666"), "075*****6666");
  EXPECT_EQ(MaskPhone("138-0013-8000"), "138-****-8000");
  EXPECT_EQ(MaskPhone("１３８００１３８０００"), "138****8000");
}

TEST(MaskPhone, ShortNumbersShowLessOrNothing) {
  EXPECT_EQ(MaskPhone("88886666"), "****6666");
  EXPECT_EQ(MaskPhone("4008001234"), "******1234");
  EXPECT_EQ(MaskPhone("95588"), "*****");
  EXPECT_EQ(MaskPhone(""), "");
  EXPECT_EQ(MaskPhone("unknown"), "unknown");
}

TEST(MaskPhone, NeverShowsAWholeNumberOrSevenOfItsDigitsInARow) {
  for (const char* raw : {"13800138000", "+86 138 0013 8000", "008613800138000", "01088886666",
                          "+86 10 8888 6666", "138 0013 8000 / 139 0013 9000"}) {
    std::string masked = MaskPhone(raw);
    std::size_t run = 0, longest = 0;
    for (char c : masked) {
      run = c >= '0' && c <= '9' ? run + 1 : 0;
      longest = std::max(longest, run);
    }
    EXPECT_LT(longest, 7u) << raw << " -> " << masked;
    EXPECT_EQ(masked.find("13800138000"), std::string::npos) << masked;
  }
}

}  // namespace
}  // namespace propbridge::identity
