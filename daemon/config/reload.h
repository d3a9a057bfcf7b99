// What applying a configuration again would change, for a reload: which plugin instances come,
// go or change, whether the mapping changed, and which settings only a restart applies. Plain
// functions; thread-safe.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/config.h"

namespace propbridge::config {

// A configuration and the TOML text it was parsed from, so that a later reload can say which
// keys changed, whatever the checks made of them.
struct LoadedConfig {
  Config config;
  std::string text;
};

// LoadConfig, keeping the text.
Result<LoadedConfig> LoadConfigFile(const std::filesystem::path& file);

struct ConfigChanges {
  // Plugin instances by name, in the new configuration's order (removed: the old one's).
  std::vector<std::string> added;
  std::vector<std::string> removed;
  // Any key of [plugins.<name>] differs, or its library resolves to another file (plugin_dir).
  std::vector<std::string> changed;
  bool mapping_changed = false;
  // Dotted keys of the rules the API and resolution apply to what comes next ("identity",
  // "outreach", "api.max_watches"; kAppliedToWhatComesNext) whose values differ.
  std::vector<std::string> rules_changed;
  // Dotted keys ("listen", "api.scan_threads", "store.path") whose new values only a restart
  // applies: every key that kAppliedByReload does not name.
  std::vector<std::string> need_restart;
  // [api.tls] names the same files, whose contents are new (a renewed certificate).
  bool tls_files_changed = false;

  bool empty() const {
    return added.empty() && removed.empty() && changed.empty() && !mapping_changed &&
           rules_changed.empty() && need_restart.empty() && !tls_files_changed;
  }
};

// The keys a reload applies to what comes next, beside [plugins], [mapping] and plugin_dir:
// rules read afresh for each call, watch or resolved event. The listen address, the data
// folder, the store and what sizes its connections (api.scan_threads, api.read_wait), the
// queue, the port's TLS and auth settings and [metrics] wait for a restart.
inline constexpr std::string_view kAppliedToWhatComesNext[] = {"identity",
                                                               "outreach",
                                                               "api.max_watches",
                                                               "api.max_watches_per_client",
                                                               "api.watch_buffer_events",
                                                               "api.scan_queue"};

// Both must have been parsed from their texts (LoadConfigFile or ParseConfig).
ConfigChanges CompareConfigs(const LoadedConfig& running, const LoadedConfig& next);

// What runs after a reload: `running` with the parts a reload applies ([plugins], [mapping],
// plugin_dir and kAppliedToWhatComesNext) taken from `next`, in its values and its text, so that a
// later reload still names every setting that waits for a restart.
LoadedConfig ApplyReloadable(const LoadedConfig& running, LoadedConfig next);

}  // namespace propbridge::config
