#include "plugins/billing/inbox.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
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
  Result<fs::path> rejected =
      inbox.Reject("odd.csv", "the header lacks the required column(s) amount");
  ASSERT_TRUE(rejected.ok()) << rejected.status().message();
  EXPECT_EQ(*rejected, dir.path() / "rejected" / "odd.csv");
  EXPECT_FALSE(fs::exists(dir.path() / "odd.csv"));
  EXPECT_EQ(Read(dir.path() / "rejected" / "odd.csv"), "a,b\n");
  EXPECT_EQ(Read(dir.path() / "rejected" / "odd.csv.reason.txt"),
            "the header lacks the required column(s) amount\n");
}

// Whoever delivers exports can also put links, FIFOs and folders with export names in the inbox.
TEST(BillingInboxTest, ListsWhatIsNoRegularFileAsRefusedAndNeverOpensIt) {
  TempDir dir;
  fs::create_directories(dir.path() / "inbox");
  dir.Write("outside.csv", "record_id\n");
  fs::create_symlink(dir.path() / "outside.csv", dir.path() / "inbox" / "a-link.csv");
  ASSERT_EQ(mkfifo((dir.path() / "inbox" / "b-fifo.csv").c_str(), 0600), 0);
  fs::create_directories(dir.path() / "inbox" / "c-folder.csv");
  dir.Write("inbox/d-file.csv", "x");
  Inbox inbox(dir.path() / "inbox", dir.path() / "inbox" / "archive",
              dir.path() / "inbox" / "rejected");

  Result<Inbox::Listing> listing = inbox.Scan();
  ASSERT_TRUE(listing.ok()) << listing.status().message();
  EXPECT_EQ(listing->present, (Names{"d-file.csv"}));
  EXPECT_EQ(listing->refused,
            (std::map<std::string, std::string>{
                {"a-link.csv",
                 "a-link.csv is a symbolic link; only regular files in the inbox are read, so it "
                 "is left alone"},
                {"b-fifo.csv",
                 "b-fifo.csv is a FIFO; only regular files in the inbox are read, so it is left "
                 "alone"},
                {"c-folder.csv",
                 "c-folder.csv is a folder; only regular files in the inbox are read, so it is "
                 "left alone"},
            }));

  auto started = std::chrono::steady_clock::now();
  for (const char* name : {"a-link.csv", "b-fifo.csv", "c-folder.csv"}) {
    Result<UniqueFd> file = inbox.Open(name);
    ASSERT_FALSE(file.ok()) << name;
    EXPECT_EQ(file.status().code(), StatusCode::kFailedPrecondition) << name;
    EXPECT_EQ(file.status().message(), listing->refused.at(name));
    EXPECT_EQ(inbox.Archive(name).status().code(), StatusCode::kFailedPrecondition) << name;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(1));
  EXPECT_TRUE(fs::is_symlink(dir.path() / "inbox" / "a-link.csv"));
  EXPECT_FALSE(fs::exists(dir.path() / "inbox" / "archive" / "a-link.csv"));
  EXPECT_EQ(Read(dir.path() / "outside.csv"), "record_id\n");

  Result<UniqueFd> file = inbox.Open("d-file.csv");
  ASSERT_TRUE(file.ok()) << file.status().message();
  Result<UniqueFd> gone = inbox.Open("e-gone.csv");
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(gone.status().message(), "cannot open e-gone.csv: No such file or directory");
}

TEST(BillingInboxTest, AFileReplacedByALinkIsNotUnchanged) {
  TempDir dir;
  Inbox inbox(dir.path(), dir.path() / "archive", dir.path() / "rejected");
  dir.Write("a.csv", "x");
  dir.Write("elsewhere", "x");
  ASSERT_TRUE(inbox.Scan().ok());
  ASSERT_TRUE(inbox.Unchanged("a.csv"));
  fs::remove(dir.path() / "a.csv");
  fs::create_symlink(dir.path() / "elsewhere", dir.path() / "a.csv");
  EXPECT_FALSE(inbox.Unchanged("a.csv"));
}

