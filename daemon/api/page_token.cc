#include "daemon/api/page_token.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <charconv>
#include <new>
#include <string_view>

#include "daemon/store/private_file.h"

namespace propbridge::api {
namespace {

constexpr std::string_view kVersion = "p1";
constexpr std::size_t kKeyBytes = 32;
constexpr std::size_t kMacBytes = 16;
constexpr char kHex[] = "0123456789abcdef";

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

bool ReadField(std::string_view& text, std::int64_t& out) {
  auto bar = text.find('|');
  std::string_view field = text.substr(0, bar);
  auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), out);
  if (ec != std::errc() || end != field.data() + field.size() || field.empty()) return false;
  text.remove_prefix(bar == std::string_view::npos ? text.size() : bar + 1);
  return true;
}

Status Invalid() {
  return InvalidArgument(
      "page_token is not valid: pass the next_page_token of the previous response unchanged, "
      "with the same customer, filter and order, or leave it empty for the first page");
}

}  // namespace

Result<PageTokens> PageTokens::Open(const std::filesystem::path& key_file) {
  auto file = store::OpenPrivateFile(key_file, store::IfMissing::kCreate);
  if (!file.ok()) return file.status();
  if (file->tightened_from()) {
    spdlog::warn("page token key {} had mode {}, readable beyond the daemon's user; set to 0600",
                 key_file.string(), store::ModeText(*file->tightened_from()));
  }
  if (!file->created()) {
    std::string key(kKeyBytes + 1, '\0');  // one byte more, to tell a longer file from a key
    if (::read(file->fd(), key.data(), key.size()) != static_cast<ssize_t>(kKeyBytes)) {
      return FailedPrecondition(key_file.string() + " is not a page token key (" +
                                std::to_string(kKeyBytes) + " bytes); delete it to make a new one");
    }
    key.resize(kKeyBytes);
    return FromKey(key);
  }
  std::string key(kKeyBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), kKeyBytes) != 1) {
    return Internal("no random bytes for the page token key");
  }
  if (::write(file->fd(), key.data(), key.size()) != static_cast<ssize_t>(key.size()) ||
      ::fsync(file->fd()) != 0) {
    return FailedPrecondition("cannot write the page token key " + key_file.string());
  }
  return FromKey(key);
}

// Fetching the algorithm and keying it cost more than the MAC of a short token, so that is
// done once; every MAC starts from a duplicate of the keyed context.
struct PageTokens::KeyedMac {
  struct Free {
    void operator()(EVP_MAC* mac) const { EVP_MAC_free(mac); }
    void operator()(EVP_MAC_CTX* context) const { EVP_MAC_CTX_free(context); }
  };
  std::unique_ptr<EVP_MAC, Free> algorithm;
  std::unique_ptr<EVP_MAC_CTX, Free> keyed;
};

Result<PageTokens> PageTokens::FromKey(const std::string& key) {
  auto mac = std::make_shared<KeyedMac>();
  mac->algorithm.reset(EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr));
  if (mac->algorithm) mac->keyed.reset(EVP_MAC_CTX_new(mac->algorithm.get()));
  char digest[] = OSSL_DIGEST_NAME_SHA2_256;
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_END};
  if (!mac->keyed ||
      EVP_MAC_init(mac->keyed.get(), reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                   params) != 1) {
    // Only a broken OpenSSL installation gets here; no token could be signed.
    return Internal("OpenSSL has no HMAC-SHA256 for page tokens");
  }
  return PageTokens(std::move(mac));
}

std::string PageTokens::Mac(const std::string& listing, const std::string& payload) const {
  std::unique_ptr<EVP_MAC_CTX, KeyedMac::Free> context(EVP_MAC_CTX_dup(mac_->keyed.get()));
  unsigned char mac[EVP_MAX_MD_SIZE];
  std::size_t length = 0;
  const unsigned char separator = 0;
  if (!context ||
      EVP_MAC_update(context.get(), reinterpret_cast<const unsigned char*>(listing.data()),
                     listing.size()) != 1 ||
      EVP_MAC_update(context.get(), &separator, 1) != 1 ||
      EVP_MAC_update(context.get(), reinterpret_cast<const unsigned char*>(payload.data()),
                     payload.size()) != 1 ||
      EVP_MAC_final(context.get(), mac, &length, sizeof mac) != 1 || length < kMacBytes) {
    throw std::bad_alloc();  // a keyed HMAC fails only for want of memory
  }
  return std::string(reinterpret_cast<const char*>(mac), kMacBytes);
}

std::string PageTokens::Encode(const std::string& listing, const PagePosition& position) const {
  std::string payload = std::string(kVersion) + "|" + std::to_string(position.time) + "|" +
                        std::to_string(position.id);
  return ToHex(payload + Mac(listing, payload));
}

Result<PagePosition> PageTokens::Decode(const std::string& listing,
                                        const std::string& token) const {
  std::string bytes;
  if (token.size() > 256 || !FromHex(token, bytes) || bytes.size() <= kMacBytes) return Invalid();
  std::string payload = bytes.substr(0, bytes.size() - kMacBytes);
  std::string mac = bytes.substr(bytes.size() - kMacBytes);
  std::string expected = Mac(listing, payload);
  if (CRYPTO_memcmp(mac.data(), expected.data(), kMacBytes) != 0) return Invalid();
  std::string_view text = payload;
  if (!text.starts_with(kVersion) || text.substr(kVersion.size(), 1) != "|") return Invalid();
  text.remove_prefix(kVersion.size() + 1);
  PagePosition position;
  if (!ReadField(text, position.time) || !ReadField(text, position.id) || !text.empty()) {
    return Invalid();
  }
  return position;
}

}  // namespace propbridge::api
