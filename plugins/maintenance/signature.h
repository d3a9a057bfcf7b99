// The maintenance system signs each delivery: "X-Signature: sha256=<hex>", the HMAC-SHA256 of
// the raw body under the secret both sides share. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace propbridge::maintenance {

inline constexpr std::string_view kSignatureHeader = "X-Signature";
inline constexpr std::string_view kSignaturePrefix = "sha256=";

// The HMAC-SHA256 of `body` under `secret`, as 64 lower-case hex digits.
std::string SignBody(std::string_view secret, std::string_view body);

enum class SignatureCheck {
  kValid,
  kMissing,    // no header, or an empty one
  kMalformed,  // not "sha256=" and 64 hex digits
  kMismatch,   // well-formed, but not this body's signature under this secret
};

// Checks a header value against the body. The digests are compared in constant time; the hex
// digits may be in either case.
SignatureCheck CheckSignature(std::string_view secret, std::string_view body,
                              std::string_view header);

}  // namespace propbridge::maintenance
