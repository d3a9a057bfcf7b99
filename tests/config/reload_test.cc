#include "daemon/config/reload.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace propbridge::config {
namespace {

using Names = std::vector<std::string>;

constexpr const char* kRunning = R"(
listen = "127.0.0.1:50051"
data_dir = "/var/lib/propbridge"
plugin_dir = "/opt/plugins"

[api]
max_watches = 256

[mapping]
"billing.reminder" = { step = "HELP" }

[plugins.billing]
library = "libpropbridge_billing.so"
[plugins.billing.settings]
inbox = "/srv/inbox"

[plugins.crm]
library = "libcrm.so"

[plugins.old]
library = "libold.so"
)";

LoadedConfig Parse(const std::string& text) {
  auto config = ParseConfig(text, "/etc/propbridge/propbridged.toml");
  EXPECT_TRUE(config.ok()) << config.status().message();
  return {config.ok() ? *config : Config{}, text};
}

TEST(Reload, NothingChangesWhenOnlyLayoutAndCommentsDo) {
  const std::string next = "# a comment\n" + std::string(kRunning) + "\n\n";
  EXPECT_TRUE(CompareConfigs(Parse(kRunning), Parse(next)).empty());
}

TEST(Reload, NamesInstancesAddedRemovedAndChanged) {
  const std::string next = R"(
listen = "127.0.0.1:50051"
data_dir = "/var/lib/propbridge"
plugin_dir = "/opt/plugins"

[api]
max_watches = 256

[mapping]
"billing.reminder" = { step = "HELP" }

[plugins.new]
library = "libnew.so"

[plugins.crm]
library = "libcrm.so"

[plugins.billing]
library = "libpropbridge_billing.so"
[plugins.billing.settings]
inbox = "/srv/other-inbox"
)";
  ConfigChanges changes = CompareConfigs(Parse(kRunning), Parse(next));
  EXPECT_EQ(changes.added, Names{"new"});
  EXPECT_EQ(changes.removed, Names{"old"});
  EXPECT_EQ(changes.changed, Names{"billing"});
  EXPECT_FALSE(changes.mapping_changed);
  EXPECT_TRUE(changes.need_restart.empty());
}

TEST(Reload, AMovedPluginDirChangesEveryInstanceItHolds) {
  std::string next = kRunning;
  next.replace(next.find("/opt/plugins"), 12, "/usr/lib/propbridge/plugins");
  ConfigChanges changes = CompareConfigs(Parse(kRunning), Parse(next));
  EXPECT_EQ(changes.changed, (Names{"billing", "crm", "old"}));
  EXPECT_TRUE(changes.need_restart.empty()) << "plugin_dir applies through its instances";
}

TEST(Reload, NamesEverySettingOnlyARestartApplies) {
  std::string next = kRunning;
  next.replace(next.find("127.0.0.1:50051"), 15, "127.0.0.1:50052");
  next.replace(next.find("max_watches = 256"), 17, "max_watches = 300\nscan_threads = 4");
  next += "[ingest]\nqueue_capacity = 1000\n[identity]\nblocked = [\"TBD\"]\n";
  next.replace(next.find("step = \"HELP\""), 13, "step = \"EMPATHIZE\"");
  ConfigChanges changes = CompareConfigs(Parse(kRunning), Parse(next));
  EXPECT_EQ(changes.need_restart, (Names{"api.scan_threads", "ingest.queue_capacity", "listen"}));
  EXPECT_EQ(changes.rules_changed, (Names{"identity", "api.max_watches"}));
  EXPECT_TRUE(changes.mapping_changed);
  EXPECT_TRUE(changes.added.empty() && changes.removed.empty() && changes.changed.empty());
}

TEST(Reload, WhatRunsKeepsTheStartsSettingsAndTakesThePlugins) {
  std::string next = kRunning;
  next.replace(next.find("127.0.0.1:50051"), 15, "127.0.0.1:50052");
  next.replace(next.find("[plugins.old]"), 13, "[plugins.renamed]");
  LoadedConfig running = ApplyReloadable(Parse(kRunning), Parse(next));
  EXPECT_EQ(running.config.listen, "127.0.0.1:50051");
  ASSERT_EQ(running.config.plugins.size(), 3u);
  EXPECT_EQ(running.config.plugins[2].name, "renamed");

  // The listen address still waits for a restart, and the instances match what runs.
  ConfigChanges again = CompareConfigs(running, Parse(next));
  EXPECT_EQ(again.need_restart, Names{"listen"});
  EXPECT_TRUE(again.added.empty() && again.removed.empty() && again.changed.empty());
}

TEST(Reload, TheRulesForWhatComesNextAreTakenAndTheRestartSettingsKept) {
  std::string next = kRunning;
  next.replace(next.find("max_watches = 256"), 17,
               "max_watches = 300\nscan_queue = 2\nscan_threads = 4");
  next += "[identity]\nblocked = [\"TBD\"]\n[outreach]\nquiet_days = 7\n";
  LoadedConfig running = ApplyReloadable(Parse(kRunning), Parse(next));
  EXPECT_EQ(running.config.max_watches, 300u);
  EXPECT_EQ(running.config.scan_queue, 2u);
  EXPECT_EQ(running.config.scan_threads, 2u) << "sizes the store's connections: a restart";
  EXPECT_EQ(running.config.outreach.quiet_period, std::chrono::days(7));
  EXPECT_TRUE(identity::IsBlocked(
      identity::NormalizeIdentifier("account", "TBD", running.config.identity).status()));

  // What was taken is no change the next time; what waits for a restart still is.
  ConfigChanges again = CompareConfigs(running, Parse(next));
  EXPECT_TRUE(again.rules_changed.empty());
  EXPECT_EQ(again.need_restart, Names{"api.scan_threads"});
}

TEST(Reload, AnEmptiedTableIsNoChange) {
  std::string next = kRunning;
  next.replace(next.find("max_watches = 256"), 17, "");
  ConfigChanges changes = CompareConfigs(Parse(kRunning), Parse(next));
  EXPECT_EQ(changes.rules_changed, Names{"api.max_watches"});
  EXPECT_TRUE(changes.need_restart.empty());
}

TEST(Reload, AnInstanceChangedAfterEarlierReloadsIsChanged) {
  LoadedConfig running = Parse(kRunning);
  for (int i = 0; i < 3; ++i) running = ApplyReloadable(running, Parse(kRunning));
  std::string next = kRunning;
  next.replace(next.find("/srv/inbox"), 10, "/srv/other");
  EXPECT_EQ(CompareConfigs(running, Parse(next)).changed, Names{"billing"}) << running.text;
}

}  // namespace
}  // namespace propbridge::config
