// Page tokens as a client may send them: any text, decoded against a listing under a fixed key.
// The input is "<listing>\n<token>". Since a random token never carries a valid MAC, the input is
// also signed here, as a payload, the way page_token.cc signs one (hex of the payload and the
// first 16 bytes of HMAC-SHA256 over listing, a 0 byte and the payload), so that the fuzzer
// reaches the payload's parser too. Whatever decodes must encode and decode to the same position.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>

#include "daemon/api/page_token.h"
#include "fuzz/fuzz_check.h"

namespace {

const std::string kKey(32, 'k');

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 0xF];
  }
  return out;
}

std::string Signed(const std::string& listing, std::string_view payload) {
  std::string message = listing + '\0' + std::string(payload);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), kKey.data(), static_cast<int>(kKey.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &length);
  return Hex(std::string(payload) + std::string(reinterpret_cast<const char*>(mac), 16));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace propbridge::api;
  using propbridge::fuzz::Require;
  static const PageTokens* const tokens = [] {
    propbridge::Result<PageTokens> made = PageTokens::FromKey(kKey);
    Require(made.ok(), "OpenSSL has HMAC-SHA256");
    return new PageTokens(std::move(made).value());
  }();
  std::string_view text = propbridge::fuzz::AsText(data, size);
  std::size_t newline = text.find('\n');
  std::string listing(newline == std::string_view::npos ? "customers/C1" : text.substr(0, newline));
  std::string_view token = newline == std::string_view::npos ? text : text.substr(newline + 1);

  for (const std::string& candidate : {std::string(token), Signed(listing, token)}) {
    propbridge::Result<PagePosition> position = tokens->Decode(listing, candidate);
    if (!position.ok()) {
      Require(position.status().code() == propbridge::StatusCode::kInvalidArgument,
              "a bad token is the client's error");
      continue;
    }
    propbridge::Result<PagePosition> again =
        tokens->Decode(listing, tokens->Encode(listing, *position));
    Require(again.ok() && again->time == position->time && again->id == position->id,
            "a decoded position encodes and decodes to itself");
    propbridge::Result<PagePosition> elsewhere =
        tokens->Decode(listing + "x", tokens->Encode(listing, *position));
    Require(!elsewhere.ok(), "a token is bound to its listing");
  }
  return 0;
}
