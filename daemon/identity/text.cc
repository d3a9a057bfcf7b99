#include "daemon/identity/text.h"

#include <cstddef>
#include <cstdint>

namespace propbridge::identity {
namespace {

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// The code point of the well-formed UTF-8 sequence at the start of `s` and its length in
// bytes; length 0 when the bytes there are not one.
struct Decoded {
  char32_t code_point = 0;
  std::size_t length = 0;
};

Decoded DecodeUtf8(std::string_view s) {
  auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(s[i]); };
  auto continuation = [&](std::size_t i) { return i < s.size() && (byte(i) & 0xC0) == 0x80; };
  std::uint8_t lead = byte(0);
  if (lead < 0x80) return {lead, 1};
  std::size_t length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC2 ? 2 : 0;
  if (length == 0 || lead > 0xF4) return {};
  char32_t cp = lead & (0x7F >> length);
  for (std::size_t i = 1; i < length; ++i) {
    if (!continuation(i)) return {};
    cp = (cp << 6) | (byte(i) & 0x3F);
  }
  static constexpr char32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kSmallest[length] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {};
  return {cp, length};
}

}  // namespace

std::string FoldWidth(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    Decoded d = DecodeUtf8(text);
    if (d.length == 0) {  // not UTF-8: keep the byte, the caller's checks will see it
      out.push_back(text.front());
      text.remove_prefix(1);
      continue;
    }
    char32_t cp = d.code_point;
    if (cp >= 0xFF01 && cp <= 0xFF5E) {
      out.push_back(static_cast<char>(cp - 0xFF01 + 0x21));
    } else if (cp == 0x3000 || cp == 0x00A0 || cp == 0x202F) {
      out.push_back(' ');
    } else if ((cp >= 0x2010 && cp <= 0x2015) || cp == 0x2212 || cp == 0xFE63) {
      out.push_back('-');
    } else if (cp == 0x200B || cp == 0x200C || cp == 0x200D || cp == 0xFEFF) {
      // invisible: dropped
    } else {
      out.append(text.substr(0, d.length));
    }
    text.remove_prefix(d.length);
  }
  return out;
}

bool IsUtf8(std::string_view text) {
  while (!text.empty()) {
    if (static_cast<std::uint8_t>(text.front()) < 0x80) {  // ASCII, the usual case
      text.remove_prefix(1);
      continue;
    }
    Decoded d = DecodeUtf8(text);
    if (d.length == 0) return false;
    text.remove_prefix(d.length);
  }
  return true;
}

std::string ValidUtf8(std::string_view text) {
  if (IsUtf8(text)) return std::string(text);
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() + 16);
  while (!text.empty()) {
    std::size_t length = DecodeUtf8(text).length;
    if (length == 0) {
      const auto byte = static_cast<std::uint8_t>(text.front());
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
      length = 1;
    } else {
      out.append(text.substr(0, length));
    }
    text.remove_prefix(length);
  }
  return out;
}

std::string_view CutUtf8(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::size_t end = max_bytes;
  // Back over continuation bytes (10xxxxxx) to the start of the character that was cut.
  while (end > 0 && (static_cast<std::uint8_t>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

std::string_view TrimSpaces(std::string_view text) {
  while (!text.empty() && IsAsciiSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsAsciiSpace(text.back())) text.remove_suffix(1);
  return text;
}

std::string CollapseSpaces(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;
  for (char c : TrimSpaces(text)) {
    if (IsAsciiSpace(c)) {
      pending_space = true;
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

bool EqualsIgnoringAsciiCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

}  // namespace propbridge::identity
