// PluginSupervisor on its own, among the thread tests under ThreadSanitizer: the real faulty
// test plugin, run in process and in the real plugin host, emitting through the real pipeline
// into the real store, while other threads ask for its report and an admin stops and restarts
// it. What is checked is what the store holds afterwards: every event once, up to the
// checkpoint that was committed with it, and the states and restarts the supervisor reports.
#include "daemon/supervisor/plugin_supervisor.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "daemon/ingest/pipeline.h"
#include "daemon/store/store.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_store.h"
#include "tests/support/wait_until.h"

namespace propbridge::supervisor {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using propbridge::testing::WaitUntil;

constexpr auto kWait = std::chrono::milliseconds(60s);
const char* const kSource = "faulty";

enum class Runner { kInProcess, kHostProcess };

const char* NameOf(Runner runner) {
  return runner == Runner::kInProcess ? "InProcess" : "InHostProcess";
}
void PrintTo(Runner runner, std::ostream* out) { *out << NameOf(runner); }

// Asks a supervisor for its report from threads of its own until destroyed, as ListPlugins
// does, and checks what no report may ever say: a count or a restart that went backwards, a
// process id while the plugin runs in process.
class Observers {
 public:
  Observers(const PluginSupervisor& supervisor, int threads) {
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this, &supervisor](std::stop_token stop) {
        PluginReport last;
        while (!stop.stop_requested()) {
          PluginReport report = supervisor.Report();
          EXPECT_EQ(report.name, kSource);
          EXPECT_GE(report.events_emitted, last.events_emitted);
          EXPECT_GE(report.restarts, last.restarts);
          if (!report.isolated || report.state != PluginState::kRunning) {
            EXPECT_EQ(report.pid, 0) << "a process id without a running host process";
          }
          last = std::move(report);
          ++reports_;
        }
      });
    }
  }

  std::uint64_t reports() const { return reports_; }

 private:
  std::atomic<std::uint64_t> reports_{0};
  // Last: the threads stop and are joined first.
  std::vector<std::jthread> threads_;
};

class PluginSupervisorTest : public ::testing::TestWithParam<Runner> {
 protected:
  void SetUp() override {
    store_ = propbridge::testing::OpenTestStore(dir_ / "store.db");
    ASSERT_TRUE(store_);
    pipeline_ = std::make_unique<ingest::Pipeline>(*store_, ingest::PipelineOptions{});
    daemon_.plugin_stop_timeout = 3s;
  }

  // The faulty plugin, emitting `count` events in batches of 50, with `settings` besides:
  // restarted 200 ms after its first failure, 400 ms after the next, failed after three.
  config::PluginConfig Plugin(int count, std::map<std::string, std::string> settings = {}) {
    config::PluginConfig plugin;
    plugin.name = kSource;
    plugin.library = FAULTY_PLUGIN;
    plugin.in_process = GetParam() == Runner::kInProcess;
    plugin.restart = {
        .backoff_base = 200ms, .backoff_cap = 400ms, .max_failures = 3, .stable_after = 60s};
    settings.emplace("count", std::to_string(count));
    settings.emplace("batch_size", "50");
    plugin.settings = sdk::Settings(std::move(settings));
    return plugin;
  }

  std::unique_ptr<PluginSupervisor> Supervise(config::PluginConfig plugin) {
    return std::make_unique<PluginSupervisor>(std::move(plugin), daemon_, PLUGIN_HOST, *pipeline_,
                                              *store_);
  }

  // The faulty plugin's events in the store, each once by the store's own rule, in id order.
  std::vector<store::Event> Stored() {
    auto events = store_->ReadChanges({.after_id = 0, .filter = {}, .limit = 1'000'000});
    EXPECT_TRUE(events.ok()) << events.status().message();
    std::vector<store::Event> faulty;
    if (!events.ok()) return faulty;
    for (store::Event& event : *events) {
      if (event.source == kSource) faulty.push_back(std::move(event));
    }
    return faulty;
  }

  // Checks that the store holds events "f0" .. "f<count - 1>", each exactly once, and the
  // checkpoint committed with the last of them.
  void ExpectEveryEventOnce(int count) {
    std::set<std::string> ids;
    for (const store::Event& event : Stored()) {
      EXPECT_TRUE(ids.insert(event.source_event_id).second) << event.source_event_id;
    }
    EXPECT_EQ(ids.size(), static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) EXPECT_TRUE(ids.contains("f" + std::to_string(i))) << i;
    EXPECT_EQ(Checkpoint(), std::optional<std::string>(std::to_string(count)));
  }

