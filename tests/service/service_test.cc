// propbridged under a service manager that the test plays: the real daemon binary, with real
// plugins in their host processes, tells a notification socket the test holds (NOTIFY_SOCKET)
// when it is ready, how it is doing, that it is alive, and when it stops.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <set>
#include <sstream>

#include "propbridge/v1/admin.grpc.pb.h"
#include "tests/service/notify_socket.h"
#include "tests/support/daemon_process.h"
#include "tests/support/health_check.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_until.h"

namespace propbridge::testing {
namespace {

namespace fs = std::filesystem;
namespace v1 = propbridge::v1;
using namespace std::chrono_literals;

class ServiceTest : public ::testing::Test {
 protected:
  // A healthy source, and, with `slow_start`, one whose Start never returns, so that its first
  // start settles only when its start timeout (1.5 s) has passed.
  std::string Config(bool slow_start = false) const {
    std::string config = "listen = \"127.0.0.1:0\"\ndata_dir = \"" + (dir_ / "data").string() +
                         "\"\n"
                         "[plugins.steady]\nlibrary = \"" SYNTHETIC_PLUGIN
                         "\"\n"
                         "[plugins.steady.settings]\n"
                         "count = 100\nbatch_size = 10\ncustomers = 1\ninterval_ms = 20\n";
    if (slow_start) {
      config += "[plugins.slow]\nlibrary = \"" FAULTY_PLUGIN
                "\"\n"
                "[plugins.slow.limits]\nstart_timeout_ms = 1500\n"
                "[plugins.slow.settings]\nfault = \"spin_start\"\n";
    }
    return config;
  }

  std::unique_ptr<DaemonProcess> StartDaemon(const std::string& config,
                                             std::vector<std::string> environment) {
    environment.push_back(notify_.Environment());
    std::string error;
    auto daemon = DaemonProcess::Start(dir_.path(), config, dir_ / "data", error, environment);
    EXPECT_TRUE(daemon) << error;
    return daemon;
  }

