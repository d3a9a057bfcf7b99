#include "plugins/billing/text_encoding.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/plugins/billing/gbk.h"

namespace propbridge::billing {
namespace {

TEST(BillingEncodingTest, ReadsTheEncodingSetting) {
  EXPECT_EQ(*ParseEncodingSetting("auto"), std::nullopt);
  EXPECT_EQ(*ParseEncodingSetting("utf-8"), Encoding::kUtf8);
  EXPECT_EQ(*ParseEncodingSetting("UTF-8"), Encoding::kUtf8);
  EXPECT_EQ(*ParseEncodingSetting("gbk"), Encoding::kGbk);
  EXPECT_EQ(*ParseEncodingSetting("GB18030"), Encoding::kGb18030);
  Result<std::optional<Encoding>> latin = ParseEncodingSetting("latin1");
  ASSERT_FALSE(latin.ok());
  EXPECT_EQ(latin.status().message(),
            "setting 'encoding' must be auto, utf-8, gbk or gb18030, not 'latin1'");
}

TEST(BillingEncodingTest, ReadsAByteOrderMark) {
  using namespace std::string_literals;
  struct Case {
    std::string head;
    std::size_t length;
    std::optional<Encoding> encoding;
    std::string refusal;
  };
  const Case cases[] = {
      {"record", 0, std::nullopt, ""},
      {"", 0, std::nullopt, ""},
      {"\xEF\xBB\xBFrec", 3, Encoding::kUtf8, ""},
      {"\x84\x31\x95\x33re", 4, Encoding::kGb18030, ""},
      {"\xEF\xBB\xBF\xEF\xBB\xBF", 3, Encoding::kUtf8,
       "the file starts with the UTF-8 byte-order mark twice (EF BB BF EF BB BF); save it with "
       "one"},
      {"\xFF\xFEr\0e\0"s, 2, std::nullopt,
       "the file is UTF-16LE (byte-order mark FF FE); export as UTF-8 or GBK"},
      {"\xFE\xFF\0r\0e"s, 2, std::nullopt,
       "the file is UTF-16BE (byte-order mark FE FF); export as UTF-8 or GBK"},
      {"\xFF\xFE\0\0r\0"s, 4, std::nullopt,
       "the file is UTF-32LE (byte-order mark FF FE 00 00); export as UTF-8 or GBK"},
      {"\0\0\xFE\xFF\0\0"s, 4, std::nullopt,
       "the file is UTF-32BE (byte-order mark 00 00 FE FF); export as UTF-8 or GBK"},
  };
  for (const Case& c : cases) {
    EncodingMark mark = ReadEncodingMark(c.head);
    EXPECT_EQ(mark.length, c.length) << c.refusal;
    EXPECT_EQ(mark.encoding, c.encoding) << c.refusal;
    EXPECT_EQ(mark.refusal, c.refusal);
  }
}

TEST(BillingEncodingTest, ValidatesUtf8Strictly) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("物业费 ¥1,280.00 ￥ 😀"));
  std::size_t bad = 0;
  for (const char* text : {"\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80",
                           "\xF5\x80\x80\x80", "\xFF", "\x80", "\xE4\xB8"}) {
    EXPECT_FALSE(IsValidUtf8(std::string("ab") + text, &bad)) << text;
    EXPECT_EQ(bad, 2u) << text;
  }
}

TEST(BillingEncodingTest, DecodesGbkToUtf8) {
  Result<TextDecoder> decoder = TextDecoder::Open(Encoding::kGbk);
  ASSERT_TRUE(decoder.ok()) << decoder.status().message();
  std::string text = ToGbk("户号,物业费,￥1,280.00,王秀英");
  ASSERT_NE(text, "户号,物业费,￥1,280.00,王秀英");
  EXPECT_EQ(decoder->Decode(text), std::nullopt);
  EXPECT_EQ(text, "户号,物业费,￥1,280.00,王秀英");
  std::string ascii = "R-1,charge";
  EXPECT_EQ(decoder->Decode(ascii), std::nullopt);
  EXPECT_EQ(ascii, "R-1,charge");
}

