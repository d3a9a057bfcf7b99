#include "daemon/identity/text.h"

#include <gtest/gtest.h>

#include <string>

namespace propbridge::identity {
namespace {

TEST(FoldWidth, FullWidthAsciiBecomesAscii) {
  EXPECT_EQ(FoldWidth("！"), "!");  // U+FF01, the first
  EXPECT_EQ(FoldWidth("～"), "~");  // U+FF5E, the last
  EXPECT_EQ(FoldWidth("Ａ－１００１＃（ｘ）"), "A-1001#(x)");
  EXPECT_EQ(FoldWidth("　"), " ");  // ideographic space
  EXPECT_EQ(FoldWidth("a\xC2\xA0"
                      "b"),
            "a b");  // no-break space
}

TEST(FoldWidth, TypographicDashesAndInvisiblesAreCleanedUp) {
  EXPECT_EQ(FoldWidth("3‐2‑1202"), "3-2-1202");   // hyphen, non-breaking hyphen
  EXPECT_EQ(FoldWidth("3–2—1202"), "3-2-1202");   // en and em dash
  EXPECT_EQ(FoldWidth("3−2﹣1202"), "3-2-1202");  // minus sign, small hyphen-minus
  EXPECT_EQ(FoldWidth("\xEF\xBB\xBF"
                      "A\xE2\x80\x8B"
                      "1"),
            "A1");  // BOM, zero-width space
}

TEST(FoldWidth, EverythingElseIsCopiedAsItIs) {
  EXPECT_EQ(FoldWidth("阳光花园3栋、"), "阳光花园3栋、");
  EXPECT_EQ(FoldWidth("ｶ"), "ｶ");  // half-width katakana is outside the range
  EXPECT_EQ(FoldWidth("😀"), "😀");
  // Not UTF-8: a GBK "张", an overlong '/', a lone continuation byte, a cut sequence.
  for (std::string bad : {std::string("\xD5\xC5"), std::string("\xC0\xAF"), std::string("\x80"),
                          std::string("\xEF\xBC")}) {
    EXPECT_EQ(FoldWidth(bad), bad);
  }
}

TEST(IsUtf8, AcceptsWellFormedTextOnly) {
  EXPECT_TRUE(IsUtf8(""));
  EXPECT_TRUE(IsUtf8("plain ASCII\x7F"));
  EXPECT_TRUE(IsUtf8("阳光花园3栋 😀 \xC2\xA0"));
  EXPECT_TRUE(IsUtf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF, the last code point
  // A GBK "张", an overlong '/', a lone continuation byte, a cut sequence, a surrogate, past
  // U+10FFFF.
  for (std::string bad :
       {std::string("\xD5\xC5"), std::string("\xC0\xAF"), std::string("a\x80"),
        std::string("\xEF\xBC"), std::string("\xED\xA0\x80"), std::string("\xF4\x90\x80\x80")}) {
    EXPECT_FALSE(IsUtf8(bad)) << bad;
  }
}

TEST(ValidUtf8, EscapesOnlyTheBytesThatBeginNoCharacter) {
  EXPECT_EQ(ValidUtf8("阳光花园 d05.csv"), "阳光花园 d05.csv");
  // A file name in a legacy encoding, a cut sequence before valid text, a lone continuation.
  EXPECT_EQ(ValidUtf8("d05-\xff\xfename.csv"), "d05-\\xFF\\xFEname.csv");
  EXPECT_EQ(ValidUtf8("\xE9\x98阳"), "\\xE9\\x98阳");
  EXPECT_EQ(ValidUtf8("a\x80"), "a\\x80");
  for (std::string bad :
       {std::string("\xD5\xC5"), std::string("\xED\xA0\x80"), std::string("x\0\xC0\xAFy", 5)}) {
    EXPECT_TRUE(IsUtf8(ValidUtf8(bad))) << bad;
  }
}

TEST(CutUtf8, NeverEndsInsideACharacter) {
  EXPECT_EQ(CutUtf8("abc", 5), "abc");
  EXPECT_EQ(CutUtf8("abc", 2), "ab");
  const std::string text = "阳光😀";  // 3 + 3 + 4 bytes
  EXPECT_EQ(CutUtf8(text, 3), "阳");
  EXPECT_EQ(CutUtf8(text, 5), "阳");
  EXPECT_EQ(CutUtf8(text, 6), "阳光");
  EXPECT_EQ(CutUtf8(text, 9), "阳光");
  EXPECT_EQ(CutUtf8(text, 10), text);
  EXPECT_EQ(CutUtf8(text, 0), "");
}

TEST(Spaces, TrimAndCollapse) {
  EXPECT_EQ(TrimSpaces(" \t a b \r\n"), "a b");
  EXPECT_EQ(TrimSpaces(""), "");
  EXPECT_EQ(CollapseSpaces("  a \t\n b  c "), "a b c");
  EXPECT_EQ(CollapseSpaces("   "), "");
}

TEST(EqualsIgnoringAsciiCase, OnlyAsciiLettersFold) {
  EXPECT_TRUE(EqualsIgnoringAsciiCase("N/A", "n/a"));
  EXPECT_TRUE(EqualsIgnoringAsciiCase("未知", "未知"));
  EXPECT_FALSE(EqualsIgnoringAsciiCase("null", "nul"));
  EXPECT_FALSE(EqualsIgnoringAsciiCase("ＮＵＬＬ", "null"));
}

}  // namespace
}  // namespace propbridge::identity
