// One run of a plugin instance, from its start to its end, either in a host process of its own
// (isolated, the default) or in the daemon's process (`in_process = true`). The supervisor
// starts a new run after one ends; a runner never restarts itself.
// Thread-safety: Stop and destruction from the thread that started the run.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "daemon/config/config.h"
#include "daemon/supervisor/emit_gate.h"
#include "propbridge/sdk/plugin.h"

namespace propbridge::supervisor {

struct RunSpec {
  const config::PluginConfig* plugin = nullptr;
  std::optional<std::string> checkpoint;  // the source's last durable checkpoint
  std::filesystem::path host_executable;  // for isolated runs
};

// Called at most once, from a thread of the runner's, when the run ends without being asked
// to (the host process died, hung or broke the protocol). Must not block.
using RunEnded = std::function<void(Status why)>;

class PluginRunner {
 public:
  virtual ~PluginRunner() = default;

  // Asks the plugin to stop by the deadline, and makes sure it has. Returns false only when
  // the plugin's code could not be stopped (in process): the runner must then never be
  // destroyed, since the plugin's threads may still use it.
  virtual bool Stop(sdk::Deadline deadline) = 0;

  // The host process's id, or 0 in process.
  virtual int pid() const { return 0; }
};

// A plugin's log line in the daemon's log, tagged with the instance.
void LogPluginLine(const std::string& instance, sdk::LogLevel level,
                   std::string_view message) noexcept;

// Both return once the plugin's Start has returned: a non-OK status says why it did not start
// (and nothing is left running). `gate` must outlive the runner.
Result<std::unique_ptr<PluginRunner>> StartInProcess(const RunSpec& spec, EmitGate& gate);
Result<std::unique_ptr<PluginRunner>> StartHostProcess(const RunSpec& spec, EmitGate& gate,
                                                       RunEnded ended);

}  // namespace propbridge::supervisor
