// Vendor plugins that misbehave, each beside a healthy plugin, under the real daemon with the
// real plugin host: the daemon keeps answering, the healthy plugin keeps storing events, the
// faulty one is restarted or marked failed, and every acknowledged event is stored once.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <map>

#include "propbridge/v1/admin.grpc.pb.h"
#include "tests/support/daemon_process.h"
#include "tests/support/health_check.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_until.h"

namespace propbridge::testing {
namespace {

namespace v1 = propbridge::v1;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr int kFaultyEvents = 3000;

// What goes in the faulty instance's tables besides its settings.
struct Faulty {
  std::string settings = {};  // TOML lines for [plugins.faulty.settings]
  std::string keys = {};      // TOML lines for [plugins.faulty] itself
  std::string limits = {};    // TOML lines for [plugins.faulty.limits]
  std::string library = FAULTY_PLUGIN;
};

class SupervisorTest : public ::testing::Test {
 protected:
  std::string Config(const Faulty& faulty) const {
    return "listen = \"127.0.0.1:0\"\n"
           "data_dir = \"" +
           (dir_ / "data").string() +
           "\"\n"
           "[shutdown]\nplugin_stop_timeout_ms = 2000\n"
           "[plugins.healthy]\nlibrary = \"" SYNTHETIC_PLUGIN
           "\"\n"
           "[plugins.healthy.settings]\n"
           "count = 1000000\nbatch_size = 10\ncustomers = 1\ninterval_ms = 20\n"
           "[plugins.faulty]\nlibrary = \"" +
           faulty.library + "\"\n" + faulty.keys +
           "[plugins.faulty.restart]\n"
           "backoff_base_ms = 50\nbackoff_cap_ms = 200\nmax_failures = 3\n"
           "[plugins.faulty.limits]\nstart_timeout_ms = 2000\n" +
           faulty.limits + "[plugins.faulty.settings]\n" + faulty.settings;
  }

  void StartDaemon(const Faulty& faulty) {
    std::string error;
    daemon_ = DaemonProcess::Start(dir_.path(), Config(faulty), dir_ / "data", error);
    ASSERT_TRUE(daemon_) << error;
    channel_ = grpc::CreateChannel(daemon_->address(), grpc::InsecureChannelCredentials());
    admin_ = v1::AdminService::NewStub(channel_);
  }

  v1::PluginInstance Plugin(const std::string& name) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::ListPluginsResponse response;
    grpc::Status status = admin_->ListPlugins(&context, {}, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    for (const v1::PluginInstance& plugin : response.plugins()) {
      if (plugin.name() == name) return plugin;
    }
    ADD_FAILURE() << "no plugin " << name;
    return {};
  }

  // Polls the faulty instance until `done` holds; fails the test after 60 s.
  template <typename Predicate>
  v1::PluginInstance WaitFor(Predicate done, const std::string& what) {
    v1::PluginInstance plugin;
    if (!WaitUntil(
            [&] {
              plugin = Plugin("faulty");
              return done(plugin);
            },
            60s, 50ms)) {
      ADD_FAILURE() << "timed out waiting until " << what
                    << "; last seen: " << plugin.ShortDebugString() << "\n"
                    << daemon_->Log();
    }
    return plugin;
  }

  // How many times each of the faulty plugin's events is on the timelines (accounts F0..F9).
  std::map<std::string, int> FaultyEventsStored() {
    std::map<std::string, int> seen;
    auto stub = daemon_->TimelineStub();
    for (int account = 0; account < 10; ++account) {
      for (const auto& event : ReadWholeTimeline(*stub, "account:F" + std::to_string(account))) {
        ++seen[event.source_event_id()];
      }
    }
    return seen;
  }

  void ExpectEveryEventOnce(int count) {
    std::map<std::string, int> seen = FaultyEventsStored();
    EXPECT_EQ(seen.size(), static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) {
      EXPECT_EQ(seen["f" + std::to_string(i)], 1) << "event f" << i;
    }
  }

