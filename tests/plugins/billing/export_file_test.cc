#include "plugins/billing/export_file.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "tests/plugins/billing/gbk.h"
#include "tests/plugins/billing/temp_dir.h"

namespace propbridge::billing {
namespace {

constexpr const char* kHeader =
    "record_id,record_type,account_no,unit,customer_name,phone,occurred_at,item,amount,note\n";

// Five data records; the third is malformed.
constexpr const char* kFiveRecords =
    "R-1,charge,A-1001,3-2-1202,张三,,2026-11-01 09:00,property fee,1280,\n"
    "R-2,payment,A-1001,3-2-1202,张三,,2026-11-02 09:00,property fee,1280,\n"
    "R-3,charge,A-1002,,,,not a time,property fee,1280,\n"
    "R-4,charge,A-1002,,,,2026-11-03 09:00,parking,\"300.00\",\"two\nlines\"\n"
    "R-5,reminder,A-1003,,,,2026-11-04 09:00,property fee,960,\n";

// Records what reaches the daemon; `fail_at` makes that emit (counted from 1) fail.
struct Recorder {
  std::vector<sdk::Batch> batches;
  int calls = 0;
  int fail_at = 0;

  EmitFunction Emit() {
    return [this](sdk::Batch batch) {
      if (++calls == fail_at) return Unavailable("store is busy");
      batches.push_back(std::move(batch));
      return Status::Ok();
    };
  }
  std::vector<std::string> Checkpoints() const {
    std::vector<std::string> out;
    for (const sdk::Batch& batch : batches) out.push_back(batch.checkpoint);
    return out;
  }
  std::vector<std::string> Ids() const {
    std::vector<std::string> out;
    for (const sdk::Batch& batch : batches) {
      for (const sdk::RawEvent& event : batch.events) out.push_back(event.source_event_id);
    }
    return out;
  }
};

ReadOptions Options(std::int64_t skip, std::size_t batch_size,
                    std::optional<Encoding> encoding = std::nullopt) {
  ReadOptions options;
  options.skip = skip;
  options.batch_size = batch_size;
  options.encoding = encoding;
  return options;
}

auto Never() {
  return [] { return false; };
}

// Reads the file at `path` as the plugin reads one of its inbox.
FileResult ReadFile(const std::filesystem::path& path, const ReadOptions& options,
                    const EmitFunction& emit, const std::function<bool()>& stop_requested) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << path;
  return ReadExportFile(in, path.filename().string(), options, emit, stop_requested);
}

TEST(BillingCheckpointTest, RoundTrips) {
  EXPECT_EQ(FormatCheckpoint({"2026-11.csv", 42}), "2026-11.csv\t42");
  std::optional<Checkpoint> parsed = ParseCheckpoint("a\tb.csv\t7");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->file_name, "a\tb.csv");
  EXPECT_EQ(parsed->consumed, 7);
  for (const char* bad : {"", "x.csv", "\t5", "x.csv\t", "x.csv\t-1", "x.csv\t5 ", "x.csv\tfive"}) {
    EXPECT_FALSE(ParseCheckpoint(bad)) << bad;
  }
}

TEST(BillingExportFileTest, EmitsInBatchesWithCheckpoints) {
  TempDir dir;
  auto path = dir.Write("nov.csv", std::string(kHeader) + kFiveRecords);
  Recorder recorder;
  FileResult result = ReadFile(path, Options(0, 2), recorder.Emit(), Never());
  EXPECT_EQ(result.outcome, FileOutcome::kDone);
  EXPECT_EQ(result.consumed, 5);
  EXPECT_EQ(result.events, 4);
  EXPECT_EQ(result.rejected, 1);
  EXPECT_EQ(recorder.Checkpoints(),
            (std::vector<std::string>{"nov.csv\t2", "nov.csv\t4", "nov.csv\t5"}));
  EXPECT_EQ(recorder.Ids(), (std::vector<std::string>{"R-1", "R-2", "R-4", "R-5"}));
  ASSERT_EQ(recorder.batches[1].rejected.size(), 1u);
  const sdk::RejectedRecord& rejected = recorder.batches[1].rejected[0];
  EXPECT_EQ(rejected.origin, "nov.csv line 4");
  EXPECT_EQ(rejected.raw, "R-3,charge,A-1002,,,,not a time,property fee,1280,");
  EXPECT_EQ(recorder.batches[2].events[0].origin, "nov.csv line 7");
}

