// Backups of the real daemon binary's store with `propbridgectl backup`, while the synthetic
// plugin delivers from its host process: the copy is restored as README's "Back up and restore"
// says, the daemon restarted on it, and every source resumes from the checkpoint in the copy so
// that each event ends up stored exactly once. Also what a backup refuses: an existing file
// without --force, a caller without the admin role, a second backup while one runs; and that a
// cancelled backup leaves no copy in the data directory.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "daemon/auth/token.h"
#include "propbridge/v1/admin.grpc.pb.h"
#include "tests/support/daemon_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_until.h"

namespace propbridge::testing {
namespace {

namespace fs = std::filesystem;
namespace v1 = propbridge::v1;
using namespace std::chrono_literals;

// A synthetic source on customer account:C0; `settings` go into its settings table.
std::string Synthetic(const std::string& name, const std::string& settings) {
  return SyntheticInstance(name, "customers = 1\n" + settings);
}

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct CtlRun {
  int code = -1;
  std::string out;
  std::string err;
};

// What a copy of the store holds: its events by source, and each source's checkpoint.
struct Copy {
  std::map<std::string, std::set<std::string>> events;
  std::map<std::string, std::string> checkpoints;
  std::size_t count = 0;
};

Copy ReadCopy(const fs::path& path) {
  Copy copy;
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  auto each = [db](const char* sql, auto row) {
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      row(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)),
          reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1)));
    }
    sqlite3_finalize(stmt);
  };
  each("SELECT source, source_event_id FROM events", [&](const char* source, const char* id) {
    EXPECT_TRUE(copy.events[source].insert(id).second) << source << " " << id << " twice";
    ++copy.count;
  });
  each("SELECT source, checkpoint FROM checkpoints",
       [&](const char* source, const char* checkpoint) { copy.checkpoints[source] = checkpoint; });
  sqlite3_close(db);
  return copy;
}

class BackupTest : public ::testing::Test {
 protected:
  std::string Head() const {
    return "listen = \"127.0.0.1:0\"\ndata_dir = \"" + data_.string() + "\"\n";
  }

  void Start(const std::string& config) {
    std::string error;
    daemon_ = DaemonProcess::Start(dir_.path(), config, data_, error);
    ASSERT_TRUE(daemon_) << error;
    channel_ = grpc::CreateChannel(daemon_->address(), grpc::InsecureChannelCredentials());
    admin_ = v1::AdminService::NewStub(channel_);
  }

  std::int64_t Stored(const std::string& name) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::ListPluginsResponse response;
    grpc::Status status = admin_->ListPlugins(&context, {}, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    for (const auto& plugin : response.plugins()) {
      if (plugin.name() == name) return plugin.events_stored();
    }
    return -1;
  }

  std::vector<v1::AuditRecord> Backups() {
    return AuditRecordsOf(*admin_, "AdminService.BackupStore");
  }

  // `propbridgectl <arguments>` against the daemon, as an operator runs it.
  CtlRun Ctl(const std::string& arguments) {
    const fs::path err = dir_ / "ctl.err";
    const std::string command = std::string(PROPBRIDGECTL_PATH) + " --address " +
                                daemon_->address() + " " + arguments + " 2>" + err.string();
    CtlRun run;
    FILE* pipe = popen(command.c_str(), "r");
    char buffer[4096];
    for (std::size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) run.out.append(buffer, n);
    const int status = pclose(pipe);
    run.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    run.err = ReadAll(err);
    return run;
  }

  // The copies a backup makes in the data directory while it runs.
  std::vector<std::string> CopiesInDataDir() const {
    std::vector<std::string> copies;
    for (const auto& entry : fs::directory_iterator(data_)) {
      const std::string name = entry.path().filename().string();
      if (name.starts_with("backup-")) copies.push_back(name);
    }
    return copies;
  }

  TempDir dir_;
  const fs::path data_ = dir_ / "data";
  std::unique_ptr<DaemonProcess> daemon_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
};

