// Keeps one configured plugin instance running: starts it (in a host process of its own, or in
// process), restarts it with exponential backoff when it crashes, hangs or fails to start, each
// time from its last durable checkpoint, and marks it failed after too many failures in a row.
// Admins stop and restart it. Thread-safe; every start and stop happens on its own thread.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "daemon/config/config.h"
#include "daemon/ingest/pipeline.h"
#include "daemon/store/store.h"
#include "daemon/supervisor/emit_gate.h"
#include "daemon/supervisor/plugin_runner.h"
#include "daemon/sync/mutex.h"

namespace propbridge::supervisor {

enum class PluginState { kStarting, kRunning, kBackingOff, kFailed, kStopped, kDisabled };

// Why a run failed, as failures are counted: it did not start (in time), its host process
// ended, it hung (its host fell silent), or its host broke the protocol.
enum class FailureKind { kStart, kCrash, kHang, kProtocol };
inline constexpr std::size_t kFailureKinds = 4;

// "start", "crash", "hang", "protocol".
std::string_view FailureKindName(FailureKind kind);

// What ListPlugins shows of an instance.
struct PluginReport {
  std::string name;
  std::string library;
  bool isolated = true;
  PluginState state = PluginState::kStarting;
  std::string last_error;
  std::uint64_t restarts = 0;
  std::uint64_t events_emitted = 0;
  std::uint64_t faults = 0;
  FaultCounts faults_by_kind{};
  std::array<std::uint64_t, kFailureKinds> failures_by_kind{};
  int pid = 0;
};

class PluginSupervisor {
 public:
  // `pipeline` and `store` must outlive the supervisor. Nothing runs before Start().
  PluginSupervisor(config::PluginConfig plugin, const config::Config& daemon,
                   std::filesystem::path host_executable, ingest::Pipeline& pipeline,
                   store::Store& store);
  ~PluginSupervisor();  // Shutdown()s with no time to spare

  // Begins running the instance (unless it is disabled) and returns at once.
  void Start() ABSL_LOCKS_EXCLUDED(mu_);

  // Returns once the first start after Start() has succeeded or failed (at once for a disabled
  // instance), so that several instances can start side by side.
  void WaitUntilStarted() ABSL_LOCKS_EXCLUDED(mu_);

  // An admin's restart: from any state but disabled, starts it afresh with its failures cleared.
  // FAILED_PRECONDITION for a disabled instance.
  Status Restart() ABSL_LOCKS_EXCLUDED(mu_);

  // An admin's stop: stops it (by the configured stop timeout) and leaves it stopped.
  Status Stop() ABSL_LOCKS_EXCLUDED(mu_);

  // Asks it to stop for good by the deadline and returns at once, so that several instances
  // can stop side by side.
  void RequestShutdown(sdk::Deadline deadline) ABSL_LOCKS_EXCLUDED(mu_);

  // RequestShutdown, then waits until it has stopped. False when an in-process plugin could not
  // be stopped: its code may still run, so the process must exit without destroying what it
  // uses.
  bool Shutdown(sdk::Deadline deadline) ABSL_LOCKS_EXCLUDED(mu_);

  // A reload's new [mapping] and [identity] (of `daemon`) for the batches it emits from now
  // on; the instance runs on undisturbed.
  void UseRules(const config::Config& daemon);

  PluginReport Report() const ABSL_LOCKS_EXCLUDED(mu_);
  const std::string& name() const { return plugin_.name; }

 private:
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);
  // Decides between backing off and failing.
  void RecordFailure(FailureKind kind, const Status& why, std::chrono::steady_clock::duration ran)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Result<std::unique_ptr<PluginRunner>> StartRun(std::uint64_t run) ABSL_LOCKS_EXCLUDED(mu_);
  void StopRun(std::unique_ptr<PluginRunner> runner, sdk::Deadline deadline)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Constant after construction.
  const config::PluginConfig plugin_;
  const std::filesystem::path host_executable_;
  const std::chrono::milliseconds stop_timeout_;
  store::Store& store_;

  EmitGate gate_;  // thread-safe itself

  mutable sync::Mutex mu_;
  std::condition_variable changed_;
  PluginState state_ ABSL_GUARDED_BY(mu_);
  bool want_running_ ABSL_GUARDED_BY(mu_) = false;
  bool restart_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  bool abandoned_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<sdk::Deadline> shutdown_deadline_ ABSL_GUARDED_BY(mu_);
  std::optional<Status> run_ended_ ABSL_GUARDED_BY(mu_);  // the current run ended by itself
  // Which run is current; older runs' reports are stale.
  std::uint64_t run_ ABSL_GUARDED_BY(mu_) = 0;
  int failures_in_a_row_ ABSL_GUARDED_BY(mu_) = 0;
  std::uint64_t starts_ ABSL_GUARDED_BY(mu_) = 0;
  std::array<std::uint64_t, kFailureKinds> failures_ ABSL_GUARDED_BY(mu_){};
  std::string last_error_ ABSL_GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point next_start_ ABSL_GUARDED_BY(mu_);
  int pid_ ABSL_GUARDED_BY(mu_) = 0;
  // A run exists, or is being started.
  bool running_or_starting_ ABSL_GUARDED_BY(mu_) = false;
  bool settled_ ABSL_GUARDED_BY(mu_) = false;  // the first start has succeeded or failed

  // Last: it uses everything above. Needs no lock: only the thread that owns the supervisor
  // starts it (Start) and joins it (Shutdown).
  std::thread thread_;
};

}  // namespace propbridge::supervisor
