#include "daemon/config/reload.h"

#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <type_traits>
#include <utility>

namespace propbridge::config {
namespace {

// Keys a reload applies ([plugins], [mapping], plugin_dir and kAppliedToWhatComesNext); every
// other one waits for the next start. plugin_dir counts as applied: it moves instances'
// libraries, and so changes those instances.
std::vector<std::string_view> AppliedByReload() {
  std::vector<std::string_view> keys = {"plugins", "mapping", "plugin_dir"};
  keys.insert(keys.end(), std::begin(kAppliedToWhatComesNext), std::end(kAppliedToWhatComesNext));
  return keys;
}

// The table that holds the last part of a dotted key, and that part: for "api.scan_queue",
// [api] and "scan_queue". nullptr when a part on the way is missing or not a table, unless
// `create` makes the missing tables (in a table that may change).
template <typename Table>
std::pair<Table*, std::string_view> Parent(Table& root, std::string_view dotted,
                                           bool create = false) {
  Table* table = &root;
  for (std::size_t dot = dotted.find('.'); dot != std::string_view::npos; dot = dotted.find('.')) {
    const std::string_view part = dotted.substr(0, dot);
    if constexpr (!std::is_const_v<Table>) {
      if (create && !table->contains(part)) table->insert(part, toml::table{});
    }
    table = table->template get_as<toml::table>(part);
    if (table == nullptr) return {nullptr, {}};
    dotted.remove_prefix(dot + 1);
  }
  return {table, dotted};
}

const toml::node* Find(const toml::table& root, std::string_view dotted) {
  auto [table, key] = Parent(root, dotted);
  return table == nullptr ? nullptr : table->get(key);
}

void Erase(toml::table& root, std::string_view dotted) {
  if (auto [table, key] = Parent(root, dotted); table != nullptr) table->erase(key);
}

// Sets `dotted` in `root` to `node`, or erases it when `node` is nullptr.
void Put(toml::table& root, std::string_view dotted, const toml::node* node) {
  if (node == nullptr) return Erase(root, dotted);
  if (auto [table, key] = Parent(root, dotted, /*create=*/true); table != nullptr) {
    table->insert_or_assign(key, *node);
  }
}

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
  static const toml::table kEmpty;
  for (const std::string& key : keys) {
    const toml::node* x = a.get(key);
    const toml::node* y = b.get(key);
    // A table only one side has is compared with an empty one: what the other side lacks is
    // named key by key, and a table left empty once the applied keys are gone is no change.
    if (x == nullptr && y != nullptr && y->is_table()) x = &kEmpty;
    if (y == nullptr && x != nullptr && x->is_table()) y = &kEmpty;
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
  for (std::string_view key : kAppliedToWhatComesNext) {
    if (View(Find(old_root, key)) != View(Find(new_root, key))) {
      changes.rules_changed.emplace_back(key);
    }
  }

  toml::table old_rest = old_root;
  toml::table new_rest = new_root;
  for (std::string_view key : AppliedByReload()) {
    Erase(old_rest, key);
    Erase(new_rest, key);
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
  applied.config.identity = std::move(next.config.identity);
  applied.config.outreach = std::move(next.config.outreach);
  applied.config.max_watches = next.config.max_watches;
  applied.config.max_watches_per_client = next.config.max_watches_per_client;
  applied.config.watch_buffer_events = next.config.watch_buffer_events;
  applied.config.scan_queue = next.config.scan_queue;
  toml::table root = toml::parse(running.text, running.config.source_file.string());
  const toml::table new_root = toml::parse(next.text, next.config.source_file.string());
  for (std::string_view key : AppliedByReload()) Put(root, key, Find(new_root, key));
  std::ostringstream text;
  text << root;
  applied.text = text.str();
  return applied;
}

}  // namespace propbridge::config
