// Page tokens: the keyset position of the last event returned, bound to the listing it came
// from (customer, filter, order) and signed with the daemon's key, so a client can neither
// forge a position nor reuse a token with another query. Thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "propbridge/sdk/status.h"

namespace propbridge::api {

struct PagePosition {
  std::int64_t time = 0;  // occurred_at in µs, or 0 where the listing has no time order
  std::int64_t id = 0;
};

class PageTokens {
 public:
  // The key is read from `key_file`, which is created with a fresh random key if missing, so
  // tokens survive a restart. The file is its owner's alone (0600): created so whatever the
  // umask, set so (with a warning) if its mode lets others in, never reached through a link.
  static Result<PageTokens> Open(const std::filesystem::path& key_file);
  // Tokens signed with `key`; INTERNAL when this OpenSSL has no HMAC-SHA256.
  static Result<PageTokens> FromKey(const std::string& key);

  // `listing` names the query: equal queries, equal text.
  std::string Encode(const std::string& listing, const PagePosition& position) const;
  // INVALID_ARGUMENT, saying what to do, for a damaged, forged or foreign token.
  Result<PagePosition> Decode(const std::string& listing, const std::string& token) const;

 private:
  struct KeyedMac;  // HMAC-SHA256 keyed once; each token's MAC starts from a copy of it

  explicit PageTokens(std::shared_ptr<const KeyedMac> mac) : mac_(std::move(mac)) {}
  std::string Mac(const std::string& listing, const std::string& payload) const;
  std::shared_ptr<const KeyedMac> mac_;
};

}  // namespace propbridge::api
