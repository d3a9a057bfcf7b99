// A run in a propbridge-plugin-host process of its own (daemon/plugin_host/host_main.cc), so
// that whatever the plugin does to its process, the daemon and the other plugins go on.
//
// Threads: the reader takes every message from the host (Started, Emit, Log, Heartbeat,
// Stopped) and notices when the host dies, hangs or breaks the protocol; the sender writes the
// EmitResults that the pipeline's writer thread produces, so that a host that stops reading
// can never block the pipeline.
#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
extern "C" {  // glibc 2.36 declares these without C linkage
#include <sys/pidfd.h>
}

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <thread>

#include "daemon/plugin_host/host_environment.h"
#include "daemon/plugin_wire/batch_codec.h"
#include "daemon/plugin_wire/frame_channel.h"
#include "daemon/supervisor/plugin_runner.h"
#include "daemon/sync/mutex.h"

namespace propbridge::supervisor {
namespace {

constexpr int kHostSocket = 3;  // where host_main.cc expects its end

// Messages for the host, written in order by one thread.
class Outbox {
 public:
  void Push(wire::DaemonToHost message) ABSL_LOCKS_EXCLUDED(mu_) {
    sync::MutexLock lock(mu_);
    if (closed_) return;
    queue_.push_back(std::move(message));
    ready_.notify_one();
  }
  // False once closed and drained.
  bool Pop(wire::DaemonToHost& out) ABSL_LOCKS_EXCLUDED(mu_) {
    sync::MutexLock lock(mu_);
    lock.Wait(ready_,
              [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return closed_ || !queue_.empty(); });
    if (queue_.empty()) return false;
    out = std::move(queue_.front());
    queue_.pop_front();
    return true;
  }
  void Close() ABSL_LOCKS_EXCLUDED(mu_) {
    sync::MutexLock lock(mu_);
    closed_ = true;
    ready_.notify_all();
  }

 private:
  sync::Mutex mu_;
  std::condition_variable ready_;
  std::deque<wire::DaemonToHost> queue_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

std::string DescribeExit(const siginfo_t& info) {
  switch (info.si_code) {
    case CLD_KILLED:
    case CLD_DUMPED:
      return "killed by signal " + std::to_string(info.si_status) + " (" +
             strsignal(info.si_status) + ")";
    case CLD_EXITED:
      return "exited with code " + std::to_string(info.si_status);
    default:
      return "ended with status " + std::to_string(info.si_status);
  }
}

// A host process held by a pidfd rather than by its id: a signal through it reaches that
// process or, once the process is reaped, none, never a later one that was given the same id.
// Thread-safe; the descriptor is closed on destruction, once.
class HostProcess {
 public:
  HostProcess(pid_t pid, int pidfd) : pid_(pid), pidfd_(pidfd) {}
  ~HostProcess() { ::close(pidfd_); }
  HostProcess(const HostProcess&) = delete;
  HostProcess& operator=(const HostProcess&) = delete;

  pid_t pid() const { return pid_; }

  void Kill() const { ::pidfd_send_signal(pidfd_, SIGKILL, nullptr, 0); }

  // Blocks until the process ends, reaps it and says how it ended. Call once.
  std::string Reap() const {
    siginfo_t info{};
    while (::waitid(P_PIDFD, static_cast<id_t>(pidfd_), &info, WEXITED) < 0) {
      if (errno != EINTR) {
        return std::string("ended, but cannot be waited for: ") + std::strerror(errno);
      }
    }
    return DescribeExit(info);
  }