TEST(BillingEncodingTest, DecodesLongGbkText) {
  Result<TextDecoder> decoder = TextDecoder::Open(Encoding::kGbk);
  ASSERT_TRUE(decoder.ok());
  std::string utf8;
  for (int i = 0; i < 5000; ++i) utf8 += "水费电费a";
  std::string text = ToGbk(utf8);
  EXPECT_EQ(decoder->Decode(text), std::nullopt);
  EXPECT_EQ(text, utf8);
}

TEST(BillingEncodingTest, SaysWhereTextIsNotValidAndLeavesItAlone) {
  Result<TextDecoder> gbk = TextDecoder::Open(Encoding::kGbk);
  ASSERT_TRUE(gbk.ok());
  std::string text = ToGbk("水费") + "\x81\x20" + "x";
  const std::string original = text;
  EXPECT_EQ(gbk->Decode(text), "0x81 0x20 at byte 5");
  EXPECT_EQ(text, original);
  std::string truncated = ToGbk("电") + "\xB5";
  EXPECT_EQ(gbk->Decode(truncated), "0xB5 at byte 3");
  std::string four_byte = "\x81\x30\x81\x30";
  EXPECT_EQ(gbk->Decode(four_byte), "0x81 0x30 at byte 1");

  Result<TextDecoder> utf8 = TextDecoder::Open(Encoding::kUtf8);
  ASSERT_TRUE(utf8.ok());
  std::string broken = "物业\xFF费";
  EXPECT_EQ(utf8->Decode(broken), "0xFF 0xE8 at byte 7");
  EXPECT_EQ(broken, "物业\xFF费");
}

TEST(BillingEncodingTest, DecodesLossilyShowingBadBytes) {
  Result<TextDecoder> gbk = TextDecoder::Open(Encoding::kGbk);
  ASSERT_TRUE(gbk.ok());
  EXPECT_EQ(gbk->DecodeLossy(ToGbk("水费") + "\xFF" + ToGbk("电") + "\x81"), "水费\\xFF电\\x81");
  Result<TextDecoder> utf8 = TextDecoder::Open(Encoding::kUtf8);
  ASSERT_TRUE(utf8.ok());
  EXPECT_EQ(utf8->DecodeLossy("a\xC0\xAF物"), "a\\xC0\\xAF物");
}

TEST(BillingEncodingTest, Gb18030ReadsWhatGbkCannot) {
  Result<TextDecoder> decoder = TextDecoder::Open(Encoding::kGb18030);
  ASSERT_TRUE(decoder.ok());
  std::string text = ToGbk("费") + "\x81\x30\x81\x30";
  EXPECT_EQ(decoder->Decode(text), std::nullopt);
  EXPECT_EQ(text, "费\u0080");
}

TEST(BillingEncodingTest, DecodersMove) {
  Result<TextDecoder> opened = TextDecoder::Open(Encoding::kGbk);
  ASSERT_TRUE(opened.ok());
  TextDecoder moved = std::move(*opened);
  std::string text = ToGbk("户号");
  EXPECT_EQ(moved.Decode(text), std::nullopt);
  EXPECT_EQ(text, "户号");
  Result<TextDecoder> utf8 = TextDecoder::Open(Encoding::kUtf8);
  ASSERT_TRUE(utf8.ok());
  TextDecoder other = std::move(*utf8);
  EXPECT_EQ(other.encoding(), Encoding::kUtf8);
  other = std::move(moved);
  EXPECT_EQ(other.encoding(), Encoding::kGbk);
}

TEST(BillingEncodingTest, GuessesUtf8UnlessMostNonAsciiRecordsAreNot) {
  EncodingGuess ascii;
  ascii.Add("R-1,charge,A-1001");
  EXPECT_EQ(ascii.Result(), Encoding::kUtf8);

  EncodingGuess gbk;
  for (const char* row : {"单据号,户号", "R-1,水费", "R-2,电费", "R-3,x"}) gbk.Add(ToGbk(row));
  EXPECT_EQ(gbk.Result(), Encoding::kGbk);

  EncodingGuess damaged_utf8;
  for (const char* row : {"单据号,户号", "R-1,水费", "R-2,电\xFF费", "R-3,x"}) {
    damaged_utf8.Add(row);
  }
  EXPECT_EQ(damaged_utf8.Result(), Encoding::kUtf8);
}

}  // namespace
}  // namespace propbridge::billing
