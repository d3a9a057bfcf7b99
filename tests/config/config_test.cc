#include "daemon/config/config.h"

#include <gtest/gtest.h>

namespace propbridge::config {
namespace {

constexpr const char* kValid = R"(
listen = "127.0.0.1:0"
data_dir = "data"
plugin_dir = "/opt/plugins"

[ingest]
queue_capacity = 1000

[mapping]
"billing.reminder" = { step = "HELP" }

[plugins.billing]
library = "libpropbridge_billing.so"
time_zone = "Asia/Shanghai"
[plugins.billing.settings]
inbox = "/srv/inbox"
batch_size = 500
columns = { account = "acct_no" }
[plugins.billing.mapping]
"billing.charge" = { step = "help", initiative = "proactive" }
)";

std::string ErrorOf(const std::string& toml) {
  auto config = ParseConfig(toml, "/etc/propbridge/test.toml");
  EXPECT_FALSE(config.ok());
  return config.status().message();
}

TEST(Config, ReadsEveryKey) {
  auto config = ParseConfig(kValid, "/etc/propbridge/test.toml");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->listen, "127.0.0.1:0");
  EXPECT_EQ(config->data_dir, "/etc/propbridge/data");  // relative to the file
  EXPECT_EQ(config->queue_capacity, 1000u);
  ASSERT_EQ(config->mapping.size(), 1u);
  EXPECT_EQ(config->mapping[0].step, sdk::Step::kHelp);
  ASSERT_EQ(config->plugins.size(), 1u);
  const PluginConfig& billing = config->plugins[0];
  EXPECT_EQ(billing.name, "billing");
  EXPECT_EQ(billing.library, "/opt/plugins/libpropbridge_billing.so");
  EXPECT_EQ(billing.time_zone, "Asia/Shanghai");
  EXPECT_TRUE(billing.enabled);
  EXPECT_EQ(billing.settings.GetString("inbox", ""), "/srv/inbox");
  EXPECT_EQ(*billing.settings.GetInt("batch_size", 0), 500);
  EXPECT_EQ(billing.settings.GetString("columns.account", ""), "acct_no");
  ASSERT_EQ(billing.mapping.size(), 1u);
  EXPECT_EQ(billing.mapping[0].initiative, sdk::Initiative::kProactive);
}

TEST(Config, ErrorsNameTheFileTheKeyAndTheProblem) {
  EXPECT_EQ(ErrorOf("data_dir = 'd'\nlisten = 5"),
            "/etc/propbridge/test.toml: listen: must be a string");
  EXPECT_EQ(ErrorOf("listen = '127.0.0.1:1'"),
            "/etc/propbridge/test.toml: data_dir: is required: where the store lives");
  EXPECT_EQ(ErrorOf("data_dir = 'd'\nlisten_port = 5"),
            "/etc/propbridge/test.toml: listen_port: unknown key");
  EXPECT_EQ(ErrorOf("data_dir = 'd'\n[ingest]\nqueue_capacity = -3"),
            "/etc/propbridge/test.toml: ingest.queue_capacity: must be a whole number above 0");
  EXPECT_NE(ErrorOf("data_dir = 'd'\n[plugins.b]\nlibrary = 'x.so'\ntime_zone = 'Asia/Shangai'")
                .find("plugins.b.time_zone: unknown time zone 'Asia/Shangai'"),
            std::string::npos);
  EXPECT_EQ(ErrorOf("data_dir = 'd'\n[plugins.b]\ntime_zone = 'UTC'"),
            "/etc/propbridge/test.toml: plugins.b.library: is required: the plugin's .so file");
  EXPECT_NE(ErrorOf("data_dir = 'd'\n[mapping]\n\"x.y\" = { step = 'SMILE' }")
                .find("mapping.\"x.y\".step: must be one of KNOW"),
            std::string::npos);
  EXPECT_NE(ErrorOf("data_dir = 'd'\n[plugins.'bad name']\nlibrary = 'x.so'")
                .find("plugins.bad name: an instance name"),
            std::string::npos);
}

