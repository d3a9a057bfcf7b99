// Store::Backup on the real SQLite store: the copy opens as a store of its own and holds what
// was committed (events, quarantine and every source's checkpoint), owner-only; while a writer
// commits batches beside it, each source's checkpoint in the copy matches exactly the events
// the copy holds; and it never writes over or through what is at its destination.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "daemon/store/store.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_store.h"

namespace propbridge::store {
namespace {

namespace fs = std::filesystem;

// Events n .. n + count - 1 of `source` as a batch whose checkpoint is their end, as the
// synthetic plugin delivers them; each with a summary long enough to make a store of some
// megabytes from a few thousand batches.
Batch Numbered(const std::string& source, int first, int count) {
  Batch batch;
  batch.source = source;
  for (int n = first; n < first + count; ++n) {
    Event& event = batch.events.emplace_back();
    event.source = source;
    event.source_event_id = "e" + std::to_string(n);
    event.identifiers = {{"account", "C" + std::to_string(n % 50)}};
    event.kind = "crm.profile.updated";
    event.step = sdk::Step::kUnderstand;
    event.occurred_at = event.ingested_at = MicrosNow();
    event.summary = "Synthetic event " + std::to_string(n) + std::string(300, '.');
  }
  batch.checkpoint = std::to_string(first + count);
  return batch;
}

void Write(Store& store, Batch batch) {
  BatchOutcome outcome = store.Write({&batch, 1})[0];
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.message();
}

// Every event of the store, by source: the source_event_ids in the order they were stored.
std::map<std::string, std::vector<std::string>> EventsBySource(Store& store) {
  std::map<std::string, std::vector<std::string>> by_source;
  ChangesQuery query;
  query.limit = 10000;
  while (true) {
    auto events = store.ReadChanges(query);
    EXPECT_TRUE(events.ok()) << events.status().message();
    if (!events.ok() || events->empty()) return by_source;
    for (const Event& event : *events) by_source[event.source].push_back(event.source_event_id);
    query.after_id = events->back().id;
  }
}

std::map<std::string, std::string> Checkpoints(Store& store) {
  auto records = store.ReadCheckpoints();
  EXPECT_TRUE(records.ok()) << records.status().message();
  std::map<std::string, std::string> by_source;
  if (records.ok()) {
    for (const CheckpointRecord& record : *records) by_source[record.source] = record.checkpoint;
  }
  return by_source;
}

class StoreBackupTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  std::unique_ptr<Store> store_ = testing::OpenTestStore(dir_ / "store.db");
};

TEST_F(StoreBackupTest, TheCopyOpensAsAStoreWithTheEventsQuarantineAndCheckpointsOwnerOnly) {
  Write(*store_, Numbered("billing", 0, 30));
  Batch maintenance = Numbered("maintenance", 0, 12);
  QuarantineRecord& bad = maintenance.quarantined.emplace_back();
  bad.source = "maintenance";
  bad.origin = "webhook 7";
  bad.reason = "no customer";
  bad.raw = "{}";
  bad.quarantined_at = MicrosNow();
  Write(*store_, std::move(maintenance));
  const auto events = EventsBySource(*store_);
  const Micros before = MicrosNow();

  // A umask that would let others read a file created with it.
  const mode_t umask_before = ::umask(0);
  auto info = store_->Backup(dir_ / "copy.db", {});
  ::umask(umask_before);
  ASSERT_TRUE(info.ok()) << info.status().message();
  EXPECT_EQ(info->format, "sqlite3");
  EXPECT_EQ(info->last_event_id, 42);
  EXPECT_GE(info->taken_at, before);
  EXPECT_LE(info->taken_at, MicrosNow());
  struct stat status {};
  ASSERT_EQ(::stat((dir_ / "copy.db").c_str(), &status), 0);
  EXPECT_EQ(status.st_mode & 07777, 0600u);
  EXPECT_EQ(info->bytes, static_cast<std::uint64_t>(status.st_size));
  EXPECT_FALSE(fs::exists(dir_ / "copy.db-journal"));

  // The store goes on; the copy keeps what it had.
  Write(*store_, Numbered("billing", 30, 5));
  store_.reset();
  std::unique_ptr<Store> copy = testing::OpenTestStore(dir_ / "copy.db");
  ASSERT_TRUE(copy);
  EXPECT_EQ(EventsBySource(*copy), events);
  EXPECT_EQ(Checkpoints(*copy),
            (std::map<std::string, std::string>{{"billing", "30"}, {"maintenance", "12"}}));
  auto quarantined = copy->ReadQuarantine("maintenance", 10);
  ASSERT_TRUE(quarantined.ok());
  ASSERT_EQ(quarantined->size(), 1u);
  EXPECT_EQ((*quarantined)[0].origin, "webhook 7");
  // A replay from the copy's checkpoint stores the events after it, and nothing twice.
  BatchOutcome replay = copy->Write(std::vector<Batch>{Numbered("billing", 30, 5)})[0];
  EXPECT_EQ(replay.inserted, 5u);
  BatchOutcome again = copy->Write(std::vector<Batch>{Numbered("billing", 25, 10)})[0];
  EXPECT_EQ(again.inserted, 0u);
  EXPECT_EQ(again.duplicates, 10u);
}

// The copy is one moment of the store while a writer commits beside it: for each source, the
// events in the copy are exactly those before its checkpoint in the copy.
TEST_F(StoreBackupTest, ACopyMadeWhileBatchesCommitMatchesItsCheckpoints) {
  // Some megabytes, so that the copy takes many steps.
  constexpr int kBatch = 200;
  int next = 0;
  for (; next < 20000; next += kBatch) Write(*store_, Numbered("steady", next, kBatch));
  std::atomic<bool> done = false;
  std::atomic<int> written = next;
  std::thread writer([&] {
    for (int n = next; !done.load(); n += kBatch) {
      Write(*store_, Numbered("steady", n, kBatch));
      Write(*store_, Numbered("other", n - next, kBatch));
      written = n + kBatch;
    }
  });
  while (written.load() == next) std::this_thread::yield();
  // Copies until one was made while the writer committed: a copy is quick, and the scheduler
  // decides whether the writer commits meanwhile.
  int before = 0;
  int after = 0;
  for (int attempt = 0; attempt < 20 && after == before; ++attempt) {
    std::filesystem::remove(dir_ / "copy.db");
    before = written.load();
    auto info = store_->Backup(dir_ / "copy.db", {});
    after = written.load();
    EXPECT_TRUE(info.ok()) << info.status().message();
    if (!info.ok()) break;
  }
  done = true;
  writer.join();
  ASSERT_GT(after, before) << "no copy was made while the writer committed";

  std::unique_ptr<Store> copy = testing::OpenTestStore(dir_ / "copy.db");
  ASSERT_TRUE(copy);
  const auto checkpoints = Checkpoints(*copy);
  const auto events = EventsBySource(*copy);
  for (const std::string source : {"steady", "other"}) {
    SCOPED_TRACE(source);
    const auto checkpoint = checkpoints.find(source);
    const std::size_t count = checkpoint == checkpoints.end() ? 0 : std::stoul(checkpoint->second);
    const auto stored = events.find(source);
    const std::vector<std::string> ids =
        stored == events.end() ? std::vector<std::string>{} : stored->second;
    ASSERT_EQ(ids.size(), count);
    std::set<std::string> unique(ids.begin(), ids.end());
    EXPECT_EQ(unique.size(), count);
    for (std::size_t n = 0; n < count; ++n) EXPECT_TRUE(unique.contains("e" + std::to_string(n)));
  }
  EXPECT_GE(std::stoi(checkpoints.at("steady")), before);
}

TEST_F(StoreBackupTest, NeverWritesOverOrThroughWhatIsThere) {
  Write(*store_, Numbered("billing", 0, 3));
  testing::WriteFile(dir_ / "taken.db", "someone's file");
  auto taken = store_->Backup(dir_ / "taken.db", {});
  EXPECT_EQ(taken.status().code(), StatusCode::kAlreadyExists) << taken.status().message();
  std::ifstream kept(dir_ / "taken.db");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(kept), {}), "someone's file");

  fs::create_symlink(dir_ / "elsewhere.db", dir_ / "link.db");
  auto linked = store_->Backup(dir_ / "link.db", {});
  EXPECT_FALSE(linked.ok());
  EXPECT_FALSE(fs::exists(dir_ / "elsewhere.db"));
}

TEST_F(StoreBackupTest, AStoppedBackupLeavesNothing) {
  Write(*store_, Numbered("billing", 0, 3));
  std::stop_source stop;
  stop.request_stop();
  auto info = store_->Backup(dir_ / "copy.db", stop.get_token());
  EXPECT_EQ(info.status().code(), StatusCode::kCancelled) << info.status().message();
  EXPECT_FALSE(fs::exists(dir_ / "copy.db"));
  EXPECT_FALSE(fs::exists(dir_ / "copy.db-journal"));
}

}  // namespace
}  // namespace propbridge::store
