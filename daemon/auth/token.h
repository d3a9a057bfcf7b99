// Bearer tokens: made at random, configured by their SHA-256 only; and the SHA-256 of data that
// comes in parts. Thread-safe functions.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/auth/rules.h"
#include "propbridge/sdk/status.h"

namespace propbridge::auth {

// 32 random bytes from the system's generator, base64url without padding: 43 characters that
// travel unquoted in a header, a file or a shell. INTERNAL if the generator fails.
Result<std::string> NewToken();

// The SHA-256 of the token as sent, after "Bearer ".
Sha256 HashToken(std::string_view token);

// 64 lowercase hex digits, and back; nullopt for anything but 64 hex digits of either case.
std::string ToHex(const Sha256& hash);
std::optional<Sha256> ParseSha256Hex(std::string_view hex);

// Whether two hashes are equal, in time that does not depend on where they differ.
bool SameHash(const Sha256& a, const Sha256& b);

// The SHA-256 of data given in parts, as a backup is streamed: Add each part in order, then
// Finish once. Movable; one thread at a time.
class Sha256Hasher {
 public:
  Sha256Hasher();
  Sha256Hasher(Sha256Hasher&&) noexcept;
  Sha256Hasher& operator=(Sha256Hasher&&) noexcept;
  ~Sha256Hasher();

  void Add(std::string_view part);
  // The hash of every part added; the hasher takes no more parts after it.
  Sha256 Finish();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

}  // namespace propbridge::auth
