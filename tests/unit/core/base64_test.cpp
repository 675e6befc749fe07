#include <gtest/gtest.h>

#include <string>

#include "daemon/core/base64.h"

namespace replywatch {
namespace {

using B = Base64Alphabet;

// RFC 4648, section 10.
TEST(Base64, EncodesTheRfcTestVectors) {
  EXPECT_EQ(base64Encode(""), "");
  EXPECT_EQ(base64Encode("f"), "Zg==");
  EXPECT_EQ(base64Encode("fo"), "Zm8=");
  EXPECT_EQ(base64Encode("foo"), "Zm9v");
  EXPECT_EQ(base64Encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64Encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64Encode("foobar"), "Zm9vYmFy");
}

TEST(Base64, DecodesTheRfcTestVectors) {
  for (const std::string plain : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    EXPECT_EQ(base64Decode(base64Encode(plain)), plain) << plain;
  }
  EXPECT_EQ(base64Decode("aGVsbG8h"), "hello!");
}

TEST(Base64, UrlFormUsesDashAndUnderscoreWithoutPadding) {
  const std::string bytes("\xfb\xff\xbf\x01", 4);
  EXPECT_EQ(base64Encode(bytes), "+/+/AQ==");
  EXPECT_EQ(base64Encode(bytes, B::Url), "-_-_AQ");
  EXPECT_EQ(base64Decode("-_-_AQ", B::Url), bytes);
  EXPECT_EQ(base64Decode("", B::Url), "");
  for (std::string plain; plain.size() < 8; plain.push_back(static_cast<char>(0xF0 + plain.size()))) {
    EXPECT_EQ(base64Decode(base64Encode(plain, B::Url), B::Url), plain);
  }
}

TEST(Base64, StandardFormRefusesWhatNoEncoderWrites) {
  EXPECT_FALSE(base64Decode("aGVsbG8"));     // length not a multiple of 4
  EXPECT_FALSE(base64Decode("aG=sbG8="));    // padding in the middle
  EXPECT_FALSE(base64Decode("aGVsbG=8"));    // data after padding
  EXPECT_FALSE(base64Decode("aGV*bG8="));    // outside the alphabet
  EXPECT_FALSE(base64Decode(" aGVsbG8= "));  // whitespace OpenSSL alone would skip
  EXPECT_FALSE(base64Decode("aGVs\nbG8="));
  EXPECT_FALSE(base64Decode("aGVsb==="));  // three padding characters
  EXPECT_FALSE(base64Decode("-_-_AQ=="));  // url alphabet
  EXPECT_FALSE(base64Decode(std::string("aGVs\0bG8", 8)));
}

TEST(Base64, UrlFormRefusesPaddingAndTheStandardAlphabet) {
  EXPECT_FALSE(base64Decode("+/+/AQ", B::Url));
  EXPECT_FALSE(base64Decode("-_-_AQ==", B::Url));
  EXPECT_FALSE(base64Decode("-_-_A", B::Url));  // 4n+1 characters encode nothing
  EXPECT_FALSE(base64Decode("-_ -_AQ", B::Url));
}

}  // namespace
}  // namespace replywatch
