#include "signature.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <array>
#include <charconv>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <new>
#include <optional>

namespace propbridge::maintenance {
namespace {

constexpr std::size_t kDigestBytes = 32;
constexpr std::size_t kMaxTimestampDigits = 12;
using Digest = std::array<unsigned char, kDigestBytes>;

// The HMAC-SHA256 of the parts one after the other, without joining them: a body may be
// megabytes long.
Digest Hmac(std::string_view secret, std::initializer_list<std::string_view> parts) {
  struct Free {
    void operator()(EVP_MAC* mac) const { EVP_MAC_free(mac); }
    void operator()(EVP_MAC_CTX* context) const { EVP_MAC_CTX_free(context); }
  };
  std::unique_ptr<EVP_MAC, Free> mac(EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr));
  std::unique_ptr<EVP_MAC_CTX, Free> context(mac ? EVP_MAC_CTX_new(mac.get()) : nullptr);
  char digest_name[] = OSSL_DIGEST_NAME_SHA2_256;
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0), OSSL_PARAM_END};
  bool ok =
      context && EVP_MAC_init(context.get(), reinterpret_cast<const unsigned char*>(secret.data()),
                              secret.size(), params) == 1;
  for (std::string_view part : parts) {
    ok = ok && EVP_MAC_update(context.get(), reinterpret_cast<const unsigned char*>(part.data()),
                              part.size()) == 1;
  }
  Digest digest{};
  std::size_t length = 0;
  ok = ok && EVP_MAC_final(context.get(), digest.data(), &length, digest.size()) == 1 &&
       length == kDigestBytes;
  // HMAC-SHA256 is in OpenSSL's default provider: only want of memory makes it fail.
  if (!ok) throw std::bad_alloc();
  return digest;
}

std::string Hex(const Digest& digest) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * kDigestBytes);
  for (unsigned char byte : digest) {
    hex.push_back(kDigits[byte >> 4]);
    hex.push_back(kDigits[byte & 0x0f]);
  }
  return hex;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<Digest> DecodeHex(std::string_view hex) {
  if (hex.size() != 2 * kDigestBytes) return std::nullopt;
  Digest digest{};
  for (std::size_t i = 0; i < kDigestBytes; ++i) {
    int high = HexValue(hex[2 * i]);
    int low = HexValue(hex[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    digest[i] = static_cast<unsigned char>(high * 16 + low);
  }
  return digest;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The digest a header value names, or why it names none.
std::optional<Digest> ParseSignature(std::string_view header, SignatureCheck& why) {
  if (header.empty()) {
    why = SignatureCheck::kMissing;
    return std::nullopt;
  }
  std::optional<Digest> digest;
  if (header.starts_with(kSignaturePrefix))
    digest = DecodeHex(header.substr(kSignaturePrefix.size()));
  if (!digest) why = SignatureCheck::kMalformed;
  return digest;
}

SignatureCheck Compare(const Digest& given, const Digest& expected) {
  return CRYPTO_memcmp(given.data(), expected.data(), kDigestBytes) == 0
             ? SignatureCheck::kValid
             : SignatureCheck::kMismatch;
}

// Seconds since 1970 in decimal digits only: no sign, no fraction, at most 12 digits.
std::optional<std::int64_t> ParseTimestamp(std::string_view text) {
  if (text.empty() || text.size() > kMaxTimestampDigits) return std::nullopt;
  std::int64_t seconds = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (error != std::errc() || end != text.data() + text.size() || text.front() == '-') {
    return std::nullopt;
  }
  return seconds;
}

}  // namespace

std::string SignBody(std::string_view secret, std::string_view body) {
  return Hex(Hmac(secret, {body}));
}

std::string SignTimestamped(std::string_view secret, std::string_view timestamp,
                            std::string_view body) {
  return Hex(Hmac(secret, {timestamp, ".", body}));
}

SignatureCheck CheckSignature(std::string_view secret, std::string_view body,
                              std::string_view header) {
  SignatureCheck why = SignatureCheck::kValid;
  std::optional<Digest> given = ParseSignature(Trim(header), why);
  if (!given) return why;
  return Compare(*given, Hmac(secret, {body}));
}

SignatureCheck CheckDelivery(std::string_view secret, std::string_view body,
                             std::string_view signature, std::string_view timestamp,
                             const SignaturePolicy& policy,
                             std::chrono::system_clock::time_point now) {
  SignatureCheck why = SignatureCheck::kValid;
  std::optional<Digest> given = ParseSignature(Trim(signature), why);
  if (!given) return why;
  timestamp = Trim(timestamp);
  if (timestamp.empty()) {
    if (policy.require_timestamp) return SignatureCheck::kTimestampMissing;
    return Compare(*given, Hmac(secret, {body}));
  }
  std::optional<std::int64_t> seconds = ParseTimestamp(timestamp);
  if (!seconds) return SignatureCheck::kTimestampMalformed;
  if (SignatureCheck check = Compare(*given, Hmac(secret, {timestamp, ".", body}));
      check != SignatureCheck::kValid) {
    return check;
  }
  const std::chrono::seconds sent(*seconds);
  const auto received = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch());
  const std::chrono::seconds apart = sent > received ? sent - received : received - sent;
  return apart <= policy.replay_window ? SignatureCheck::kValid : SignatureCheck::kTimestampOutside;
}

}  // namespace propbridge::maintenance