TEST(BillingExportFileTest, ResumesAfterConsumedRecords) {
  TempDir dir;
  auto path = dir.Write("nov.csv", std::string(kHeader) + kFiveRecords);
  Recorder recorder;
  FileResult result = ReadFile(path, Options(3, 1000), recorder.Emit(), Never());
  EXPECT_EQ(result.outcome, FileOutcome::kDone);
  EXPECT_EQ(result.consumed, 5);
  EXPECT_EQ(recorder.Checkpoints(), (std::vector<std::string>{"nov.csv\t5"}));
  EXPECT_EQ(recorder.Ids(), (std::vector<std::string>{"R-4", "R-5"}));
}

TEST(BillingExportFileTest, StopsAtFailedEmitAndRetriesFromDurablePoint) {
  TempDir dir;
  auto path = dir.Write("nov.csv", std::string(kHeader) + kFiveRecords);
  Recorder recorder;
  recorder.fail_at = 2;
  FileResult failed = ReadFile(path, Options(0, 2), recorder.Emit(), Never());
  EXPECT_EQ(failed.outcome, FileOutcome::kEmitFailed);
  EXPECT_EQ(failed.message, "store is busy");
  EXPECT_EQ(failed.emit_code, StatusCode::kUnavailable);
  EXPECT_EQ(failed.consumed, 2);
  EXPECT_EQ(failed.attempted, 4);
  EXPECT_EQ(recorder.calls, 2);

  FileResult retried = ReadFile(path, Options(failed.consumed, 2), recorder.Emit(), Never());
  EXPECT_EQ(retried.outcome, FileOutcome::kDone);
  EXPECT_EQ(recorder.Checkpoints(),
            (std::vector<std::string>{"nov.csv\t2", "nov.csv\t4", "nov.csv\t5"}));
  EXPECT_EQ(recorder.Ids(), (std::vector<std::string>{"R-1", "R-2", "R-4", "R-5"}));
}

TEST(BillingExportFileTest, StopsBetweenBatchesWhenAsked) {
  TempDir dir;
  auto path = dir.Write("nov.csv", std::string(kHeader) + kFiveRecords);
  Recorder recorder;
  FileResult result =
      ReadFile(path, Options(0, 2), recorder.Emit(), [&] { return !recorder.batches.empty(); });
  EXPECT_EQ(result.outcome, FileOutcome::kStopped);
  EXPECT_EQ(result.consumed, 2);
  EXPECT_EQ(recorder.Checkpoints(), (std::vector<std::string>{"nov.csv\t2"}));
}

TEST(BillingExportFileTest, RefusesFileWithoutUsableHeader) {
  TempDir dir;
  Recorder recorder;
  FileResult lacking = ReadFile(dir.Write("a.csv", "record_id,amount\nR-1,12\n"), Options(0, 10),
                                recorder.Emit(), Never());
  EXPECT_EQ(lacking.outcome, FileOutcome::kNotAnExport);
  EXPECT_EQ(lacking.message,
            "the header fits no export format: for the bundled format it lacks the required "
            "column(s) record_type, account_no, occurred_at; for the chinese format it lacks the "
            "required column(s) 单据号, 单据类型, 户号, 发生时间, 金额");
  FileResult empty = ReadFile(dir.Write("b.csv", ""), Options(0, 10), recorder.Emit(), Never());
  EXPECT_EQ(empty.outcome, FileOutcome::kNotAnExport);
  FileResult broken = ReadFile(dir.Write("c.csv", "\"record_id,amount\n"), Options(0, 10),
                               recorder.Emit(), Never());
  EXPECT_EQ(broken.outcome, FileOutcome::kNotAnExport);
  EXPECT_EQ(recorder.calls, 0);
}

