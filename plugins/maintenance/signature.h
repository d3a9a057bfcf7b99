// The maintenance system signs each delivery: "X-Signature: sha256=<hex>", the HMAC-SHA256
// under the secret both sides share of the raw body or, when the delivery carries
// "X-Propbridge-Timestamp: <Unix seconds>", of "<timestamp>.<body>", so that a delivery
// recorded on the way cannot be played again once its timestamp is out of the replay window.
// Pure functions; thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace propbridge::maintenance {

inline constexpr std::string_view kSignatureHeader = "X-Signature";
inline constexpr std::string_view kSignaturePrefix = "sha256=";
inline constexpr std::string_view kTimestampHeader = "X-Propbridge-Timestamp";

// The HMAC-SHA256 of `body` under `secret`, as 64 lower-case hex digits.
std::string SignBody(std::string_view secret, std::string_view body);
// The same of "<timestamp>.<body>", the timestamp as the header carries it.
std::string SignTimestamped(std::string_view secret, std::string_view timestamp,
                            std::string_view body);

enum class SignatureCheck {
  kValid,
  kMissing,             // no header, or an empty one
  kMalformed,           // not "sha256=" and 64 hex digits
  kMismatch,            // well-formed, but not this delivery's signature under this secret
  kTimestampMissing,    // no timestamp, and the policy requires one
  kTimestampMalformed,  // not a Unix time in seconds (1 to 12 digits)
  kTimestampOutside,    // signed, but further from now than the replay window, either way
};

struct SignaturePolicy {
  // How far a timestamp may be from the receiver's clock, into the past or the future.
  std::chrono::seconds replay_window{300};
  // Whether a delivery without a timestamp (signed over its body alone) is refused.
  bool require_timestamp = false;
};

// Checks a signature header value against the body alone. The digests are compared in
// constant time; the hex digits may be in either case.
SignatureCheck CheckSignature(std::string_view secret, std::string_view body,
                              std::string_view header);

// Checks a delivery's X-Signature and X-Propbridge-Timestamp values (empty when absent) under
// `policy` at `now`: with a timestamp, the signature must cover it and the body, and it must
// lie within the window; without one, the body alone, unless the policy requires it. The
// window is checked only once the signature holds, so that it tells no one about the
// receiver's clock who does not know the secret.
SignatureCheck CheckDelivery(std::string_view secret, std::string_view body,
                             std::string_view signature, std::string_view timestamp,
                             const SignaturePolicy& policy,
                             std::chrono::system_clock::time_point now);

}  // namespace propbridge::maintenance
