#include "plugins/maintenance/signature.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace propbridge::maintenance {
namespace {

// RFC 4231, test case 2.
constexpr const char* kKey = "Jefe";
constexpr const char* kData = "what do ya want for nothing?";
constexpr const char* kDigest = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";

TEST(MaintenanceSignatureTest, SignsWithHmacSha256InLowerCaseHex) {
  EXPECT_EQ(SignBody(kKey, kData), kDigest);
}

TEST(MaintenanceSignatureTest, AcceptsTheBodysSignatureInEitherCase) {
  std::string header = std::string("sha256=") + kDigest;
  EXPECT_EQ(CheckSignature(kKey, kData, header), SignatureCheck::kValid);
  std::string upper = header;
  for (std::size_t i = 7; i < upper.size(); ++i) upper[i] = static_cast<char>(toupper(upper[i]));
  EXPECT_EQ(CheckSignature(kKey, kData, upper), SignatureCheck::kValid);
  EXPECT_EQ(CheckSignature(kKey, kData, " " + header + " "), SignatureCheck::kValid);
}

TEST(MaintenanceSignatureTest, TellsMissingFromMalformedFromWrong) {
  EXPECT_EQ(CheckSignature(kKey, kData, ""), SignatureCheck::kMissing);
  EXPECT_EQ(CheckSignature(kKey, kData, "   "), SignatureCheck::kMissing);
  EXPECT_EQ(CheckSignature(kKey, kData, kDigest), SignatureCheck::kMalformed);
  EXPECT_EQ(CheckSignature(kKey, kData, std::string("sha1=") + kDigest),
            SignatureCheck::kMalformed);
  EXPECT_EQ(CheckSignature(kKey, kData, "sha256=5bdc"), SignatureCheck::kMalformed);
  std::string not_hex = std::string("sha256=") + kDigest;
  not_hex[10] = 'g';
  EXPECT_EQ(CheckSignature(kKey, kData, not_hex), SignatureCheck::kMalformed);

  std::string flipped = std::string("sha256=") + kDigest;
  flipped.back() = '2';
  EXPECT_EQ(CheckSignature(kKey, kData, flipped), SignatureCheck::kMismatch);
  EXPECT_EQ(CheckSignature("another key", kData, std::string("sha256=") + kDigest),
            SignatureCheck::kMismatch);
  EXPECT_EQ(CheckSignature(kKey, std::string(kData) + " ", std::string("sha256=") + kDigest),
            SignatureCheck::kMismatch);
}

using std::chrono::seconds;
using std::chrono::system_clock;

constexpr std::int64_t kSent = 1790000000;
const system_clock::time_point kAtSending{seconds(kSent)};

std::string Timestamped(std::string_view timestamp, std::string_view body = kData) {
  return "sha256=" + SignTimestamped(kKey, timestamp, body);
}

TEST(MaintenanceSignatureTest, TheTimestampedFormSignsTimestampDotBody) {
  EXPECT_EQ(SignTimestamped(kKey, "1790000000", kData),
            SignBody(kKey, std::string("1790000000.") + kData));
}

TEST(MaintenanceSignatureTest, ATimestampedDeliveryIsValidWithinTheWindowEitherWay) {
  const SignaturePolicy policy{.replay_window = seconds(300)};
  const std::string sent = std::to_string(kSent);
  for (int offset : {0, 1, -1, 300, -300}) {
    EXPECT_EQ(
        CheckDelivery(kKey, kData, Timestamped(sent), sent, policy, kAtSending + seconds(offset)),
        SignatureCheck::kValid)
        << offset;
  }
  // Stale: received too long after; from the future: received too long before.
  EXPECT_EQ(CheckDelivery(kKey, kData, Timestamped(sent), sent, policy, kAtSending + seconds(301)),
            SignatureCheck::kTimestampOutside);
  EXPECT_EQ(CheckDelivery(kKey, kData, Timestamped(sent), sent, policy, kAtSending - seconds(301)),
            SignatureCheck::kTimestampOutside);
}

TEST(MaintenanceSignatureTest, TheTimestampIsSignedAndCheckedBeforeTheWindow) {
  const SignaturePolicy policy;
  const std::string sent = std::to_string(kSent);
  const std::string later = std::to_string(kSent + 1000);
  // Moved forward into the receiver's window, the timestamp no longer matches its signature.
  EXPECT_EQ(
      CheckDelivery(kKey, kData, Timestamped(sent), later, policy, kAtSending + seconds(1000)),
      SignatureCheck::kMismatch);
  // The body alone signed, but a timestamp sent: the timestamp is not covered.
  EXPECT_EQ(CheckDelivery(kKey, kData, std::string("sha256=") + kDigest, sent, policy, kAtSending),
            SignatureCheck::kMismatch);
  // A wrong signature is a mismatch even out of the window: the clock is told to no one.
  EXPECT_EQ(CheckDelivery("another key", kData, Timestamped(sent), sent, policy,
                          kAtSending + seconds(9999)),
            SignatureCheck::kMismatch);
  EXPECT_EQ(CheckDelivery(kKey, "other body", Timestamped(sent), sent, policy, kAtSending),
            SignatureCheck::kMismatch);
}

TEST(MaintenanceSignatureTest, ATimestampIsUnixSecondsInDigitsOnly) {
  const SignaturePolicy policy;
  for (std::string bad : {"-1790000000", "+1790000000", "1790000000.5", "1.79e9", "abc",
                          "1790000000000", "2026-10-12T08:15:00Z", "0x6AB1E400"}) {
    EXPECT_EQ(CheckDelivery(kKey, kData, Timestamped(bad), bad, policy, kAtSending),
              SignatureCheck::kTimestampMalformed)
        << bad;
  }
  const std::string sent = std::to_string(kSent);
  EXPECT_EQ(CheckDelivery(kKey, kData, Timestamped(sent), " " + sent + " ", policy, kAtSending),
            SignatureCheck::kValid);
}

TEST(MaintenanceSignatureTest, TheBodyAloneIsSignedUnlessATimestampIsRequired) {
  const std::string body_only = std::string("sha256=") + kDigest;
  EXPECT_EQ(CheckDelivery(kKey, kData, body_only, "", SignaturePolicy{}, kAtSending),
            SignatureCheck::kValid);
  const SignaturePolicy required{.require_timestamp = true};
  EXPECT_EQ(CheckDelivery(kKey, kData, body_only, "", required, kAtSending),
            SignatureCheck::kTimestampMissing);
  const std::string sent = std::to_string(kSent);
  EXPECT_EQ(CheckDelivery(kKey, kData, Timestamped(sent), sent, required, kAtSending),
            SignatureCheck::kValid);
  EXPECT_EQ(CheckDelivery(kKey, kData, "", "", required, kAtSending), SignatureCheck::kMissing);
  EXPECT_EQ(CheckDelivery(kKey, kData, "sha256=00", sent, required, kAtSending),
            SignatureCheck::kMalformed);
}

}  // namespace
}  // namespace propbridge::maintenance
