// The daemon's configuration, read once from a TOML file at start-up.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "propbridge/sdk/event.h"
#include "propbridge/sdk/settings.h"
#include "propbridge/sdk/status.h"

namespace propbridge::config {

// Overrides where a kind (and every kind below it: "billing.reminder" covers
// "billing.reminder.overdue_sent") goes on the timeline.
struct MappingRule {
  std::string kind_prefix;
  sdk::Step step = sdk::Step::kUnspecified;
  sdk::Initiative initiative = sdk::Initiative::kUnspecified;  // unspecified: keep the default
};

struct PluginConfig {
  std::string name;               // [plugins.<name>]: the instance, and the source of its events
  std::filesystem::path library;  // absolute, resolved against plugin_dir
  std::string time_zone = "UTC";
  bool enabled = true;
  sdk::Settings settings;
  std::vector<MappingRule> mapping;
};

struct Config {
  std::filesystem::path source_file;  // where this configuration was read from
  std::string listen = "127.0.0.1:50051";
  std::filesystem::path data_dir;
  std::filesystem::path plugin_dir;
  std::size_t queue_capacity = 50000;  // events waiting to be stored
  std::chrono::milliseconds plugin_stop_timeout{5000};
  std::size_t max_watches = 256;           // [api]: WatchTimeline streams open at once
  std::size_t watch_buffer_events = 1000;  // [api]: events queued for one slow watch
  std::vector<MappingRule> mapping;        // [mapping]: for every source
  std::vector<PluginConfig> plugins;
};

// Reads and checks a configuration file. Every error names the file, the key and what is
// wrong: "propbridged.toml: plugins.billing.time_zone: unknown time zone 'Asia/Shangai'".
Result<Config> LoadConfig(const std::filesystem::path& file);

// The same, from TOML text; `file` only names the source in messages and resolves relative
// paths.
Result<Config> ParseConfig(const std::string& toml_text, const std::filesystem::path& file);

// "KNOW" / "know" -> kKnow; nullopt for anything else.
std::optional<sdk::Step> ParseStep(std::string_view name);
std::optional<sdk::Initiative> ParseInitiative(std::string_view name);

}  // namespace propbridge::config
