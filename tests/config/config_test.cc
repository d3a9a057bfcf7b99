#include "daemon/config/config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>

#include "daemon/identity/identifier.h"

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
            "from 1 to 86400000");
  // Times are at most a day: a backoff doubled thirty times, or a deadline added to now, could
  // overflow otherwise.
  for (const char* key :
       {"[plugins.b.restart]\nbackoff_base_ms", "[plugins.b.restart]\nbackoff_cap_ms",
        "[plugins.b.restart]\nstable_after_ms", "[plugins.b.limits]\nstart_timeout_ms",
        "[plugins.b.limits]\nheartbeat_timeout_ms"}) {
    EXPECT_NE(ErrorOf(plugin + key + " = 9223372036854775807").find("from "), std::string::npos)
        << key;
  }
  EXPECT_EQ(ErrorOf("data_dir = 'd'\n[shutdown]\nplugin_stop_timeout_ms = 86400001"),
            "/etc/propbridge/test.toml: shutdown.plugin_stop_timeout_ms: must be a whole number "
            "from 1 to 86400000");
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

TEST(Config, ReadsWhereMetricsAreServed) {
  auto off = ParseConfig("data_dir = 'd'\n", "/etc/propbridge/test.toml");
  ASSERT_TRUE(off.ok()) << off.status().message();
  EXPECT_EQ(off->metrics_listen, "") << "no [metrics]: not served";
  // Metrics carry no personal data: another host's address needs no TLS and no opt-in.
  for (std::string listen : {"127.0.0.1:9464", "[::1]:0", "0.0.0.0:9464", "localhost:9464"}) {
    auto config = ParseConfig("data_dir = 'd'\n[metrics]\nlisten = '" + listen + "'\n",
                              "/etc/propbridge/test.toml");
    ASSERT_TRUE(config.ok()) << config.status().message();
    EXPECT_EQ(config->metrics_listen, listen);
  }
  const std::string metrics = "data_dir = 'd'\n[metrics]\n";
  for (std::string listen : {"9464", ":9464", "127.0.0.1:", "127.0.0.1:http", "127.0.0.1:65536"}) {
    EXPECT_EQ(ErrorOf(metrics + "listen = '" + listen + "'"),
              "/etc/propbridge/test.toml: metrics.listen: must be host:port, like 127.0.0.1:9464, "
              "not '" +
                  listen + "'");
  }
  EXPECT_EQ(ErrorOf(metrics + "path = '/m'"),
            "/etc/propbridge/test.toml: metrics.path: unknown key");
  EXPECT_EQ(ErrorOf("data_dir = 'd'\nmetrics = 1"),
            "/etc/propbridge/test.toml: metrics: must be a table");
}

TEST(Config, TheLimitsOnScansAndOnEachClientHaveDefaults) {
  auto config = ParseConfig("data_dir = 'd'\n", "/etc/propbridge/test.toml");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->max_watches_per_client, 0u) << "0: a quarter of max_watches";
  EXPECT_EQ(config->scan_threads, 2u);
  EXPECT_EQ(config->scan_queue, 8u);
  EXPECT_EQ(config->read_wait, std::chrono::milliseconds(1000));
}

TEST(Config, ReadsTheLimitsOnScansAndOnEachClient) {
  auto config = ParseConfig(
      "data_dir = 'd'\n[api]\nmax_watches = 40\nmax_watches_per_client = 40\nscan_threads = 3\n"
      "scan_queue = 0\nread_wait_ms = 250\n",
      "/etc/propbridge/test.toml");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->max_watches_per_client, 40u);
  EXPECT_EQ(config->scan_threads, 3u);
  EXPECT_EQ(config->scan_queue, 0u) << "0: refused whenever every scan thread is busy";
  EXPECT_EQ(config->read_wait, std::chrono::milliseconds(250));

  const std::string api = "data_dir = 'd'\n[api]\n";
  EXPECT_EQ(ErrorOf(api + "max_watches = 40\nmax_watches_per_client = 41"),
            "/etc/propbridge/test.toml: api.max_watches_per_client: must be a whole number from 1 "
            "to 40");
  EXPECT_EQ(ErrorOf(api + "max_watches_per_client = 0"),
            "/etc/propbridge/test.toml: api.max_watches_per_client: must be a whole number from 1 "
            "to 256");
  EXPECT_EQ(ErrorOf(api + "scan_threads = 0"),
            "/etc/propbridge/test.toml: api.scan_threads: must be a whole number from 1 to 64");
  EXPECT_EQ(ErrorOf(api + "scan_queue = -1"),
            "/etc/propbridge/test.toml: api.scan_queue: must be a whole number from 0 to 10000");
  EXPECT_EQ(ErrorOf(api + "read_wait_ms = '1s'"),
            "/etc/propbridge/test.toml: api.read_wait_ms: must be a whole number from 1 to 60000");
}