TEST(BillingExportFileTest, EmitsNothingWhenNothingIsLeft) {
  TempDir dir;
  Recorder recorder;
  FileResult header_only =
      ReadFile(dir.Write("a.csv", kHeader), Options(0, 10), recorder.Emit(), Never());
  EXPECT_EQ(header_only.outcome, FileOutcome::kDone);
  FileResult all_consumed = ReadFile(dir.Write("b.csv", std::string(kHeader) + kFiveRecords),
                                     Options(5, 10), recorder.Emit(), Never());
  EXPECT_EQ(all_consumed.outcome, FileOutcome::kDone);
  EXPECT_EQ(all_consumed.consumed, 5);
  EXPECT_EQ(recorder.calls, 0);
}

TEST(BillingExportFileTest, StreamsALargeFile) {
  constexpr int kRows = 200000;
  TempDir dir;
  std::string content = kHeader;
  content.reserve(kRows * 100);
  for (int i = 0; i < kRows; ++i) {
    content += "R-" + std::to_string(i) + ",charge,A-" + std::to_string(1000 + i % 500) +
               ",3-2-1202,\"Li, Wei\",,2026-11-02 09:30,property fee,\"1,280.00\",\r\n";
  }
  auto path = dir.Write("big.csv", content);
  std::int64_t events = 0;
  int batches = 0;
  std::string last_checkpoint;
  FileResult result = ReadFile(
      path, Options(0, 1000),
      [&](sdk::Batch batch) {
        ++batches;
        events += static_cast<std::int64_t>(batch.events.size());
        last_checkpoint = batch.checkpoint;
        return Status::Ok();
      },
      Never());
  EXPECT_EQ(result.outcome, FileOutcome::kDone);
  EXPECT_EQ(events, kRows);
  EXPECT_EQ(result.rejected, 0);
  EXPECT_EQ(batches, kRows / 1000);
  EXPECT_EQ(last_checkpoint, "big.csv\t200000");
}

// The events and rejected records of every batch.
struct Emitted {
  std::vector<sdk::RawEvent> events;
  std::vector<sdk::RejectedRecord> rejected;
};

Emitted Collect(const Recorder& recorder) {
  Emitted out;
  for (const sdk::Batch& batch : recorder.batches) {
    out.events.insert(out.events.end(), batch.events.begin(), batch.events.end());
    out.rejected.insert(out.rejected.end(), batch.rejected.begin(), batch.rejected.end());
  }
  return out;
}

constexpr const char* kChineseExport =
    "单据号,单据类型,户号,房号,客户姓名,联系电话,发生时间,收费项目,金额,备注,状态\r\n"
    "SD-1,应收,A-1001,3-2-1202,张伟,13800138001,2026/11/5 8:00,水费,￥56.00,10月用水 14 吨,\r\n"
    "SD-2,退款,A-1002,3-2-1203,Emily Chen,,2026/11/20 15:30,水费,(120.00),\"多收，退回\",\r\n"
    "SD-3,异议,A-1002,3-2-1203,Emily Chen,,2026/11/19 16:05,水费,,复核,已解决\r\n";

TEST(BillingExportFileTest, ReadsAGbkExportWithChineseHeaders) {
  TempDir dir;
  auto path = dir.Write("utilities.csv", ToGbk(kChineseExport));
  Recorder recorder;
  FileResult result = ReadFile(path, Options(0, 10), recorder.Emit(), Never());
  EXPECT_EQ(result.outcome, FileOutcome::kDone) << result.message;
  EXPECT_EQ(result.encoding, Encoding::kGbk);
  EXPECT_EQ(result.format, "chinese");
  Emitted emitted = Collect(recorder);
  EXPECT_TRUE(emitted.rejected.empty());
  ASSERT_EQ(emitted.events.size(), 3u);
  EXPECT_EQ(emitted.events[0].summary, "Charged 水费 ¥56.00");
  EXPECT_EQ(emitted.events[1].summary, "Refund issued ¥120.00 (水费)");
  EXPECT_EQ(emitted.events[2].summary, "Fee dispute resolved: 水费");
  EXPECT_EQ(emitted.events[2].source_event_id, "SD-3/resolved");
  EXPECT_EQ(emitted.events[0].attributes.at(2),
            (std::pair<std::string, std::string>{"customer_name", "张伟"}));
}

