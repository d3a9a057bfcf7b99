#include "daemon/api/page_token.h"

#include <charconv>
#include <cstdint>
#include <string_view>

namespace propbridge::api {
namespace {

constexpr std::string_view kVersion = "t1";
constexpr char kHex[] = "0123456789abcdef";

std::uint64_t Fingerprint(std::string_view s) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string ToHex(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 0xF];
  }
  return out;
}

bool FromHex(std::string_view hex, std::string& out) {
  if (hex.size() % 2 != 0) return false;
  out.clear();
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(hex.data() + i, hex.data() + i + 2, value, 16);
    if (ec != std::errc() || end != hex.data() + i + 2) return false;
    out += static_cast<char>(value);
  }
  return true;
}

template <typename Int>
bool ReadField(std::string_view& text, Int& out) {
  auto bar = text.find('|');
  std::string_view field = text.substr(0, bar);
  auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), out);
  if (ec != std::errc() || end != field.data() + field.size()) return false;
  text.remove_prefix(bar == std::string_view::npos ? text.size() : bar + 1);
  return true;
}

Status Invalid() {
  return InvalidArgument(
      "page_token is not valid: pass the next_page_token of the previous response unchanged, "
      "with the same customer, or leave it empty for the first page");
}

}  // namespace

std::string EncodePageToken(const std::string& customer, const store::TimelineCursor& cursor) {
  std::string plain = std::string(kVersion) + "|" +
                      std::to_string(cursor.occurred_at.time_since_epoch().count()) + "|" +
                      std::to_string(cursor.id) + "|" + std::to_string(Fingerprint(customer));
  return ToHex(plain);
}

Result<store::TimelineCursor> DecodePageToken(const std::string& customer,
                                              const std::string& token) {
  std::string plain;
  if (token.size() > 256 || !FromHex(token, plain)) return Invalid();
  std::string_view text = plain;
  if (!text.starts_with(kVersion) || text.substr(kVersion.size(), 1) != "|") return Invalid();
  text.remove_prefix(kVersion.size() + 1);
  std::int64_t micros = 0, id = 0;
  std::uint64_t fingerprint = 0;
  if (!ReadField(text, micros) || !ReadField(text, id) || !ReadField(text, fingerprint) ||
      !text.empty() || fingerprint != Fingerprint(customer)) {
    return Invalid();
  }
  return store::TimelineCursor{store::Micros{std::chrono::microseconds{micros}}, id};
}

}  // namespace propbridge::api