TEST_F(BackupTest, ACopyTakenDuringIngestRestoresWithEveryEventStoredOnce) {
  // Both deliver for several seconds, before, during and after the backup.
  const std::string config =
      Head() + Synthetic("steady", "count = 3000\nbatch_size = 10\ninterval_ms = 10\n") +
      Synthetic("other", "count = 2000\nbatch_size = 25\ninterval_ms = 40\n");
  constexpr std::size_t kTotal = 5000;
  Start(config);
  ASSERT_TRUE(WaitUntil([&] { return Stored("steady") >= 300 && Stored("other") >= 100; }, 20s));

  CtlRun backup = Ctl("backup --json " + (dir_ / "copy.db").string());
  ASSERT_EQ(backup.code, 0) << backup.err;
  const std::int64_t after_backup = Stored("steady");
  ASSERT_LT(after_backup, 3000) << "the plugin must deliver through the backup";
  const auto summary = nlohmann::json::parse(backup.out);
  const std::string copy_bytes = ReadAll(dir_ / "copy.db");
  EXPECT_EQ(summary["size_bytes"], copy_bytes.size());
  EXPECT_EQ(summary["sha256"], auth::ToHex(auth::HashToken(copy_bytes)));
  EXPECT_EQ(summary["format"], "sqlite3");
  struct stat status {};
  ASSERT_EQ(stat((dir_ / "copy.db").c_str(), &status), 0);
  EXPECT_EQ(status.st_mode & 07777, 0600u);
  EXPECT_TRUE(CopiesInDataDir().empty());

  // The copy is one moment: each source's events in it are exactly those before its
  // checkpoint in it.
  const Copy copy = ReadCopy(dir_ / "copy.db");
  ASSERT_GT(copy.count, 0u);
  ASSERT_LT(copy.count, kTotal);
  EXPECT_EQ(summary["last_event_id"], copy.count);
  for (const std::string source : {"steady", "other"}) {
    SCOPED_TRACE(source);
    const std::size_t checkpoint = std::stoul(copy.checkpoints.at(source));
    const auto events = copy.events.find(source);
    ASSERT_EQ(events == copy.events.end() ? 0 : events->second.size(), checkpoint);
    for (std::size_t n = 0; n < checkpoint; ++n) {
      EXPECT_TRUE(events->second.contains("e" + std::to_string(n))) << "e" << n;
    }
  }

  // The daemon goes on to store everything, then stops.
  ASSERT_TRUE(WaitUntil([&] { return Stored("steady") == 3000 && Stored("other") == 2000; }, 60s))
      << daemon_->Log();
  ASSERT_EQ(daemon_->Stop(SIGTERM, 20s), 0);

  // Restore as README says: the copy in the store's place, owner-only, no -wal or -shm.
  fs::copy_file(dir_ / "copy.db", data_ / "propbridge.db", fs::copy_options::overwrite_existing);
  fs::permissions(data_ / "propbridge.db", fs::perms::owner_read | fs::perms::owner_write);
  fs::remove(data_ / "propbridge.db-wal");
  fs::remove(data_ / "propbridge.db-shm");
  Start(config);
  const std::size_t replayed = kTotal - copy.count;
  ASSERT_TRUE(WaitUntil(
      [&] { return Stored("steady") + Stored("other") == static_cast<std::int64_t>(replayed); },
      60s))
      << daemon_->Log();

  auto events = ReadWholeTimeline(*daemon_->TimelineStub(), "account:C0");
  std::map<std::string, std::set<std::string>> ids;
  for (const auto& event : events) {
    EXPECT_TRUE(ids[event.source()].insert(event.source_event_id()).second)
        << event.source() << " " << event.source_event_id() << " twice";
  }
  EXPECT_EQ(events.size(), kTotal);
  for (const auto& [source, count] :
       std::map<std::string, std::size_t>{{"steady", 3000}, {"other", 2000}}) {
    ASSERT_EQ(ids[source].size(), count) << source;
    for (std::size_t n = 0; n < count; ++n) {
      EXPECT_TRUE(ids[source].contains("e" + std::to_string(n))) << source << " lost e" << n;
    }
  }
  // Each source resumed from its checkpoint in the copy: it emitted nothing the copy held.
  ASSERT_EQ(daemon_->Stop(SIGTERM, 20s), 0);
  EXPECT_NE(daemon_->Log().find("stopped: " + std::to_string(replayed) +
                                " events stored, 0 duplicates skipped"),
            std::string::npos)
      << daemon_->Log();
}

