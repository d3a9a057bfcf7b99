#include "daemon/supervisor/plugin_supervisor.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>
#include <utility>

namespace propbridge::supervisor {
namespace {

using Clock = std::chrono::steady_clock;

// A start that fails for one of these will fail the same way until someone changes the
// configuration or the file: retrying would only fill the log.
bool IsPermanent(StatusCode code) {
  return code == StatusCode::kInvalidArgument || code == StatusCode::kFailedPrecondition ||
         code == StatusCode::kNotFound || code == StatusCode::kPermissionDenied ||
         code == StatusCode::kUnimplemented;
}

ingest::Normalizer MakeNormalizer(const config::PluginConfig& plugin,
                                  const config::Config& daemon) {
  // The configuration was checked at load, so the time zone exists.
  auto time_zone = ingest::TimeZone::Find(plugin.time_zone);
  ingest::SourceIdentity identity;
  identity.rules = std::make_shared<const identity::IdentityRules>(daemon.identity);
  identity.community = plugin.community;
  return ingest::Normalizer(plugin.name, ingest::StepMapping(daemon.mapping, plugin.mapping),
                            *time_zone, std::move(identity));
}

// How a run that had started ended, by the status its runner gave.
FailureKind EndedBy(const Status& why) {
  if (why.code() == StatusCode::kDeadlineExceeded) return FailureKind::kHang;
  if (why.code() == StatusCode::kDataLoss) return FailureKind::kProtocol;
  return FailureKind::kCrash;
}

}  // namespace

std::string_view FailureKindName(FailureKind kind) {
  switch (kind) {
    case FailureKind::kStart:
      return "start";
    case FailureKind::kCrash:
      return "crash";
    case FailureKind::kHang:
      return "hang";
    case FailureKind::kProtocol:
      return "protocol";
  }
  return "unknown";
}

PluginSupervisor::PluginSupervisor(config::PluginConfig plugin, const config::Config& daemon,
                                   std::filesystem::path host_executable,
                                   ingest::Pipeline& pipeline, store::Store& store)
    : plugin_(std::move(plugin)),
      host_executable_(std::move(host_executable)),
      stop_timeout_(daemon.plugin_stop_timeout),
      store_(store),
      gate_(plugin_.name, MakeNormalizer(plugin_, daemon), plugin_.limits, pipeline),
      state_(plugin_.enabled ? PluginState::kStarting : PluginState::kDisabled) {}

PluginSupervisor::~PluginSupervisor() { Shutdown(Clock::now()); }

void PluginSupervisor::Start() {
  if (!plugin_.enabled) {
    spdlog::info("[{}] disabled in the configuration", plugin_.name);
    return;
  }
  sync::MutexLock lock(mu_);
  want_running_ = true;
  next_start_ = Clock::now();
  thread_ = std::thread([this] { Loop(); });
}

void PluginSupervisor::WaitUntilStarted() {
  sync::MutexLock lock(mu_);
  lock.Wait(changed_, [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return settled_ || !thread_.joinable();
  });
}

Status PluginSupervisor::Restart() {
  sync::MutexLock lock(mu_);
  if (state_ == PluginState::kDisabled) {
    return FailedPrecondition(
        "plugin " + plugin_.name +
        " is disabled in the configuration; enable it and restart the daemon");
  }
  spdlog::info("[{}] restart requested", plugin_.name);
  restart_requested_ = true;
  changed_.notify_all();
  return Status::Ok();
}

Status PluginSupervisor::Stop() {
  sync::MutexLock lock(mu_);
  if (state_ == PluginState::kDisabled) {
    return FailedPrecondition("plugin " + plugin_.name + " is disabled in the configuration");
  }
  spdlog::info("[{}] stop requested", plugin_.name);
  want_running_ = false;
  restart_requested_ = false;
  changed_.notify_all();
  lock.Wait(changed_,
            [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !running_or_starting_; });
  state_ = PluginState::kStopped;
  return Status::Ok();
}

void PluginSupervisor::RequestShutdown(sdk::Deadline deadline) {
  sync::MutexLock lock(mu_);
  if (shutdown_) return;
  shutdown_ = true;
  shutdown_deadline_ = deadline;
  changed_.notify_all();
}

bool PluginSupervisor::Shutdown(sdk::Deadline deadline) {
  RequestShutdown(deadline);
  if (thread_.joinable()) thread_.join();
  sync::MutexLock lock(mu_);
  return !abandoned_;
}

void PluginSupervisor::UseRules(const config::Config& daemon) {
  gate_.SetNormalizer(MakeNormalizer(plugin_, daemon));
}

PluginReport PluginSupervisor::Report() const {
  PluginReport report;
  report.name = plugin_.name;
  report.library = plugin_.library.string();
  report.isolated = !plugin_.in_process;
  report.events_emitted = gate_.events_emitted();
  report.faults = gate_.faults();
  report.faults_by_kind = gate_.faults_by_kind();
  sync::MutexLock lock(mu_);
  report.state = state_;
  report.last_error = last_error_;
  report.restarts = starts_ > 0 ? starts_ - 1 : 0;
  report.pid = pid_;
  report.failures_by_kind = failures_;
  return report;
}

void PluginSupervisor::Loop() {
  std::unique_ptr<PluginRunner> runner;
  Clock::time_point run_began;
  sync::MutexLock lock(mu_);
  while (!shutdown_) {
    if (runner != nullptr) {
      if (!run_ended_ && want_running_ && !restart_requested_) {
        lock.Wait(changed_);
        continue;
      }
      std::optional<Status> ended = std::exchange(run_ended_, std::nullopt);
      lock.Unlock();
      StopRun(std::move(runner), Clock::now() + stop_timeout_);
      lock.Lock();
      pid_ = 0;
      running_or_starting_ = false;
      if (ended && want_running_ && !restart_requested_)
        RecordFailure(EndedBy(*ended), *ended, Clock::now() - run_began);
      changed_.notify_all();
      continue;
    }
    if (restart_requested_) {
      restart_requested_ = false;
      want_running_ = true;
      failures_in_a_row_ = 0;
      next_start_ = Clock::now();
    }
    if (!want_running_) {
      lock.Wait(changed_);
      continue;
    }
    if (Clock::now() < next_start_) {
      lock.WaitUntil(changed_, next_start_);
      continue;
    }
    state_ = PluginState::kStarting;
    running_or_starting_ = true;
    std::uint64_t run = ++run_;
    ++starts_;
    lock.Unlock();
    auto started = StartRun(run);
    lock.Lock();
    settled_ = true;
    if (started.ok()) {
      runner = std::move(*started);
      pid_ = runner->pid();
      run_began = Clock::now();
      state_ = PluginState::kRunning;
      spdlog::info("[{}] running{} from {}", plugin_.name,
                   plugin_.in_process ? " in process" : " in host process " + std::to_string(pid_),
                   plugin_.library.string());
    } else {
      running_or_starting_ = false;
      RecordFailure(FailureKind::kStart, started.status(), Clock::duration::zero());
    }
    changed_.notify_all();
  }
  sdk::Deadline deadline = shutdown_deadline_.value_or(Clock::now());
  if (runner != nullptr) {
    lock.Unlock();
    StopRun(std::move(runner), deadline);
    lock.Lock();
  }
  running_or_starting_ = false;
  settled_ = true;
  if (state_ != PluginState::kFailed) state_ = PluginState::kStopped;
  pid_ = 0;
  changed_.notify_all();
}

Result<std::unique_ptr<PluginRunner>> PluginSupervisor::StartRun(std::uint64_t run) {
  auto checkpoint = store_.LoadCheckpoint(plugin_.name);
  if (!checkpoint.ok()) return checkpoint.status();
  RunSpec spec{&plugin_, std::move(*checkpoint), host_executable_};
  if (plugin_.in_process) return StartInProcess(spec, gate_);
  return StartHostProcess(spec, gate_, [this, run](Status why) {
    sync::MutexLock lock(mu_);
    if (run != run_) return;
    run_ended_ = std::move(why);
    changed_.notify_all();
  });
}

void PluginSupervisor::StopRun(std::unique_ptr<PluginRunner> runner, sdk::Deadline deadline) {
  if (!runner->Stop(deadline)) {
    (void)runner.release();  // its code may still run: never destroy it
    sync::MutexLock lock(mu_);
    abandoned_ = true;
    return;
  }
  runner.reset();
  // A batch the run emitted may still be in the pipeline; the next run starts from the
  // checkpoint that batch commits, so wait for it.
  gate_.WaitIdle();
}

void PluginSupervisor::RecordFailure(FailureKind kind, const Status& why, Clock::duration ran) {
  ++failures_[static_cast<std::size_t>(kind)];
  last_error_ = why.message();
  if (ran >= plugin_.restart.stable_after) failures_in_a_row_ = 0;
  ++failures_in_a_row_;
  if (IsPermanent(why.code()) || failures_in_a_row_ >= plugin_.restart.max_failures) {
    state_ = PluginState::kFailed;
    want_running_ = false;
    spdlog::error("[{}] failed: {}; left stopped{} until an admin restarts it", plugin_.name,
                  why.message(),
                  IsPermanent(why.code())
                      ? ""
                      : " after " + std::to_string(failures_in_a_row_) + " failures in a row");
    return;
  }
  auto delay = plugin_.restart.backoff_base * (1LL << std::min(failures_in_a_row_ - 1, 30));
  delay = std::min<std::chrono::milliseconds>(delay, plugin_.restart.backoff_cap);
  // Up to a fifth less, so that plugins that failed together do not all restart together.
  static thread_local std::minstd_rand random{std::random_device{}()};
  delay -= std::chrono::milliseconds(
      std::uniform_int_distribution<std::int64_t>(0, delay.count() / 5)(random));
  state_ = PluginState::kBackingOff;
  next_start_ = Clock::now() + delay;
  spdlog::warn("[{}] failed: {}; restarting in {} ms (failure {} of {} in a row)", plugin_.name,
               why.message(), delay.count(), failures_in_a_row_, plugin_.restart.max_failures);
}

}  // namespace propbridge::supervisor
