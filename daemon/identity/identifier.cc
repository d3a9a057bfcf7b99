#include "daemon/identity/identifier.h"

#include <algorithm>
#include <utility>

#include "daemon/identity/phone.h"
#include "daemon/identity/text.h"

namespace propbridge::identity {
namespace {

bool IsTypeName(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

std::string LowerAscii(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool IsBlockedValue(std::string_view value, const TypeRule& rule) {
  return std::any_of(rule.blocked.begin(), rule.blocked.end(), [&](const std::string& b) {
    return EqualsIgnoringAsciiCase(TrimSpaces(b), value);
  });
}

// Zeros with at most the separators phone numbers and account numbers are written with.
bool IsAllZero(std::string_view value) {
  bool zero = false;
  for (char c : value) {
    if (c == '0') {
      zero = true;
    } else if (c != ' ' && c != '-' && c != '.' && c != '(' && c != ')' && c != '+') {
      return false;
    }
  }
  return zero;
}

// A value as a refusal may quote it: a phone number is masked.
std::string Quoted(std::string_view value, const TypeRule& rule) {
  return "'" + (rule.form == ValueForm::kPhone ? MaskPhone(value) : std::string(value)) + "'";
}

Status WithType(const Status& status, std::string_view type) {
  return Status(status.code(), std::string(type) + ": " + status.message());
}

Result<std::string> NormalizeText(std::string_view value, const TypeRule& rule) {
  std::string text = CollapseSpaces(value);
  for (char& c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) return InvalidArgument("has a control character");
    if (rule.fold_case && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return text;
}

}  // namespace

const std::vector<std::string>& DefaultBlockedValues() {
  static const std::vector<std::string> kBlocked = {
      "",    "0",   "-1",        "null", "none", "unknown", "n/a",  "-",    "--",
      "nil", "nan", "undefined", "#n/a", "无",   "未知",    "暂无", "不详",
  };
  return kBlocked;
}

IdentityRules IdentityRules::Defaults() {
  IdentityRules rules;
  for (const char* type : {"phone", "account", "contract", "member"}) {
    rules.types[type].linkage = Linkage::kStrong;
  }
  rules.types["phone"].form = ValueForm::kPhone;
  rules.types["phone"].max_customers = 3;
  rules.types["unit"].linkage = Linkage::kOccupancy;
  rules.types["unit"].form = ValueForm::kUnit;
  rules.aliases = {{"mobile", "phone"},
                   {"tel", "phone"},
                   {"account_no", "account"},
                   {"contract_no", "contract"},
                   {"member_id", "member"}};
  return rules;
}

const TypeRule& IdentityRules::RuleFor(std::string_view type) const {
  auto it = types.find(type);
  return it == types.end() ? unknown_type : it->second;
}

UnitFormSet IdentityRules::UnitFormsFor(std::string_view community) const {
  auto it = unit_forms_by_community.find(community);
  return it == unit_forms_by_community.end() ? default_unit_forms : it->second;
}

namespace {

bool KindMatches(std::string_view kind, const std::vector<std::string>& entries) {
  for (const std::string& entry : entries) {
    if (kind == entry) return true;
    if (kind.size() > entry.size() && kind.ends_with(entry) &&
        kind[kind.size() - entry.size() - 1] == '.') {
      return true;
    }
  }
  return false;
}

}  // namespace

bool IdentityRules::OpensOccupancy(std::string_view kind) const {
  return KindMatches(kind, occupancy_opening_kinds);
}

bool IdentityRules::ClosesOccupancy(std::string_view kind) const {
  return KindMatches(kind, occupancy_closing_kinds);
}

Status ValidateRules(const IdentityRules& rules) {
  auto check_rule = [](const std::string& name, const TypeRule& rule) -> Status {
    if (rule.max_customers == std::size_t{0}) {
      return InvalidArgument("identifier type '" + name + "': max_customers must be at least 1");
    }
    if ((rule.form == ValueForm::kUnit) != (rule.linkage == Linkage::kOccupancy)) {
      return InvalidArgument("identifier type '" + name +
                             "': units, and only units, link by occupancy");
    }
    return Status::Ok();
  };
  for (const auto& [name, rule] : rules.types) {
    if (!IsTypeName(name)) {
      return InvalidArgument("identifier type '" + name +
                             "': use lower-case letters, digits and '_'");
    }
    if (Status s = check_rule(name, rule); !s.ok()) return s;
  }
  if (Status s = check_rule("(unknown types)", rules.unknown_type); !s.ok()) return s;
  for (const auto& [alias, type] : rules.aliases) {
    if (!IsTypeName(alias)) {
      return InvalidArgument("identifier alias '" + alias +
                             "': use lower-case letters, digits and '_'");
    }
    if (rules.types.contains(alias)) {
      return InvalidArgument("identifier alias '" + alias + "' is also a type");
    }
    if (!rules.types.contains(type)) {
      return InvalidArgument("identifier alias '" + alias + "' names type '" + type +
                             "', which is not configured");
    }
  }
  for (const auto& [community, forms] : rules.unit_forms_by_community) {
    Result<std::string> normalized = NormalizeCommunity(community);
    if (!normalized.ok()) return normalized.status();
    if (*normalized != community || community.empty()) {
      return InvalidArgument("community '" + community +
                             "': write the name without outer or doubled spaces or full-width "
                             "letters");
    }
    if (forms.empty()) return InvalidArgument("community '" + community + "' accepts no unit form");
  }
  return Status::Ok();
}

std::string Identifier::Text() const { return type + ":" + value; }

Result<Identifier> Identifier::FromText(std::string_view text) {
  std::size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
    return InvalidArgument("an identifier is written type:value");
  }
  Identifier id{std::string(text.substr(0, colon)), std::string(text.substr(colon + 1))};
  if (!IsTypeName(id.type))
    return InvalidArgument("identifier type '" + id.type + "' is not canonical");
  return id;
}

Result<std::string> NormalizeType(std::string_view type, const IdentityRules& rules) {
  std::string name = LowerAscii(TrimSpaces(FoldWidth(type)));
  if (name.empty()) return InvalidArgument("an identifier has no type");
  if (!IsTypeName(name)) {
    return InvalidArgument("identifier type '" + name + "' may hold only letters, digits and '_'");
  }
  if (auto alias = rules.aliases.find(name); alias != rules.aliases.end()) return alias->second;
  return name;
}

Result<Identifier> NormalizeIdentifier(std::string_view type, std::string_view raw,
                                       const IdentityRules& rules, std::string_view community) {
  Result<std::string> type_name = NormalizeType(type, rules);
  if (!type_name.ok()) return type_name.status();
  const TypeRule& rule = rules.RuleFor(*type_name);

  std::string folded = FoldWidth(raw);
  std::string_view text = TrimSpaces(folded);
  if (IsBlockedValue(text, rule) || (rule.block_all_zero && IsAllZero(text))) {
    return FailedPrecondition(*type_name + ": " + Quoted(text, rule) + " is a placeholder");
  }
  if (text.empty()) return InvalidArgument(*type_name + ": is empty");

  Result<std::string> value = std::string();
  switch (rule.form) {
    case ValueForm::kText:
      value = NormalizeText(text, rule);
      break;
    case ValueForm::kPhone:
      value = NormalizePhone(text);
      break;
    case ValueForm::kUnit: {
      Result<std::string> community_name = NormalizeCommunity(community);
      if (!community_name.ok()) return WithType(community_name.status(), *type_name);
      Result<UnitAddress> unit =
          ParseUnitAddress(text, *community_name, rules.UnitFormsFor(*community_name));
      value = unit.ok() ? Result<std::string>(unit->Text()) : Result<std::string>(unit.status());
      break;
    }
  }
  if (!value.ok()) return WithType(value.status(), *type_name);
  // Reading can make a placeholder: "000\t000" becomes "000 000".
  if (IsBlockedValue(*value, rule) || (rule.block_all_zero && IsAllZero(*value))) {
    return FailedPrecondition(*type_name + ": " + Quoted(*value, rule) + " is blocked");
  }
  return Identifier{std::move(type_name).value(), std::move(value).value()};
}

Result<Identifier> NormalizeIdentifier(const sdk::Identifier& raw, const IdentityRules& rules,
                                       std::string_view community) {
  return NormalizeIdentifier(raw.type, raw.value, rules, community);
}

std::string LogText(const Identifier& id, const IdentityRules& rules) {
  bool phone = rules.RuleFor(id.type).form == ValueForm::kPhone;
  return id.type + ":" + (phone ? MaskPhone(id.value) : id.value);
}

}  // namespace propbridge::identity