  static v1::PluginState StateOf(DaemonProcess& daemon, const std::string& name) {
    auto admin = v1::AdminService::NewStub(
        grpc::CreateChannel(daemon.address(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::ListPluginsResponse response;
    grpc::Status status = admin->ListPlugins(&context, {}, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    for (const v1::PluginInstance& plugin : response.plugins()) {
      if (plugin.name() == name) return plugin.state();
    }
    ADD_FAILURE() << "no plugin " << name;
    return v1::PLUGIN_STATE_UNSPECIFIED;
  }

  static long Count(const std::vector<std::string>& messages, const std::string& line) {
    return std::count_if(messages.begin(), messages.end(),
                         [&](const std::string& m) { return HasLine(m, line); });
  }

  TempDir dir_;
  NotifySocket notify_{dir_.path()};
};

TEST_F(ServiceTest, ReadyOnlyOnceThePluginsHaveStartedAndThePortAnswers) {
  auto daemon = StartDaemon(Config(/*slow_start=*/true), {});
  ASSERT_TRUE(daemon);
  // The server has written its address, but the slow plugin's start has 1.5 s to go.
  EXPECT_EQ(notify_.Receive(0ms), std::nullopt);

  std::vector<std::string> received;
  ASSERT_TRUE(notify_.ReceiveUntil("READY=1", 20s, received)) << daemon->Log();
  EXPECT_EQ(received.size(), 1u) << "READY=1 comes first";
  EXPECT_NE(daemon->Log().find("[slow] failed: the plugin did not start within 1500 ms"),
            std::string::npos)
      << daemon->Log();
  EXPECT_EQ(CheckServing(daemon->address()), true);
  EXPECT_EQ(StateOf(*daemon, "steady"), v1::PLUGIN_STATE_RUNNING);
}

TEST_F(ServiceTest, WatchdogPingsComeAtHalfItsTimeoutBesideAStatusLine) {
  auto daemon = StartDaemon(Config(), {"WATCHDOG_USEC=500000"});
  ASSERT_TRUE(daemon);
  std::vector<std::string> received;
  ASSERT_TRUE(notify_.ReceiveUntil("READY=1", 20s, received)) << daemon->Log();
  EXPECT_EQ(received.size(), 1u) << "READY=1 comes before any ping";

  received.clear();
  EXPECT_FALSE(notify_.ReceiveUntil("never sent", 3s, received));
  // Every 250 ms: about 12 in 3 s, and fewer only on a machine far too slow for a watchdog.
  EXPECT_GE(Count(received, "WATCHDOG=1"), 6) << daemon->Log();
  auto status = std::find_if(received.begin(), received.end(),
                             [](const std::string& m) { return m.starts_with("STATUS="); });
  ASSERT_NE(status, received.end());
  EXPECT_NE(status->find("serving on " + daemon->address() + "; 1 of 1 plugins running; "),
            std::string::npos)
      << *status;
  EXPECT_NE(status->find(" events stored, "), std::string::npos) << *status;
}

TEST_F(ServiceTest, NoWatchdogPingsWhenTheWatchdogIsForAnotherProcess) {
  // systemd names the process it watches; a child that inherited the variables must not ping.
  auto daemon = StartDaemon(Config(), {"WATCHDOG_USEC=200000", "WATCHDOG_PID=1"});
  ASSERT_TRUE(daemon);
  std::vector<std::string> received;
  ASSERT_TRUE(notify_.ReceiveUntil("READY=1", 20s, received)) << daemon->Log();
  EXPECT_FALSE(notify_.ReceiveUntil("WATCHDOG=1", 1s, received));
}

TEST_F(ServiceTest, StoppingOnSigterm) {
  auto daemon = StartDaemon(Config(), {});
  ASSERT_TRUE(daemon);
  std::vector<std::string> received;
  ASSERT_TRUE(notify_.ReceiveUntil("READY=1", 20s, received)) << daemon->Log();
  EXPECT_EQ(daemon->Stop(SIGTERM, 20s), 0);
  EXPECT_TRUE(notify_.ReceiveUntil("STOPPING=1", 1s, received)) << daemon->Log();
}

// systemd connects stderr to the journal and names that stream in JOURNAL_STREAM.
class JournalTest : public ::testing::Test {
 protected:
  // The daemon's log, with lines of three levels: info, a warning (a data folder that others may
  // write to) and an error (a plugin whose library is missing).
  std::string LogWith(const std::string& journal_stream) {
    fs::create_directories(dir_ / "data");
    fs::permissions(dir_ / "data", fs::perms::group_write, fs::perm_options::add);
    fs::path log = dir_ / "propbridged.log";
    WriteFile(log, "");  // the daemon's stderr, opened for appending
    struct stat st {};
    EXPECT_EQ(::stat(log.c_str(), &st), 0);
    std::string stream = journal_stream.empty()
                             ? std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino)
                             : journal_stream;
    std::string error;
    auto daemon = DaemonProcess::Start(
        dir_.path(),
        "listen = \"127.0.0.1:0\"\ndata_dir = \"" + (dir_ / "data").string() +
            "\"\n[plugins.gone]\nlibrary = \"" + (dir_ / "missing.so").string() + "\"\n",
        dir_ / "data", error, {"JOURNAL_STREAM=" + stream});
    EXPECT_TRUE(daemon) << error;
    if (!daemon) return "";
    EXPECT_TRUE(
        WaitUntil([&] { return daemon->Log().find("[gone] failed") != std::string::npos; }, 20s));
    EXPECT_EQ(daemon->Stop(SIGTERM, 20s), 0);
    return daemon->Log();
  }

  static std::vector<std::string> Lines(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

  TempDir dir_;
};

TEST_F(JournalTest, UnderTheJournalEachLineBeginsWithItsPriorityAndNoTime) {
  std::string log = LogWith("");
  std::set<std::string> priorities;
  for (const std::string& line : Lines(log)) {
    std::smatch match;
    ASSERT_TRUE(std::regex_search(line, match,
                                  std::regex("^<([0-7])>(debug|info|warning|error|critical) ")))
        << line;
    priorities.insert(match[1]);
    EXPECT_FALSE(std::regex_search(line, std::regex(R"(\d{4}-\d\d-\d\d \d\d:\d\d)"))) << line;
  }
  EXPECT_EQ(priorities, (std::set<std::string>{"3", "4", "6"})) << log;
  EXPECT_NE(log.find("<4>warning data_dir "), std::string::npos) << log;
  EXPECT_NE(log.find("<3>error [gone] failed: plugin "), std::string::npos) << log;
}

TEST_F(JournalTest, AJournalStreamThatIsNotStderrChangesNothing) {
  // Inherited from a parent whose stderr went to the journal, but this one's does not.
  for (const std::string& line : Lines(LogWith("1:1"))) {
    EXPECT_TRUE(std::regex_search(line, std::regex(R"(^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} )")))
        << line;
  }
}

}  // namespace
}  // namespace propbridge::testing