TEST_F(BackupTest, AnExistingFileIsReplacedOnlyWithForce) {
  Start(Head() + Synthetic("steady", "count = 50\n"));
  ASSERT_TRUE(WaitUntil([&] { return Stored("steady") == 50; }, 20s));
  WriteFile(dir_ / "kept.db", "an earlier backup");

  CtlRun refused = Ctl("backup " + (dir_ / "kept.db").string());
  EXPECT_EQ(refused.code, 2) << refused.err;
  EXPECT_NE(refused.err.find("exists; give --force to replace it"), std::string::npos)
      << refused.err;
  EXPECT_EQ(ReadAll(dir_ / "kept.db"), "an earlier backup");
  EXPECT_TRUE(Backups().empty()) << "refused before the daemon was asked";

  CtlRun forced = Ctl("backup --force " + (dir_ / "kept.db").string());
  ASSERT_EQ(forced.code, 0) << forced.err;
  EXPECT_NE(forced.out.find("Backed up the store to " + (dir_ / "kept.db").string()),
            std::string::npos)
      << forced.out;
  EXPECT_EQ(ReadCopy(dir_ / "kept.db").count, 50u);
  // Nothing but the file is left in its folder.
  for (const auto& entry : fs::directory_iterator(dir_.path())) {
    EXPECT_FALSE(entry.path().filename().string().starts_with(".kept.db")) << entry.path();
  }
  auto backups = Backups();
  ASSERT_EQ(backups.size(), 1u);
  EXPECT_EQ(backups[0].caller(), "anyone");
  EXPECT_EQ(backups[0].result().rfind("OK: ", 0), 0u) << backups[0].result();
  EXPECT_NE(backups[0].result().find(std::to_string(fs::file_size(dir_ / "kept.db")) + " bytes"),
            std::string::npos)
      << backups[0].result();
}

TEST_F(BackupTest, OnlyAnAdminMayBackUp) {
  std::string config = Head();
  for (const std::string role : {"operator", "admin"}) {
    const std::string token = *auth::NewToken();
    WriteFile(dir_ / (role + ".token"), token + "\n");
    config += "[api.auth.tokens." + role + "-app]\nrole = \"" + role + "\"\nsha256 = \"" +
              auth::ToHex(auth::HashToken(token)) + "\"\n";
  }
  Start(config);

  CtlRun denied = Ctl("--token-file " + (dir_ / "operator.token").string() + " backup " +
                      (dir_ / "copy.db").string());
  EXPECT_EQ(denied.code, 1) << denied.err;
  EXPECT_NE(denied.err.find("PERMISSION_DENIED"), std::string::npos) << denied.err;
  EXPECT_FALSE(fs::exists(dir_ / "copy.db"));
  for (const auto& entry : fs::directory_iterator(dir_.path())) {
    EXPECT_FALSE(entry.path().filename().string().starts_with(".copy.db")) << entry.path();
  }

  CtlRun allowed = Ctl("--token-file " + (dir_ / "admin.token").string() + " backup " +
                       (dir_ / "copy.db").string());
  EXPECT_EQ(allowed.code, 0) << allowed.err;
  EXPECT_TRUE(fs::exists(dir_ / "copy.db"));
}

// A backup whose client reads its first part and no more stays open; meanwhile another is
// refused, and cancelling the first removes its copy from the data directory.
TEST_F(BackupTest, ASecondBackupIsRefusedAndACancelledOneLeavesNoCopy) {
  // Some tens of megabytes: more than gRPC buffers for a client that does not read.
  Start(Head() + Synthetic("bulk", "count = 60000\nbatch_size = 1000\n"));
  ASSERT_TRUE(WaitUntil([&] { return Stored("bulk") == 60000; }, 120s)) << daemon_->Log();

  grpc::ClientContext first;
  auto reader = admin_->BackupStore(&first, {});
  v1::BackupStoreResponse response;
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_FALSE(response.has_summary());
  EXPECT_EQ(response.data().size(), std::size_t{1} << 20);
  EXPECT_EQ(response.data().substr(0, 16), std::string("SQLite format 3\0", 16));
  ASSERT_EQ(CopiesInDataDir().size(), 1u);

  CtlRun second = Ctl("backup " + (dir_ / "second.db").string());
  EXPECT_EQ(second.code, 1) << second.err;
  EXPECT_NE(second.err.find("RESOURCE_EXHAUSTED"), std::string::npos) << second.err;
  EXPECT_NE(second.err.find("only one runs at a time"), std::string::npos) << second.err;
  EXPECT_FALSE(fs::exists(dir_ / "second.db"));

  first.TryCancel();
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(WaitUntil([&] { return CopiesInDataDir().empty(); }, 10s));
  ASSERT_TRUE(WaitUntil([&] { return Backups().size() == 2; }, 10s));
  auto backups = Backups();  // newest first
  EXPECT_EQ(backups[0].result().rfind("CANCELLED", 0), 0u) << backups[0].result();
  EXPECT_EQ(backups[1].result().rfind("RESOURCE_EXHAUSTED", 0), 0u) << backups[1].result();

  // The place is free again.
  CtlRun third = Ctl("backup " + (dir_ / "third.db").string());
  EXPECT_EQ(third.code, 0) << third.err;
  EXPECT_EQ(ReadCopy(dir_ / "third.db").count, 60000u);
}

}  // namespace
}  // namespace propbridge::testing
