#include <gtest/gtest.h>

#include "connectors/common/hmac.h"

namespace replywatch::connectors {
namespace {

constexpr const char* kSecret = "my_lovely_secret_for_web_hook";
constexpr const char* kBody = R"({"ping":"OK"})";
constexpr const char* kDigest = "162f107f6b5022353274eb1a7197885cfd35744d8d08e5bcea025d309386b7d6";

TEST(Hmac, KnownAnswer) { EXPECT_EQ(hmacSha256Hex(kSecret, kBody), kDigest); }

TEST(Hmac, Rfc4231TestCase2) {
  EXPECT_EQ(hmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Hmac, EmptyKeyAndBody) {
  EXPECT_EQ(hmacSha256Hex("", ""), "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(Hmac, Base64) { EXPECT_EQ(hmacSha256Base64(kSecret, kBody).size(), 44u); }

TEST(Hmac, ConstantTimeEquals) {
  EXPECT_TRUE(constantTimeEquals("", ""));
  EXPECT_TRUE(constantTimeEquals(kDigest, kDigest));
  std::string other = kDigest;
  other.back() = '7';
  EXPECT_FALSE(constantTimeEquals(kDigest, other));
  other = kDigest;
  other.front() = '2';
  EXPECT_FALSE(constantTimeEquals(kDigest, other));
  EXPECT_FALSE(constantTimeEquals(kDigest, std::string(kDigest).substr(1)));
  EXPECT_FALSE(constantTimeEquals("abc", "abcd"));
}

TEST(Hmac, ParseSignatureHeader) {
  EXPECT_EQ(parseSignatureHeader(std::string("sha256=") + kDigest), kDigest);
  std::string upper = std::string("SHA256=") + kDigest;
  for (std::size_t i = 7; i < upper.size(); ++i) upper[i] = static_cast<char>(std::toupper(upper[i]));
  EXPECT_EQ(parseSignatureHeader("  " + upper + " "), kDigest);
  EXPECT_FALSE(parseSignatureHeader(kDigest));                                 // no prefix
  EXPECT_FALSE(parseSignatureHeader(std::string("sha1=") + kDigest));          // other algorithm
  EXPECT_FALSE(parseSignatureHeader(std::string("sha256=") + kDigest + "0"));  // too long
  EXPECT_FALSE(
      parseSignatureHeader("sha256=zz2f107f6b5022353274eb1a7197885cfd35744d8d08e5bcea025d309386b7d6"));
  EXPECT_FALSE(parseSignatureHeader(""));
}

TEST(Hmac, VerifySignature) {
  EXPECT_TRUE(verifySha256Signature(kSecret, kBody, std::string("sha256=") + kDigest));
  EXPECT_FALSE(verifySha256Signature(kSecret, R"({"ping":"OK"} )", std::string("sha256=") + kDigest));
  EXPECT_FALSE(verifySha256Signature("other", kBody, std::string("sha256=") + kDigest));
  EXPECT_FALSE(verifySha256Signature("", kBody, "sha256=" + hmacSha256Hex("", kBody)));
  EXPECT_FALSE(verifySha256Signature(kSecret, kBody, ""));
}

}  // namespace
}  // namespace replywatch::connectors
