// Plugin instances as a test sets them up, for the admin service, without a supervisor or a
// plugin: Restart and Stop change the instance's state at once and are recorded. Thread-safe.
#pragma once

#include <string>
#include <vector>

#include "daemon/api/admin_service.h"
#include "daemon/sync/mutex.h"

namespace propbridge::testing {

class FakePluginControl final : public api::PluginControl {
 public:
  // The instances, in configuration order; one in PLUGIN_STATE_DISABLED refuses both commands.
  explicit FakePluginControl(std::vector<api::PluginStatus> plugins)
      : plugins_(std::move(plugins)) {}

  // The commands that were run, in order: "restart <name>", "stop <name>".
  std::vector<std::string> commands() const ABSL_LOCKS_EXCLUDED(mu_);

  // api::PluginControl
  std::vector<api::PluginStatus> List() const override ABSL_LOCKS_EXCLUDED(mu_);
  // RUNNING, one restart more, the last error cleared.
  Status Restart(const std::string& name) override ABSL_LOCKS_EXCLUDED(mu_);
  // STOPPED.
  Status Stop(const std::string& name) override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // The instance, or why the command cannot run on it.
  Result<api::PluginStatus*> CommandLocked(const std::string& command, const std::string& name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable sync::Mutex mu_;
  std::vector<api::PluginStatus> plugins_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> commands_ ABSL_GUARDED_BY(mu_);
};

}  // namespace propbridge::testing
