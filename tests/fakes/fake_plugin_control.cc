#include "tests/fakes/fake_plugin_control.h"

namespace propbridge::testing {

std::vector<std::string> FakePluginControl::commands() const {
  sync::MutexLock lock(mu_);
  return commands_;
}

std::vector<api::PluginStatus> FakePluginControl::List() const {
  sync::MutexLock lock(mu_);
  return plugins_;
}

Status FakePluginControl::Restart(const std::string& name) {
  sync::MutexLock lock(mu_);
  auto plugin = CommandLocked("restart", name);
  if (!plugin.ok()) return plugin.status();
  (*plugin)->state = v1::PLUGIN_STATE_RUNNING;
  (*plugin)->last_error.clear();
  ++(*plugin)->restarts;
  return Status::Ok();
}

Status FakePluginControl::Stop(const std::string& name) {
  sync::MutexLock lock(mu_);
  auto plugin = CommandLocked("stop", name);
  if (!plugin.ok()) return plugin.status();
  (*plugin)->state = v1::PLUGIN_STATE_STOPPED;
  return Status::Ok();
}

Result<api::PluginStatus*> FakePluginControl::CommandLocked(const std::string& command,
                                                            const std::string& name) {
  commands_.push_back(command + " " + name);
  for (api::PluginStatus& plugin : plugins_) {
    if (plugin.name != name) continue;
    if (plugin.state == v1::PLUGIN_STATE_DISABLED) {
      return FailedPrecondition("plugin " + name + " is disabled in the configuration");
    }
    return &plugin;
  }
  return NotFound("no plugin instance is named '" + name + "'");
}

}  // namespace propbridge::testing
