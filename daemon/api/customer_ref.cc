#include "daemon/api/customer_ref.h"

#include <string>

#include "daemon/store/customer.h"

namespace propbridge::api {

Result<identity::Identifier> ParseCustomerRef(std::string_view text, std::string_view field,
                                              const identity::IdentityRules& rules) {
  const std::string name(field);
  if (text.empty()) {
    return InvalidArgument(name + " is required: 'customer:<id>' or an identifier such as" +
                           " 'account:A-1001'");
  }
  if (text.size() > 512) return InvalidArgument(name + " is longer than 512 bytes");
  std::size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return InvalidArgument(name + " '" + std::string(text) +
                           "' is not '<type>:<value>', such as 'account:A-1001' or 'customer:42'");
  }
  std::string_view type = text.substr(0, colon);
  std::string_view value = text.substr(colon + 1);
  if (type == store::kCustomerIdType) {
    bool digits = !value.empty() && value.size() <= 18 && value.front() != '0' &&
                  value.find_first_not_of("0123456789") == std::string_view::npos;
    if (!digits) {
      return InvalidArgument(name + " '" + std::string(text) +
                             "': a customer id is a positive number, such as 'customer:42'");
    }
    return identity::Identifier{std::string(type), std::string(value)};
  }
  auto canonical_type = identity::NormalizeType(type, rules);
  if (!canonical_type.ok()) return InvalidArgument(name + ": " + canonical_type.status().message());
  std::string_view community;
  if (rules.RuleFor(*canonical_type).form == identity::ValueForm::kUnit) {
    std::size_t slash = value.find('/');
    if (slash != std::string_view::npos) {
      community = value.substr(0, slash);
      value = value.substr(slash + 1);
    }
  }
  auto id = identity::NormalizeIdentifier(*canonical_type, value, rules, community);
  if (!id.ok()) return InvalidArgument(name + ": " + id.status().message());
  return std::move(id).value();
}

Result<std::int64_t> ResolveCustomerRef(store::Store& store, std::string_view text,
                                        std::string_view field,
                                        const identity::IdentityRules& rules,
                                        std::optional<store::Micros> at) {
  auto id = ParseCustomerRef(text, field, rules);
  if (!id.ok()) return id.status();
  auto customer = store.FindCustomer(*id, at);
  if (!customer.ok()) return customer.status();
  if (!*customer) return NotFound("no customer is known by '" + std::string(text) + "'");
  return **customer;
}

}  // namespace propbridge::api
