// What counts as personal data, and how a caller denied it (personal_data = false) reads it:
// masked, so that the shape of a value is still there for a person to recognise a record
// ("138****8000", "张*") but not the value itself. Plain values, thread-compatible.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace propbridge::auth {

// [api.personal_data].
struct PersonalDataRules {
  // Identifier types whose values are personal: a customer's phone number, name, e-mail.
  // Account numbers, contracts and units name a customer for the company, not the person.
  std::vector<std::string> identifier_types = {"phone", "name", "email", "id_card", "wechat"};
  // Event attributes whose values are personal: names and phone numbers of customers and of
  // the staff who served them, as the bundled bridges and usual vendor exports name them.
  std::vector<std::string> attributes = {
      "customer_name", "contact_name", "name",     "phone",   "mobile",      "contact_phone",
      "email",         "technician",   "assignee", "handler", "escalated_to"};

  bool IsPersonalType(std::string_view type) const;
  bool IsPersonalAttribute(std::string_view name) const;
};

// A value masked. Phone numbers (7 digits or more, with or without spaces, dashes and a
// leading '+'): the first 3 digits and the last 4 kept, "13800138000" -> "138****8000". An
// e-mail address: the first character of its local part kept, "li.wei@example.com" ->
// "l*****@example.com". Any other text: its first character kept and a '*' for each other
// one, "张三丰" -> "张**", "Li Wei" -> "L*****". Empty stays empty.
std::string MaskValue(std::string_view value);

// Free text with every run of 7 digits or more in it masked as a phone number, and the rest as
// it is: "call 13800138000 back" -> "call 138****8000 back".
std::string MaskPhoneNumbers(std::string_view text);

// An identifier as the API writes it, "<type>:<value>": the value masked when its type is
// personal, else as it is. Text without a type is masked whole.
std::string MaskIdentifier(std::string_view identifier, const PersonalDataRules& rules);

}  // namespace propbridge::auth
