// The daemon's configuration, read once from a TOML file at start-up.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "daemon/auth/rules.h"
#include "daemon/identity/identifier.h"
#include "daemon/outreach/rules.h"
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

// How the daemon keeps a plugin instance running: [plugins.<name>.restart].
struct RestartPolicy {
  // The wait before restarting doubles with each failure in a row, from base up to cap.
  std::chrono::milliseconds backoff_base{1000};
  std::chrono::milliseconds backoff_cap{60000};
  // Failures in a row after which the instance is marked failed and left stopped.
  int max_failures = 5;
  // A run that lasts this long clears the failures in a row.
  std::chrono::milliseconds stable_after{60000};
};

// What one plugin instance may use: [plugins.<name>.limits]. Going over one is a counted
// fault of the plugin, never the daemon's problem.
struct PluginLimits {
  std::int64_t memory_mb = 1024;  // address space of its host process; 0: no limit
  std::size_t max_batch_events = 10000;
  std::size_t max_batch_bytes = 16 << 20;
  std::int64_t max_events_per_second = 0;  // 0: no limit
  std::chrono::milliseconds start_timeout{10000};
  std::chrono::milliseconds heartbeat_timeout{10000};  // silence that counts as a hang
};

struct PluginConfig {
  std::string name;               // [plugins.<name>]: the instance, and the source of its events
  std::filesystem::path library;  // absolute, resolved against plugin_dir
  std::string time_zone = "UTC";
  // The community (residential estate) whose units this source names, e.g. "阳光花园", as
  // identity::NormalizeCommunity writes it; empty: the source's units name no community.
  std::string community;
  bool enabled = true;
  // Trusted plugins, and debugging: run in the daemon's process instead of a host process.
  bool in_process = false;
  RestartPolicy restart;
  PluginLimits limits;
  sdk::Settings settings;
  std::vector<MappingRule> mapping;
};

struct Config {
  std::filesystem::path source_file;  // where this configuration was read from
  std::string listen = "127.0.0.1:50051";
  std::filesystem::path data_dir;
  std::filesystem::path plugin_dir;
  // The propbridge-plugin-host executable; empty: beside propbridged, else where it installs.
  std::filesystem::path plugin_host;
  std::size_t queue_capacity = 50000;  // events waiting to be stored
  std::chrono::milliseconds plugin_stop_timeout{5000};
  std::size_t max_watches = 256;           // [api]: WatchTimeline streams open at once
  std::size_t watch_buffer_events = 1000;  // [api]: events queued for one slow watch
  // [api]: watches one client (peer address) may have open; 0: a quarter of max_watches.
  std::size_t max_watches_per_client = 0;
  // [api]: scans of many customers (ListOutreach, GetCommunityFigures) that run at once, each
  // on a thread and a store connection of its own, and how many more may wait for a turn.
  std::size_t scan_threads = 2;
  std::size_t scan_queue = 8;
  // [api]: how long a read waits for a free store connection before it fails (UNAVAILABLE).
  std::chrono::milliseconds read_wait{1000};
  // [api.tls]: the gRPC port's certificate and key (and the CA of client certificates), read
  // and checked when the configuration is loaded; nullopt: the port is plaintext.
  std::optional<auth::TlsMaterial> tls;
  // [api.auth]: the callers that tokens and client certificates name; empty: everyone is admin.
  auth::AuthRules auth;
  // [api]: serve a listen address other hosts reach without TLS and auth. Without it, such a
  // configuration is refused; see ServesLoopbackOnly.
  bool allow_insecure_remote = false;
  // [metrics] listen: host:port where Prometheus scrapes /metrics; empty: not served. Metrics
  // carry no personal data (their labels are configured names and fixed words), so any
  // address may serve them.
  std::string metrics_listen;
  std::vector<MappingRule> mapping;  // [mapping]: for every source
  // [identity]: which identifiers name a customer and how they link; checked with
  // identity::ValidateRules.
  identity::IdentityRules identity = identity::IdentityRules::Defaults();
  outreach::Rules outreach;  // [outreach]: when a customer needs a contact
  std::vector<PluginConfig> plugins;
};

// Reads and checks a configuration file. Every error names the file, the key and what is
// wrong: "propbridged.toml: plugins.billing.time_zone: unknown time zone 'Asia/Shangai'".
Result<Config> LoadConfig(const std::filesystem::path& file);

// The same, from TOML text; `file` only names the source in messages and resolves relative
// paths.
Result<Config> ParseConfig(const std::string& toml_text, const std::filesystem::path& file);

// Whether a listen address is reachable from this machine only: 127.0.0.0/8, ::1, localhost
// or a Unix socket.
bool ServesLoopbackOnly(std::string_view listen);

// "KNOW" / "know" -> kKnow; nullopt for anything else.
std::optional<sdk::Step> ParseStep(std::string_view name);
std::optional<sdk::Initiative> ParseInitiative(std::string_view name);

}  // namespace propbridge::config
