// Typed customer identifiers in canonical form, and the rules that say which raw values can
// be one: per type, how values are read, whether they link, which are placeholders. Plain
// values; IdentityRules is read-only once built and then safe to share between threads.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/identity/unit_address.h"
#include "propbridge/sdk/event.h"
#include "propbridge/sdk/status.h"

namespace propbridge::identity {

// What a value of the type does for resolution.
enum class Linkage {
  kStrong,     // links its events to one customer; on two customers at once it merges them
  kWeak,       // kept and searchable, but never links or merges on its own
  kOccupancy,  // a unit: names whoever occupied it at the event's time
};

// How a value of the type is read.
enum class ValueForm {
  kText,   // widths folded, trimmed, inner spaces collapsed, letters upper case if fold_case
  kPhone,  // NormalizePhone
  kUnit,   // ParseUnitAddress, in the event's community
};

// The placeholders vendors write when they do not know: empty, 0, -1, null, none, unknown,
// n/a, -, and their Chinese and spreadsheet kin (无, 未知, 暂无, #N/A, --).
const std::vector<std::string>& DefaultBlockedValues();

struct TypeRule {
  Linkage linkage = Linkage::kWeak;
  ValueForm form = ValueForm::kText;
  // Placeholders that never link, matched case-insensitively against the trimmed, folded value
  // and against the canonical value.
  std::vector<std::string> blocked = DefaultBlockedValues();
  // A value made only of zeros ("0000", "000-0000-0000") is a placeholder too.
  bool block_all_zero = true;
  // Text form only: ASCII letters upper case, so "a-1001" and "A-1001" are one account.
  bool fold_case = true;
  // A value held by more customers than this stops being an identity (a switchboard phone).
  // The resolver applies it; nullopt is no limit.
  std::optional<std::size_t> max_customers;
};

struct IdentityRules {
  // phone, account, contract and member strong (phone limited to 3 customers), unit by
  // occupancy with every unit form, aliases mobile/tel -> phone, account_no -> account,
  // contract_no -> contract, member_id -> member.
  static IdentityRules Defaults();

  // By canonical type name: lower case ASCII letters, digits and '_'.
  std::map<std::string, TypeRule, std::less<>> types;
  // Other names vendors use for a type, to the canonical name.
  std::map<std::string, std::string, std::less<>> aliases;
  // For a type neither configured nor aliased: a weak text identifier.
  TypeRule unknown_type;
  // Unit forms each community accepts (by normalized community name); others accept these.
  std::map<std::string, UnitFormSet, std::less<>> unit_forms_by_community;
  UnitFormSet default_unit_forms = UnitFormSet::All();
  // Event kinds that open an occupancy period of the event's unit for its customer (closing
  // the previous occupant's), and kinds that close the customer's period. An entry matches a
  // kind equal to it or ending in "." + entry: "keys_handed_over" matches
  // "maintenance.handover.keys_handed_over".
  std::vector<std::string> occupancy_opening_kinds = {"keys_handed_over", "moved_in", "move_in"};
  std::vector<std::string> occupancy_closing_kinds = {"moved_out", "move_out"};

  // `type` as NormalizeType returns it.
  const TypeRule& RuleFor(std::string_view type) const;
  UnitFormSet UnitFormsFor(std::string_view community) const;
  bool OpensOccupancy(std::string_view kind) const;
  bool ClosesOccupancy(std::string_view kind) const;
};

// kInvalidArgument naming what is wrong: a type name or alias that is not canonical, an alias
// to an unconfigured type, a limit of 0, a community with no unit forms or a '/' in its name.
Status ValidateRules(const IdentityRules& rules);

// A typed identifier in canonical form, as the resolver keys customers by it.
struct Identifier {
  std::string type;
  std::string value;

  // "type:value", e.g. "phone:13800138000", "unit:阳光花园/3-2-1202".
  std::string Text() const;
  // The inverse of Text(); the type ends at the first ':'.
  static Result<Identifier> FromText(std::string_view text);

  auto operator<=>(const Identifier&) const = default;
};

// A type name in canonical form: trimmed, lower case, an alias replaced by its type.
// kInvalidArgument when empty or holding anything but letters, digits and '_'.
Result<std::string> NormalizeType(std::string_view type, const IdentityRules& rules);

// The canonical identifier for a raw (type, value), or why there is none:
// kFailedPrecondition for a blocked value (a placeholder; see IsBlocked), kInvalidArgument for a
// malformed type or value, with the reason. `community` places a unit and picks its accepted
// forms; other types ignore it.
Result<Identifier> NormalizeIdentifier(std::string_view type, std::string_view raw,
                                       const IdentityRules& rules, std::string_view community = {});
Result<Identifier> NormalizeIdentifier(const sdk::Identifier& raw, const IdentityRules& rules,
                                       std::string_view community = {});

// Whether a NormalizeIdentifier refusal was a blocked value rather than a malformed one.
inline bool IsBlocked(const Status& status) {
  return status.code() == StatusCode::kFailedPrecondition;
}

// The identifier for a log line: "type:value", phone digits masked with MaskPhone.
std::string LogText(const Identifier& id, const IdentityRules& rules);

}  // namespace propbridge::identity