 private:
  const pid_t pid_;  // for people to read: never signalled, never waited for
  const int pidfd_;
};

// A sanitizer reserves terabytes of address space for its shadow memory: no address-space
// limit leaves room for it, so a sanitizer build (for tests only) runs hosts without one.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
constexpr bool kSanitized = __has_feature(address_sanitizer) || __has_feature(thread_sanitizer);
#else
constexpr bool kSanitized = false;
#endif

// Starts the host with `socket` as its descriptor 3. Everything the child does between fork
// and exec is async-signal-safe: the daemon has other threads.
Result<std::unique_ptr<HostProcess>> Spawn(const RunSpec& spec, int socket) {
  const config::PluginConfig& plugin = *spec.plugin;
  std::string executable = spec.host_executable.string();
  // A failed execve shows only as the child's exit code 127: say why before forking.
  if (::access(executable.c_str(), X_OK) != 0) {
    const char* why = std::strerror(errno);
    return FailedPrecondition("cannot run " + executable + ": " + why);
  }
  std::vector<std::string> args = {executable, plugin.name};
  std::vector<std::string> env = plugin_host::HostEnvironment();
  // glibc reserves address space per thread arena; under an address-space limit that would
  // count against the plugin long before it uses the memory.
  if (plugin.limits.memory_mb > 0) env.emplace_back("MALLOC_ARENA_MAX=2");
  std::vector<char*> argv, envp;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  const rlim_t memory = kSanitized ? 0 : static_cast<rlim_t>(plugin.limits.memory_mb) << 20;
  pid_t parent = getpid();

  pid_t pid = fork();
  if (pid < 0) return Internal(std::string("cannot start a plugin host: ") + std::strerror(errno));
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);  // the daemon's threads block SIGTERM and SIGINT
    setpgid(0, 0);                             // a terminal's Ctrl-C is for the daemon to handle
    prctl(PR_SET_PDEATHSIG, SIGKILL);          // never outlive the daemon
    if (getppid() != parent) _exit(127);
    if (socket == kHostSocket) {
      fcntl(kHostSocket, F_SETFD, 0);
    } else if (dup2(socket, kHostSocket) < 0) {
      _exit(127);
    }
    close_range(kHostSocket + 1, ~0U, 0);
    if (memory > 0) {
      rlimit limit{memory, memory};
      setrlimit(RLIMIT_AS, &limit);
    }
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  // Nothing reaps the child before its runner does, so until then its id is still its own.
  int pidfd = ::pidfd_open(pid, 0);
  if (pidfd < 0) {
    const char* why = std::strerror(errno);
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return Internal(std::string("cannot hold a plugin host by a pidfd: ") + why);
  }
  return std::make_unique<HostProcess>(pid, pidfd);
}

class HostProcessRunner final : public PluginRunner {
 public:
  HostProcessRunner(const RunSpec& spec, EmitGate& gate, RunEnded ended,
                    std::unique_ptr<HostProcess> process,
                    std::unique_ptr<wire::FrameChannel> channel)
      : name_(spec.plugin->name),
        limits_(spec.plugin->limits),
        gate_(gate),
        ended_(std::move(ended)),
        process_(std::move(process)),
        channel_(std::move(channel)),
        outbox_(std::make_shared<Outbox>()) {
    reader_ = std::thread([this] { ReadLoop(); });
    sender_ = std::thread([this] { SendLoop(); });
  }

  // A run that was stopped has nothing left to end. One that was not (its start failed, or the
  // supervisor gave it up) has its host killed if it has not exited yet: nobody asked it to
  // stop in time, so that is no fault to report.
  ~HostProcessRunner() override { End(std::chrono::steady_clock::now(), /*report=*/false); }

  // Waits for the host's Started; kills the host on a failure or time-out.
  Status AwaitStart() ABSL_LOCKS_EXCLUDED(mu_) {
    sync::MutexLock lock(mu_);
    bool answered =
        lock.WaitFor(changed_, limits_.start_timeout,
                     [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return started_.has_value(); });
    if (answered) return *started_;
    lock.Unlock();
    Kill();
    return DeadlineExceeded("the plugin did not start within " +
                            std::to_string(limits_.start_timeout.count()) + " ms");
  }

  bool Stop(sdk::Deadline deadline) override ABSL_LOCKS_EXCLUDED(mu_) {
    return End(deadline, /*report=*/true);
  }

  int pid() const override { return process_->pid(); }

 private:
  // Asks the host to stop by `deadline`, then kills it; `report`: log a host that had to be
  // killed as the fault it is when it was given time.
  bool End(sdk::Deadline deadline, bool report) ABSL_LOCKS_EXCLUDED(mu_) {
    if (!reader_.joinable()) return true;
    stopping_ = true;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    wire::DaemonToHost stop;
    stop.mutable_stop()->set_deadline_ms(
        static_cast<std::uint32_t>(std::max<long>(0, left.count())));
    outbox_->Push(std::move(stop));
    {
      sync::MutexLock lock(mu_);
      if (!lock.WaitUntil(changed_, deadline,
                          [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return exited_; })) {
        if (report) {
          spdlog::error("[{}] did not stop within its deadline; killing its host process", name_);
        }
        lock.Unlock();
        Kill();
      }
    }
    reader_.join();
    outbox_->Close();
    sender_.join();
    return true;
  }

  void Kill() {
    process_->Kill();
    channel_->Shutdown();
  }

  void ReadLoop() ABSL_LOCKS_EXCLUDED(mu_) {
    Status why;
    while (true) {
      wire::HostToDaemon message;
      Status received = channel_->Receive(message, limits_.heartbeat_timeout);
      if (!received.ok()) {
        if (received.code() == StatusCode::kDeadlineExceeded) {
          why = DeadlineExceeded("the plugin host sent nothing for " +
                                 std::to_string(limits_.heartbeat_timeout.count()) +
                                 " ms; killed as hung");
        } else if (received.code() == StatusCode::kDataLoss) {
          why = DataLoss("the plugin host broke the protocol (" + received.message() + "); killed");
          gate_.RecordFault(FaultKind::kProtocol, why.message());
        }
        break;
      }
      Handle(message);
    }
    Kill();
    std::string ending = process_->Reap();
    if (why.ok()) why = Unavailable("the plugin host process " + ending);
    bool started_ok;
    {
      sync::MutexLock lock(mu_);
      exited_ = true;
      if (!started_) started_ = why;
      started_ok = started_ok_;
      changed_.notify_all();
    }
    outbox_->Close();
    if (stopping_) {
      if (!stop_status_.ok())
        spdlog::error("[{}] failed while stopping: {}", name_, stop_status_.message());
    } else if (started_ok) {
      ended_(why);
    }
  }

