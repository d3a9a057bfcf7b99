#include "daemon/identity/phone.h"

#include <algorithm>
#include <cstddef>
#include <string>
#include <utility>

#include "daemon/identity/text.h"

namespace propbridge::identity {
namespace {

constexpr std::string_view kExtensionMark = "转";  // "转 123": extension 123
constexpr std::string_view kListMark = "、";       // the enumeration comma
constexpr const char* kExtension =
    "has an extension; a switchboard line does not identify a customer";

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool AllZero(std::string_view digits) {
  return !digits.empty() &&
         std::all_of(digits.begin(), digits.end(), [](char c) { return c == '0'; });
}
bool IsMobile(std::string_view d) {
  return d.size() == 11 && d[0] == '1' && d[1] >= '3' && d[1] <= '9';
}

// The digits of `text`, or the reason it holds something a phone number cannot. `plus` tells
// whether the number started with '+'.
Result<std::string> Digits(std::string_view text, bool& plus) {
  std::string digits;
  plus = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (IsDigit(c)) {
      digits.push_back(c);
    } else if (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')') {
      continue;
    } else if (c == '+') {
      if (!digits.empty() || plus) return InvalidArgument("has a '+' inside the number");
      plus = true;
    } else if (c == '/' || c == ',' || c == ';' || c == '|' ||
               text.substr(i).starts_with(kListMark)) {
      return InvalidArgument("looks like more than one number in one field");
    } else if (text.substr(i).starts_with(kExtensionMark)) {
      return InvalidArgument(kExtension);
    } else if (IsAsciiLetter(c)) {
      std::size_t end = i;
      while (end < text.size() && (IsAsciiLetter(text[end]) || text[end] == '.')) ++end;
      std::string_view word = text.substr(i, end - i);
      bool extension = EqualsIgnoringAsciiCase(word, "ext") ||
                       EqualsIgnoringAsciiCase(word, "ext.") || EqualsIgnoringAsciiCase(word, "x");
      if (extension && !digits.empty()) return InvalidArgument(kExtension);
      return InvalidArgument("has letters, so it is not a phone number");
    } else {
      return InvalidArgument("has a character a phone number cannot have");
    }
  }
  return digits;
}

// The reason `d` (no prefix left) is not a mobile number or a landline with area code, or
// empty when it is one.
std::string Refusal(std::string_view d) {
  if (IsMobile(d)) return "";
  if (d.empty()) return "has no digits";
  if (d[0] == '1') {
    if (d.size() == 11) {
      return "starts with " + std::string(d.substr(0, 2)) + ", which no mobile number does";
    }
    return "a mobile number has 11 digits, this has " + std::to_string(d.size());
  }
  if (d[0] == '0') {
    if (d.size() < 2) return "too few digits for a landline with area code";
    if (d[1] == '0') return "starts with 00 but not with the 0086 country code";
    if (d[1] == '1' && (d.size() < 3 || d[2] != '0')) {
      return "01x is not an area code (only 010 is)";
    }
    std::size_t area = d[1] == '1' || d[1] == '2' ? 3 : 4;
    std::size_t local = d.size() > area ? d.size() - area : 0;
    if (local < 7 || local > 8) {
      return "after area code " + std::string(d.substr(0, area)) +
             " a landline has 7 or 8 digits, this has " + std::to_string(local);
    }
    return "";
  }
  if (d.size() == 10 && (d.starts_with("400") || d.starts_with("800"))) {
    return "a 400/800 service number belongs to a company, not a customer";
  }
  if (d.size() == 7 || d.size() == 8) {
    return "a landline without its area code is ambiguous between cities";
  }
  if (d.size() < 7) return "too few digits (" + std::to_string(d.size()) + ") for a phone number";
  if (d.size() > 12) return "too many digits (" + std::to_string(d.size()) + ") for a phone number";
  return "neither a mobile number nor a landline with area code";
}

}  // namespace

Result<std::string> NormalizePhone(std::string_view raw) {
  std::string folded = FoldWidth(raw);
  std::string_view text = TrimSpaces(folded);
  if (text.empty()) return InvalidArgument("is empty");
  bool plus = false;
  Result<std::string> digits = Digits(text, plus);
  if (!digits.ok()) return digits;
  std::string d = std::move(digits).value();
  if (AllZero(d)) return FailedPrecondition("is an all-zero placeholder");

  bool international = false;
  if (plus) {
    if (!d.starts_with("86")) return InvalidArgument("has a country code other than +86");
    d.erase(0, 2);
    international = true;
  } else if (d.starts_with("0086")) {
    d.erase(0, 4);
    international = true;
  } else if (d.size() == 13 && d.starts_with("86") && IsMobile(std::string_view(d).substr(2))) {
    d.erase(0, 2);
  }
  if (AllZero(d)) return FailedPrecondition("is an all-zero placeholder");
  // Written internationally, a landline drops the trunk 0 of its area code ("+86 10 ...");
  // a mobile number starts 13..19 and keeps its 1.
  bool mobile_like = d.size() > 1 && d[0] == '1' && d[1] != '0';
  if (international && !d.empty() && d[0] != '0' && !mobile_like) d.insert(0, "0");

  if (std::string why = Refusal(d); !why.empty()) return InvalidArgument(why);
  return d;
}

std::string MaskPhone(std::string_view phone) {
  std::string out = FoldWidth(phone);
  std::size_t digits = std::count_if(out.begin(), out.end(), IsDigit);
  std::size_t keep_front = digits >= 11 ? 3 : 0;
  std::size_t keep_back = digits >= 7 ? 4 : 0;
  std::size_t seen = 0;
  for (char& c : out) {
    if (!IsDigit(c)) continue;
    if (seen >= keep_front && seen < digits - keep_back) c = '*';
    ++seen;
  }
  return out;
}

}  // namespace propbridge::identity
