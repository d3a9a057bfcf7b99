#include "daemon/config/reload.h"

#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

namespace propbridge::config {
namespace {

// Top-level keys a reload applies; every other one waits for the next start. plugin_dir counts
// as applied: it moves instances' libraries, and so changes those instances.
constexpr std::string_view kAppliedByReload[] = {"plugins", "mapping", "plugin_dir"};

toml::node_view<const toml::node> View(const toml::node* node) {
  return toml::node_view<const toml::node>(node);
}

// The dotted keys under `prefix` whose values differ: a table's keys one by one, anything else
// whole. toml++ compares values, so layout, comments and key order do not count.
void AddDifferences(const toml::table& a, const toml::table& b, const std::string& prefix,
                    std::vector<std::string>& out) {
  std::set<std::string> keys;
  for (const auto& [key, node] : a) keys.emplace(key.str());
  for (const auto& [key, node] : b) keys.emplace(key.str());
  for (const std::string& key : keys) {
    const toml::node* x = a.get(key);
    const toml::node* y = b.get(key);
    if (x != nullptr && y != nullptr && x->is_table() && y->is_table()) {
      AddDifferences(*x->as_table(), *y->as_table(), prefix + key + ".", out);
    } else if (x == nullptr || y == nullptr || View(x) != View(y)) {
      out.push_back(prefix + key);
    }
  }
}

const PluginConfig* FindPlugin(const Config& config, const std::string& name) {
  auto it = std::ranges::find(config.plugins, name, &PluginConfig::name);
  return it == config.plugins.end() ? nullptr : &*it;
}

const toml::node* PluginTable(const toml::table& root, const std::string& name) {
  const toml::table* plugins = root.get_as<toml::table>("plugins");
  return plugins == nullptr ? nullptr : plugins->get(name);
}

}  // namespace

Result<LoadedConfig> LoadConfigFile(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return InvalidArgument(file.string() + ": cannot read the configuration file");
  std::ostringstream text;
  text << in.rdbuf();
  auto config = ParseConfig(text.str(), file);
  if (!config.ok()) return config.status();
  return LoadedConfig{std::move(*config), text.str()};
}

ConfigChanges CompareConfigs(const LoadedConfig& running, const LoadedConfig& next) {
  const toml::table old_root = toml::parse(running.text, running.config.source_file.string());
  const toml::table new_root = toml::parse(next.text, next.config.source_file.string());
  ConfigChanges changes;

  for (const PluginConfig& plugin : next.config.plugins) {
    const PluginConfig* before = FindPlugin(running.config, plugin.name);
    if (before == nullptr) {
      changes.added.push_back(plugin.name);
    } else if (before->library != plugin.library || View(PluginTable(old_root, plugin.name)) !=
                                                        View(PluginTable(new_root, plugin.name))) {
      changes.changed.push_back(plugin.name);
    }
  }
  for (const PluginConfig& plugin : running.config.plugins) {
    if (FindPlugin(next.config, plugin.name) == nullptr) changes.removed.push_back(plugin.name);
  }
  changes.mapping_changed = View(old_root.get("mapping")) != View(new_root.get("mapping"));

  toml::table old_rest = old_root;
  toml::table new_rest = new_root;
  for (std::string_view key : kAppliedByReload) {
    old_rest.erase(key);
    new_rest.erase(key);
  }
  AddDifferences(old_rest, new_rest, "", changes.need_restart);

  const auto& old_tls = running.config.tls;
  const auto& new_tls = next.config.tls;
  changes.tls_files_changed =
      old_tls && new_tls && old_tls->files.cert_file == new_tls->files.cert_file &&
      old_tls->files.key_file == new_tls->files.key_file &&
      old_tls->files.client_ca_file == new_tls->files.client_ca_file &&
      (old_tls->cert_chain != new_tls->cert_chain || old_tls->private_key != new_tls->private_key ||
       old_tls->client_ca != new_tls->client_ca);
  return changes;
}

LoadedConfig ApplyReloadable(const LoadedConfig& running, LoadedConfig next) {
  LoadedConfig applied = running;
  applied.config.plugins = std::move(next.config.plugins);
  applied.config.mapping = std::move(next.config.mapping);
  applied.config.plugin_dir = std::move(next.config.plugin_dir);
  toml::table root = toml::parse(running.text, running.config.source_file.string());
  const toml::table new_root = toml::parse(next.text, next.config.source_file.string());
  for (std::string_view key : kAppliedByReload) {
    root.erase(key);
    if (const toml::node* node = new_root.get(key)) root.insert(key, *node);
  }
  std::ostringstream text;
  text << root;
  applied.text = text.str();
  return applied;
}

}  // namespace propbridge::config