TEST(BillingExportFileTest, ReadsConfiguredColumnNames) {
  TempDir dir;
  ExportFormat format = PresetFormats().at(1);
  format.header(Column::kRecordId) = "流水号";
  format.header(Column::kAccountNo) = "客户编号";
  auto path = dir.Write("renamed.csv", ToGbk("流水号,单据类型,客户编号,发生时间,金额\n"
                                             "LS-1,缴费,A-1005,2026-11-23 16:45,￥640.00\n"));
  Recorder recorder;
  ReadOptions options{0, 10, Encoding::kGbk, {&format, 1}};
  FileResult result = ReadFile(path, options, recorder.Emit(), Never());
  EXPECT_EQ(result.outcome, FileOutcome::kDone) << result.message;
  EXPECT_EQ(recorder.Ids(), (std::vector<std::string>{"LS-1"}));
}

TEST(BillingExportFileTest, RejectsRowsNotValidInTheEncodingAndGoesOn) {
  TempDir dir;
  std::string content = ToGbk(kChineseExport);
  std::string broken_row =
      ToGbk("SD-4,应收,A-1004,,,,2026/11/5 8:00,电") + "\x81\x20" + ToGbk("费,12.00,,\r\n");
  content.insert(content.find("SD-2"), broken_row);
  auto path = dir.Write("utilities.csv", content);
  Recorder recorder;
  FileResult result = ReadFile(path, Options(0, 10), recorder.Emit(), Never());
  EXPECT_EQ(result.outcome, FileOutcome::kDone) << result.message;
  EXPECT_EQ(result.encoding, Encoding::kGbk);
  EXPECT_EQ(result.consumed, 4);
  EXPECT_EQ(recorder.Ids(), (std::vector<std::string>{"SD-1", "SD-2", "SD-3/resolved"}));
  Emitted emitted = Collect(recorder);
  ASSERT_EQ(emitted.rejected.size(), 1u);
  EXPECT_EQ(emitted.rejected[0].origin, "utilities.csv line 3");
  EXPECT_EQ(emitted.rejected[0].reason, "the text is not valid GBK (0x81 0x20 at byte 38)");
  EXPECT_EQ(emitted.rejected[0].raw, "SD-4,应收,A-1004,,,,2026/11/5 8:00,电\\x81 费,12.00,,");
}

TEST(BillingExportFileTest, AUtf8ExportWithADamagedRowStaysUtf8) {
  TempDir dir;
  std::string content = kChineseExport;
  content.insert(content.find("SD-2"), "SD-4,应收,A-1004,,,,2026/11/5 8:00,电\xFF费,12.00,,\r\n");
  Recorder recorder;
  FileResult result =
      ReadFile(dir.Write("utf8.csv", content), Options(0, 10), recorder.Emit(), Never());
  EXPECT_EQ(result.outcome, FileOutcome::kDone) << result.message;
  EXPECT_EQ(result.encoding, Encoding::kUtf8);
  Emitted emitted = Collect(recorder);
  EXPECT_EQ(emitted.events.size(), 3u);
  ASSERT_EQ(emitted.rejected.size(), 1u);
  EXPECT_EQ(emitted.rejected[0].reason, "the text is not valid UTF-8 (0xFF 0xE8 at byte 41)");
}

