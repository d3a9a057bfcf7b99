#include "daemon/config/config.h"

#include <date/tz.h>
#include <toml++/toml.h>

#include <cctype>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <sstream>

namespace propbridge::config {
namespace {

namespace fs = std::filesystem;

// Collects the first error, phrased "<file>: <key>: <what is wrong>".
class Reader {
 public:
  explicit Reader(fs::path file) : file_(std::move(file)) {}

  Status Error(const std::string& key, const std::string& what) const {
    return InvalidArgument(file_.string() + ": " + key + ": " + what);
  }

  // Rejects keys this version does not know, so a typo is not silently ignored.
  Status CheckKeys(const toml::table& table, const std::string& prefix,
                   const std::set<std::string>& known) const {
    for (const auto& [key, value] : table) {
      if (!known.contains(std::string(key.str()))) {
        return Error(prefix + std::string(key.str()), "unknown key");
      }
    }
    return Status::Ok();
  }

  Status String(const toml::table& t, const std::string& prefix, const char* key,
                std::string& out) const {
    const toml::node* node = t.get(key);
    if (node == nullptr) return Status::Ok();
    auto value = node->value<std::string>();
    if (!value || !node->is_string()) return Error(prefix + key, "must be a string");
    out = *value;
    return Status::Ok();
  }

  Status Bool(const toml::table& t, const std::string& prefix, const char* key, bool& out) const {
    const toml::node* node = t.get(key);
    if (node == nullptr) return Status::Ok();
    if (!node->is_boolean()) return Error(prefix + key, "must be true or false");
    out = *node->value<bool>();
    return Status::Ok();
  }

  Status PositiveInt(const toml::table& t, const std::string& prefix, const char* key,
                     std::int64_t& out) const {
    const toml::node* node = t.get(key);
    if (node == nullptr) return Status::Ok();
    if (!node->is_integer() || *node->value<std::int64_t>() <= 0) {
      return Error(prefix + key, "must be a whole number above 0");
    }
    out = *node->value<std::int64_t>();
    return Status::Ok();
  }

  // A whole number from `min` to `max`, into an integer or a std::chrono::milliseconds.
  template <typename Out>
  Status Whole(const toml::table& t, const std::string& prefix, const char* key, std::int64_t min,
               Out& out, std::int64_t max = std::numeric_limits<std::int64_t>::max()) const {
    const toml::node* node = t.get(key);
    if (node == nullptr) return Status::Ok();
    std::optional<std::int64_t> value =
        node->is_integer() ? node->value<std::int64_t>() : std::nullopt;
    if (!value || *value < min || *value > max) {
      return Error(prefix + key, max == std::numeric_limits<std::int64_t>::max()
                                     ? "must be a whole number of at least " + std::to_string(min)
                                     : "must be a whole number from " + std::to_string(min) +
                                           " to " + std::to_string(max));
    }
    out = Out(*value);
    return Status::Ok();
  }

  // The sub-table `key` of `t`, if there is one, checked for unknown keys.
  Result<const toml::table*> Table(const toml::table& t, const std::string& prefix, const char* key,
                                   const std::set<std::string>& known) const {
    const toml::node* node = t.get(key);
    if (node == nullptr) return static_cast<const toml::table*>(nullptr);
    if (!node->is_table()) return Error(prefix + key, "must be a table");
    Status checked = CheckKeys(*node->as_table(), prefix + key + ".", known);
    if (!checked.ok()) return checked;
    return node->as_table();
  }

  fs::path Resolve(const std::string& path) const {
    fs::path p(path);
    return p.is_absolute() ? p : fs::absolute(file_.parent_path() / p).lexically_normal();
  }