// A link planted where the reason file goes is not written through, and nothing in rejected/
// is replaced: the file and its reason take the first name free for both.
TEST(BillingInboxTest, RejectsUnderNamesThatAreFreeWithoutWritingThroughLinks) {
  TempDir dir;
  dir.Write("victim", "precious");
  fs::create_directories(dir.path() / "inbox" / "rejected");
  fs::create_symlink(dir.path() / "victim", dir.path() / "inbox" / "rejected" / "x.csv.reason.txt");
  fs::create_symlink(dir.path() / "victim", dir.path() / "inbox" / "rejected" / "x.1.csv");
  dir.Write("inbox/x.csv", "nope\n");
  Inbox inbox(dir.path() / "inbox", dir.path() / "inbox" / "archive",
              dir.path() / "inbox" / "rejected");

  Result<fs::path> rejected = inbox.Reject("x.csv", "not an export");
  ASSERT_TRUE(rejected.ok()) << rejected.status().message();
  EXPECT_EQ(*rejected, dir.path() / "inbox" / "rejected" / "x.2.csv");
  EXPECT_EQ(Read(dir.path() / "inbox" / "rejected" / "x.2.csv"), "nope\n");
  EXPECT_EQ(Read(dir.path() / "inbox" / "rejected" / "x.2.csv.reason.txt"), "not an export\n");
  EXPECT_EQ(Read(dir.path() / "victim"), "precious");
  EXPECT_TRUE(fs::is_symlink(dir.path() / "inbox" / "rejected" / "x.csv.reason.txt"));
  EXPECT_TRUE(fs::is_symlink(dir.path() / "inbox" / "rejected" / "x.1.csv"));
  EXPECT_FALSE(fs::exists(dir.path() / "inbox" / "rejected" / "x.1.csv.reason.txt"));
}

TEST(BillingInboxTest, NeverMovesIntoALinkedArchiveOrRejectedFolder) {
  TempDir dir;
  fs::create_directories(dir.path() / "inbox");
  fs::create_directories(dir.path() / "elsewhere");
  fs::create_directory_symlink(dir.path() / "elsewhere", dir.path() / "inbox" / "archive");
  fs::create_directory_symlink(dir.path() / "elsewhere", dir.path() / "inbox" / "rejected");
  dir.Write("inbox/x.csv", "x");
  Inbox inbox(dir.path() / "inbox", dir.path() / "inbox" / "archive",
              dir.path() / "inbox" / "rejected");

  Result<fs::path> archived = inbox.Archive("x.csv");
  ASSERT_FALSE(archived.ok());
  EXPECT_EQ(archived.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(archived.status().message(),
            "cannot move x.csv into " + (dir.path() / "inbox" / "archive").string() +
                ": archive is a symbolic link or not a folder, and no link in the inbox is "
                "followed");
  EXPECT_FALSE(inbox.Reject("x.csv", "reason").ok());
  EXPECT_TRUE(fs::exists(dir.path() / "inbox" / "x.csv"));
  EXPECT_TRUE(fs::is_empty(dir.path() / "elsewhere"));
}

TEST(BillingInboxTest, ArchivesIntoAFolderOutsideTheInbox) {
  TempDir dir;
  fs::create_directories(dir.path() / "inbox");
  dir.Write("inbox/x.csv", "x");
  Inbox inbox(dir.path() / "inbox", dir.path() / "done" / "billing",
              dir.path() / "inbox" / "rejected");
  Result<fs::path> archived = inbox.Archive("x.csv");
  ASSERT_TRUE(archived.ok()) << archived.status().message();
  EXPECT_EQ(*archived, dir.path() / "done" / "billing" / "x.csv");
  EXPECT_EQ(Read(*archived), "x");
}

}  // namespace
}  // namespace propbridge::billing