TEST(BillingExportFileTest, ReadsTheConfiguredEncodingButHonoursAByteOrderMark) {
  TempDir dir;
  std::string csv = std::string(kHeader) + "R-1,charge,A-1001,,张伟,,2026-11-01 09:00,水费,56,\n";
  Recorder as_utf8;
  FileResult gbk_as_utf8 = ReadFile(dir.Write("a.csv", ToGbk(csv)), Options(0, 10, Encoding::kUtf8),
                                    as_utf8.Emit(), Never());
  EXPECT_EQ(gbk_as_utf8.encoding, Encoding::kUtf8);
  EXPECT_EQ(gbk_as_utf8.rejected, 1);

  Recorder bom;
  FileResult utf8_with_bom = ReadFile(dir.Write("b.csv", "\xEF\xBB\xBF" + csv),
                                      Options(0, 10, Encoding::kGbk), bom.Emit(), Never());
  EXPECT_EQ(utf8_with_bom.encoding, Encoding::kUtf8);
  Emitted emitted = Collect(bom);
  ASSERT_EQ(emitted.events.size(), 1u);
  EXPECT_EQ(emitted.events[0].summary, "Charged 水费 ¥56.00");
}

TEST(BillingExportFileTest, RefusesAHeaderNotValidInTheEncoding) {
  TempDir dir;
  Recorder recorder;
  FileResult result = ReadFile(dir.Write("a.csv", ToGbk(kChineseExport)),
                               Options(0, 10, Encoding::kUtf8), recorder.Emit(), Never());
  EXPECT_EQ(result.outcome, FileOutcome::kNotAnExport);
  EXPECT_EQ(result.message,
            "the header row is malformed: the text is not valid UTF-8 (0xB5 0xA5 at byte 1)");
  EXPECT_EQ(recorder.calls, 0);
}

TEST(BillingExportFileTest, ReadsAFileMarkedAsGb18030AsGb18030) {
  TempDir dir;
  Recorder recorder;
  FileResult result = ReadFile(dir.Write("a.csv", "\x84\x31\x95\x33" + ToGbk(kChineseExport)),
                               Options(0, 10, Encoding::kUtf8), recorder.Emit(), Never());
  EXPECT_EQ(result.outcome, FileOutcome::kDone) << result.message;
  EXPECT_EQ(result.encoding, Encoding::kGb18030);
  EXPECT_EQ(result.format, "chinese");
  EXPECT_EQ(recorder.Ids(), (std::vector<std::string>{"SD-1", "SD-2", "SD-3/resolved"}));
}

TEST(BillingExportFileTest, RefusesAnEncodingItDoesNotReadNamingIt) {
  TempDir dir;
  Recorder recorder;
  std::string utf16;
  for (char c : std::string(kHeader)) utf16 += std::string{c, '\0'};
  FileResult marked =
      ReadFile(dir.Write("a.csv", "\xFF\xFE" + utf16), Options(0, 10), recorder.Emit(), Never());
  EXPECT_EQ(marked.outcome, FileOutcome::kNotAnExport);
  EXPECT_EQ(marked.message, "the file is UTF-16LE (byte-order mark FF FE); export as UTF-8 or GBK");
  FileResult unmarked =
      ReadFile(dir.Write("b.csv", utf16), Options(0, 10), recorder.Emit(), Never());
  EXPECT_EQ(unmarked.outcome, FileOutcome::kNotAnExport);
  EXPECT_EQ(unmarked.message,
            "the header row holds NUL bytes, as UTF-16 or UTF-32 text without a byte-order mark "
            "does; export as UTF-8 or GBK");
  FileResult twice = ReadFile(dir.Write("c.csv", "\xEF\xBB\xBF\xEF\xBB\xBF" + std::string(kHeader)),
                              Options(0, 10), recorder.Emit(), Never());
  EXPECT_EQ(twice.outcome, FileOutcome::kNotAnExport);
  EXPECT_EQ(twice.message,
            "the file starts with the UTF-8 byte-order mark twice (EF BB BF EF BB BF); save it "
            "with one");
  EXPECT_EQ(recorder.calls, 0);
}

