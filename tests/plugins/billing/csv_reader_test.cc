#include "plugins/billing/csv_reader.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "tests/plugins/billing/gbk.h"

namespace propbridge::billing {
namespace {

using Fields = std::vector<std::string>;

std::vector<CsvRecord> ReadAll(const std::string& text,
                               std::size_t max_record_bytes = CsvReader::kDefaultMaxRecordBytes) {
  std::istringstream in(text);
  CsvReader reader(in, max_record_bytes);
  std::vector<CsvRecord> records;
  CsvRecord record;
  while (reader.Next(record)) records.push_back(record);
  EXPECT_FALSE(reader.failed());
  return records;
}

TEST(BillingCsvReaderTest, ReadsPlainRecordsWithLineNumbersAndRawText) {
  auto records = ReadAll("a,b,c\n1,2,3\n");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].fields, (Fields{"a", "b", "c"}));
  EXPECT_EQ(records[1].fields, (Fields{"1", "2", "3"}));
  EXPECT_EQ(records[0].line, 1);
  EXPECT_EQ(records[1].line, 2);
  EXPECT_EQ(records[1].raw, "1,2,3");
  EXPECT_TRUE(records[1].error.empty());
}

TEST(BillingCsvReaderTest, AcceptsCrlfLfAndCrLineEnds) {
  auto records = ReadAll("a,b\r\nc,d\ne,f\rg,h");
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[0].fields, (Fields{"a", "b"}));
  EXPECT_EQ(records[0].raw, "a,b");
  EXPECT_EQ(records[1].fields, (Fields{"c", "d"}));
  EXPECT_EQ(records[2].fields, (Fields{"e", "f"}));
  EXPECT_EQ(records[3].fields, (Fields{"g", "h"}));
  EXPECT_EQ(records[3].line, 4);
}

TEST(BillingCsvReaderTest, DropsByteOrderMarkAtStartOnly) {
  auto records = ReadAll("\xEF\xBB\xBFrecord_id,amount\r\n\xEF\xBB\xBFx,1\r\n");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].fields, (Fields{"record_id", "amount"}));
  EXPECT_EQ(records[1].fields[0], "\xEF\xBB\xBFx");
}

TEST(BillingCsvReaderTest, UnquotesCommasAndDoubledQuotes) {
  auto records = ReadAll(R"(1,"1,234.50","say ""hi""","",x)"
                         "\n");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].fields, (Fields{"1", "1,234.50", "say \"hi\"", "", "x"}));
  EXPECT_EQ(records[0].raw, R"(1,"1,234.50","say ""hi""","",x)");
  EXPECT_TRUE(records[0].error.empty());
}

TEST(BillingCsvReaderTest, KeepsNewlinesInQuotedFieldsAndCountsTheirLines) {
  auto records = ReadAll("h1,h2\n1,\"first\nsecond\"\n2,\"a\r\nb\"\r\n3,x\n");
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[1].fields, (Fields{"1", "first\nsecond"}));
  EXPECT_EQ(records[1].line, 2);
  EXPECT_EQ(records[1].raw, "1,\"first\nsecond\"");
  EXPECT_EQ(records[2].fields, (Fields{"2", "a\r\nb"}));
  EXPECT_EQ(records[2].line, 4);
  EXPECT_EQ(records[3].fields, (Fields{"3", "x"}));
  EXPECT_EQ(records[3].line, 6);
}

TEST(BillingCsvReaderTest, SkipsBlankLinesButCountsThem) {
  auto records = ReadAll("a\n\n\r\n\nb\n\n");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].fields, (Fields{"b"}));
  EXPECT_EQ(records[1].line, 5);
}

TEST(BillingCsvReaderTest, KeepsEmptyFieldsAndSpaces) {
  auto records = ReadAll(",, a ,\n");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].fields, (Fields{"", "", " a ", ""}));
}

TEST(BillingCsvReaderTest, PassesUtf8Through) {
  auto records = ReadAll("张三,\"物业费，十月\"\n");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].fields, (Fields{"张三", "物业费，十月"}));
}

TEST(BillingCsvReaderTest, CutsGbkRecordsAtTheSameBytes) {
  // GBK's second bytes include 0x5C and ASCII letters, but never a comma, quote or line end.
  std::string text = ToGbk("户号,\"物业费，十月\"\r\n乗Q,\"两\n行\"\r\n");
  auto records = ReadAll(text);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].fields, (Fields{ToGbk("户号"), ToGbk("物业费，十月")}));
  EXPECT_EQ(records[1].fields, (Fields{ToGbk("乗Q"), ToGbk("两\n行")}));
  EXPECT_EQ(records[1].raw, ToGbk("乗Q,\"两\n行\""));
}

TEST(BillingCsvReaderTest, FlagsQuoteInsideUnquotedField) {
  auto records = ReadAll("1,ab\"c,d\n2,ok\n");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_NE(records[0].error.find("quote inside an unquoted field"), std::string::npos);
  EXPECT_EQ(records[0].raw, "1,ab\"c,d");
  EXPECT_TRUE(records[1].error.empty());
  EXPECT_EQ(records[1].fields, (Fields{"2", "ok"}));
}

TEST(BillingCsvReaderTest, FlagsTextAfterClosingQuote) {
  auto records = ReadAll("1,\"ab\"c,d\n2,ok\n");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_NE(records[0].error.find("closing quote"), std::string::npos);
  EXPECT_EQ(records[0].fields.size(), 3u);
  EXPECT_TRUE(records[1].error.empty());
}

TEST(BillingCsvReaderTest, FlagsUnterminatedQuoteAtEnd) {
  auto records = ReadAll("1,ok\n2,\"never closed\n3,x\n");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_TRUE(records[0].error.empty());
  EXPECT_NE(records[1].error.find("not closed"), std::string::npos);
  EXPECT_EQ(records[1].line, 2);
}

TEST(BillingCsvReaderTest, RejectsOverlongRecordAndGoesOn) {
  std::string text = "1," + std::string(100, 'x') + "\n2,ok\n";
  auto records = ReadAll(text, 50);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_NE(records[0].error.find("longer than 50 bytes"), std::string::npos);
  EXPECT_TRUE(records[0].fields.empty());
  EXPECT_LE(records[0].raw.size(), 50u);
  EXPECT_EQ(records[1].fields, (Fields{"2", "ok"}));
  EXPECT_EQ(records[1].line, 2);
}

TEST(BillingCsvReaderTest, ReadsRecordsAcrossBufferBoundaries) {
  std::string big(70000, 'y');
  std::string text;
  for (int i = 0; i < 3; ++i) text += "\"" + big + "\"\r\n" + std::to_string(i) + "\r\n";
  auto records = ReadAll(text);
  ASSERT_EQ(records.size(), 6u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(records[2 * i].fields, (Fields{big}));
    EXPECT_EQ(records[2 * i + 1].fields, (Fields{std::to_string(i)}));
    EXPECT_EQ(records[2 * i + 1].line, 2 * i + 2);
  }
}

}  // namespace
}  // namespace propbridge::billing