TEST(Config, ReadsHowAPluginIsSupervised) {
  auto config = ParseConfig(R"(
data_dir = "d"
plugin_host = "/opt/propbridge/propbridge-plugin-host"
[plugins.b]
library = "b.so"
in_process = true
[plugins.b.restart]
backoff_base_ms = 10
backoff_cap_ms = 20
max_failures = 2
stable_after_ms = 30
[plugins.b.limits]
memory_mb = 0
max_batch_events = 5
max_batch_bytes = 2048
max_events_per_second = 7
start_timeout_ms = 8
heartbeat_timeout_ms = 900
[plugins.c]
library = "c.so"
)",
                            "/etc/propbridge/test.toml");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->plugin_host, "/opt/propbridge/propbridge-plugin-host");
  const PluginConfig& b = config->plugins[0];
  EXPECT_TRUE(b.in_process);
  EXPECT_EQ(b.restart.backoff_base.count(), 10);
  EXPECT_EQ(b.restart.backoff_cap.count(), 20);
  EXPECT_EQ(b.restart.max_failures, 2);
  EXPECT_EQ(b.restart.stable_after.count(), 30);
  EXPECT_EQ(b.limits.memory_mb, 0);
  EXPECT_EQ(b.limits.max_batch_events, 5u);
  EXPECT_EQ(b.limits.max_batch_bytes, 2048u);
  EXPECT_EQ(b.limits.max_events_per_second, 7);
  EXPECT_EQ(b.limits.start_timeout.count(), 8);
  EXPECT_EQ(b.limits.heartbeat_timeout.count(), 900);
  // Isolated, with the defaults, unless configured otherwise.
  const PluginConfig& c = config->plugins[1];
  EXPECT_FALSE(c.in_process);
  EXPECT_EQ(c.restart.max_failures, 5);
  EXPECT_EQ(c.limits.memory_mb, 1024);

  const std::string plugin = "data_dir = 'd'\n[plugins.b]\nlibrary = 'b.so'\n";
  EXPECT_EQ(ErrorOf(plugin + "[plugins.b.restart]\nbackoff_base_ms = 0"),
            "/etc/propbridge/test.toml: plugins.b.restart.backoff_base_ms: must be a whole number "
            "of at least 1");
  EXPECT_EQ(ErrorOf(plugin + "[plugins.b.restart]\nbackoff_base_ms = 100\nbackoff_cap_ms = 10"),
            "/etc/propbridge/test.toml: plugins.b.restart.backoff_cap_ms: must not be below "
            "backoff_base_ms");
  EXPECT_EQ(ErrorOf(plugin + "[plugins.b.limits]\nmemory = 5"),
            "/etc/propbridge/test.toml: plugins.b.limits.memory: unknown key");
  EXPECT_EQ(ErrorOf(plugin + "[plugins.b.limits]\nmax_events_per_second = -1"),
            "/etc/propbridge/test.toml: plugins.b.limits.max_events_per_second: must be a whole "
            "number of at least 0");
  EXPECT_EQ(ErrorOf(plugin + "in_process = 'yes'"),
            "/etc/propbridge/test.toml: plugins.b.in_process: must be true or false");
  EXPECT_EQ(ErrorOf(plugin + "restart = 3"),
            "/etc/propbridge/test.toml: plugins.b.restart: must be a table");
}

TEST(Config, ReadsTheApiLimits) {
  auto config = ParseConfig("data_dir = 'd'\n[api]\nmax_watches = 3\nwatch_buffer_events = 40\n",
                            "/etc/propbridge/test.toml");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->max_watches, 3u);
  EXPECT_EQ(config->watch_buffer_events, 40u);
  EXPECT_EQ(ErrorOf("data_dir = 'd'\n[api]\nmax_watches = 0"),
            "/etc/propbridge/test.toml: api.max_watches: must be a whole number from 1 to 100000");
  EXPECT_EQ(ErrorOf("data_dir = 'd'\n[api]\nmax_watches = 9999999999"),
            "/etc/propbridge/test.toml: api.max_watches: must be a whole number from 1 to 100000");
  EXPECT_EQ(ErrorOf("data_dir = 'd'\n[api]\nwatch_buffer = 5"),
            "/etc/propbridge/test.toml: api.watch_buffer: unknown key");
}

TEST(Config, ThePackagedConfigurationIsValid) {
  auto config = LoadConfig(PACKAGED_CONFIG);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->listen, "127.0.0.1:50051");
  ASSERT_FALSE(config->plugins.empty());
  EXPECT_FALSE(config->plugins[0].in_process);
}

TEST(Config, SyntaxErrorsGiveTheLine) {
  EXPECT_NE(ErrorOf("data_dir = 'd'\n\nlisten = \n").find("test.toml:3:"), std::string::npos);
}

TEST(Config, MissingFileIsAnError) {
  auto config = LoadConfig("/nonexistent/propbridged.toml");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().message(),
            "/nonexistent/propbridged.toml: cannot read the configuration file");
}

}  // namespace
}  // namespace propbridge::config