TEST(Config, IdentityAndOutreachHaveDefaultsWhenAbsent) {
  auto config = ParseConfig(kValid, "/etc/propbridge/test.toml");
  ASSERT_TRUE(config.ok()) << config.status().message();
  const identity::IdentityRules defaults = identity::IdentityRules::Defaults();
  ASSERT_EQ(config->identity.types.size(), defaults.types.size());
  for (const auto& [name, rule] : defaults.types) {
    const identity::TypeRule& read = config->identity.types.at(name);
    EXPECT_EQ(read.linkage, rule.linkage) << name;
    EXPECT_EQ(read.form, rule.form) << name;
    EXPECT_EQ(read.max_customers, rule.max_customers) << name;
    EXPECT_EQ(read.fold_case, rule.fold_case) << name;
    EXPECT_EQ(read.blocked, rule.blocked) << name;
  }
  EXPECT_EQ(config->identity.aliases, defaults.aliases);
  EXPECT_TRUE(config->identity.unit_forms_by_community.empty());
  EXPECT_EQ(config->identity.occupancy_opening_kinds, defaults.occupancy_opening_kinds);
  EXPECT_EQ(config->identity.occupancy_closing_kinds, defaults.occupancy_closing_kinds);
  EXPECT_EQ(config->outreach.complaint_sla, std::chrono::hours(24));
  EXPECT_EQ(config->outreach.new_occupant_window, std::chrono::days(30));
  EXPECT_EQ(config->outreach.quiet_period, std::chrono::days(90));
  EXPECT_EQ(config->plugins[0].community, "");
}

TEST(Config, ReadsTheIdentityRules) {
  auto config = ParseConfig(R"(
data_dir = "d"
[identity]
blocked = ["待定", "TBD"]
occupancy_opening_kinds = ["keys_handed_over", "lease_signed"]
occupancy_closing_kinds = ["lease_ended"]
[identity.types.phone]
max_customers = 5
blocked = ["13800000000"]
[identity.types.account]
fold_case = false
[identity.types.member]
linkage = "weak"
[identity.types.wechat]
linkage = "strong"
max_customers = 1
[identity.types.plate]
[identity.types.room]
linkage = "occupancy"
form = "unit"
[identity.aliases]
weixin = "wechat"
[identity.communities."阳光花园"]
unit_forms = ["chinese", "dashed"]
[identity.communities."Ｒｉｖｅｒ  Park"]
unit_forms = ["english"]
)",
                            "/etc/propbridge/test.toml");
  ASSERT_TRUE(config.ok()) << config.status().message();
  const identity::IdentityRules& rules = config->identity;
  auto blocks = [](const identity::TypeRule& rule, const std::string& value) {
    return std::find(rule.blocked.begin(), rule.blocked.end(), value) != rule.blocked.end();
  };

  // A type of the defaults changes only where configured.
  const identity::TypeRule& phone = rules.types.at("phone");
  EXPECT_EQ(phone.linkage, identity::Linkage::kStrong);
  EXPECT_EQ(phone.form, identity::ValueForm::kPhone);
  EXPECT_EQ(phone.max_customers, 5u);
  EXPECT_TRUE(blocks(phone, "unknown"));
  EXPECT_TRUE(blocks(phone, "待定"));
  EXPECT_TRUE(blocks(phone, "13800000000"));
  EXPECT_FALSE(rules.types.at("account").fold_case);
  EXPECT_EQ(rules.types.at("account").linkage, identity::Linkage::kStrong);
  EXPECT_EQ(rules.types.at("member").linkage, identity::Linkage::kWeak);
  EXPECT_FALSE(blocks(rules.types.at("account"), "13800000000"));

  // A new type starts weak and text.
  const identity::TypeRule& wechat = rules.types.at("wechat");
  EXPECT_EQ(wechat.linkage, identity::Linkage::kStrong);
  EXPECT_EQ(wechat.form, identity::ValueForm::kText);
  EXPECT_EQ(wechat.max_customers, 1u);
  const identity::TypeRule& plate = rules.types.at("plate");
  EXPECT_EQ(plate.linkage, identity::Linkage::kWeak);
  EXPECT_EQ(plate.form, identity::ValueForm::kText);
  EXPECT_TRUE(blocks(plate, "null"));
  EXPECT_TRUE(blocks(plate, "TBD"));
  EXPECT_EQ(rules.types.at("room").linkage, identity::Linkage::kOccupancy);
  EXPECT_EQ(rules.types.at("room").form, identity::ValueForm::kUnit);
  EXPECT_TRUE(blocks(rules.unknown_type, "待定"));

  EXPECT_EQ(rules.aliases.at("weixin"), "wechat");
  EXPECT_EQ(rules.aliases.at("mobile"), "phone");
  EXPECT_EQ(rules.UnitFormsFor("阳光花园"),
            (identity::UnitFormSet{identity::UnitForm::kChinese, identity::UnitForm::kDashed}));
  EXPECT_EQ(rules.UnitFormsFor("River Park"), identity::UnitFormSet{identity::UnitForm::kEnglish});
  EXPECT_EQ(rules.UnitFormsFor("幸福里"), identity::UnitFormSet::All());
  EXPECT_TRUE(rules.OpensOccupancy("crm.lease_signed"));
  EXPECT_FALSE(rules.OpensOccupancy("maintenance.moved_in"));
  EXPECT_TRUE(rules.ClosesOccupancy("crm.lease_ended"));

  // The rules as resolution uses them.
  EXPECT_TRUE(identity::IsBlocked(identity::NormalizeIdentifier("weixin", "tbd", rules).status()));
  auto wechat_id = identity::NormalizeIdentifier("weixin", "wx-007", rules);
  ASSERT_TRUE(wechat_id.ok()) << wechat_id.status().message();
  EXPECT_EQ(wechat_id->Text(), "wechat:WX-007");
}

