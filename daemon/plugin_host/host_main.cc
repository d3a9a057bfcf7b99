// propbridge-plugin-host: runs one plugin instance in a process of its own, so that a plugin
// that crashes, aborts, leaks or calls exit() takes down only this process. The daemon starts
// it with its end of a socket on descriptor 3 (see daemon/supervisor/host_process_runner.cc)
// and the whole conversation is in daemon/plugin_wire/host_protocol.proto:
//
//   daemon: StartPlugin   host: Started, then Emit / Log / Heartbeat ...
//   daemon: EmitResult (one per Emit) ... StopPlugin        host: Stopped, and it exits.
//
// or, for `propbridged --check-config`, daemon: CheckPlugin   host: Started, and it exits.
//
// It is not meant to be run by hand.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <thread>

#include "daemon/plugin_host/channel_context.h"
#include "daemon/plugin_host/plugin_library.h"
#include "daemon/plugin_wire/frame_channel.h"
#include "daemon/sync/mutex.h"

namespace {

using namespace propbridge;

constexpr int kDaemonSocket = 3;
constexpr std::size_t kMaxMessageFromDaemon = 64 << 20;

// Exits the process at once: the plugin's threads may still be running, and neither its
// static objects nor its library may be torn down under them.
[[noreturn]] void Exit(int code) {
  std::fflush(stderr);
  _exit(code);
}

void SendStatus(wire::FrameChannel& channel, bool started, const Status& status) {
  wire::HostToDaemon message;
  if (started) {
    message.mutable_started()->set_code(static_cast<int>(status.code()));
    message.mutable_started()->set_message(status.message());
  } else {
    message.mutable_stopped()->set_code(static_cast<int>(status.code()));
    message.mutable_stopped()->set_message(status.message());
  }
  (void)channel.Send(message);
}

// Waits for the daemon's StopPlugin and hands EmitResults to the context. Returns the stop
// deadline; exits the process when the daemon goes away.
class DaemonListener {
 public:
  DaemonListener(wire::FrameChannel& channel, plugin_host::ChannelContext& context)
      : channel_(channel), context_(context), thread_([this] { Run(); }) {
    thread_.detach();
  }

  sdk::Deadline WaitForStop() ABSL_LOCKS_EXCLUDED(mu_) {
    sync::MutexLock lock(mu_);
    lock.Wait(stop_requested_,
              [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return deadline_.has_value(); });
    return *deadline_;
  }

 private:
  void Run() ABSL_LOCKS_EXCLUDED(mu_) {
    while (true) {
      wire::DaemonToHost message;
      Status received = channel_.Receive(message);
      if (!received.ok()) {
        context_.Close(Unavailable("the daemon has gone: " + received.message()));
        std::fprintf(stderr, "propbridge-plugin-host: %s; exiting\n", received.message().c_str());
        Exit(1);
      }
      if (message.has_emit_result()) {
        context_.Deliver(message.emit_result());
      } else if (message.has_stop()) {
        sync::MutexLock lock(mu_);
        deadline_ = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(message.stop().deadline_ms());
        stop_requested_.notify_all();
      }
    }
  }

  // Constant after construction; thread-safe themselves.
  wire::FrameChannel& channel_;
  plugin_host::ChannelContext& context_;

  sync::Mutex mu_;
  std::condition_variable stop_requested_;
  std::optional<sdk::Deadline> deadline_ ABSL_GUARDED_BY(mu_);

  std::thread thread_;  // last: it uses everything above
};

void SendHeartbeats(wire::FrameChannel& channel, std::chrono::milliseconds interval) {
  std::thread([&channel, interval] {
    wire::HostToDaemon beat;
    beat.mutable_heartbeat();
    while (channel.Send(beat).ok()) std::this_thread::sleep_for(interval);
  }).detach();
}

}  // namespace

int main() {
  signal(SIGPIPE, SIG_IGN);
  auto channel = std::make_unique<wire::FrameChannel>(kDaemonSocket, kMaxMessageFromDaemon);
  wire::DaemonToHost first;
  Status received = channel->Receive(first);
  if (received.ok() && first.has_check()) {
    auto library = plugin_host::PluginLibrary::Load(first.check().library());
    SendStatus(*channel, true, library.status());
    Exit(0);
  }
  if (!received.ok() || !first.has_start()) {
    std::fprintf(stderr,
                 "propbridge-plugin-host: runs plugins for propbridged and is started by it, "
                 "not by hand\n");
    return 2;
  }
  const wire::StartPlugin& start = first.start();

  auto library = plugin_host::PluginLibrary::Load(start.library());
  if (!library.ok()) {
    SendStatus(*channel, true, library.status());
    Exit(0);
  }
  auto handle = (*library)->Create();
  if (!handle.ok()) {
    SendStatus(*channel, true, handle.status());
    Exit(0);
  }
  // These live until the process exits: plugin threads may use them up to the last moment.
  auto* context = new plugin_host::ChannelContext(start, *channel);
  auto* listener = new DaemonListener(*channel, *context);
  SendHeartbeats(*channel, std::chrono::milliseconds(std::max(10u, start.heartbeat_interval_ms())));

  Status started = (*handle)->Start(*context);
  SendStatus(*channel, true, started);
  if (!started.ok()) Exit(0);

  sdk::Deadline deadline = listener->WaitForStop();
  Status stopped = (*handle)->Stop(deadline);
  SendStatus(*channel, false, stopped);
  Exit(0);
}
