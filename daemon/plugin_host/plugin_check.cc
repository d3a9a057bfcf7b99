#include "daemon/plugin_host/plugin_check.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "daemon/plugin_host/host_environment.h"
#include "daemon/plugin_wire/frame_channel.h"
#include "daemon/plugin_wire/host_protocol.pb.h"

namespace propbridge::plugin_host {
namespace {

constexpr int kHostSocket = 3;  // where host_main.cc expects its end
constexpr std::size_t kMaxAnswer = 1 << 20;

std::string Why(int error) { return std::strerror(error); }

// Starts `host` with `socket` as its descriptor 3 and nothing else of this process's but the
// standard streams; the pid, or the errno.
Result<pid_t> Spawn(const std::string& host, const std::string& library, int socket) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (socket != kHostSocket) {
    posix_spawn_file_actions_adddup2(&actions, socket, kHostSocket);
    posix_spawn_file_actions_addclose(&actions, socket);
  }
  // The daemon blocks the stop signals for its threads; the host must not inherit that.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);
  // The library as its argument only for people who list processes; the host reads its socket.
  char* argv[] = {const_cast<char*>(host.c_str()), const_cast<char*>(library.c_str()), nullptr};
  std::vector<std::string> env = HostEnvironment();
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  int error = posix_spawn(&pid, host.c_str(), &actions, &attributes, argv, envp.data());
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0)
    return FailedPrecondition("cannot run the plugin host " + host + ": " + Why(error));
  return pid;
}

}  // namespace

Status CheckInHostProcess(const std::filesystem::path& host, const std::filesystem::path& library,
                          std::chrono::milliseconds timeout) {
  if (::access(host.c_str(), X_OK) != 0) {
    return FailedPrecondition("cannot run the plugin host " + host.string() + ": " + Why(errno));
  }
  // Only the daemon's end is closed on exec; the host's end is its descriptor 3.
  int sockets[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sockets) != 0 ||
      ::fcntl(sockets[0], F_SETFD, FD_CLOEXEC) != 0) {
    return Internal("cannot make a socket for a plugin host: " + Why(errno));
  }
  auto pid = Spawn(host.string(), library.string(), sockets[1]);
  ::close(sockets[1]);
  wire::FrameChannel channel(sockets[0], kMaxAnswer);
  if (!pid.ok()) return pid.status();

  wire::DaemonToHost check;
  check.mutable_check()->set_library(library.string());
  wire::HostToDaemon answer;
  Status received = channel.Send(check);
  if (received.ok()) received = channel.Receive(answer, timeout);
  if (received.ok() && !answer.has_started()) {
    received = DataLoss("it answered with another message than Started");
  }
  if (!received.ok()) ::kill(*pid, SIGKILL);
  while (::waitpid(*pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  if (!received.ok()) {
    return Unavailable("plugin " + library.string() + " could not be checked: the plugin host " +
                       host.string() + " did not answer (" + received.message() + ")");
  }
  return Status(static_cast<StatusCode>(answer.started().code()), answer.started().message());
}

}  // namespace propbridge::plugin_host