// A row of 64 MiB on one line: the reader keeps at most its first MiB, and the row is rejected
// saying so, so memory follows the limit, not the row.
TEST(BillingExportFileTest, RejectsARowLongerThanTheLimitWithoutHoldingIt) {
  TempDir dir;
  std::string content = std::string(kHeader) + "R-1,charge,A-1001,,,,2026-11-01 09:00,fee,1,";
  content.append(std::size_t{64} << 20, 'x');
  content += "\nR-2,charge,A-1001,,,,2026-11-01 09:00,fee,1,\n";
  auto path = dir.Write("huge.csv", content);
  content = {};
  Recorder recorder;
  FileResult result = ReadFile(path, Options(0, 10), recorder.Emit(), Never());
  EXPECT_EQ(result.outcome, FileOutcome::kDone) << result.message;
  EXPECT_EQ(recorder.Ids(), (std::vector<std::string>{"R-2"}));
  Emitted emitted = Collect(recorder);
  ASSERT_EQ(emitted.rejected.size(), 1u);
  EXPECT_EQ(emitted.rejected[0].origin, "huge.csv line 2");
  EXPECT_EQ(emitted.rejected[0].reason, "the record is longer than 1048576 bytes");
  EXPECT_LE(emitted.rejected[0].raw.size(), CsvReader::kDefaultMaxRecordBytes);
}

TEST(BillingExportFileTest, StreamsALargeGbkFile) {
  constexpr int kRows = 20000;
  TempDir dir;
  std::string content = "单据号,单据类型,户号,发生时间,收费项目,金额,备注\r\n";
  for (int i = 0; i < kRows; ++i) {
    content += "SD-" + std::to_string(i) + ",应收,A-" + std::to_string(1000 + i % 7) +
               ",2026/11/5 8:00,电费,￥97.34,\"10月用电 " + std::string(i % 5, '1') +
               " 度，\n抄表\"\r\n";
  }
  auto path = dir.Write("big.csv", ToGbk(content));
  std::int64_t events = 0, rejected = 0;
  std::string last_summary;
  FileResult result = ReadFile(
      path, Options(0, 1000),
      [&](sdk::Batch batch) {
        events += static_cast<std::int64_t>(batch.events.size());
        rejected += static_cast<std::int64_t>(batch.rejected.size());
        if (!batch.events.empty()) last_summary = batch.events.back().summary;
        return Status::Ok();
      },
      Never());
  EXPECT_EQ(result.outcome, FileOutcome::kDone);
  EXPECT_EQ(result.encoding, Encoding::kGbk);
  EXPECT_EQ(events, kRows);
  EXPECT_EQ(rejected, 0);
  EXPECT_EQ(last_summary, "Charged 电费 ¥97.34");
}

TEST(BillingSampleTest, SampleFilesHoldOneMalformedRow) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(BILLING_SAMPLE_DIR)) {
    files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_EQ(files.size(), 4u);
  Recorder recorder;
  for (const auto& file : files) {
    FileResult result = ReadFile(file, Options(0, 1000), recorder.Emit(), Never());
    EXPECT_EQ(result.outcome, FileOutcome::kDone) << file << ": " << result.message;
    bool gbk = file.filename() == "2026-11-utilities-gbk.csv";
    EXPECT_EQ(result.encoding, gbk ? Encoding::kGbk : Encoding::kUtf8) << file;
    EXPECT_EQ(result.format, gbk ? "chinese" : "bundled") << file;
  }
  Emitted emitted = Collect(recorder);
  EXPECT_EQ(emitted.events.size(), 43u);
  ASSERT_EQ(emitted.rejected.size(), 1u);
  EXPECT_EQ(emitted.rejected[0].origin, "2026-11-billing-export.csv line 12");

  std::set<std::string> kinds;
  for (const sdk::RawEvent& event : emitted.events) {
    kinds.insert(event.kind);
    EXPECT_EQ(event.summary.find("\\x"), std::string::npos) << event.summary;
    if (event.source_event_id == "SD-202611-0201") {
      EXPECT_EQ(event.summary, "Refund issued ¥120.00 (水费)");
    }
  }
  EXPECT_EQ(kinds, (std::set<std::string>{"billing.charge.posted", "billing.payment.received",
                                          "billing.refund.issued", "billing.reminder.overdue_sent",
                                          "billing.dispute.opened", "billing.dispute.resolved"}));
}

}  // namespace
}  // namespace propbridge::billing
