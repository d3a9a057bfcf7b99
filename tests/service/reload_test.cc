// Reloading the real daemon binary's configuration with SIGHUP, as `systemctl reload` does,
// while real plugins deliver from their host processes: instances come, go and change without
// an event lost or stored twice, the others run on untouched, a bad file changes nothing, and
// what waits for a restart is named. The test holds the notification socket systemd would.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "propbridge/v1/admin.grpc.pb.h"
#include "propbridge/v1/customer.grpc.pb.h"
#include "propbridge/v1/timeline.grpc.pb.h"
#include "tests/service/notify_socket.h"
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

class ReloadTest : public ::testing::Test {
 protected:
  std::string Head(const std::string& listen = "127.0.0.1:0") const {
    return "listen = \"" + listen + "\"\ndata_dir = \"" + (dir_ / "data").string() + "\"\n";
  }

  void Start(const std::string& config) {
    std::string error;
    daemon_ =
        DaemonProcess::Start(dir_.path(), config, dir_ / "data", error, {notify_.Environment()});
    ASSERT_TRUE(daemon_) << error;
    std::vector<std::string> received;
    ASSERT_TRUE(notify_.ReceiveUntil("READY=1", 20s, received)) << daemon_->Log();
    admin_ = v1::AdminService::NewStub(
        grpc::CreateChannel(daemon_->address(), grpc::InsecureChannelCredentials()));
  }

  // Writes the configuration over the one the daemon runs, sends SIGHUP, and waits until the
  // daemon says READY=1 again, after RELOADING=1.
  void Reload(const std::string& config) {
    std::ofstream(dir_ / "propbridged.toml", std::ios::trunc) << config;
    ASSERT_EQ(kill(daemon_->pid(), SIGHUP), 0);
    std::vector<std::string> received;
    ASSERT_TRUE(notify_.ReceiveUntil("RELOADING=1", 10s, received)) << daemon_->Log();
    received.clear();
    ASSERT_TRUE(notify_.ReceiveUntil("READY=1", 30s, received)) << daemon_->Log();
  }

