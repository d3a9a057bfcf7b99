#include "daemon/auth/token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>

namespace propbridge::auth {

Result<std::string> NewToken() {
  std::array<unsigned char, 32> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return Internal("the system's random generator failed");
  }
  std::string base64(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(base64.data()), bytes.data(),
                                static_cast<int>(bytes.size()));
  base64.resize(static_cast<std::size_t>(written));
  std::string token;
  for (char c : base64) {
    if (c == '=') break;
    token += c == '+' ? '-' : c == '/' ? '_' : c;
  }
  return token;
}

Sha256 HashToken(std::string_view token) {
  Sha256 hash{};
  EVP_Digest(token.data(), token.size(), hash.data(), nullptr, EVP_sha256(), nullptr);
  return hash;
}

std::string ToHex(const Sha256& hash) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char byte : hash) {
    hex += kDigits[byte >> 4];
    hex += kDigits[byte & 0xF];
  }
  return hex;
}

std::optional<Sha256> ParseSha256Hex(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Sha256 hash{};
  for (std::size_t i = 0; i < hash.size(); ++i) {
    int high = digit(hex[2 * i]);
    int low = digit(hex[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    hash[i] = static_cast<unsigned char>(high << 4 | low);
  }
  return hash;
}

bool SameHash(const Sha256& a, const Sha256& b) {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

struct Sha256Hasher::Context {
  struct Free {
    void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> digest{EVP_MD_CTX_new()};
};

Sha256Hasher::Sha256Hasher() : context_(std::make_unique<Context>()) {
  EVP_DigestInit_ex(context_->digest.get(), EVP_sha256(), nullptr);
}
Sha256Hasher::Sha256Hasher(Sha256Hasher&&) noexcept = default;
Sha256Hasher& Sha256Hasher::operator=(Sha256Hasher&&) noexcept = default;
Sha256Hasher::~Sha256Hasher() = default;

void Sha256Hasher::Add(std::string_view part) {
  EVP_DigestUpdate(context_->digest.get(), part.data(), part.size());
}

Sha256 Sha256Hasher::Finish() {
  Sha256 hash{};
  EVP_DigestFinal_ex(context_->digest.get(), hash.data(), nullptr);
  return hash;
}

}  // namespace propbridge::auth