TEST(Config, RefusesBadIdentityRules) {
  const std::string base = "data_dir = 'd'\n";
  const std::string phone = base + "[identity.types.phone]\n";
  const std::string community = base + "[identity.communities.\"阳光花园\"]\n";
  const std::string file = "/etc/propbridge/test.toml: ";
  EXPECT_EQ(ErrorOf(base + "identity = 3"), file + "identity: must be a table");
  EXPECT_EQ(ErrorOf(base + "[identity]\nblock = ['x']"), file + "identity.block: unknown key");
  EXPECT_EQ(ErrorOf(base + "[identity]\nblocked = 'x'"),
            file + "identity.blocked: must be an array of strings");
  EXPECT_EQ(ErrorOf(base + "[identity]\ntypes = { phone = 3 }"),
            file + "identity.types.phone: must be a table");
  EXPECT_EQ(ErrorOf(phone + "limit = 3"), file + "identity.types.phone.limit: unknown key");
  EXPECT_EQ(ErrorOf(phone + "linkage = 'firm'"),
            file + "identity.types.phone.linkage: must be strong, weak or occupancy, not 'firm'");
  EXPECT_EQ(ErrorOf(phone + "linkage = 1"),
            file + "identity.types.phone.linkage: must be strong, weak or occupancy");
  EXPECT_EQ(ErrorOf(phone + "form = 'email'"),
            file + "identity.types.phone.form: must be text, phone or unit, not 'email'");
  EXPECT_EQ(ErrorOf(phone + "max_customers = 0"),
            file + "identity.types.phone.max_customers: must be a whole number of at least 1");
  EXPECT_EQ(ErrorOf(phone + "fold_case = 'yes'"),
            file + "identity.types.phone.fold_case: must be true or false");
  EXPECT_EQ(ErrorOf(phone + "blocked = [1]"),
            file + "identity.types.phone.blocked: must be an array of strings");
  EXPECT_EQ(ErrorOf(base + "[identity.aliases]\nweixin = 3"),
            file + "identity.aliases.weixin: must be the name of an identifier type");

  // What only the rules as a whole can say, from identity::ValidateRules.
  EXPECT_EQ(ErrorOf(base + "[identity.types.Plate]"),
            file + "identity: identifier type 'Plate': use lower-case letters, digits and '_'");
  EXPECT_EQ(ErrorOf(base + "[identity.types.plate]\nform = 'unit'"),
            file + "identity: identifier type 'plate': units, and only units, link by occupancy");
  EXPECT_EQ(ErrorOf(base + "[identity.aliases]\nweixin = 'wechat'"),
            file +
                "identity: identifier alias 'weixin' names type 'wechat', which is not "
                "configured");

  EXPECT_EQ(ErrorOf(base + "[identity.communities.\"a/b\"]\nunit_forms = ['dashed']"),
            file + "identity.communities.\"a/b\": a community name cannot hold '/': 'a/b'");
  EXPECT_EQ(ErrorOf(base + "[identity.communities.\" \"]\nunit_forms = ['dashed']"),
            file + "identity.communities.\" \": a community needs a name");
  EXPECT_NE(ErrorOf(base + "[identity.communities.\"A  B\"]\nunit_forms = ['dashed']\n" +
                    "[identity.communities.\"A B\"]\nunit_forms = ['english']")
                .find("names the same community as"),
            std::string::npos);
  EXPECT_EQ(ErrorOf(base + "[identity.communities]\n\"阳光花园\" = 1"),
            file +
                "identity.communities.\"阳光花园\": must be a table like { unit_forms = "
                "[\"chinese\", \"dashed\"] }");
  EXPECT_EQ(ErrorOf(community + "forms = ['dashed']"),
            file + "identity.communities.\"阳光花园\".forms: unknown key");
  EXPECT_EQ(ErrorOf(community + "unit_forms = ['roman']"),
            file +
                "identity.communities.\"阳光花园\".unit_forms: unknown unit form 'roman'; the "
                "forms are chinese, dashed and english");
  EXPECT_EQ(ErrorOf(community + "unit_forms = []"),
            file +
                "identity.communities.\"阳光花园\".unit_forms: must list at least one of "
                "chinese, dashed and english");
  EXPECT_EQ(ErrorOf(community),
            file +
                "identity.communities.\"阳光花园\".unit_forms: must list at least one of "
                "chinese, dashed and english");

  EXPECT_EQ(ErrorOf(base + "[identity]\noccupancy_opening_kinds = ['', 'moved_in']"),
            file + "identity.occupancy_opening_kinds: must not hold an empty kind");
  EXPECT_EQ(ErrorOf(base + "[identity]\noccupancy_closing_kinds = 'moved_out'"),
            file + "identity.occupancy_closing_kinds: must be an array of strings");
}