  // The healthy plugin goes on storing events while the faulty one misbehaves.
  void ExpectHealthyProgress() {
    std::int64_t before = Plugin("healthy").events_stored();
    WaitUntil([&] { return Plugin("healthy").events_stored() > before; }, 20s, 50ms);
    v1::PluginInstance healthy = Plugin("healthy");
    EXPECT_GT(healthy.events_stored(), before);
    EXPECT_EQ(healthy.state(), v1::PLUGIN_STATE_RUNNING);
    EXPECT_EQ(healthy.restarts(), 0);
  }

  void StopDaemon() { ASSERT_EQ(daemon_->Stop(SIGTERM, 20s), 0) << daemon_->Log(); }

  TempDir dir_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
};

std::string Settings(const std::string& fault, int fault_after, const fs::path& once_file) {
  return "count = " + std::to_string(kFaultyEvents) + "\nbatch_size = 100\nfault = \"" + fault +
         "\"\nfault_after = " + std::to_string(fault_after) + "\nonce_file = \"" +
         once_file.string() + "\"\n";
}

// Whether this is a sanitizer build, whose plugin hosts run without an address-space limit.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
constexpr bool kSanitized = __has_feature(address_sanitizer) || __has_feature(thread_sanitizer);
#else
constexpr bool kSanitized = false;
#endif

struct CrashCase {
  const char* fault;
  const char* limits;
  const char* reason;  // in last_error
};

class CrashTest : public SupervisorTest, public ::testing::WithParamInterface<CrashCase> {};

TEST_P(CrashTest, IsContainedRestartedAndResumedWithEveryEventOnce) {
  const CrashCase& c = GetParam();
  if (kSanitized && std::string_view(c.limits).find("memory_mb") != std::string_view::npos) {
    GTEST_SKIP()
        << "a sanitizer build sets no address-space limit: the plugin would eat the machine";
  }
  StartDaemon({.settings = Settings(c.fault, 1000, dir_ / "once"), .limits = c.limits});
  ExpectHealthyProgress();
  v1::PluginInstance faulty = WaitFor(
      [](const v1::PluginInstance& p) {
        return p.restarts() >= 1 && p.state() == v1::PLUGIN_STATE_RUNNING &&
               p.last_checkpoint() == std::to_string(kFaultyEvents);
      },
      "the faulty plugin was restarted and emitted everything");
  EXPECT_EQ(faulty.restarts(), 1);
  EXPECT_TRUE(faulty.isolated());
  EXPECT_NE(faulty.last_error().find(c.reason), std::string::npos) << faulty.last_error();
  ExpectEveryEventOnce(kFaultyEvents);
  ExpectHealthyProgress();
  EXPECT_EQ(CheckServing(daemon_->address()), std::optional<bool>(true));
  StopDaemon();
}

INSTANTIATE_TEST_SUITE_P(
    EveryWayToDie, CrashTest,
    ::testing::Values(CrashCase{"segfault", "", "signal 11"}, CrashCase{"abort", "", "signal 6"},
                      CrashCase{"exit", "", "exited with code 3"},
                      CrashCase{"freeze", "heartbeat_timeout_ms = 1000\n", "killed as hung"},
                      CrashCase{"leak", "memory_mb = 256\n", "killed by signal"},
                      CrashCase{"crash_mid_batch", "", "signal 6"}),
    [](const auto& info) { return std::string(info.param.fault); });

TEST_F(SupervisorTest, APluginThatKeepsCrashingIsMarkedFailedUntilAnAdminRestartsIt) {
  StartDaemon({.settings = Settings("segfault", 0, "")});
  v1::PluginInstance faulty =
      WaitFor([](const auto& p) { return p.state() == v1::PLUGIN_STATE_FAILED; }, "it failed");
  EXPECT_EQ(faulty.restarts(), 2);  // three failures in a row: the first start and two restarts
  EXPECT_NE(faulty.last_error().find("signal 11"), std::string::npos) << faulty.last_error();
  EXPECT_EQ(faulty.pid(), 0);
  ExpectHealthyProgress();
  EXPECT_EQ(CheckServing(daemon_->address()), std::optional<bool>(true));

  grpc::ClientContext context;
  v1::RestartPluginRequest request;
  request.set_name("faulty");
  v1::RestartPluginResponse response;
  ASSERT_TRUE(admin_->RestartPlugin(&context, request, &response).ok());
  EXPECT_EQ(response.plugin().name(), "faulty");
  faulty = WaitFor(
      [](const auto& p) { return p.state() == v1::PLUGIN_STATE_FAILED && p.restarts() == 5; },
      "it failed three more times");
  StopDaemon();
}

class StartFailureTest : public SupervisorTest, public ::testing::WithParamInterface<bool> {};

TEST_P(StartFailureTest, AStartThatThrowsIsRetriedWithBackoff) {
  const bool in_process = GetParam();
  StartDaemon({.settings = Settings("throw_start", 0, dir_ / "once"),
               .keys = in_process ? "in_process = true\n" : ""});
  v1::PluginInstance faulty =
      WaitFor([](const auto& p) { return p.last_checkpoint() == std::to_string(kFaultyEvents); },
              "the restarted plugin emitted everything");
  EXPECT_EQ(faulty.state(), v1::PLUGIN_STATE_RUNNING);
  EXPECT_EQ(faulty.restarts(), 1);
  EXPECT_EQ(faulty.isolated(), !in_process);
  EXPECT_EQ(faulty.pid() == 0, in_process);
  EXPECT_NE(faulty.last_error().find("vendor code failed in Start"), std::string::npos)
      << faulty.last_error();
  ExpectEveryEventOnce(kFaultyEvents);
  StopDaemon();
}

INSTANTIATE_TEST_SUITE_P(BothModes, StartFailureTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "InProcess" : "Isolated"; });

TEST_F(SupervisorTest, AStartThatNeverReturnsIsKilledAndRetried) {
  StartDaemon({.settings = Settings("spin_start", 0, dir_ / "once")});
  v1::PluginInstance faulty =
      WaitFor([](const auto& p) { return p.last_checkpoint() == std::to_string(kFaultyEvents); },
              "the restarted plugin emitted everything");
  EXPECT_EQ(faulty.restarts(), 1);
  EXPECT_NE(faulty.last_error().find("did not start within 2000 ms"), std::string::npos)
      << faulty.last_error();
  StopDaemon();
}

TEST_F(SupervisorTest, AStopThatHangsIsKilledAtItsDeadline) {
  StartDaemon({.settings = Settings("hang_stop", 0, "")});
  int pid =
      WaitFor([](const auto& p) { return p.state() == v1::PLUGIN_STATE_RUNNING; }, "it runs").pid();
  ASSERT_GT(pid, 0);

  grpc::ClientContext context;
  v1::StopPluginRequest request;
  request.set_name("faulty");
  v1::StopPluginResponse response;
  auto began = std::chrono::steady_clock::now();
  ASSERT_TRUE(admin_->StopPlugin(&context, request, &response).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - began, 10s);
  EXPECT_EQ(response.plugin().state(), v1::PLUGIN_STATE_STOPPED);
  EXPECT_EQ(::kill(pid, 0), -1) << "the host process is still there";
  ExpectHealthyProgress();

  grpc::ClientContext restart_context;
  v1::RestartPluginRequest restart;
  restart.set_name("faulty");
  v1::RestartPluginResponse restarted;
  ASSERT_TRUE(admin_->RestartPlugin(&restart_context, restart, &restarted).ok());
  WaitFor([](const auto& p) { return p.state() == v1::PLUGIN_STATE_RUNNING; }, "it runs again");
  // Shutting down meets the hanging Stop again; the daemon still exits cleanly and in time.
  began = std::chrono::steady_clock::now();
  StopDaemon();
  EXPECT_LT(std::chrono::steady_clock::now() - began, 10s);
}

TEST_F(SupervisorTest, AStopThatThrowsStillStops) {
  StartDaemon({.settings = Settings("throw_stop", 0, "")});
  WaitFor([](const auto& p) { return p.state() == v1::PLUGIN_STATE_RUNNING; }, "it runs");
  grpc::ClientContext context;
  v1::StopPluginRequest request;
  request.set_name("faulty");
  v1::StopPluginResponse response;
  ASSERT_TRUE(admin_->StopPlugin(&context, request, &response).ok());
  EXPECT_EQ(response.plugin().state(), v1::PLUGIN_STATE_STOPPED);
  EXPECT_NE(daemon_->Log().find("[faulty] failed while stopping: Stop threw: vendor code failed "
                                "in Stop"),
            std::string::npos)
      << daemon_->Log();
  ExpectHealthyProgress();
  StopDaemon();
}

TEST_F(SupervisorTest, GarbageIsQuarantinedAndThePluginGoesOn) {
  StartDaemon({.settings = Settings("garbage", 1000, "")});
  v1::PluginInstance faulty =
      WaitFor([](const auto& p) { return p.last_checkpoint() == std::to_string(kFaultyEvents); },
              "it emitted everything");
  EXPECT_EQ(faulty.records_quarantined(), 4);
  EXPECT_EQ(faulty.events_stored(), kFaultyEvents);
  EXPECT_EQ(faulty.restarts(), 0);
  EXPECT_EQ(faulty.state(), v1::PLUGIN_STATE_RUNNING);
  StopDaemon();
}

TEST_F(SupervisorTest, AFloodOverTheRateLimitIsRefusedAndCounted) {
  StartDaemon({.settings = "batch_size = 500\nfault = \"flood\"\n",
               .limits = "max_events_per_second = 2000\n"});
  v1::PluginInstance faulty =
      WaitFor([](const auto& p) { return p.faults() >= 10; }, "faults were counted");
  EXPECT_EQ(faulty.state(), v1::PLUGIN_STATE_RUNNING);
  EXPECT_GT(faulty.events_stored(), 0);
  ExpectHealthyProgress();
  StopDaemon();
}

// Batches of 500 events of about 16 KB (8 MB) against limits of 100 events and 1 MiB: the host
// sends each in parts, and everything is stored with no fault, in process and isolated alike.
class SupervisorSplitTest : public SupervisorTest, public ::testing::WithParamInterface<bool> {};

TEST_P(SupervisorSplitTest, ABatchOverTheLimitsIsDeliveredInParts) {
  StartDaemon({.settings = "count = 1000\nbatch_size = 500\nevent_bytes = 16000\n",
               .keys = GetParam() ? "in_process = true\n" : "",
               .limits = "max_batch_events = 100\nmax_batch_bytes = 1048576\n"});
  // The counts follow the commit that moves the checkpoint: wait for both.
  v1::PluginInstance faulty = WaitFor(
      [](const auto& p) { return p.last_checkpoint() == "1000" && p.events_stored() == 1000; },
      "it emitted everything");
  EXPECT_EQ(faulty.records_quarantined(), 0);
  EXPECT_EQ(faulty.faults(), 0);
  EXPECT_EQ(faulty.state(), v1::PLUGIN_STATE_RUNNING);
  StopDaemon();
}

// One event larger than any batch may be: quarantined with the reason and its text cut, counted
// as a fault, and the plugin goes on past it instead of retrying it for ever.
TEST_P(SupervisorSplitTest, AnEventLargerThanAnyBatchIsQuarantinedAsAFault) {
  StartDaemon({.settings = "count = 300\nbatch_size = 100\nfault = \"giant\"\nfault_after = 150\n",
               .keys = GetParam() ? "in_process = true\n" : "",
               .limits = "max_batch_bytes = 1048576\n"});
  v1::PluginInstance faulty = WaitFor(
      [](const auto& p) {
        return p.last_checkpoint() == "300" && p.events_stored() == 299 &&
               p.records_quarantined() == 1;
      },
      "it emitted everything");
  EXPECT_EQ(faulty.faults(), 1);
  v1::ListQuarantineRequest request;
  request.set_source("faulty");
  grpc::ClientContext context;
  v1::ListQuarantineResponse response;
  ASSERT_TRUE(admin_->ListQuarantine(&context, request, &response).ok());
  ASSERT_EQ(response.records_size(), 1);
  const v1::QuarantinedRecord& record = response.records(0);
  EXPECT_EQ(record.origin(), "event 150");
  EXPECT_NE(record.reason().find("event f150 is "), std::string::npos) << record.reason();
  EXPECT_NE(record.reason().find("over the limit of"), std::string::npos) << record.reason();
  EXPECT_LE(record.raw().size(), 64u * 1024);
  EXPECT_EQ(record.raw().rfind("f150 crm.profile.updated\n", 0), 0u);
  EXPECT_NE(daemon_->Log().find("event f150 is "), std::string::npos);
  StopDaemon();
}

INSTANTIATE_TEST_SUITE_P(InProcessAndIsolated, SupervisorSplitTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "InProcess" : "Isolated"; });

