// What the plugin instances show a metrics scrape: each one's state (one series per state, 1
// for the state it is in), restarts, failures and faults by kind, and events emitted.
#pragma once

#include <vector>

#include "daemon/metrics/exposition.h"
#include "daemon/supervisor/plugin_supervisor.h"

namespace propbridge::supervisor {

// "starting", "running", "backing_off", "failed", "stopped", "disabled".
std::string_view PluginStateName(PluginState state);

void CollectPlugins(const std::vector<PluginReport>& plugins, metrics::Exposition& out);

}  // namespace propbridge::supervisor
