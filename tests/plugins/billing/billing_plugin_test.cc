// The real billing plugin library, loaded as the daemon loads it, with a context standing in for
// the daemon, so that a test can make an emit fail as the daemon would and see what the plugin
// does next.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "daemon/plugin_host/plugin_library.h"
#include "tests/plugins/billing/temp_dir.h"

namespace propbridge::billing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kHeader =
    "record_id,record_type,account_no,unit,customer_name,phone,occurred_at,item,amount,note\n";

std::string Rows(const std::string& prefix, int count) {
  std::string rows;
  for (int i = 1; i <= count; ++i) {
    rows += prefix + std::to_string(i) + ",charge,A-1001,,,,2026-11-0" + std::to_string(i) +
            " 09:00,water,56.00,\n";
  }
  return rows;
}

std::string ReadBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Stands in for the daemon: `answer` decides each emit's outcome; batches it accepts are kept.
class FakeContext final : public sdk::Context, private sdk::Logger {
 public:
  using Answer = std::function<Status(const sdk::Batch&)>;

  FakeContext(std::map<std::string, std::string> settings, Answer answer)
      : settings_(std::move(settings)), answer_(std::move(answer)) {}

  const std::string& InstanceName() const noexcept override { return name_; }
  const sdk::Settings& Config() const noexcept override { return settings_; }
  const std::string& TimeZone() const noexcept override { return time_zone_; }
  sdk::Logger& Log() noexcept override { return *this; }
  const std::optional<std::string>& LastCheckpoint() const noexcept override { return checkpoint_; }

  Status Emit(sdk::Batch batch) noexcept override {
    std::lock_guard lock(mu_);
    Status status = answer_(batch);
    ++emits_[batch.checkpoint.substr(0, batch.checkpoint.find('\t'))];
    if (status.ok()) {
      for (const sdk::RawEvent& event : batch.events) ids_.push_back(event.source_event_id);
      checkpoints_.push_back(batch.checkpoint);
    }
    changed_.notify_all();
    return status;
  }

  // Waits until an event with this id was accepted, for at most 10 s.
  bool WaitForEvent(const std::string& id) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, 10s,
                             [&] { return std::find(ids_.begin(), ids_.end(), id) != ids_.end(); });
  }
  // Waits until a batch with this checkpoint was accepted, for at most 10 s.
  bool WaitForCheckpoint(const std::string& checkpoint) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, 10s, [&] {
      return std::find(checkpoints_.begin(), checkpoints_.end(), checkpoint) != checkpoints_.end();
    });
  }

  std::vector<std::string> ids() {
    std::lock_guard lock(mu_);
    return ids_;
  }
  std::vector<std::string> checkpoints() {
    std::lock_guard lock(mu_);
    return checkpoints_;
  }
  // Emits whose checkpoint names `file`, accepted or not.
  int emits(const std::string& file) {
    std::lock_guard lock(mu_);
    return emits_[file];
  }
  std::string errors() {
    std::lock_guard lock(mu_);
    return errors_;
  }

 private:
  void Log(sdk::LogLevel level, std::string_view message) noexcept override {
    std::lock_guard lock(mu_);
    if (level == sdk::LogLevel::kError) errors_ += std::string(message) + "\n";
    changed_.notify_all();
  }

  const std::string name_ = "billing";
  const std::string time_zone_ = "Asia/Shanghai";
  const sdk::Settings settings_;
  const std::optional<std::string> checkpoint_;
  const Answer answer_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::string> ids_;
  std::vector<std::string> checkpoints_;
  std::map<std::string, int> emits_;
  std::string errors_;
};

class BillingPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(inbox());
    auto library = plugin_host::PluginLibrary::Load(BILLING_PLUGIN);
    ASSERT_TRUE(library.ok()) << library.status().message();
    library_ = std::move(*library);
  }

  void TearDown() override {
    if (plugin_) {
      EXPECT_TRUE(plugin_->Stop(std::chrono::steady_clock::now() + 10s).ok());
    }
    plugin_.reset();
    context_.reset();
  }

  fs::path inbox() const { return dir_.path() / "inbox"; }

  // Returns once the plugin has polled the inbox `polls` more times: each is shown by an export
  // of one row, written under another name and renamed into the inbox, that is emitted.
  bool AwaitPolls(int polls) {
    for (int i = 0; i < polls; ++i) {
      const std::string id = "POLL-" + std::to_string(++polls_shown_);
      fs::path part = dir_.Write(
          "inbox/zz-" + id + ".csv.part",
          std::string(kHeader) + id + ",charge,A-1001,,,,2026-11-01 09:00,water,1.00,\n");
      fs::rename(part, inbox() / ("zz-" + id + ".csv"));
      if (!context_->WaitForEvent(id)) return false;
    }
    return true;
  }

  // Starts the plugin on the inbox, polling every 20 ms, with `answer` for each emit.
  void Start(FakeContext::Answer answer) {
    context_ = std::make_unique<FakeContext>(
        std::map<std::string, std::string>{{"inbox", inbox().string()},
                                           {"poll_interval_ms", "20"},
                                           {"settle_ms", "0"},
                                           {"batch_size", "2"}},
        std::move(answer));
    auto plugin = library_->Create();
    ASSERT_TRUE(plugin.ok()) << plugin.status().message();
    plugin_ = std::move(*plugin);
    Status started = plugin_->Start(*context_);
    ASSERT_TRUE(started.ok()) << started.message();
  }

  TempDir dir_;
  // The library outlives the plugin object, and the context the plugin.
  std::unique_ptr<plugin_host::PluginLibrary> library_;
  std::unique_ptr<FakeContext> context_;
  std::unique_ptr<sdk::PluginHandle> plugin_;
  int polls_shown_ = 0;
};

// The daemon refuses a batch for good (over its size limit): retrying the same batch at every
// poll would hold every later file back forever.
TEST_F(BillingPluginTest, AFileTheDaemonRefusesGoesToRejectedAndLaterFilesGoOn) {
  const std::string big = std::string(kHeader) + Rows("B-", 5);
  dir_.Write("inbox/a-big.csv", big);
  dir_.Write("inbox/b-later.csv", std::string(kHeader) + Rows("L-", 3));
  const std::string refusal =
      "a batch of 19713390 bytes is over the limit of 16777216; emit smaller batches";
  // The first batch of a-big.csv goes in; its second is refused.
  Start([&](const sdk::Batch& batch) {
    if (batch.checkpoint == "a-big.csv\t4") return ResourceExhausted(refusal);
    return Status::Ok();
  });

  ASSERT_TRUE(context_->WaitForEvent("L-3")) << context_->errors();
  EXPECT_EQ(context_->ids(), (std::vector<std::string>{"B-1", "B-2", "L-1", "L-2", "L-3"}));
  fs::path rejected = inbox() / "rejected" / "a-big.csv";
  EXPECT_EQ(ReadBytes(rejected), big);
  EXPECT_FALSE(fs::exists(inbox() / "a-big.csv"));
  EXPECT_EQ(ReadBytes(inbox() / "rejected" / "a-big.csv.reason.txt"),
            "the daemon refused records 3 to 4 (" + refusal +
                "); records 1 to 2 are stored, the rest of the file is not\n");
  EXPECT_NE(context_->errors().find("a-big.csv"), std::string::npos) << context_->errors();
  EXPECT_NE(context_->errors().find(refusal), std::string::npos) << context_->errors();
  // That the file is finished is recorded under the path it went to, so that a later export of
  // the same name is read from its start.
  std::vector<std::string> checkpoints = context_->checkpoints();
  EXPECT_NE(std::find(checkpoints.begin(), checkpoints.end(), rejected.string() + "\t2"),
            checkpoints.end());
  // And the refused batch is not tried again.
  int tries = context_->emits("a-big.csv");
  ASSERT_TRUE(AwaitPolls(3)) << context_->errors();
  EXPECT_EQ(context_->emits("a-big.csv"), tries);
}

// A daemon that is going away (UNAVAILABLE) will take the batch once it is back: the file waits.
TEST_F(BillingPluginTest, AFileIsRetriedWhileTheDaemonIsUnavailable) {
  dir_.Write("inbox/a.csv", std::string(kHeader) + Rows("A-", 3));
  int unavailable = 0;
  Start([&](const sdk::Batch& batch) {
    if (batch.checkpoint == "a.csv\t2" && ++unavailable <= 5) {
      return Unavailable("the daemon is shutting down; emit again after restart");
    }
    return Status::Ok();
  });
  ASSERT_TRUE(context_->WaitForEvent("A-3")) << context_->errors();
  // That the file is finished is recorded once it is archived.
  EXPECT_TRUE(context_->WaitForCheckpoint((inbox() / "archive" / "a.csv").string() + "\t3"))
      << context_->errors();
  EXPECT_TRUE(fs::exists(inbox() / "archive" / "a.csv"));
  EXPECT_FALSE(fs::exists(inbox() / "rejected"));
  EXPECT_EQ(context_->errors(), "");
}

}  // namespace
}  // namespace propbridge::billing
