#include "plugins/billing/billing_export.h"

#include <gtest/gtest.h>

#include <chrono>
#include <sstream>
#include <string>
#include <vector>

namespace propbridge::billing {
namespace {

using namespace std::chrono;

constexpr const char* kHeader =
    "record_id,record_type,account_no,unit,customer_name,phone,occurred_at,item,amount,note";

// The records of `csv`: the header's layout, then the data records.
struct Parsed {
  ExportLayout layout;
  std::vector<CsvRecord> rows;
};

Parsed Parse(const std::string& csv) {
  std::istringstream in(csv);
  CsvReader reader(in);
  CsvRecord header;
  EXPECT_TRUE(reader.Next(header));
  Result<ExportLayout> layout = ExportLayout::FromHeader(header.fields);
  EXPECT_TRUE(layout.ok()) << layout.status().message();
  Parsed parsed{*layout, {}};
  CsvRecord record;
  while (reader.Next(record)) parsed.rows.push_back(record);
  return parsed;
}

sdk::RawEvent ExpectEvent(const std::string& csv) {
  Parsed parsed = Parse(csv);
  EXPECT_EQ(parsed.rows.size(), 1u);
  auto converted = parsed.layout.Convert(parsed.rows.at(0), "nov.csv");
  if (auto* rejected = std::get_if<sdk::RejectedRecord>(&converted)) {
    ADD_FAILURE() << "rejected: " << rejected->reason;
    return {};
  }
  return std::get<sdk::RawEvent>(converted);
}

sdk::RejectedRecord ExpectRejected(const std::string& row) {
  Parsed parsed = Parse(std::string(kHeader) + "\n" + row + "\n");
  EXPECT_EQ(parsed.rows.size(), 1u);
  auto converted = parsed.layout.Convert(parsed.rows.at(0), "nov.csv");
  if (!std::holds_alternative<sdk::RejectedRecord>(converted)) {
    ADD_FAILURE() << "not rejected: " << row;
    return {};
  }
  return std::get<sdk::RejectedRecord>(converted);
}

std::string Attribute(const sdk::RawEvent& event, const std::string& key) {
  for (const auto& [k, v] : event.attributes) {
    if (k == key) return v;
  }
  return "<absent>";
}

sdk::LocalTime Local(int y, unsigned mo, unsigned d, int h, int mi) {
  return sdk::LocalTime{local_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi}};
}

TEST(BillingAmountTest, ParsesExportForms) {
  EXPECT_EQ(ParseAmountFen("1,234.50"), 123450);
  EXPECT_EQ(ParseAmountFen("¥1234.5"), 123450);
  EXPECT_EQ(ParseAmountFen("0.1"), 10);
  EXPECT_EQ(ParseAmountFen("1280"), 128000);
  EXPECT_EQ(ParseAmountFen("￥1,280.00"), 128000);
  EXPECT_EQ(ParseAmountFen(" ¥ 12.34 "), 1234);
  EXPECT_EQ(ParseAmountFen("1,234,567.89"), 123456789);
  EXPECT_EQ(ParseAmountFen("-12.5"), -1250);
  EXPECT_EQ(ParseAmountFen("¥-12.5"), -1250);
  EXPECT_EQ(ParseAmountFen("-¥12.5"), -1250);
  EXPECT_EQ(ParseAmountFen("12.500"), 1250);
  EXPECT_EQ(ParseAmountFen("0"), 0);
  EXPECT_EQ(ParseAmountFen("999999999999999.99"), 99999999999999999);
}

TEST(BillingAmountTest, RefusesGarbage) {
  for (const char* text : {"",
                           " ",
                           "abc",
                           "12abc",
                           "1.2.3",
                           "12,34",
                           "1,2345",
                           "1234,567",
                           ",123",
                           "1,,234",
                           "1,",
                           "1.005",
                           "12.",
                           ".5",
                           "¥",
                           "-",
                           "--1",
                           "-¥-1",
                           "1 000",
                           "+5",
                           "1e3",
                           "0x10",
                           "1000000000000000"}) {
    EXPECT_EQ(ParseAmountFen(text), std::nullopt) << "'" << text << "'";
  }
}

TEST(BillingAmountTest, FormatsYuan) {
  EXPECT_EQ(FormatYuan(128000), "¥1,280.00");
  EXPECT_EQ(FormatYuan(5), "¥0.05");
  EXPECT_EQ(FormatYuan(123456789), "¥1,234,567.89");
  EXPECT_EQ(FormatYuan(-1250), "-¥12.50");
  EXPECT_EQ(FormatYuan(99999), "¥999.99");
}

TEST(BillingExportTest, ConvertsChargeWithAllFields) {
  sdk::RawEvent event =
      ExpectEvent(std::string(kHeader) +
                  "\nR-1,charge,A-1001,3-2-1202,张三,13800138000,2026-11-02 09:30,property fee,"
                  "\"1,280.00\",\"October, November\"\n");
  EXPECT_EQ(event.kind, "billing.charge.posted");
  EXPECT_EQ(event.source_event_id, "R-1");
  ASSERT_TRUE(std::holds_alternative<sdk::LocalTime>(event.occurred_at));
  EXPECT_EQ(std::get<sdk::LocalTime>(event.occurred_at), Local(2026, 11, 2, 9, 30));
  ASSERT_EQ(event.identifiers.size(), 3u);
  EXPECT_EQ(event.identifiers[0].type, "account");
  EXPECT_EQ(event.identifiers[0].value, "A-1001");
  EXPECT_EQ(event.identifiers[1].type, "unit");
  EXPECT_EQ(event.identifiers[1].value, "3-2-1202");
  EXPECT_EQ(event.identifiers[2].type, "phone");
  EXPECT_EQ(event.identifiers[2].value, "13800138000");
  EXPECT_EQ(Attribute(event, "amount_fen"), "128000");
  EXPECT_EQ(Attribute(event, "item"), "property fee");
  EXPECT_EQ(Attribute(event, "customer_name"), "张三");
  EXPECT_EQ(Attribute(event, "note"), "October, November");
  EXPECT_EQ(event.summary, "Charged property fee ¥1,280.00");
  EXPECT_EQ(event.matter_id, "bill:R-1");
  EXPECT_EQ(event.matter_state, sdk::MatterState::kOpened);
  EXPECT_FALSE(event.contact);
  EXPECT_EQ(event.origin, "nov.csv line 2");
  for (const auto& [key, value] : event.attributes) {
    EXPECT_EQ(value.find("13800138000"), std::string::npos) << key;
  }
  EXPECT_EQ(event.summary.find("13800138000"), std::string::npos);
}

TEST(BillingExportTest, ConvertsPayment) {
  sdk::RawEvent event = ExpectEvent(std::string(kHeader) +
                                    "\nP-7,payment,A-1002,,Li Wei,,2026-11-05T18:02:11+08:00,"
                                    "property fee,¥1280,\n");
  EXPECT_EQ(event.kind, "billing.payment.received");
  EXPECT_EQ(event.summary, "Payment received ¥1,280.00 (property fee)");
  ASSERT_TRUE(std::holds_alternative<sdk::UtcTime>(event.occurred_at));
  EXPECT_EQ(std::get<sdk::UtcTime>(event.occurred_at),
            sys_days{2026y / 11 / 5} + hours{10} + minutes{2} + seconds{11});
  ASSERT_EQ(event.identifiers.size(), 1u);
  EXPECT_EQ(Attribute(event, "note"), "<absent>");
  EXPECT_TRUE(event.matter_id.empty());
  EXPECT_EQ(event.proposed_initiative, sdk::Initiative::kUnspecified);
}

TEST(BillingExportTest, ConvertsReminderAsProactiveMessage) {
  sdk::RawEvent event = ExpectEvent(std::string(kHeader) +
                                    "\nM-3,reminder,A-1003,5-1-302,,,2026/11/20 10:00,"
                                    "property fee,\"2,560.00\",second notice\n");
  EXPECT_EQ(event.kind, "billing.reminder.overdue_sent");
  EXPECT_EQ(event.summary, "Overdue reminder sent: property fee ¥2,560.00");
  EXPECT_EQ(event.proposed_initiative, sdk::Initiative::kProactive);
  EXPECT_TRUE(event.contact);
  EXPECT_EQ(event.channel, "message");
}

TEST(BillingExportTest, ReminderNeedsNoAmount) {
  sdk::RawEvent event =
      ExpectEvent(std::string(kHeader) + "\nM-4,Reminder,A-1003,,,,2026-11-20,,,\n");
  EXPECT_EQ(event.summary, "Overdue reminder sent");
  EXPECT_EQ(Attribute(event, "amount_fen"), "<absent>");
  EXPECT_EQ(std::get<sdk::LocalTime>(event.occurred_at), Local(2026, 11, 20, 0, 0));
}

TEST(BillingExportTest, MatchesColumnsByNameInAnyOrder) {
  sdk::RawEvent event = ExpectEvent(
      "\xEF\xBB\xBF Amount ,occurred_at,extra,ACCOUNT_NO,record_type,record_id\r\n"
      "99.9,2026-10-01 08:00,ignored,A-1005,charge,C-9\r\n");
  EXPECT_EQ(event.source_event_id, "C-9");
  EXPECT_EQ(event.identifiers.size(), 1u);
  EXPECT_EQ(event.identifiers[0].value, "A-1005");
  EXPECT_EQ(Attribute(event, "amount_fen"), "9990");
  EXPECT_EQ(event.summary, "Charged ¥99.90");
}

TEST(BillingExportTest, HeaderMustNameRequiredColumnsOnce) {
  Result<ExportLayout> missing =
      ExportLayout::FromHeader({"record_id", "unit", "record_type", "note"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("account_no, occurred_at, amount"), std::string::npos)
      << missing.status().message();

  Result<ExportLayout> twice = ExportLayout::FromHeader(
      {"record_id", "record_type", "account_no", "occurred_at", "amount", "Record_ID"});
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("'record_id' twice"), std::string::npos);
}

TEST(BillingExportTest, RejectsWrongFieldCount) {
  sdk::RejectedRecord rejected = ExpectRejected("R-1,charge,A-1001,,,,2026-11-02,fee,12");
  EXPECT_EQ(rejected.origin, "nov.csv line 2");
  EXPECT_EQ(rejected.reason, "the row has 9 field(s) but the header has 10");
  EXPECT_EQ(rejected.raw, "R-1,charge,A-1001,,,,2026-11-02,fee,12");
}

TEST(BillingExportTest, RejectsMissingRequiredValues) {
  EXPECT_EQ(ExpectRejected(",charge,A-1001,,,,2026-11-02,fee,12,").reason, "record_id is empty");
  EXPECT_EQ(ExpectRejected("R-1,charge, ,,,,2026-11-02,fee,12,").reason, "account_no is empty");
  EXPECT_EQ(ExpectRejected("R-1,charge,A-1001,,,,,fee,12,").reason, "occurred_at is empty");
  EXPECT_EQ(ExpectRejected("R-1,,A-1001,,,,2026-11-02,fee,12,").reason, "record_type is empty");
  EXPECT_EQ(ExpectRejected("R-1,charge,A-1001,,,,2026-11-02,fee,,").reason, "amount is empty");
  EXPECT_EQ(ExpectRejected("R-1,payment,A-1001,,,,2026-11-02,fee,,").reason, "amount is empty");
}

TEST(BillingExportTest, RejectsUnparseableValues) {
  EXPECT_EQ(ExpectRejected("R-1,charge,A-1001,,,,2026-02-30 10:00,fee,12,").reason,
            "occurred_at '2026-02-30 10:00' is not a date-time like 2026-11-02 09:30");
  EXPECT_EQ(ExpectRejected("R-1,charge,A-1001,,,,yesterday,fee,12,").reason,
            "occurred_at 'yesterday' is not a date-time like 2026-11-02 09:30");
  EXPECT_EQ(ExpectRejected("R-1,charge,A-1001,,,,2026-11-02,fee,12 yuan,").reason,
            "amount '12 yuan' is not an amount like 1,280.00");
  EXPECT_EQ(ExpectRejected("R-1,refund,A-1001,,,,2026-11-02,fee,12,").reason,
            "record_type 'refund' is not charge, payment or reminder");
}

TEST(BillingExportTest, ListsEveryProblemOfARow) {
  sdk::RejectedRecord rejected = ExpectRejected(",charge,,,,,soon,fee,abc,");
  EXPECT_EQ(rejected.reason,
            "record_id is empty; account_no is empty; occurred_at 'soon' is not a date-time "
            "like 2026-11-02 09:30; amount 'abc' is not an amount like 1,280.00");
}

TEST(BillingExportTest, RejectsMalformedQuoting) {
  sdk::RejectedRecord rejected =
      ExpectRejected("R-1,charge,A-1001,,Wang \"Xiao\" Ming,,2026-11-02,fee,12,");
  EXPECT_NE(rejected.reason.find("quote inside an unquoted field"), std::string::npos);
  EXPECT_EQ(rejected.raw, "R-1,charge,A-1001,,Wang \"Xiao\" Ming,,2026-11-02,fee,12,");
}

TEST(BillingExportTest, ShortensLongValuesInReasons) {
  std::string long_type(100, 'z');
  sdk::RejectedRecord rejected =
      ExpectRejected("R-1," + long_type + ",A-1001,,,,2026-11-02,fee,12,");
  EXPECT_EQ(rejected.reason,
            "record_type '" + std::string(40, 'z') + "...' is not charge, payment or reminder");
}

}  // namespace
}  // namespace propbridge::billing
