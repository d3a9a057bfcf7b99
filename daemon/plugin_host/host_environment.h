// The environment a plugin host process starts with: the daemon's, without what the service
// manager gave the daemon alone. A host that inherited NOTIFY_SOCKET could tell systemd the
// daemon is ready or alive, and one that inherited LISTEN_FDS would take sockets that are not
// its own.
#pragma once

#include <string>
#include <vector>

namespace propbridge::plugin_host {

// Each entry "NAME=value", from this process's environment at the time of the call.
std::vector<std::string> HostEnvironment();

}  // namespace propbridge::plugin_host