 private:
  fs::path file_;
};

#define PB_RETURN_IF_ERROR(expr)       \
  do {                                 \
    Status status_ = (expr);           \
    if (!status_.ok()) return status_; \
  } while (false)

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::optional<std::string> ScalarText(const toml::node& node) {
  if (auto s = node.value_exact<std::string>()) return *s;
  if (auto i = node.value_exact<std::int64_t>()) return std::to_string(*i);
  if (auto b = node.value_exact<bool>()) return std::string(*b ? "true" : "false");
  if (auto d = node.value_exact<double>()) {
    std::ostringstream text;
    text << *d;
    return text.str();
  }
  return std::nullopt;
}

// Settings reach a plugin as strings: nested tables as "table.key", arrays comma-joined.
Status Flatten(const Reader& r, const toml::table& table, const std::string& prefix,
               const std::string& where, std::map<std::string, std::string>& out) {
  for (const auto& [key, node] : table) {
    std::string name = prefix + std::string(key.str());
    if (const toml::table* sub = node.as_table()) {
      PB_RETURN_IF_ERROR(Flatten(r, *sub, name + ".", where, out));
      continue;
    }
    std::optional<std::string> text;
    if (const toml::array* array = node.as_array()) {
      text.emplace();
      for (const toml::node& item : *array) {
        auto item_text = ScalarText(item);
        if (!item_text) {
          text.reset();
          break;
        }
        if (!text->empty()) *text += ",";
        *text += *item_text;
      }
    } else {
      text = ScalarText(node);
    }
    if (!text) {
      return r.Error(where + name, "must be a string, number, boolean or an array of them");
    }
    out[name] = std::move(*text);
  }
  return Status::Ok();
}

Result<std::vector<MappingRule>> ReadMapping(const Reader& r, const toml::table& table,
                                             const std::string& prefix) {
  std::vector<MappingRule> rules;
  for (const auto& [key, node] : table) {
    std::string where = prefix + "\"" + std::string(key.str()) + "\"";
    const toml::table* rule_table = node.as_table();
    if (rule_table == nullptr) {
      return r.Error(where, "must be a table like { step = \"HELP\", initiative = \"PROACTIVE\" }");
    }
    PB_RETURN_IF_ERROR(r.CheckKeys(*rule_table, where + ".", {"step", "initiative"}));
    MappingRule rule;
    rule.kind_prefix = std::string(key.str());
    std::string step, initiative;
    PB_RETURN_IF_ERROR(r.String(*rule_table, where + ".", "step", step));
    PB_RETURN_IF_ERROR(r.String(*rule_table, where + ".", "initiative", initiative));
    auto parsed_step = ParseStep(step);
    if (!parsed_step) {
      return r.Error(
          where + ".step",
          "must be one of KNOW, UNDERSTAND, HELP, EMPATHIZE, DELIGHT, not '" + step + "'");
    }
    rule.step = *parsed_step;
    if (!initiative.empty()) {
      auto parsed = ParseInitiative(initiative);
      if (!parsed) {
        return r.Error(where + ".initiative",
                       "must be PROACTIVE or REACTIVE, not '" + initiative + "'");
      }
      rule.initiative = *parsed;
    }
    rules.push_back(std::move(rule));
  }
  return rules;
}

Status ReadRestartPolicy(const Reader& r, const toml::table& plugin, const std::string& prefix,
                         RestartPolicy& out) {
  auto table = r.Table(plugin, prefix, "restart",
                       {"backoff_base_ms", "backoff_cap_ms", "max_failures", "stable_after_ms"});
  if (!table.ok()) return table.status();
  if (*table == nullptr) return Status::Ok();
  const std::string p = prefix + "restart.";
  PB_RETURN_IF_ERROR(r.Whole(**table, p, "backoff_base_ms", 1, out.backoff_base));
  PB_RETURN_IF_ERROR(r.Whole(**table, p, "backoff_cap_ms", 1, out.backoff_cap));
  PB_RETURN_IF_ERROR(r.Whole(**table, p, "max_failures", 1, out.max_failures));
  PB_RETURN_IF_ERROR(r.Whole(**table, p, "stable_after_ms", 1, out.stable_after));
  if (out.backoff_cap < out.backoff_base) {
    return r.Error(p + "backoff_cap_ms", "must not be below backoff_base_ms");
  }
  return Status::Ok();
}

Status ReadLimits(const Reader& r, const toml::table& plugin, const std::string& prefix,
                  PluginLimits& out) {
  auto table = r.Table(plugin, prefix, "limits",
                       {"memory_mb", "max_batch_events", "max_batch_bytes", "max_events_per_second",
                        "start_timeout_ms", "heartbeat_timeout_ms"});
  if (!table.ok()) return table.status();
  if (*table == nullptr) return Status::Ok();
  const std::string p = prefix + "limits.";
  PB_RETURN_IF_ERROR(r.Whole(**table, p, "memory_mb", 0, out.memory_mb));
  PB_RETURN_IF_ERROR(r.Whole(**table, p, "max_batch_events", 1, out.max_batch_events));
  PB_RETURN_IF_ERROR(r.Whole(**table, p, "max_batch_bytes", 1024, out.max_batch_bytes));
  PB_RETURN_IF_ERROR(r.Whole(**table, p, "max_events_per_second", 0, out.max_events_per_second));
  PB_RETURN_IF_ERROR(r.Whole(**table, p, "start_timeout_ms", 1, out.start_timeout));
  PB_RETURN_IF_ERROR(r.Whole(**table, p, "heartbeat_timeout_ms", 100, out.heartbeat_timeout));
  if (out.max_batch_bytes > (std::size_t{1} << 30)) {
    return r.Error(p + "max_batch_bytes", "must be at most 1073741824 (1 GiB)");
  }
  return Status::Ok();
}

Result<PluginConfig> ReadPlugin(const Reader& r, const Config& config, std::string name,
                                const toml::table& table) {
  std::string prefix = "plugins." + name + ".";
  PB_RETURN_IF_ERROR(r.CheckKeys(table, prefix,
                                 {"library", "time_zone", "enabled", "in_process", "settings",
                                  "mapping", "restart", "limits"}));
  PluginConfig plugin;
  plugin.name = name;
  std::string library;
  PB_RETURN_IF_ERROR(r.String(table, prefix, "library", library));
  if (library.empty()) return r.Error(prefix + "library", "is required: the plugin's .so file");
  plugin.library =
      fs::path(library).is_absolute() ? fs::path(library) : config.plugin_dir / library;
  PB_RETURN_IF_ERROR(r.String(table, prefix, "time_zone", plugin.time_zone));
  try {
    date::locate_zone(plugin.time_zone);
  } catch (const std::exception&) {
    return r.Error(prefix + "time_zone", "unknown time zone '" + plugin.time_zone +
                                             "' (use an IANA name like Asia/Shanghai)");
  }
  PB_RETURN_IF_ERROR(r.Bool(table, prefix, "enabled", plugin.enabled));
  PB_RETURN_IF_ERROR(r.Bool(table, prefix, "in_process", plugin.in_process));
  PB_RETURN_IF_ERROR(ReadRestartPolicy(r, table, prefix, plugin.restart));
  PB_RETURN_IF_ERROR(ReadLimits(r, table, prefix, plugin.limits));
  if (const toml::node* settings = table.get("settings")) {
    if (!settings->is_table()) return r.Error(prefix + "settings", "must be a table");
    std::map<std::string, std::string> values;
    PB_RETURN_IF_ERROR(Flatten(r, *settings->as_table(), "", prefix + "settings.", values));
    plugin.settings = sdk::Settings(std::move(values));
  }
  if (const toml::node* mapping = table.get("mapping")) {
    if (!mapping->is_table()) return r.Error(prefix + "mapping", "must be a table");
    auto rules = ReadMapping(r, *mapping->as_table(), prefix + "mapping.");
    if (!rules.ok()) return rules.status();
    plugin.mapping = std::move(*rules);
  }
  return plugin;
}

bool IsValidSourceName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

}  // namespace

std::optional<sdk::Step> ParseStep(std::string_view name) {
  std::string n = Upper(name);
  if (n == "KNOW") return sdk::Step::kKnow;
  if (n == "UNDERSTAND") return sdk::Step::kUnderstand;
  if (n == "HELP") return sdk::Step::kHelp;
  if (n == "EMPATHIZE") return sdk::Step::kEmpathize;
  if (n == "DELIGHT") return sdk::Step::kDelight;
  return std::nullopt;
}

std::optional<sdk::Initiative> ParseInitiative(std::string_view name) {
  std::string n = Upper(name);
  if (n == "PROACTIVE") return sdk::Initiative::kProactive;
  if (n == "REACTIVE") return sdk::Initiative::kReactive;
  return std::nullopt;
}

Result<Config> ParseConfig(const std::string& toml_text, const fs::path& file) {
  Reader r(file);
  toml::table root;
  try {
    root = toml::parse(toml_text, file.string());
  } catch (const toml::parse_error& e) {
    return InvalidArgument(file.string() + ":" + std::to_string(e.source().begin.line) + ": " +
                           std::string(e.description()));
  }
  PB_RETURN_IF_ERROR(r.CheckKeys(root, "",
                                 {"listen", "data_dir", "plugin_dir", "plugin_host", "ingest",
                                  "api", "plugins", "mapping", "shutdown"}));

  Config config;
  config.source_file = file;
  PB_RETURN_IF_ERROR(r.String(root, "", "listen", config.listen));
  if (config.listen.rfind(':') == std::string::npos) {
    return r.Error("listen",
                   "must be host:port, like 127.0.0.1:50051, not '" + config.listen + "'");
  }
  std::string data_dir, plugin_dir, plugin_host;
  PB_RETURN_IF_ERROR(r.String(root, "", "data_dir", data_dir));
  PB_RETURN_IF_ERROR(r.String(root, "", "plugin_dir", plugin_dir));
  PB_RETURN_IF_ERROR(r.String(root, "", "plugin_host", plugin_host));
  if (!plugin_host.empty()) config.plugin_host = r.Resolve(plugin_host);
  if (data_dir.empty()) return r.Error("data_dir", "is required: where the store lives");
  config.data_dir = r.Resolve(data_dir);
  config.plugin_dir = r.Resolve(plugin_dir.empty() ? "." : plugin_dir);

  if (const toml::node* ingest = root.get("ingest")) {
    if (!ingest->is_table()) return r.Error("ingest", "must be a table");
    PB_RETURN_IF_ERROR(r.CheckKeys(*ingest->as_table(), "ingest.", {"queue_capacity"}));
    std::int64_t capacity = static_cast<std::int64_t>(config.queue_capacity);
    PB_RETURN_IF_ERROR(r.PositiveInt(*ingest->as_table(), "ingest.", "queue_capacity", capacity));
    config.queue_capacity = static_cast<std::size_t>(capacity);
  }
  auto api = r.Table(root, "", "api", {"max_watches", "watch_buffer_events"});
  if (!api.ok()) return api.status();
  if (*api != nullptr) {
    PB_RETURN_IF_ERROR(r.Whole(**api, "api.", "max_watches", 1, config.max_watches, 100000));
    PB_RETURN_IF_ERROR(
        r.Whole(**api, "api.", "watch_buffer_events", 1, config.watch_buffer_events, 1000000));
  }
  if (const toml::node* shutdown = root.get("shutdown")) {
    if (!shutdown->is_table()) return r.Error("shutdown", "must be a table");
    PB_RETURN_IF_ERROR(r.CheckKeys(*shutdown->as_table(), "shutdown.", {"plugin_stop_timeout_ms"}));
    std::int64_t ms = config.plugin_stop_timeout.count();
    PB_RETURN_IF_ERROR(
        r.PositiveInt(*shutdown->as_table(), "shutdown.", "plugin_stop_timeout_ms", ms));
    config.plugin_stop_timeout = std::chrono::milliseconds(ms);
  }
  if (const toml::node* mapping = root.get("mapping")) {
    if (!mapping->is_table()) return r.Error("mapping", "must be a table");
    auto rules = ReadMapping(r, *mapping->as_table(), "mapping.");
    if (!rules.ok()) return rules.status();
    config.mapping = std::move(*rules);
  }
  if (const toml::node* plugins = root.get("plugins")) {
    if (!plugins->is_table()) return r.Error("plugins", "must be a table of plugin instances");
    for (const auto& [key, node] : *plugins->as_table()) {
      std::string name(key.str());
      if (!IsValidSourceName(name)) {
        return r.Error("plugins." + name, "an instance name is 1-64 letters, digits, '-' or '_'");
      }
      if (!node.is_table()) return r.Error("plugins." + name, "must be a table");
      auto plugin = ReadPlugin(r, config, name, *node.as_table());
      if (!plugin.ok()) return plugin.status();
      config.plugins.push_back(std::move(*plugin));
    }
  }
  return config;
}

Result<Config> LoadConfig(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return InvalidArgument(file.string() + ": cannot read the configuration file");
  std::ostringstream text;
  text << in.rdbuf();
  return ParseConfig(text.str(), file);
}

}  // namespace propbridge::config