TEST_F(SupervisorTest, ASpinningPluginDoesNotHoldUpTheOthers) {
  StartDaemon({.settings = Settings("spin", 1000, "")});
  ExpectHealthyProgress();
  v1::PluginInstance faulty =
      WaitFor([](const auto& p) { return p.last_checkpoint() == std::to_string(kFaultyEvents); },
              "it emitted everything");
  EXPECT_EQ(faulty.restarts(), 0);
  StopDaemon();
}

TEST_F(SupervisorTest, APluginFileOthersMayWriteIsRefused) {
  fs::create_directories(dir_ / "plugins");
  fs::permissions(dir_ / "plugins", fs::perms(0755));
  fs::path copy = dir_ / "plugins" / "faulty.so";
  fs::copy_file(FAULTY_PLUGIN, copy);
  fs::permissions(copy, fs::perms(0666));
  StartDaemon({.settings = "count = 10\n", .library = copy.string()});
  v1::PluginInstance faulty =
      WaitFor([](const auto& p) { return p.state() == v1::PLUGIN_STATE_FAILED; }, "it failed");
  EXPECT_EQ(faulty.restarts(), 0);  // refused for good: retrying cannot help
  EXPECT_NE(faulty.last_error().find("writable by others (mode 0666)"), std::string::npos)
      << faulty.last_error();
  EXPECT_NE(daemon_->Log().find("writable by others"), std::string::npos);
  ExpectHealthyProgress();
  StopDaemon();
}

