#include "plugins/billing/billing_export.h"

#include <gtest/gtest.h>

#include <chrono>
#include <span>
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
  Result<ExportLayout> layout = ExportLayout::FromHeader(header.fields, PresetFormats());
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

sdk::RejectedRecord ExpectRejected(const std::string& row, const std::string& header = kHeader) {
  Parsed parsed = Parse(header + "\n" + row + "\n");
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

std::span<const ExportFormat> Only(const std::string& name) {
  for (const ExportFormat& format : PresetFormats()) {
    if (format.name == name) return {&format, 1};
  }
  ADD_FAILURE() << "no preset " << name;
  return {};
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
  EXPECT_EQ(ParseAmountFen("(12.00)"), -1200);
  EXPECT_EQ(ParseAmountFen("( ¥1,234.50 )"), -123450);
  EXPECT_EQ(ParseAmountFen("56.20元"), 5620);
  EXPECT_EQ(ParseAmountFen("(120.00)元"), -12000);
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
                           "1000000000000000",
                           "()",
                           "(-12)",
                           "(12",
                           "12)",
                           "元",
                           "12元元"}) {
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

TEST(BillingTimeTest, ReadsSpreadsheetDateTimes) {
  EXPECT_EQ(std::get<sdk::LocalTime>(*ParseExportTime("2026/11/5 8:00")), Local(2026, 11, 5, 8, 0));
  EXPECT_EQ(std::get<sdk::LocalTime>(*ParseExportTime("2026-1-5 18:07")), Local(2026, 1, 5, 18, 7));
  EXPECT_EQ(std::get<sdk::LocalTime>(*ParseExportTime("2026-11-02 09:30")),
            Local(2026, 11, 2, 9, 30));
  EXPECT_EQ(std::get<sdk::LocalTime>(*ParseExportTime("2026/11/5")), Local(2026, 11, 5, 0, 0));
  EXPECT_EQ(std::get<sdk::UtcTime>(*ParseExportTime("2026/11/5 8:00+8:00")),
            sys_days{2026y / 11 / 5} + hours{0});
  for (const char* text : {"2026/11/5 8:5", "2026/13/5", "2026/11/31 8:00", "26/11/5", "5.11.2026",
                           "2026/11/5 24:00", ""}) {
    EXPECT_EQ(ParseExportTime(text), std::nullopt) << text;
  }
}

TEST(BillingExportTest, HeaderMustNameRequiredColumnsOnce) {
  Result<ExportLayout> missing =
      ExportLayout::FromHeader({"record_id", "unit", "record_type", "note"}, Only("bundled"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("account_no, occurred_at, amount"), std::string::npos)
      << missing.status().message();

  Result<ExportLayout> twice = ExportLayout::FromHeader(
      {"record_id", "record_type", "account_no", "occurred_at", "amount", "Record_ID"},
      Only("bundled"));
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.status().message(), "the header names column 'record_id' twice");
}

TEST(BillingExportTest, PicksTheFormatTheHeaderFollows) {
  Result<ExportLayout> bundled = ExportLayout::FromHeader(
      {"record_id", "record_type", "account_no", "occurred_at", "amount"}, PresetFormats());
  ASSERT_TRUE(bundled.ok());
  EXPECT_EQ(bundled->format(), "bundled");
  Result<ExportLayout> chinese = ExportLayout::FromHeader(
      {" 单据号 ", "单据类型", "户号", "发生时间", "金额", "备注"}, PresetFormats());
  ASSERT_TRUE(chinese.ok());
  EXPECT_EQ(chinese->format(), "chinese");

  Result<ExportLayout> neither =
      ExportLayout::FromHeader({"record_id", "单据类型", "户号", "amount"}, PresetFormats());
  ASSERT_FALSE(neither.ok());
  EXPECT_EQ(neither.status().message(),
            "the header fits no export format: for the bundled format it lacks the required "
            "column(s) record_type, account_no, occurred_at; for the chinese format it lacks the "
            "required column(s) 单据号, 发生时间, 金额");
}

TEST(BillingExportTest, ReadsTheChineseFormat) {
  sdk::RawEvent event = ExpectEvent(
      "单据号,单据类型,户号,房号,客户姓名,联系电话,发生时间,收费项目,金额,备注,状态\n"
      "SD-1,应收,A-1001,3-2-1202,张伟,13800138001,2026/11/5 8:00,水费,￥56.00,10月用水 14 吨,\n");
  EXPECT_EQ(event.kind, "billing.charge.posted");
  EXPECT_EQ(event.source_event_id, "SD-1");
  EXPECT_EQ(std::get<sdk::LocalTime>(event.occurred_at), Local(2026, 11, 5, 8, 0));
  EXPECT_EQ(event.summary, "Charged 水费 ¥56.00");
  EXPECT_EQ(event.identifiers.size(), 3u);
  EXPECT_EQ(Attribute(event, "customer_name"), "张伟");
  EXPECT_EQ(Attribute(event, "note"), "10月用水 14 吨");
  EXPECT_EQ(event.matter_id, "bill:SD-1");
}

TEST(BillingExportTest, KnowsRecordTypesInEnglishAndChinese) {
  const std::string header = "record_id,record_type,account_no,occurred_at,amount";
  auto kind_of = [&](const std::string& type) {
    return ExpectEvent(header + "\nR-1," + type + ",A-1,2026-11-01,1\n").kind;
  };
  EXPECT_EQ(kind_of("应收"), "billing.charge.posted");
  EXPECT_EQ(kind_of("计费"), "billing.charge.posted");
  EXPECT_EQ(kind_of("实收"), "billing.payment.received");
  EXPECT_EQ(kind_of("缴费"), "billing.payment.received");
  EXPECT_EQ(kind_of("收款"), "billing.payment.received");
  EXPECT_EQ(kind_of("Refund"), "billing.refund.issued");
  EXPECT_EQ(kind_of("退款"), "billing.refund.issued");
  EXPECT_EQ(kind_of("催缴"), "billing.reminder.overdue_sent");
  EXPECT_EQ(kind_of("催费"), "billing.reminder.overdue_sent");
  EXPECT_EQ(kind_of("DISPUTE"), "billing.dispute.opened");
  EXPECT_EQ(kind_of("异议"), "billing.dispute.opened");
  EXPECT_EQ(kind_of("争议"), "billing.dispute.opened");
}

TEST(BillingExportTest, ConvertsRefundWithTheAmountReturned) {
  for (const char* amount : {"120.00", "-120.00", "(120.00)", "-¥120"}) {
    sdk::RawEvent event = ExpectEvent(std::string(kHeader) +
                                      "\nRF-1,refund,A-1002,3-2-1203,,,2026-11-20 15:30,water," +
                                      amount + ",overcharged\n");
    EXPECT_EQ(event.kind, "billing.refund.issued");
    EXPECT_EQ(event.summary, "Refund issued ¥120.00 (water)") << amount;
    EXPECT_EQ(Attribute(event, "amount_fen"), "12000") << amount;
    EXPECT_TRUE(event.matter_id.empty());
    EXPECT_FALSE(event.contact);
  }
  EXPECT_EQ(ExpectRejected("RF-2,refund,A-1002,,,,2026-11-20,water,,").reason, "amount is empty");
}

TEST(BillingExportTest, ConvertsADisputeAsItsStatusChanges) {
  const std::string header = std::string(kHeader) + ",status";
  sdk::RawEvent opened =
      ExpectEvent(header +
                  "\nD-7,dispute,A-1004,5-1-0601,,,2026-11-18 14:00,"
                  "parking charge for October,,space closed for repairs,待处理\n");
  EXPECT_EQ(opened.kind, "billing.dispute.opened");
  EXPECT_EQ(opened.source_event_id, "D-7");
  EXPECT_EQ(opened.summary, "Fee dispute opened: parking charge for October");
  EXPECT_EQ(opened.matter_id, "dispute:D-7");
  EXPECT_EQ(opened.matter_state, sdk::MatterState::kOpened);
  EXPECT_EQ(opened.proposed_initiative, sdk::Initiative::kReactive);
  EXPECT_EQ(Attribute(opened, "status"), "待处理");
  EXPECT_EQ(Attribute(opened, "amount_fen"), "<absent>");

  sdk::RawEvent resolved = ExpectEvent(header +
                                       "\nD-7,dispute,A-1004,5-1-0601,,,2026-11-22 17:00,"
                                       "parking fee,300,waived for October,Resolved\n");
  EXPECT_EQ(resolved.kind, "billing.dispute.resolved");
  EXPECT_EQ(resolved.source_event_id, "D-7/resolved");
  EXPECT_EQ(resolved.summary, "Fee dispute resolved: parking fee ¥300.00");
  EXPECT_EQ(resolved.matter_id, "dispute:D-7");
  EXPECT_EQ(resolved.matter_state, sdk::MatterState::kClosed);

  for (const char* status : {"open", "opened", "处理中", ""}) {
    EXPECT_EQ(ExpectEvent(header + "\nD-8,dispute,A-1,,,,2026-11-18,,,," + status + "\n").kind,
              "billing.dispute.opened")
        << status;
  }
  for (const char* status : {"closed", "已解决", "已处理", "已关闭"}) {
    EXPECT_EQ(ExpectEvent(header + "\nD-8,dispute,A-1,,,,2026-11-18,,,," + status + "\n").kind,
              "billing.dispute.resolved")
        << status;
  }
  EXPECT_EQ(ExpectEvent(header + "\nD-8,dispute,A-1,,,,2026-11-18,,,,\n").summary,
            "Fee dispute opened");
  EXPECT_EQ(ExpectRejected("D-9,dispute,A-1,,,,2026-11-18,,,,escalated", header).reason,
            "status 'escalated' of a dispute is not opened or resolved");
}

TEST(BillingExportTest, ADisputeWithoutStatusColumnIsOpened) {
  sdk::RawEvent event =
      ExpectEvent(std::string(kHeader) + "\nD-1,dispute,A-1004,,,,2026-11-18 14:00,,,\n");
  EXPECT_EQ(event.kind, "billing.dispute.opened");
  EXPECT_EQ(event.matter_state, sdk::MatterState::kOpened);
}

TEST(BillingExportTest, ReasonsNameColumnsAsTheFileDoes) {
  const std::string header = "单据号,单据类型,户号,发生时间,金额";
  EXPECT_EQ(ExpectRejected(",应收,,2026/11/5,x", header).reason,
            "单据号 is empty; 户号 is empty; 金额 'x' is not an amount like 1,280.00");
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
  EXPECT_EQ(ExpectRejected("R-1,invoice,A-1001,,,,2026-11-02,fee,12,").reason,
            "record_type 'invoice' is not charge, payment, refund, reminder or dispute");
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
  EXPECT_EQ(rejected.reason, "record_type '" + std::string(40, 'z') +
                                 "...' is not charge, payment, refund, reminder or dispute");
}

}  // namespace
}  // namespace propbridge::billing
