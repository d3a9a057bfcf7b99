#include "daemon/config/config.h"

#include <arpa/inet.h>
#include <date/tz.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <tuple>
#include <utility>

#include "daemon/auth/authenticator.h"
#include "daemon/auth/tls_files.h"
#include "daemon/auth/token.h"
#include "daemon/identity/unit_address.h"

namespace propbridge::config {
namespace {

constexpr std::int64_t kMaxMilliseconds = 24 * 60 * 60 * 1000;  // a day

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

  // A whole number from `min` to `max`, into an integer or a std::chrono::milliseconds. A time
  // is at most a day unless `max` says otherwise, so that no arithmetic on it (a backoff
  // doubled thirty times, a deadline added to now, a 32-bit field of the plugin protocol) can
  // overflow.
  template <typename Out>
  Status Whole(const toml::table& t, const std::string& prefix, const char* key, std::int64_t min,
               Out& out, std::int64_t max = std::numeric_limits<std::int64_t>::max()) const {
    if constexpr (std::is_same_v<Out, std::chrono::milliseconds>) {
      max = std::min(max, kMaxMilliseconds);
    }
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

  // One of `choices`, by name: "strong" -> Linkage::kStrong.
  template <typename Out>
  Status Choice(const toml::table& t, const std::string& prefix, const char* key,
                std::initializer_list<std::pair<std::string_view, Out>> choices, Out& out) const {
    const toml::node* node = t.get(key);
    if (node == nullptr) return Status::Ok();
    std::string given = node->value_exact<std::string>().value_or("");
    std::string names;
    for (auto it = choices.begin(); it != choices.end(); ++it) {
      if (it->first == given) {
        out = it->second;
        return Status::Ok();
      }
      names += (it == choices.begin() ? "" : std::next(it) == choices.end() ? " or " : ", ");
      names += it->first;
    }
    return Error(prefix + key, "must be " + names +
                                   (node->is_string() ? ", not '" + given + "'" : std::string()));
  }

  // An array of strings, replacing `out`.
  Status Strings(const toml::table& t, const std::string& prefix, const char* key,
                 std::vector<std::string>& out) const {
    const toml::node* node = t.get(key);
    if (node == nullptr) return Status::Ok();
    const toml::array* array = node->as_array();
    if (array == nullptr) return Error(prefix + key, "must be an array of strings");
    std::vector<std::string> values;
    for (const toml::node& item : *array) {
      if (!item.is_string()) return Error(prefix + key, "must be an array of strings");
      values.push_back(*item.value_exact<std::string>());
    }
    out = std::move(values);
    return Status::Ok();
  }

  // The sub-table `key` of `t`, if there is one; its keys are the caller's to check.
  Result<const toml::table*> Table(const toml::table& t, const std::string& prefix,
                                   const char* key) const {
    const toml::node* node = t.get(key);
    if (node == nullptr) return static_cast<const toml::table*>(nullptr);
    if (!node->is_table()) return Error(prefix + key, "must be a table");
    return node->as_table();
  }

  // The same, checked for unknown keys.
  Result<const toml::table*> Table(const toml::table& t, const std::string& prefix, const char* key,
                                   const std::set<std::string>& known) const {
    auto table = Table(t, prefix, key);
    if (!table.ok() || *table == nullptr) return table;
    Status checked = CheckKeys(**table, prefix + key + ".", known);
    if (!checked.ok()) return checked;
    return table;
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

// Adds the placeholders of `extra` that `rule` does not block yet.
void AddBlocked(identity::TypeRule& rule, const std::vector<std::string>& extra) {
  for (const std::string& value : extra) {
    if (std::find(rule.blocked.begin(), rule.blocked.end(), value) == rule.blocked.end()) {
      rule.blocked.push_back(value);
    }
  }
}

// [identity.types.<name>]: changes `rule` key by key.
Status ReadTypeRule(const Reader& r, const toml::table& table, const std::string& prefix,
                    identity::TypeRule& rule) {
  using identity::Linkage;
  using identity::ValueForm;
  PB_RETURN_IF_ERROR(
      r.CheckKeys(table, prefix, {"linkage", "form", "max_customers", "fold_case", "blocked"}));
  PB_RETURN_IF_ERROR(r.Choice(
      table, prefix, "linkage",
      {{"strong", Linkage::kStrong}, {"weak", Linkage::kWeak}, {"occupancy", Linkage::kOccupancy}},
      rule.linkage));
  PB_RETURN_IF_ERROR(r.Choice(
      table, prefix, "form",
      {{"text", ValueForm::kText}, {"phone", ValueForm::kPhone}, {"unit", ValueForm::kUnit}},
      rule.form));
  PB_RETURN_IF_ERROR(r.Whole(table, prefix, "max_customers", 1, rule.max_customers));
  PB_RETURN_IF_ERROR(r.Bool(table, prefix, "fold_case", rule.fold_case));
  std::vector<std::string> blocked;
  PB_RETURN_IF_ERROR(r.Strings(table, prefix, "blocked", blocked));
  AddBlocked(rule, blocked);
  return Status::Ok();
}

// [identity.communities."<community>"]: the unit forms each community accepts.
Status ReadCommunities(const Reader& r, const toml::table& communities,
                       identity::IdentityRules& rules) {
  std::map<std::string, std::string> keys;  // normalized name -> the key that gave it
  for (const auto& [key, node] : communities) {
    std::string where = "identity.communities.\"" + std::string(key.str()) + "\"";
    Result<std::string> name = identity::NormalizeCommunity(key.str());
    if (!name.ok()) return r.Error(where, name.status().message());
    if (name->empty()) return r.Error(where, "a community needs a name");
    if (auto [first, added] = keys.emplace(*name, key.str()); !added) {
      return r.Error(where, "names the same community as \"" + first->second + "\"");
    }
    const toml::table* table = node.as_table();
    if (table == nullptr) {
      return r.Error(where, "must be a table like { unit_forms = [\"chinese\", \"dashed\"] }");
    }
    PB_RETURN_IF_ERROR(r.CheckKeys(*table, where + ".", {"unit_forms"}));
    std::vector<std::string> form_names;
    PB_RETURN_IF_ERROR(r.Strings(*table, where + ".", "unit_forms", form_names));
    if (form_names.empty()) {
      return r.Error(where + ".unit_forms",
                     "must list at least one of chinese, dashed and english");
    }
    identity::UnitFormSet forms;
    for (const std::string& form_name : form_names) {
      Result<identity::UnitForm> form = identity::UnitFormFromName(form_name);
      if (!form.ok()) return r.Error(where + ".unit_forms", form.status().message());
      forms.Add(*form);
    }
    rules.unit_forms_by_community[*name] = forms;
  }
  return Status::Ok();
}

// Event kinds, or the last parts of kinds: an array of strings, none empty.
Status ReadKinds(const Reader& r, const toml::table& table, const std::string& prefix,
                 const char* key, std::vector<std::string>& out) {
  PB_RETURN_IF_ERROR(r.Strings(table, prefix, key, out));
  if (std::find(out.begin(), out.end(), "") != out.end()) {
    return r.Error(prefix + key, "must not hold an empty kind");
  }
  return Status::Ok();
}

// [identity]: what is configured, over IdentityRules::Defaults(), then validated.
Status ReadIdentity(const Reader& r, const toml::table& root, identity::IdentityRules& rules) {
  auto table = r.Table(root, "", "identity",
                       {"blocked", "types", "aliases", "communities", "occupancy_opening_kinds",
                        "occupancy_closing_kinds"});
  if (!table.ok()) return table.status();
  if (*table == nullptr) return Status::Ok();
  const toml::table& t = **table;
  const std::string p = "identity.";

  auto types = r.Table(t, p, "types");
  if (!types.ok()) return types.status();
  if (*types != nullptr) {
    for (const auto& [key, node] : **types) {
      std::string name(key.str());
      if (!node.is_table()) return r.Error(p + "types." + name, "must be a table");
      PB_RETURN_IF_ERROR(
          ReadTypeRule(r, *node.as_table(), p + "types." + name + ".", rules.types[name]));
    }
  }
  // After the types, so that a type added above blocks them too.
  std::vector<std::string> blocked;
  PB_RETURN_IF_ERROR(r.Strings(t, p, "blocked", blocked));
  for (auto& [name, rule] : rules.types) AddBlocked(rule, blocked);
  AddBlocked(rules.unknown_type, blocked);

  auto aliases = r.Table(t, p, "aliases");
  if (!aliases.ok()) return aliases.status();
  if (*aliases != nullptr) {
    for (const auto& [key, node] : **aliases) {
      std::optional<std::string> type = node.value_exact<std::string>();
      if (!type) {
        return r.Error(p + "aliases." + std::string(key.str()),
                       "must be the name of an identifier type");
      }
      rules.aliases[std::string(key.str())] = *type;
    }
  }
  auto communities = r.Table(t, p, "communities");
  if (!communities.ok()) return communities.status();
  if (*communities != nullptr) PB_RETURN_IF_ERROR(ReadCommunities(r, **communities, rules));
  PB_RETURN_IF_ERROR(ReadKinds(r, t, p, "occupancy_opening_kinds", rules.occupancy_opening_kinds));
  PB_RETURN_IF_ERROR(ReadKinds(r, t, p, "occupancy_closing_kinds", rules.occupancy_closing_kinds));

  Status valid = identity::ValidateRules(rules);
  return valid.ok() ? valid : r.Error("identity", valid.message());
}

// [outreach]: when a customer needs a contact.
Status ReadOutreach(const Reader& r, const toml::table& root, outreach::Rules& rules) {
  auto table =
      r.Table(root, "", "outreach", {"complaint_sla_hours", "new_occupant_days", "quiet_days"});
  if (!table.ok()) return table.status();
  if (*table == nullptr) return Status::Ok();
  const std::string p = "outreach.";
  PB_RETURN_IF_ERROR(r.Whole(**table, p, "complaint_sla_hours", 1, rules.complaint_sla, 8760));
  PB_RETURN_IF_ERROR(r.Whole(**table, p, "new_occupant_days", 1, rules.new_occupant_window, 3650));
  PB_RETURN_IF_ERROR(r.Whole(**table, p, "quiet_days", 1, rules.quiet_period, 3650));
  return Status::Ok();
}

bool IsValidSourceName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

// [api.tls]: the files are read and checked here, so that a key that cannot be read or is
// not the certificate's stops the start with the file named.
Status ReadTls(const Reader& r, const toml::table& api, std::optional<auth::TlsMaterial>& out) {
  auto table = r.Table(api, "api.", "tls", {"cert_file", "key_file", "client_ca_file"});
  if (!table.ok()) return table.status();
  if (*table == nullptr) return Status::Ok();
  const std::string p = "api.tls.";
  std::string cert_file, key_file, client_ca_file;
  PB_RETURN_IF_ERROR(r.String(**table, p, "cert_file", cert_file));
  PB_RETURN_IF_ERROR(r.String(**table, p, "key_file", key_file));
  PB_RETURN_IF_ERROR(r.String(**table, p, "client_ca_file", client_ca_file));
  if (cert_file.empty()) {
    return r.Error(p + "cert_file", "is required: the server's PEM certificate, then its chain");
  }
  if (key_file.empty()) return r.Error(p + "key_file", "is required: the certificate's PEM key");
  auth::TlsFiles files{r.Resolve(cert_file), r.Resolve(key_file),
                       client_ca_file.empty() ? fs::path() : r.Resolve(client_ca_file)};
  auto material = auth::ReadTls(files);
  if (!material.ok()) return r.Error("api.tls", material.status().message());
  out = std::move(*material);
  return Status::Ok();
}

// The keys every [api.auth.<kind>.<name>] table has: role and personal_data.
template <typename Rule>
Status ReadCaller(const Reader& r, const toml::table& table, const std::string& prefix,
                  Rule& rule) {
  if (!table.contains("role")) {
    return r.Error(prefix + "role", "is required: reader, operator or admin");
  }
  PB_RETURN_IF_ERROR(r.Choice(table, prefix, "role",
                              {{auth::RoleName(auth::Role::kReader), auth::Role::kReader},
                               {auth::RoleName(auth::Role::kOperator), auth::Role::kOperator},
                               {auth::RoleName(auth::Role::kAdmin), auth::Role::kAdmin}},
                              rule.role));
  return r.Bool(table, prefix, "personal_data", rule.personal_data);
}

// Calls `read` with the name and table of each [api.auth.<kind>.<name>].
template <typename Read>
Status ForEachCaller(const Reader& r, const toml::table& auth, const char* kind, Read read) {
  const std::string where = std::string("api.auth.") + kind;
  auto table = r.Table(auth, "api.auth.", kind);
  if (!table.ok()) return table.status();
  if (*table == nullptr) return Status::Ok();
  for (const auto& [key, node] : **table) {
    std::string name(key.str());
    if (!IsValidSourceName(name)) {
      return r.Error(where + "." + name, "a name is 1-64 letters, digits, '-' or '_'");
    }
    if (!node.is_table()) return r.Error(where + "." + name, "must be a table");
    PB_RETURN_IF_ERROR(read(name, *node.as_table(), where + "." + name + "."));
  }
  return Status::Ok();
}

// [api.auth]: tokens by their SHA-256, client certificates by subject, each with a role.
Status ReadAuth(const Reader& r, const toml::table& api, auth::AuthRules& rules) {
  auto table = r.Table(api, "api.", "auth", {"tokens", "certificates"});
  if (!table.ok()) return table.status();
  if (*table == nullptr) return Status::Ok();
  PB_RETURN_IF_ERROR(ForEachCaller(
      r, **table, "tokens",
      [&](const std::string& name, const toml::table& t, const std::string& p) -> Status {
        PB_RETURN_IF_ERROR(r.CheckKeys(t, p, {"sha256", "role", "personal_data"}));
        auth::TokenRule& rule = rules.tokens.emplace_back();
        rule.name = name;
        std::string hex;
        PB_RETURN_IF_ERROR(r.String(t, p, "sha256", hex));
        auto hash = auth::ParseSha256Hex(hex);
        if (!hash) {
          return r.Error(p + "sha256",
                         "must be the token's SHA-256 in 64 hex digits (propbridgectl auth "
                         "hash-token makes a token and prints it), never the token itself");
        }
        for (const auth::TokenRule& other : rules.tokens) {
          if (&other != &rule && auth::SameHash(other.sha256, *hash)) {
            return r.Error(p + "sha256", "is the hash of api.auth.tokens." + other.name +
                                             " too: give each caller a token of its own");
          }
        }
        rule.sha256 = *hash;
        return ReadCaller(r, t, p, rule);
      }));
  PB_RETURN_IF_ERROR(ForEachCaller(
      r, **table, "certificates",
      [&](const std::string& name, const toml::table& t, const std::string& p) -> Status {
        PB_RETURN_IF_ERROR(r.CheckKeys(t, p, {"subject", "role", "personal_data"}));
        auth::CertificateRule& rule = rules.certificates.emplace_back();
        rule.name = name;
        std::string text;
        PB_RETURN_IF_ERROR(r.String(t, p, "subject", text));
        auto subject = auth::ParseSubject(text);
        if (!subject.ok()) return r.Error(p + "subject", subject.status().message());
        for (const auth::CertificateRule& other : rules.certificates) {
          if (&other != &rule && other.field == subject->first && other.value == subject->second) {
            return r.Error(p + "subject",
                           "names the same certificates as api.auth.certificates." + other.name);
          }
        }
        std::tie(rule.field, rule.value) = std::move(*subject);
        return ReadCaller(r, t, p, rule);
      }));
  return Status::Ok();
}

// [api.personal_data]: which identifier types and attributes a caller without personal_data
// reads masked; each list replaces its default whole.
Status ReadPersonalData(const Reader& r, const toml::table& api, auth::PersonalDataRules& rules) {
  auto table = r.Table(api, "api.", "personal_data", {"identifier_types", "attributes"});
  if (!table.ok()) return table.status();
  if (*table == nullptr) return Status::Ok();
  const std::string prefix = "api.personal_data.";
  PB_RETURN_IF_ERROR(r.Strings(**table, prefix, "identifier_types", rules.identifier_types));
  PB_RETURN_IF_ERROR(r.Strings(**table, prefix, "attributes", rules.attributes));
  for (const std::string& type : rules.identifier_types) {
    if (type.empty() || type.find(':') != std::string::npos) {
      return r.Error(prefix + "identifier_types",
                     "'" + type + "' is not an identifier type such as phone or name");
    }
  }
  return Status::Ok();
}

// Timelines hold personal data: a port that other hosts reach needs TLS, and tokens need TLS
// wherever they cross a network.
Status CheckExposure(const Reader& r, const Config& config) {
  if (!config.auth.certificates.empty() &&
      (!config.tls || config.tls->files.client_ca_file.empty())) {
    return r.Error("api.auth.certificates",
                   "needs api.tls.client_ca_file, the CA that signs client certificates: without "
                   "it no client presents one");
  }
  if (config.tls || ServesLoopbackOnly(config.listen)) return Status::Ok();
  if (!config.auth.empty()) {
    return r.Error("listen", "'" + config.listen +
                                 "' reaches other hosts, and [api.auth] without [api.tls] "
                                 "would send its tokens over the network in clear text: set "
                                 "[api.tls], or listen on 127.0.0.1");
  }
  if (config.allow_insecure_remote) return Status::Ok();
  return r.Error("listen", "'" + config.listen +
                               "' reaches other hosts, but the API has neither TLS nor auth and "
                               "timelines hold personal data: set [api.tls] and [api.auth] (see "
                               "\"Serving other hosts\" in the README), listen on 127.0.0.1, or "
                               "set [api] allow_insecure_remote = true to serve it unprotected");
}

// [metrics] listen = "host:port", the port a number (0 picks a free one).
Status ReadMetrics(const Reader& r, const toml::table& root, std::string& listen) {
  auto metrics = r.Table(root, "", "metrics", {"listen"});
  if (!metrics.ok()) return metrics.status();
  if (*metrics == nullptr) return Status::Ok();
  PB_RETURN_IF_ERROR(r.String(**metrics, "metrics.", "listen", listen));
  const std::size_t colon = listen.rfind(':');
  const std::string port = colon == std::string::npos ? "" : listen.substr(colon + 1);
  if (colon == 0 || port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      std::stoi(port) > 65535) {
    return r.Error("metrics.listen",
                   "must be host:port, like 127.0.0.1:9464, not '" + listen + "'");
  }
  return Status::Ok();
}

Result<PluginConfig> ReadPlugin(const Reader& r, const Config& config, std::string name,
                                const toml::table& table) {
  std::string prefix = "plugins." + name + ".";
  PB_RETURN_IF_ERROR(r.CheckKeys(table, prefix,
                                 {"library", "time_zone", "community", "enabled", "in_process",
                                  "settings", "mapping", "restart", "limits"}));
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
  PB_RETURN_IF_ERROR(r.String(table, prefix, "community", plugin.community));
  Result<std::string> community = identity::NormalizeCommunity(plugin.community);
  if (!community.ok()) return r.Error(prefix + "community", community.status().message());
  plugin.community = std::move(*community);
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

}  // namespace

bool ServesLoopbackOnly(std::string_view listen) {
  if (listen.starts_with("unix:") || listen.starts_with("unix-abstract:")) return true;
  std::string host(listen.substr(0, listen.rfind(':')));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

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
  PB_RETURN_IF_ERROR(
      r.CheckKeys(root, "",
                  {"listen", "data_dir", "plugin_dir", "plugin_host", "ingest", "api", "plugins",
                   "mapping", "shutdown", "identity", "outreach", "metrics"}));

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
  auto api = r.Table(
      root, "", "api",
      {"max_watches", "watch_buffer_events", "max_watches_per_client", "scan_threads", "scan_queue",
       "read_wait_ms", "allow_insecure_remote", "tls", "auth", "personal_data"});
  if (!api.ok()) return api.status();
  if (*api != nullptr) {
    PB_RETURN_IF_ERROR(r.Whole(**api, "api.", "max_watches", 1, config.max_watches, 100000));
    PB_RETURN_IF_ERROR(
        r.Whole(**api, "api.", "watch_buffer_events", 1, config.watch_buffer_events, 1000000));
    PB_RETURN_IF_ERROR(r.Whole(**api, "api.", "max_watches_per_client", 1,
                               config.max_watches_per_client,
                               static_cast<std::int64_t>(config.max_watches)));
    PB_RETURN_IF_ERROR(r.Whole(**api, "api.", "scan_threads", 1, config.scan_threads, 64));
    PB_RETURN_IF_ERROR(r.Whole(**api, "api.", "scan_queue", 0, config.scan_queue, 10000));
    PB_RETURN_IF_ERROR(r.Whole(**api, "api.", "read_wait_ms", 1, config.read_wait, 60000));
    PB_RETURN_IF_ERROR(
        r.Bool(**api, "api.", "allow_insecure_remote", config.allow_insecure_remote));
    PB_RETURN_IF_ERROR(ReadTls(r, **api, config.tls));
    PB_RETURN_IF_ERROR(ReadAuth(r, **api, config.auth));
    PB_RETURN_IF_ERROR(ReadPersonalData(r, **api, config.auth.personal_data));
  }
  PB_RETURN_IF_ERROR(CheckExposure(r, config));
  PB_RETURN_IF_ERROR(ReadMetrics(r, root, config.metrics_listen));
  if (const toml::node* shutdown = root.get("shutdown")) {
    if (!shutdown->is_table()) return r.Error("shutdown", "must be a table");
    PB_RETURN_IF_ERROR(r.CheckKeys(*shutdown->as_table(), "shutdown.", {"plugin_stop_timeout_ms"}));
    PB_RETURN_IF_ERROR(r.Whole(*shutdown->as_table(), "shutdown.", "plugin_stop_timeout_ms", 1,
                               config.plugin_stop_timeout));
  }
  if (const toml::node* mapping = root.get("mapping")) {
    if (!mapping->is_table()) return r.Error("mapping", "must be a table");
    auto rules = ReadMapping(r, *mapping->as_table(), "mapping.");
    if (!rules.ok()) return rules.status();
    config.mapping = std::move(*rules);
  }
  PB_RETURN_IF_ERROR(ReadIdentity(r, root, config.identity));
  PB_RETURN_IF_ERROR(ReadOutreach(r, root, config.outreach));
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