TEST_F(SupervisorTest, APluginInAFolderOthersMayWriteIsRefused) {
  fs::create_directories(dir_ / "plugins");
  fs::path copy = dir_ / "plugins" / "faulty.so";
  fs::copy_file(FAULTY_PLUGIN, copy);
  fs::permissions(copy, fs::perms(0755));
  fs::permissions(dir_ / "plugins", fs::perms(0777));
  StartDaemon({.settings = "count = 10\n", .library = copy.string()});
  v1::PluginInstance faulty =
      WaitFor([](const auto& p) { return p.state() == v1::PLUGIN_STATE_FAILED; }, "it failed");
  EXPECT_NE(faulty.last_error().find("plugins is writable by others (mode 0777)"),
            std::string::npos)
      << faulty.last_error();
  StopDaemon();
}

TEST_F(SupervisorTest, AdminCallsCheckTheName) {
  StartDaemon({.settings = "count = 10\n"});
  for (const auto& [name, code] : std::vector<std::pair<std::string, grpc::StatusCode>>{
           {"", grpc::StatusCode::INVALID_ARGUMENT}, {"nope", grpc::StatusCode::NOT_FOUND}}) {
    grpc::ClientContext restart_context, stop_context;
    v1::RestartPluginRequest restart;
    restart.set_name(name);
    v1::RestartPluginResponse restarted;
    EXPECT_EQ(admin_->RestartPlugin(&restart_context, restart, &restarted).error_code(), code);
    v1::StopPluginRequest stop;
    stop.set_name(name);
    v1::StopPluginResponse stopped;
    EXPECT_EQ(admin_->StopPlugin(&stop_context, stop, &stopped).error_code(), code);
  }
  StopDaemon();
}

TEST_F(SupervisorTest, HostProcessesDoNotOutliveAKilledDaemon) {
  StartDaemon({.settings = "count = 10\n"});
  int pid =
      WaitFor([](const auto& p) { return p.state() == v1::PLUGIN_STATE_RUNNING; }, "it runs").pid();
  ASSERT_GT(pid, 0);
  ASSERT_EQ(daemon_->Stop(SIGKILL, 10s), 128 + SIGKILL);
  auto alive = [pid] {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string ignored, state;
    return stat >> ignored >> ignored >> state && state != "Z";
  };
  EXPECT_TRUE(WaitUntil([&] { return !alive(); }, 10s, 20ms))
      << "host process " << pid << " outlived the daemon";
}

}  // namespace
}  // namespace propbridge::testing