  std::optional<std::string> Checkpoint() {
    auto checkpoint = store_->LoadCheckpoint(kSource);
    EXPECT_TRUE(checkpoint.ok()) << checkpoint.status().message();
    return checkpoint.ok() ? *checkpoint : std::nullopt;
  }

  // Whether the supervisor reports `state` within kWait.
  static bool WaitForState(const PluginSupervisor& supervisor, PluginState state) {
    return WaitUntil([&] { return supervisor.Report().state == state; }, kWait);
  }
  bool WaitForStored(std::size_t count) {
    return WaitUntil([&] { return pipeline_->CountsOf(kSource).events_stored >= count; }, kWait);
  }

  // What lives longest first: the supervisors use the pipeline, which writes to the store.
  propbridge::testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ingest::Pipeline> pipeline_;
  config::Config daemon_;
};

// The plugin runs to its end while four threads ask for its report all along; an admin's stop
// leaves it stopped, and an admin's restart runs it again from its checkpoint, which adds
// nothing.
TEST_P(PluginSupervisorTest, RunsThePluginWhileOthersAskForItsReport) {
  auto supervisor = Supervise(Plugin(3000));
  Observers observers(*supervisor, 4);
  supervisor->Start();
  supervisor->WaitUntilStarted();
  ASSERT_TRUE(WaitForStored(3000));
  PluginReport report = supervisor->Report();
  EXPECT_EQ(report.state, PluginState::kRunning);
  EXPECT_EQ(report.restarts, 0u);
  EXPECT_EQ(report.events_emitted, 3000u);
  EXPECT_EQ(report.isolated, GetParam() == Runner::kHostProcess);
  EXPECT_EQ(report.pid > 0, GetParam() == Runner::kHostProcess);

  ASSERT_TRUE(supervisor->Stop().ok());
  EXPECT_EQ(supervisor->Report().state, PluginState::kStopped);
  EXPECT_EQ(supervisor->Report().pid, 0);
  ASSERT_TRUE(supervisor->Restart().ok());
  ASSERT_TRUE(WaitForState(*supervisor, PluginState::kRunning));
  EXPECT_EQ(supervisor->Report().restarts, 1u);
  EXPECT_TRUE(supervisor->Shutdown(Clock::now() + 5s));
  EXPECT_EQ(supervisor->Report().state, PluginState::kStopped);
  EXPECT_GT(observers.reports(), 0u);
  ExpectEveryEventOnce(3000);
  EXPECT_EQ(pipeline_->stats().duplicates.load(), 0u) << "the restart replayed stored events";
}

// A plugin whose first start throws is started again once the backoff has passed, not at
// once, and then emits everything.
TEST_P(PluginSupervisorTest, RestartsAFailedStartOnlyOnceTheBackoffHasPassed) {
  const std::filesystem::path once = dir_ / "once";
  auto supervisor =
      Supervise(Plugin(1000, {{"fault", "throw_start"}, {"once_file", once.string()}}));
  Observers observers(*supervisor, 2);
  supervisor->Start();
  supervisor->WaitUntilStarted();
  ASSERT_TRUE(WaitForStored(1000));
  PluginReport report = supervisor->Report();
  EXPECT_EQ(report.state, PluginState::kRunning);
  EXPECT_EQ(report.restarts, 1u);
  EXPECT_NE(report.last_error.find("vendor code failed in Start"), std::string::npos)
      << report.last_error;

  // The failed start made the file; the restart stored the first event. The backoff's
  // jitter takes a fifth off at most: 160 ms of the 200.
  const std::vector<store::Event> stored = Stored();
  ASSERT_FALSE(stored.empty());
  const auto failed_at = std::chrono::file_clock::to_sys(std::filesystem::last_write_time(once));
  EXPECT_GE(stored.front().ingested_at - failed_at, 160ms);
  EXPECT_TRUE(supervisor->Shutdown(Clock::now() + 5s));
  ExpectEveryEventOnce(1000);
}

