#include "signature.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <optional>

namespace propbridge::maintenance {
namespace {

constexpr std::size_t kDigestBytes = 32;
using Digest = std::array<unsigned char, kDigestBytes>;

Digest Hmac(std::string_view secret, std::string_view body) {
  Digest digest{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest.data(), &length);
  return digest;
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

}  // namespace

std::string SignBody(std::string_view secret, std::string_view body) {
  static constexpr char kDigits[] = "0123456789abcdef";
  Digest digest = Hmac(secret, body);
  std::string hex;
  hex.reserve(2 * kDigestBytes);
  for (unsigned char byte : digest) {
    hex.push_back(kDigits[byte >> 4]);
    hex.push_back(kDigits[byte & 0x0f]);
  }
  return hex;
}

SignatureCheck CheckSignature(std::string_view secret, std::string_view body,
                              std::string_view header) {
  header = Trim(header);
  if (header.empty()) return SignatureCheck::kMissing;
  if (!header.starts_with(kSignaturePrefix)) return SignatureCheck::kMalformed;
  std::optional<Digest> given = DecodeHex(header.substr(kSignaturePrefix.size()));
  if (!given) return SignatureCheck::kMalformed;
  Digest expected = Hmac(secret, body);
  return CRYPTO_memcmp(given->data(), expected.data(), kDigestBytes) == 0
             ? SignatureCheck::kValid
             : SignatureCheck::kMismatch;
}

}  // namespace propbridge::maintenance
