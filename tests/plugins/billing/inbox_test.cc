#include "plugins/billing/inbox.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/plugins/billing/temp_dir.h"

namespace propbridge::billing {
namespace {

namespace fs = std::filesystem;
using Names = std::vector<std::string>;

std::string Read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST(BillingInboxTest, KnowsExportFileNames) {
  EXPECT_TRUE(IsExportFileName("2026-11.csv"));
  EXPECT_TRUE(IsExportFileName("EXPORT.CSV"));
  EXPECT_FALSE(IsExportFileName(".hidden.csv"));
  EXPECT_FALSE(IsExportFileName("2026-11.csv.part"));
  EXPECT_FALSE(IsExportFileName("2026-11.csv.tmp"));
  EXPECT_FALSE(IsExportFileName("2026-11.tmp.csv.TMP"));
  EXPECT_FALSE(IsExportFileName("2026-11.txt"));
  EXPECT_FALSE(IsExportFileName("csv"));
  EXPECT_FALSE(IsExportFileName(""));
}

TEST(BillingInboxTest, FileIsReadyOnceUnchangedSinceThePreviousScan) {
  TempDir dir;
  Inbox inbox(dir.path(), dir.path() / "archive", dir.path() / "rejected");
  dir.Write("b.csv", "x");
  dir.Write("a.csv", "x");
  dir.Write("c.csv.part", "x");
  dir.Write(".d.csv", "x");
  fs::create_directories(dir.path() / "folder.csv");

  Result<Inbox::Listing> first = inbox.Scan();
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->present, (Names{"a.csv", "b.csv"}));
  EXPECT_TRUE(first->ready.empty());

  std::ofstream(dir.path() / "b.csv", std::ios::app) << "more";
  Result<Inbox::Listing> second = inbox.Scan();
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->ready, (Names{"a.csv"}));

  Result<Inbox::Listing> third = inbox.Scan();
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->ready, (Names{"a.csv", "b.csv"}));
}

TEST(BillingInboxTest, FileIsReadyOnceUnchangedForTheSettleTime) {
  using namespace std::chrono_literals;
  using Clock = std::chrono::steady_clock;
  constexpr auto kSettle = 1000ms;
  TempDir dir;
  Inbox inbox(dir.path(), dir.path() / "archive", dir.path() / "rejected", kSettle);
  // Scans `wait` after `since`; the file must be ready exactly when it has been unchanged for
  // the settle time (asserted only when the machine kept to the schedule).
  auto scan_after = [&](Clock::time_point since, std::chrono::milliseconds wait, bool ready) {
    std::this_thread::sleep_until(since + wait);
    Result<Inbox::Listing> listing = inbox.Scan();
    ASSERT_TRUE(listing.ok());
    if (ready || Clock::now() - since < kSettle) {
      EXPECT_EQ(listing->ready, ready ? Names{"a.csv"} : Names{}) << wait.count();
    }
  };
  dir.Write("a.csv", "x");
  Clock::time_point written = Clock::now();
  ASSERT_TRUE(inbox.Scan().ok());
  scan_after(written, 100ms, false);
  scan_after(written, 1300ms, true);

  std::ofstream(dir.path() / "a.csv", std::ios::app) << "more";
  Clock::time_point appended = Clock::now();
  scan_after(appended, 0ms, false);
  scan_after(appended, 100ms, false);
  scan_after(appended, 1300ms, true);
}

TEST(BillingInboxTest, KnowsWhetherAFileChangedSinceTheScan) {
  TempDir dir;
  Inbox inbox(dir.path(), dir.path() / "archive", dir.path() / "rejected");
  dir.Write("a.csv", "x");
  EXPECT_FALSE(inbox.Unchanged("a.csv"));
  ASSERT_TRUE(inbox.Scan().ok());
  EXPECT_TRUE(inbox.Unchanged("a.csv"));
  std::ofstream(dir.path() / "a.csv", std::ios::app) << "more";
  EXPECT_FALSE(inbox.Unchanged("a.csv"));
  ASSERT_TRUE(inbox.Scan().ok());
  EXPECT_TRUE(inbox.Unchanged("a.csv"));
  fs::remove(dir.path() / "a.csv");
  EXPECT_FALSE(inbox.Unchanged("a.csv"));
}

TEST(BillingInboxTest, ScanFailsWhenTheFolderIsGone) {
  TempDir dir;
  Inbox inbox(dir.path() / "missing", dir.path() / "archive", dir.path() / "rejected");
  Result<Inbox::Listing> listing = inbox.Scan();
  ASSERT_FALSE(listing.ok());
  EXPECT_EQ(listing.status().code(), StatusCode::kUnavailable);
}

TEST(BillingInboxTest, ArchivesUnderAFreeName) {
  TempDir dir;
  Inbox inbox(dir.path(), dir.path() / "archive", dir.path() / "rejected");
  dir.Write("nov.csv", "first");
  Result<fs::path> first = inbox.Archive("nov.csv");
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, dir.path() / "archive" / "nov.csv");
  dir.Write("nov.csv", "second");
  Result<fs::path> second = inbox.Archive("nov.csv");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, dir.path() / "archive" / "nov.1.csv");
  EXPECT_FALSE(fs::exists(dir.path() / "nov.csv"));
  EXPECT_EQ(Read(dir.path() / "archive" / "nov.csv"), "first");
  EXPECT_EQ(Read(dir.path() / "archive" / "nov.1.csv"), "second");
  EXPECT_FALSE(inbox.Archive("nov.csv").ok());
}

TEST(BillingInboxTest, RejectsWithAReasonBeside) {
  TempDir dir;
  Inbox inbox(dir.path(), dir.path() / "archive", dir.path() / "rejected");
  dir.Write("odd.csv", "a,b\n");
  ASSERT_TRUE(inbox.Reject("odd.csv", "the header lacks the required column(s) amount").ok());
  EXPECT_FALSE(fs::exists(dir.path() / "odd.csv"));
  EXPECT_EQ(Read(dir.path() / "rejected" / "odd.csv"), "a,b\n");
  EXPECT_EQ(Read(dir.path() / "rejected" / "odd.csv.reason.txt"),
            "the header lacks the required column(s) amount\n");
}

}  // namespace
}  // namespace propbridge::billing