// Shutdown while the plugin emits as fast as the pipeline takes it: it stops by the deadline,
// and the store holds exactly the events up to the checkpoint committed last, so that a new
// run resumes there and adds each remaining event once.
TEST_P(PluginSupervisorTest, ShutdownWhileThePluginEmitsKeepsWhatWasAcknowledged) {
  auto supervisor = Supervise(Plugin(1'000'000));
  {
    Observers observers(*supervisor, 2);
    supervisor->Start();
    supervisor->WaitUntilStarted();
    ASSERT_TRUE(WaitForStored(2000));
    const Clock::time_point asked = Clock::now();
    EXPECT_TRUE(supervisor->Shutdown(asked + 2s));
    EXPECT_LT(Clock::now() - asked, 2s + 5s);
  }
  EXPECT_EQ(supervisor->Report().state, PluginState::kStopped);
  supervisor.reset();
  std::optional<std::string> checkpoint = Checkpoint();
  ASSERT_TRUE(checkpoint);
  const int stopped_at = std::stoi(*checkpoint);
  ExpectEveryEventOnce(stopped_at);

  auto resumed = Supervise(Plugin(stopped_at + 500));
  resumed->Start();
  resumed->WaitUntilStarted();
  ASSERT_TRUE(WaitUntil([&] { return Checkpoint() == std::to_string(stopped_at + 500); }, kWait));
  EXPECT_TRUE(resumed->Shutdown(Clock::now() + 5s));
  ExpectEveryEventOnce(stopped_at + 500);
}

INSTANTIATE_TEST_SUITE_P(Runners, PluginSupervisorTest,
                         ::testing::Values(Runner::kInProcess, Runner::kHostProcess),
                         [](const ::testing::TestParamInfo<Runner>& info) {
                           return std::string(NameOf(info.param));
                         });

// What only a host process lets the daemon survive.
using HostProcessSupervisorTest = PluginSupervisorTest;

// A host that dies in the middle of the run is restarted after its backoff from the last
// checkpoint the store committed, and the events emitted before the crash are not stored
// twice.
TEST_P(HostProcessSupervisorTest, ACrashedHostIsRestartedFromItsCheckpoint) {
  auto supervisor = Supervise(Plugin(
      3000,
      {{"fault", "abort"}, {"fault_after", "1000"}, {"once_file", (dir_ / "once").string()}}));
  Observers observers(*supervisor, 2);
  supervisor->Start();
  supervisor->WaitUntilStarted();
  ASSERT_TRUE(WaitForStored(3000));
  PluginReport report = supervisor->Report();
  EXPECT_EQ(report.state, PluginState::kRunning);
  EXPECT_EQ(report.restarts, 1u);
  EXPECT_NE(report.last_error.find("signal 6"), std::string::npos) << report.last_error;
  EXPECT_TRUE(supervisor->Shutdown(Clock::now() + 5s));
  ExpectEveryEventOnce(3000);
}

// A plugin whose Stop never returns is ended by the stop deadline: the admin's stop returns
// soon after it, with the host gone.
TEST_P(HostProcessSupervisorTest, AStopThatHangsEndsAtTheDeadline) {
  auto supervisor = Supervise(Plugin(500, {{"fault", "hang_stop"}}));
  Observers observers(*supervisor, 2);
  supervisor->Start();
  supervisor->WaitUntilStarted();
  ASSERT_TRUE(WaitForStored(500));
  const int host = supervisor->Report().pid;
  ASSERT_GT(host, 0);

  const Clock::time_point asked = Clock::now();
  ASSERT_TRUE(supervisor->Stop().ok());
  const Clock::duration took = Clock::now() - asked;
  EXPECT_GE(took, daemon_.plugin_stop_timeout) << "the plugin cannot have stopped by itself";
  EXPECT_LT(took, daemon_.plugin_stop_timeout + 5s);
  EXPECT_EQ(supervisor->Report().state, PluginState::kStopped);
  EXPECT_EQ(::kill(host, 0), -1) << "the host still runs";
  EXPECT_EQ(errno, ESRCH);
  EXPECT_TRUE(supervisor->Shutdown(Clock::now() + 5s));
  ExpectEveryEventOnce(500);
}

INSTANTIATE_TEST_SUITE_P(Runners, HostProcessSupervisorTest,
                         ::testing::Values(Runner::kHostProcess),
                         [](const ::testing::TestParamInfo<Runner>& info) {
                           return std::string(NameOf(info.param));
                         });

}  // namespace
}  // namespace propbridge::supervisor
