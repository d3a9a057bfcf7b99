// The runner of an isolated plugin run, driven directly, with the real plugin host and a real
// plugin: whatever it kills is its own host process, never another process that was given the
// same process id after the host was reaped.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>
extern "C" {  // glibc 2.36 declares these without C linkage
#include <sys/pidfd.h>
}

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "daemon/ingest/pipeline.h"
#include "daemon/supervisor/plugin_runner.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_store.h"

namespace propbridge::supervisor {
namespace {

using namespace std::chrono_literals;

constexpr int kHostSocket = 3;  // the host's end of its socket to the daemon

// Forks children with a process id of the test's choosing, through ns_last_pid, as CRIU does
// (and under the same lock on that file, so that two such tools do not race).
class PidChooser {
 public:
  // Null, with the reason in `why`, when this process may not choose (it must be root).
  static std::unique_ptr<PidChooser> Open(std::string& why) {
    constexpr const char* kPath = "/proc/sys/kernel/ns_last_pid";
    int fd = ::open(kPath, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
      why = std::string("cannot open ") + kPath + ": " + std::strerror(errno);
      return nullptr;
    }
    auto chooser = std::unique_ptr<PidChooser>(new PidChooser(fd));
    ::flock(fd, LOCK_EX);
    char last[32] = {};
    if (::pread(fd, last, sizeof last - 1, 0) <= 0 || !chooser->SetLast(std::atoi(last))) {
      why = std::string("cannot write ") + kPath + ": " + std::strerror(errno);
      return nullptr;
    }
    return chooser;
  }

  ~PidChooser() { ::close(fd_); }  // and with it the lock

  // A child that sleeps until it is killed, with process id `pid`; -1 when other processes
  // kept taking that id first.
  pid_t ForkSleeper(pid_t pid) {
    for (int attempt = 0; attempt < 100; ++attempt) {
      if (!SetLast(pid - 1)) return -1;
      pid_t child = ::fork();
      if (child == 0) {
        ::close_range(0, ~0U, 0);
        while (true) ::pause();
      }
      if (child == pid || child < 0) return child;
      ::kill(child, SIGKILL);  // not reaped yet: still this test's child
      ::waitpid(child, nullptr, 0);
    }
    return -1;
  }

 private:
  explicit PidChooser(int fd) : fd_(fd) {}

  bool SetLast(pid_t pid) {
    std::string text = std::to_string(pid);
    return ::pwrite(fd_, text.data(), text.size(), 0) == static_cast<ssize_t>(text.size());
  }

  const int fd_;
};

class HostProcessRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = testing::OpenTestStore(dir_ / "store.db");
    ASSERT_TRUE(store_);
    pipeline_ = std::make_unique<ingest::Pipeline>(*store_, ingest::PipelineOptions{});

    plugin_.name = "quiet";
    plugin_.library = FAULTY_PLUGIN;
    // It starts, and emits nothing.
    plugin_.settings = sdk::Settings(std::map<std::string, std::string>{{"count", "0"}});
    // The runner must not give up on a silent host by itself while the test works.
    plugin_.limits.heartbeat_timeout = 60s;
    gate_ = std::make_unique<EmitGate>(plugin_.name,
                                       ingest::Normalizer(plugin_.name, ingest::StepMapping({}, {}),
                                                          *ingest::TimeZone::Find("UTC")),
                                       plugin_.limits, *pipeline_);
  }

  Result<std::unique_ptr<PluginRunner>> Start() {
    return StartHostProcess(RunSpec{&plugin_, std::nullopt, PLUGIN_HOST}, *gate_, [](Status) {});
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ingest::Pipeline> pipeline_;
  config::PluginConfig plugin_;
  std::unique_ptr<EmitGate> gate_;
};

TEST_F(HostProcessRunnerTest, AKillAfterTheHostWasReapedSparesTheProcessThatGotItsId) {
  std::string why;
  std::unique_ptr<PidChooser> pids = PidChooser::Open(why);
  if (!pids) GTEST_SKIP() << "the test must choose a child's process id, as root: " << why;

  auto runner = Start();
  ASSERT_TRUE(runner.ok()) << runner.status().message();
  const pid_t host = (*runner)->pid();
  ASSERT_GT(host, 0);

  // Hold the host's end of its socket, so that the runner does not see the host go; then end
  // the host and reap it (the test started it, so the host is the test's child), and give its
  // process id to a sleeper. To the runner, its host still runs.
  int host_pidfd = ::pidfd_open(host, 0);
  ASSERT_GE(host_pidfd, 0) << std::strerror(errno);
  int held_socket = ::pidfd_getfd(host_pidfd, kHostSocket, 0);
  ASSERT_GE(held_socket, 0) << "cannot take the host's socket: " << std::strerror(errno);
  ASSERT_EQ(::pidfd_send_signal(host_pidfd, SIGKILL, nullptr, 0), 0) << std::strerror(errno);
  ::close(host_pidfd);
  int status = 0;
  ASSERT_EQ(::waitpid(host, &status, 0), host) << std::strerror(errno);
  pid_t sleeper = pids->ForkSleeper(host);
  if (sleeper != host) {
    ::close(held_socket);
    GTEST_SKIP() << "could not start a process with id " << host << " again";
  }

  // A deadline already passed: the runner stops its host by killing it.
  EXPECT_TRUE((*runner)->Stop(std::chrono::steady_clock::now()));

  pid_t waited = ::waitpid(sleeper, &status, WNOHANG);
  EXPECT_EQ(waited, 0) << "process " << sleeper << ", which got the reaped host's id, "
                       << (waited < 0 ? "was killed and reaped by the runner"
                                      : "was killed by the runner");
  if (waited == 0) {  // still the test's own child, and so still the sleeper's id
    ::kill(sleeper, SIGKILL);
    ::waitpid(sleeper, nullptr, 0);
  }
  ::close(held_socket);
}

}  // namespace
}  // namespace propbridge::supervisor