TEST(Config, ReadsTheOutreachRules) {
  auto config = ParseConfig(
      "data_dir = 'd'\n[outreach]\ncomplaint_sla_hours = 48\nnew_occupant_days = 14\n"
      "quiet_days = 60\n",
      "/etc/propbridge/test.toml");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->outreach.complaint_sla, std::chrono::hours(48));
  EXPECT_EQ(config->outreach.new_occupant_window, std::chrono::days(14));
  EXPECT_EQ(config->outreach.quiet_period, std::chrono::days(60));

  const std::string outreach = "data_dir = 'd'\n[outreach]\n";
  const std::string file = "/etc/propbridge/test.toml: ";
  EXPECT_EQ(ErrorOf("data_dir = 'd'\noutreach = 1"), file + "outreach: must be a table");
  EXPECT_EQ(ErrorOf(outreach + "sla_hours = 4"), file + "outreach.sla_hours: unknown key");
  EXPECT_EQ(ErrorOf(outreach + "complaint_sla_hours = 0"),
            file + "outreach.complaint_sla_hours: must be a whole number from 1 to 8760");
  EXPECT_EQ(ErrorOf(outreach + "complaint_sla_hours = 8761"),
            file + "outreach.complaint_sla_hours: must be a whole number from 1 to 8760");
  EXPECT_EQ(ErrorOf(outreach + "new_occupant_days = 3651"),
            file + "outreach.new_occupant_days: must be a whole number from 1 to 3650");
  EXPECT_EQ(ErrorOf(outreach + "quiet_days = '90'"),
            file + "outreach.quiet_days: must be a whole number from 1 to 3650");
}

TEST(Config, ReadsTheCommunityOfAPlugin) {
  auto config =
      ParseConfig("data_dir = 'd'\n[plugins.b]\nlibrary = 'b.so'\ncommunity = '\u3000阳光花园 '\n",
                  "/etc/propbridge/test.toml");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->plugins[0].community, "阳光花园");  // as NormalizeCommunity writes it

  const std::string plugin = "data_dir = 'd'\n[plugins.b]\nlibrary = 'b.so'\n";
  EXPECT_EQ(ErrorOf(plugin + "community = '阳光/花园'"),
            "/etc/propbridge/test.toml: plugins.b.community: a community name cannot hold '/': "
            "'阳光/花园'");
  EXPECT_EQ(ErrorOf(plugin + "community = 7"),
            "/etc/propbridge/test.toml: plugins.b.community: must be a string");
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
