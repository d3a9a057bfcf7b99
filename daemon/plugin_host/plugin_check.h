// A plugin's library checked in a propbridge-plugin-host process of its own, as a run would
// load it there, but with none of the plugin's functions called: the file, who may write it,
// its registration symbols and its plugin API version (see PluginLibrary::Load). Loading runs
// the library's static initialisers, which is why it happens in a host process and not in the
// caller's. For `propbridged --check-config`; thread-compatible.
#pragma once

#include <chrono>
#include <filesystem>

#include "propbridge/sdk/status.h"

namespace propbridge::plugin_host {

// OK when `host` (a propbridge-plugin-host) loads `library` as a plugin of this daemon's API
// version; else why not, in the words a start would use ("plugin ... refused: ..."). A host
// that cannot be run, or says nothing within `timeout`, is a failure too (and is killed).
Status CheckInHostProcess(const std::filesystem::path& host, const std::filesystem::path& library,
                          std::chrono::milliseconds timeout);

}  // namespace propbridge::plugin_host
