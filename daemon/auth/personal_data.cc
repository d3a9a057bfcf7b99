#include "daemon/auth/personal_data.h"

#include <algorithm>
#include <cstddef>

namespace propbridge::auth {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Whether `c` begins a character in UTF-8, rather than continuing one.
bool BeginsCharacter(char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }

bool Contains(const std::vector<std::string>& list, std::string_view name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

// `digits` (only digits) with all but the first 3 and the last 4 as '*'; shorter numbers keep
// fewer, so that at least half of the digits are hidden.
std::string MaskDigits(std::string_view digits) {
  const std::size_t keep_front = digits.size() >= 11 ? 3 : digits.size() / 4;
  const std::size_t keep_back = digits.size() >= 11 ? 4 : digits.size() / 4;
  std::string masked(digits.substr(0, keep_front));
  masked.append(digits.size() - keep_front - keep_back, '*');
  masked.append(digits.substr(digits.size() - keep_back));
  return masked;
}

// The digits of `value` when it is written as a phone number: digits with spaces, dashes,
// dots, brackets and a leading '+' between them, and 7 digits or more. Empty otherwise.
std::string PhoneDigits(std::string_view value) {
  std::string digits;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (IsDigit(c)) {
      digits += c;
    } else if (!(c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' ||
                 (c == '+' && digits.empty()))) {
      return {};
    }
  }
  return digits.size() >= 7 ? digits : std::string();
}

// The first character of `text` kept, a '*' for each other character.
std::string MaskText(std::string_view text) {
  std::size_t first = 1;
  while (first < text.size() && !BeginsCharacter(text[first])) ++first;
  std::string masked(text.substr(0, first));
  for (std::size_t i = first; i < text.size(); ++i) {
    if (BeginsCharacter(text[i])) masked += '*';
  }
  return masked;
}

}  // namespace

bool PersonalDataRules::IsPersonalType(std::string_view type) const {
  return Contains(identifier_types, type);
}

bool PersonalDataRules::IsPersonalAttribute(std::string_view name) const {
  return Contains(attributes, name);
}

std::string MaskValue(std::string_view value) {
  if (value.empty()) return {};
  if (std::string digits = PhoneDigits(value); !digits.empty()) return MaskDigits(digits);
  if (auto at = value.find('@'); at != std::string_view::npos && at > 0) {
    return MaskText(value.substr(0, at)) + std::string(value.substr(at));
  }
  return MaskText(value);
}

std::string MaskPhoneNumbers(std::string_view text) {
  std::string masked;
  masked.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    if (!IsDigit(text[i])) {
      masked += text[i++];
      continue;
    }
    std::size_t end = i;
    while (end < text.size() && IsDigit(text[end])) ++end;
    std::string_view run = text.substr(i, end - i);
    masked += run.size() >= 7 ? MaskDigits(run) : std::string(run);
    i = end;
  }
  return masked;
}

std::string MaskIdentifier(std::string_view identifier, const PersonalDataRules& rules) {
  const auto colon = identifier.find(':');
  if (colon == std::string_view::npos) return MaskValue(identifier);
  const std::string_view type = identifier.substr(0, colon);
  if (!rules.IsPersonalType(type)) return std::string(identifier);
  return std::string(identifier.substr(0, colon + 1)) + MaskValue(identifier.substr(colon + 1));
}

}  // namespace propbridge::auth
