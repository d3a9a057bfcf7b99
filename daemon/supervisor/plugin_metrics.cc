#include "daemon/supervisor/plugin_metrics.h"

namespace propbridge::supervisor {

std::string_view PluginStateName(PluginState state) {
  switch (state) {
    case PluginState::kStarting:
      return "starting";
    case PluginState::kRunning:
      return "running";
    case PluginState::kBackingOff:
      return "backing_off";
    case PluginState::kFailed:
      return "failed";
    case PluginState::kStopped:
      return "stopped";
    case PluginState::kDisabled:
      return "disabled";
  }
  return "unknown";
}

void CollectPlugins(const std::vector<PluginReport>& plugins, metrics::Exposition& out) {
  using metrics::Type;
  constexpr PluginState kStates[] = {PluginState::kStarting,   PluginState::kRunning,
                                     PluginState::kBackingOff, PluginState::kFailed,
                                     PluginState::kStopped,    PluginState::kDisabled};
  out.Begin("propbridge_plugin_state", Type::kGauge,
            "1 for the state each plugin instance is in, 0 for the others.");
  for (const PluginReport& plugin : plugins) {
    for (PluginState state : kStates) {
      out.Sample({{"plugin", plugin.name}, {"state", PluginStateName(state)}},
                 plugin.state == state ? 1 : 0);
    }
  }
  out.Begin("propbridge_plugin_restarts_total", Type::kCounter,
            "Times a plugin instance was started again (after a failure, or by an admin).");
  for (const PluginReport& plugin : plugins) {
    out.Sample({{"plugin", plugin.name}}, static_cast<double>(plugin.restarts));
  }
  out.Begin("propbridge_plugin_failures_total", Type::kCounter,
            "Runs of a plugin instance that failed, by kind: start (did not start), crash (its "
            "host process ended), hang (its host fell silent), protocol (its host broke the "
            "protocol).");
  for (const PluginReport& plugin : plugins) {
    for (std::size_t kind = 0; kind < kFailureKinds; ++kind) {
      out.Sample(
          {{"plugin", plugin.name}, {"kind", FailureKindName(static_cast<FailureKind>(kind))}},
          static_cast<double>(plugin.failures_by_kind[kind]));
    }
  }
  out.Begin("propbridge_plugin_faults_total", Type::kCounter,
            "Faults of a plugin instance that did not end its run, by kind: batch_records, "
            "batch_bytes and rate (over a limit), record_too_large, protocol.");
  for (const PluginReport& plugin : plugins) {
    for (std::size_t kind = 0; kind < kFaultKinds; ++kind) {
      out.Sample({{"plugin", plugin.name}, {"kind", FaultKindName(static_cast<FaultKind>(kind))}},
                 static_cast<double>(plugin.faults_by_kind[kind]));
    }
  }
  out.Begin("propbridge_plugin_events_emitted_total", Type::kCounter,
            "Events a plugin instance emitted (stored, duplicate or quarantined).");
  for (const PluginReport& plugin : plugins) {
    out.Sample({{"plugin", plugin.name}}, static_cast<double>(plugin.events_emitted));
  }
}

}  // namespace propbridge::supervisor
