#include "plugins/maintenance/signature.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace propbridge::maintenance