  std::map<std::string, v1::PluginInstance> Plugins() {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::ListPluginsResponse response;
    grpc::Status status = admin_->ListPlugins(&context, {}, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    std::map<std::string, v1::PluginInstance> by_name;
    for (const auto& plugin : response.plugins()) by_name[plugin.name()] = plugin;
    return by_name;
  }

  std::int64_t Stored(const std::string& name) {
    auto plugins = Plugins();
    auto it = plugins.find(name);
    return it == plugins.end() ? -1 : it->second.events_stored();
  }

  v1::GetStatusResponse Status() {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::GetStatusResponse response;
    grpc::Status status = admin_->GetStatus(&context, {}, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  std::vector<v1::AuditRecord> Reloads() { return AuditRecordsOf(*admin_, "Daemon.Reload"); }

  // `propbridgectl status` as an operator runs it.
  std::string CtlStatus() {
    std::string command =
        std::string(PROPBRIDGECTL_PATH) + " --address " + daemon_->address() + " status 2>&1";
    std::string output;
    FILE* pipe = popen(command.c_str(), "r");
    char buffer[4096];
    for (std::size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, n);
    EXPECT_EQ(pclose(pipe), 0) << output;
    return output;
  }

  TempDir dir_;
  NotifySocket notify_{dir_.path()};
  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
};

TEST_F(ReloadTest, AddsRemovesAndRestartsInstancesWhileOneDeliversAndLosesNoEvent) {
  // steady delivers for about three seconds, through the reload, and must not notice it.
  const std::string steady =
      Synthetic("steady", "count = 1000\nbatch_size = 5\ninterval_ms = 15\n");
  Start(Head() + steady + Synthetic("grows", "count = 200\nbatch_size = 5\ninterval_ms = 20\n") +
        Synthetic("gone", "count = 100000\nbatch_size = 5\ninterval_ms = 20\n"));
  ASSERT_TRUE(WaitUntil([&] { return Stored("grows") >= 20 && Stored("gone") >= 20; }, 20s));
  auto before = Plugins();
  ASSERT_LT(before["steady"].events_stored(), 1000) << "steady must deliver through the reload";
  ASSERT_LT(before["grows"].events_stored(), 200);

  Reload(Head() + steady + Synthetic("grows", "count = 300\nbatch_size = 5\ninterval_ms = 5\n") +
         Synthetic("fresh", "count = 70\nbatch_size = 10\n"));
  auto after = Plugins();
  ASSERT_EQ(after.size(), 3u) << daemon_->Log();
  EXPECT_FALSE(after.contains("gone"));
  EXPECT_EQ(after["steady"].pid(), before["steady"].pid()) << "an unchanged instance runs on";
  EXPECT_EQ(after["steady"].state(), v1::PLUGIN_STATE_RUNNING);
  EXPECT_NE(after["grows"].pid(), before["grows"].pid()) << "a changed instance restarts";
  EXPECT_NE(daemon_->Log().find(
                "removed gone; changed, restarted from the checkpoint: grows; 1 unchanged"),
            std::string::npos)
      << daemon_->Log();

  ASSERT_TRUE(WaitUntil(
      [&] { return Stored("steady") == 1000 && Stored("grows") == 300 && Stored("fresh") == 70; },
      30s))
      << daemon_->Log();
  // Every event once: each source's ids are e0, e1, ... with no gap, none twice. The removed
  // source stopped after a batch it had acknowledged, wherever that was.
  auto events = ReadWholeTimeline(*daemon_->TimelineStub(), "account:C0");
  std::map<std::string, std::set<std::string>> ids;
  for (const auto& event : events) {
    EXPECT_TRUE(ids[event.source()].insert(event.source_event_id()).second)
        << event.source() << " " << event.source_event_id() << " twice";
  }
  const std::size_t gone = ids["gone"].size();
  EXPECT_GE(gone, 20u);
  for (const auto& [source, expected] : std::map<std::string, std::size_t>{
           {"steady", 1000}, {"grows", 300}, {"fresh", 70}, {"gone", gone}}) {
    ASSERT_EQ(ids[source].size(), expected) << source;
    for (std::size_t i = 0; i < expected; ++i) {
      EXPECT_TRUE(ids[source].contains("e" + std::to_string(i))) << source << " lost e" << i;
    }
  }
  EXPECT_EQ(events.size(), 1370 + gone);

  auto reloads = Reloads();
  ASSERT_EQ(reloads.size(), 1u);
  EXPECT_EQ(reloads[0].caller(), "signal SIGHUP");
  EXPECT_EQ(reloads[0].result(), "OK");
  EXPECT_EQ(reloads[0].arguments().at("config_file"), (dir_ / "propbridged.toml").string());

  EXPECT_EQ(daemon_->Stop(SIGTERM, 20s), 0);
  EXPECT_NE(daemon_->Log().find("stopped: " + std::to_string(1370 + gone) +
                                " events stored, 0 duplicates skipped"),
            std::string::npos)
      << daemon_->Log();
}

TEST_F(ReloadTest, ANewMappingAppliesToWhatComesNextWithoutARestart) {
  const std::string steady =
      Synthetic("steady", "count = 100000\nbatch_size = 5\ninterval_ms = 20\n");
  Start(Head() + steady);
  ASSERT_TRUE(WaitUntil([&] { return Stored("steady") >= 10; }, 20s));
  const int pid = Plugins()["steady"].pid();

  Reload(Head() + "[mapping]\n\"crm.profile\" = { step = \"DELIGHT\" }\n" + steady);
  EXPECT_NE(daemon_->Log().find("1 unchanged; the new [mapping] applies to what comes next"),
            std::string::npos)
      << daemon_->Log();
  const std::int64_t stored_at_reload = Stored("steady");
  ASSERT_TRUE(WaitUntil([&] { return Stored("steady") >= stored_at_reload + 20; }, 20s));
  EXPECT_EQ(Plugins()["steady"].pid(), pid);
  auto events = ReadWholeTimeline(*daemon_->TimelineStub(), "account:C0");
  ASSERT_FALSE(events.empty());
  std::sort(events.begin(), events.end(), [](const auto& a, const auto& b) {
    return std::stoll(a.source_event_id().substr(1)) < std::stoll(b.source_event_id().substr(1));
  });
  // Stored before the reload: as the default mapping placed them; the newest: as the new one.
  EXPECT_EQ(events.front().step(), v1::STEP_UNDERSTAND);
  EXPECT_EQ(events.back().step(), v1::STEP_DELIGHT);
}

TEST_F(ReloadTest, ABadConfigurationChangesNothingAndStatusShowsWhy) {
  const std::string steady =
      Synthetic("steady", "count = 100000\nbatch_size = 5\ninterval_ms = 20\n");
  Start(Head() + steady);
  ASSERT_TRUE(WaitUntil([&] { return Stored("steady") >= 10; }, 20s));
  const int pid = Plugins()["steady"].pid();
  EXPECT_FALSE(Status().has_last_reload());
  const auto loaded_at = Status().config_loaded_at().seconds();

  // A typo in a key the checks read.
  Reload(Head() + steady + "[plugins.steady.limits]\nstart_timeout_ms = -5\n");
  v1::GetStatusResponse status = Status();
  ASSERT_TRUE(status.has_last_reload());
  EXPECT_FALSE(status.last_reload().ok());
  EXPECT_NE(status.last_reload().error().find("plugins.steady.limits.start_timeout_ms"),
            std::string::npos)
      << status.last_reload().error();
  EXPECT_EQ(status.config_loaded_at().seconds(), loaded_at);
  EXPECT_NE(daemon_->Log().find("configuration error: " + status.last_reload().error() +
                                "; reload rejected, the running configuration stays"),
            std::string::npos)
      << daemon_->Log();
  EXPECT_NE(CtlStatus().find("rejected, running as before: " + status.last_reload().error()),
            std::string::npos);

  // A new instance whose library fails the version handshake rejects the whole file: the
  // removal of steady in it does not happen either.
  Reload(Head() + "[plugins.old_api]\nlibrary = \"" WRONG_VERSION_PLUGIN "\"\n");
  status = Status();
  EXPECT_FALSE(status.last_reload().ok());
  EXPECT_NE(status.last_reload().error().find("plugins.old_api: "), std::string::npos)
      << status.last_reload().error();
  auto plugins = Plugins();
  ASSERT_EQ(plugins.size(), 1u);
  EXPECT_EQ(plugins["steady"].pid(), pid);
  EXPECT_EQ(plugins["steady"].state(), v1::PLUGIN_STATE_RUNNING);
  const std::int64_t stored = Stored("steady");
  EXPECT_TRUE(WaitUntil([&] { return Stored("steady") > stored; }, 10s)) << "steady delivers on";

  auto reloads = Reloads();
  ASSERT_EQ(reloads.size(), 2u);
  for (const auto& reload : reloads) EXPECT_TRUE(reload.result().starts_with("INVALID_ARGUMENT"));
}

TEST_F(ReloadTest, IdentityOutreachAndWatchLimitsApplyToWhatComesNext) {
  const std::string steady =
      Synthetic("steady", "count = 100000\nbatch_size = 5\ninterval_ms = 20\n");
  Start(Head() + "[api]\nmax_watches = 1\n" + steady);
  ASSERT_TRUE(WaitUntil([&] { return Stored("steady") >= 20; }, 20s));
  auto timeline = daemon_->TimelineStub();
  auto customers = v1::CustomerService::NewStub(
      grpc::CreateChannel(daemon_->address(), grpc::InsecureChannelCredentials()));
  // How a watch of every event ends within a second: refused at once, or cut by its deadline
  // once it has received events.
  auto watch = [&] {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 1s);
    auto stream = timeline->WatchTimeline(&context, {});
    v1::WatchTimelineResponse response;
    while (stream->Read(&response)) {
    }
    return stream->Finish().error_code();
  };
  auto outreach = [&] {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::ListOutreachResponse response;
    grpc::Status status = customers->ListOutreach(&context, {}, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return std::ranges::count(response.items(), v1::OUTREACH_REASON_NO_PROACTIVE_CONTACT,
                              &v1::OutreachItem::reason);
  };
  auto timeline_of_c0 = [&] {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::GetTimelineRequest request;
    request.set_customer("account:C0");
    v1::GetTimelineResponse response;
    return timeline->GetTimeline(&context, request, &response);
  };

  // The one watch the limit allows stays open through the reload.
  grpc::ClientContext first_context;
  auto first = timeline->WatchTimeline(&first_context, {});
  v1::WatchTimelineResponse first_response;
  ASSERT_TRUE(first->Read(&first_response));
  EXPECT_EQ(watch(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  // First seen in January 2026 with no proactive contact: past the default quiet period.
  EXPECT_EQ(outreach(), 1);
  EXPECT_TRUE(timeline_of_c0().ok());
  const int pid = Plugins()["steady"].pid();

  Reload(Head() + "[api]\nmax_watches = 2\nmax_watches_per_client = 2\n" +
         "[outreach]\nquiet_days = 3650\n" + "[identity]\nblocked = [\"C0\"]\n" + steady);
  EXPECT_NE(daemon_->Log().find("the new identity, outreach, api.max_watches, "
                                "api.max_watches_per_client apply to what comes next"),
            std::string::npos)
      << daemon_->Log();
  EXPECT_EQ(Plugins()["steady"].pid(), pid) << "the instance runs on";
  EXPECT_EQ(watch(), grpc::StatusCode::DEADLINE_EXCEEDED) << "a second watch is let in";
  EXPECT_EQ(outreach(), 0) << "nobody has been quiet for ten years";
  // C0 is a placeholder now: the API refuses to name a customer by it, and what steady
  // delivers from now on links to nobody and is quarantined.
  grpc::Status refused = timeline_of_c0();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(refused.error_message(), "customer: account: 'C0' is a placeholder");
  const std::int64_t stored = Stored("steady");
  ASSERT_TRUE(WaitUntil([&] { return Plugins()["steady"].records_quarantined() >= 20; }, 20s))
      << daemon_->Log();
  EXPECT_LE(Stored("steady"), stored + 10) << "at most the batches under way when it changed";
  EXPECT_TRUE(first->Read(&first_response)) << "the watch open before goes on";
  first_context.TryCancel();
}

TEST_F(ReloadTest, SettingsOnlyARestartAppliesAreNamedAndLeftAsTheyWere) {
  const std::string steady = Synthetic("steady", "count = 50\nbatch_size = 5\n");
  Start(Head() + steady);
  const std::string address = daemon_->address();
  Reload(Head("127.0.0.1:1") + "[api]\nscan_threads = 4\n" + steady);
  EXPECT_NE(daemon_->Log().find("reload: api.scan_threads, listen changed, which only a restart "
                                "applies; running on as started"),
            std::string::npos)
      << daemon_->Log();
  v1::GetStatusResponse status = Status();  // still on the address it started with
  EXPECT_TRUE(status.last_reload().ok());
  EXPECT_EQ(Plugins().size(), 1u);
  std::ifstream listen_file(dir_ / "data" / "listen-address");
  std::string listening;
  listen_file >> listening;
  EXPECT_EQ(listening, address);

  EXPECT_NE(CtlStatus().find(": applied"), std::string::npos);
}

}  // namespace
}  // namespace propbridge::testing