  void Handle(wire::HostToDaemon& message) ABSL_LOCKS_EXCLUDED(mu_) {
    switch (message.message_case()) {
      case wire::HostToDaemon::kStarted: {
        Status started(static_cast<StatusCode>(message.started().code()),
                       message.started().message());
        sync::MutexLock lock(mu_);
        if (started_) return;
        started_ok_ = started.ok();
        started_ = started;
        changed_.notify_all();
        return;
      }
      case wire::HostToDaemon::kEmit: {
        std::uint64_t sequence = message.emit().sequence();
        gate_.Submit(wire::DecodeBatch(*message.mutable_emit()),
                     [outbox = outbox_, sequence](Status status) {
                       wire::DaemonToHost result;
                       result.mutable_emit_result()->set_sequence(sequence);
                       result.mutable_emit_result()->set_code(static_cast<int>(status.code()));
                       result.mutable_emit_result()->set_message(status.message());
                       outbox->Push(std::move(result));
                     });
        return;
      }
      case wire::HostToDaemon::kLog:
        LogPluginLine(name_, static_cast<sdk::LogLevel>(message.log().level()),
                      message.log().message());
        return;
      case wire::HostToDaemon::kStopped:
        stop_status_ =
            Status(static_cast<StatusCode>(message.stopped().code()), message.stopped().message());
        return;
      case wire::HostToDaemon::kFault:
        gate_.RecordFault(FaultKind::kRecordTooLarge, message.fault().what());
        return;
      case wire::HostToDaemon::kHeartbeat:
      case wire::HostToDaemon::MESSAGE_NOT_SET:
        return;
    }
  }

  void SendLoop() {
    wire::DaemonToHost message;
    while (outbox_->Pop(message)) {
      if (!channel_->Send(message).ok()) return;  // the reader sees the host go
    }
  }

  // Constant after construction; the gate, the process, the channel and the outbox are
  // thread-safe.
  const std::string name_;
  const config::PluginLimits limits_;
  EmitGate& gate_;
  const RunEnded ended_;
  const std::unique_ptr<HostProcess> process_;
  const std::unique_ptr<wire::FrameChannel> channel_;
  const std::shared_ptr<Outbox> outbox_;  // shared with EmitResults still in the pipeline

  std::atomic<bool> stopping_{false};
  Status stop_status_;  // reader thread only

  sync::Mutex mu_;
  std::condition_variable changed_;
  std::optional<Status> started_ ABSL_GUARDED_BY(mu_);
  bool started_ok_ ABSL_GUARDED_BY(mu_) = false;
  bool exited_ ABSL_GUARDED_BY(mu_) = false;

  std::thread reader_;  // last: they use everything above
  std::thread sender_;
};

}  // namespace

Result<std::unique_ptr<PluginRunner>> StartHostProcess(const RunSpec& spec, EmitGate& gate,
                                                       RunEnded ended) {
  int sockets[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0) {
    return Internal(std::string("cannot make a socket for a plugin host: ") + std::strerror(errno));
  }
  auto process = Spawn(spec, sockets[1]);
  ::close(sockets[1]);
  if (!process.ok()) {
    ::close(sockets[0]);
    return process.status();
  }
  const config::PluginConfig& plugin = *spec.plugin;
  // A frame whose batch is over the limits is refused before it is parsed: the host sends its
  // batches in parts within them, and parsing one far over could take gigabytes.
  const wire::BatchLimits batch_limits{plugin.limits.max_batch_events,
                                       plugin.limits.max_batch_bytes};
  auto channel = std::make_unique<wire::FrameChannel>(
      sockets[0], plugin.limits.max_batch_bytes + (std::size_t{1} << 20),
      [batch_limits](std::string_view frame) { return wire::CheckHostFrame(frame, batch_limits); });

  wire::DaemonToHost start;
  wire::StartPlugin& s = *start.mutable_start();
  s.set_library(plugin.library.string());
  s.set_instance(plugin.name);
  for (const auto& [key, value] : plugin.settings.values()) (*s.mutable_settings())[key] = value;
  s.set_time_zone(plugin.time_zone);
  s.set_has_checkpoint(spec.checkpoint.has_value());
  if (spec.checkpoint) s.set_checkpoint(*spec.checkpoint);
  s.set_heartbeat_interval_ms(
      static_cast<std::uint32_t>(std::max<long>(10, plugin.limits.heartbeat_timeout.count() / 4)));
  const wire::BatchLimits parts = gate.PartLimits();
  s.set_max_batch_bytes(parts.max_bytes);
  s.set_max_batch_events(parts.max_records);
  (void)channel->Send(start);  // a host that is already gone shows in AwaitStart

  auto runner = std::make_unique<HostProcessRunner>(spec, gate, std::move(ended),
                                                    std::move(*process), std::move(channel));
  Status started = runner->AwaitStart();
  if (!started.ok()) return started;
  return std::unique_ptr<PluginRunner>(std::move(runner));
}

}  // namespace propbridge::supervisor
