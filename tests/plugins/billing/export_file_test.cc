#include "plugins/billing/export_file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

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

auto Never() {
  return [] { return false; };
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
  FileResult result = ReadExportFile(path, {0, 2}, recorder.Emit(), Never());
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
  FileResult result = ReadExportFile(path, {3, 1000}, recorder.Emit(), Never());
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
  FileResult failed = ReadExportFile(path, {0, 2}, recorder.Emit(), Never());
  EXPECT_EQ(failed.outcome, FileOutcome::kEmitFailed);
  EXPECT_EQ(failed.message, "store is busy");
  EXPECT_EQ(failed.consumed, 2);
  EXPECT_EQ(recorder.calls, 2);

  FileResult retried = ReadExportFile(path, {failed.consumed, 2}, recorder.Emit(), Never());
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
      ReadExportFile(path, {0, 2}, recorder.Emit(), [&] { return !recorder.batches.empty(); });
  EXPECT_EQ(result.outcome, FileOutcome::kStopped);
  EXPECT_EQ(result.consumed, 2);
  EXPECT_EQ(recorder.Checkpoints(), (std::vector<std::string>{"nov.csv\t2"}));
}

TEST(BillingExportFileTest, RefusesFileWithoutUsableHeader) {
  TempDir dir;
  Recorder recorder;
  FileResult lacking = ReadExportFile(dir.Write("a.csv", "record_id,amount\nR-1,12\n"), {0, 10},
                                      recorder.Emit(), Never());
  EXPECT_EQ(lacking.outcome, FileOutcome::kBadHeader);
  EXPECT_EQ(lacking.message,
            "the header lacks the required column(s) record_type, account_no, occurred_at");
  FileResult empty = ReadExportFile(dir.Write("b.csv", ""), {0, 10}, recorder.Emit(), Never());
  EXPECT_EQ(empty.outcome, FileOutcome::kBadHeader);
  FileResult broken =
      ReadExportFile(dir.Write("c.csv", "\"record_id,amount\n"), {0, 10}, recorder.Emit(), Never());
  EXPECT_EQ(broken.outcome, FileOutcome::kBadHeader);
  EXPECT_EQ(recorder.calls, 0);
}

TEST(BillingExportFileTest, EmitsNothingWhenNothingIsLeft) {
  TempDir dir;
  Recorder recorder;
  FileResult header_only =
      ReadExportFile(dir.Write("a.csv", kHeader), {0, 10}, recorder.Emit(), Never());
  EXPECT_EQ(header_only.outcome, FileOutcome::kDone);
  FileResult all_consumed = ReadExportFile(dir.Write("b.csv", std::string(kHeader) + kFiveRecords),
                                           {5, 10}, recorder.Emit(), Never());
  EXPECT_EQ(all_consumed.outcome, FileOutcome::kDone);
  EXPECT_EQ(all_consumed.consumed, 5);
  EXPECT_EQ(recorder.calls, 0);
}

TEST(BillingExportFileTest, ReportsMissingFile) {
  TempDir dir;
  Recorder recorder;
  FileResult result = ReadExportFile(dir.path() / "gone.csv", {0, 10}, recorder.Emit(), Never());
  EXPECT_EQ(result.outcome, FileOutcome::kOpenFailed);
  EXPECT_NE(result.message.find("gone.csv"), std::string::npos);
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
  FileResult result = ReadExportFile(
      path, {0, 1000},
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

TEST(BillingSampleTest, SampleFilesHoldOneMalformedRow) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(BILLING_SAMPLE_DIR)) {
    files.push_back(entry.path());
  }
  ASSERT_EQ(files.size(), 3u);
  Recorder recorder;
  for (const auto& file : files) {
    FileResult result = ReadExportFile(file, {0, 1000}, recorder.Emit(), Never());
    EXPECT_EQ(result.outcome, FileOutcome::kDone) << file << ": " << result.message;
  }
  std::vector<sdk::RejectedRecord> rejected;
  std::size_t events = 0;
  for (const sdk::Batch& batch : recorder.batches) {
    events += batch.events.size();
    rejected.insert(rejected.end(), batch.rejected.begin(), batch.rejected.end());
  }
  EXPECT_EQ(events, 27u);
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0].origin, "2026-11-billing-export.csv line 12");
}

}  // namespace
}  // namespace propbridge::billing
