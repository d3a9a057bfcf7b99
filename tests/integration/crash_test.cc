// kill -9 in the middle of ingesting a large export: after a restart every row is on the
// timeline exactly once.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <map>
#include <set>

#include "tests/integration/billing_fixture.h"
#include "tests/support/daemon_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_until.h"

namespace propbridge::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kRows = 60000;
constexpr int kAccounts = 20;

// Reads the daemon's store from outside, read-only, as another process would.
std::int64_t StoredEvents(const std::filesystem::path& db) {
  sqlite3* handle = nullptr;
  std::int64_t count = -1;
  if (sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(handle, 1000);
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(handle, "SELECT count(*) FROM events", -1, &stmt, nullptr) ==
            SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      count = sqlite3_column_int64(stmt, 0);
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(handle);
  return count;
}

TEST(CrashTest, KillNineMidIngestLosesNothingAndDuplicatesNothing) {
  TempDir dir;
  WriteFile(dir / "inbox" / "large.csv", BillingRows("L", kRows, kAccounts));
  std::string config = BillingDaemonConfig(dir.path(), "batch_size = 500\n");
  std::filesystem::path db = dir / "data" / "propbridge.db";

  std::string error;
  auto daemon = DaemonProcess::Start(dir.path(), config, dir / "data", error);
  ASSERT_TRUE(daemon) << error;
  // Looked at often, so that the kill comes early in the file.
  WaitUntil([&] { return StoredEvents(db) >= 2000; }, 60s, 2ms);
  ASSERT_EQ(daemon->Stop(SIGKILL, 10s), 128 + SIGKILL);
  std::int64_t at_kill = StoredEvents(db);
  ASSERT_GT(at_kill, 0);
  ASSERT_LT(at_kill, kRows) << "the whole file was in before the kill; the test proves nothing";

  daemon = DaemonProcess::Start(dir.path(), config, dir / "data", error);
  ASSERT_TRUE(daemon) << error;
  // The file is archived once the last of its rows is durable: nothing of it comes after.
  EXPECT_TRUE(WaitUntil(
      [&] { return std::filesystem::exists(dir / "inbox" / "archive" / "large.csv"); }, 120s, 50ms))
      << daemon->Log();

  auto stub = daemon->TimelineStub();
  std::multiset<std::string> ids;
  for (int account = 0; account < kAccounts; ++account) {
    for (const auto& e : ReadWholeTimeline(*stub, "account:A-" + std::to_string(account))) {
      ids.insert(e.source_event_id());
    }
  }
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kRows));
  std::set<std::string> unique(ids.begin(), ids.end());
  EXPECT_EQ(unique.size(), static_cast<std::size_t>(kRows)) << "some rows are there twice";
  for (int i = 0; i < kRows; ++i) {
    if (!unique.contains("L" + std::to_string(i))) {
      ADD_FAILURE() << "row L" << i << " is missing";
      break;
    }
  }
  EXPECT_EQ(daemon->Stop(SIGTERM, 15s), 0);
}

}  // namespace
}  // namespace propbridge::testing
