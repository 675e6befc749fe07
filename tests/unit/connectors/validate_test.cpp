#include <gtest/gtest.h>

#include "connectors/common/validate.h"
#include "tests/unit/connectors/test_support.h"

namespace replywatch::connectors {
namespace {

using testing::at;

TEST(Utf8, AcceptsWellFormed) {
  EXPECT_TRUE(isValidUtf8(""));
  EXPECT_TRUE(isValidUtf8("plain ascii text, long enough to use the fast path"));
  EXPECT_TRUE(isValidUtf8("Réponse à « Léa » — merci ! 🙂 日本"));
  EXPECT_TRUE(isValidUtf8("\xC2\x80"));          // U+0080
  EXPECT_TRUE(isValidUtf8("\xEF\xBF\xBF"));      // U+FFFF
  EXPECT_TRUE(isValidUtf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF
  EXPECT_TRUE(isValidUtf8(std::string_view("a\0b", 3)));
}

TEST(Utf8, RejectsMalformed) {
  EXPECT_FALSE(isValidUtf8("Caf\xE9"));           // Latin-1
  EXPECT_FALSE(isValidUtf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(isValidUtf8("\xE0\x80\xAF"));      // overlong 3-byte
  EXPECT_FALSE(isValidUtf8("\xF0\x80\x80\xAF"));  // overlong 4-byte
  EXPECT_FALSE(isValidUtf8("\xED\xA0\x80"));      // surrogate U+D800
  EXPECT_FALSE(isValidUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(isValidUtf8("\xF5\x80\x80\x80"));
  EXPECT_FALSE(isValidUtf8("\x80"));                      // lone continuation
  EXPECT_FALSE(isValidUtf8("abc\xC3"));                   // truncated at the end
  EXPECT_FALSE(isValidUtf8("abcdefghijklmnop\xE2\x82"));  // truncated after the fast path
  EXPECT_FALSE(isValidUtf8("\xE2\x28\xA1"));              // bad continuation
  EXPECT_FALSE(isValidUtf8("\xFF"));
}

TEST(MessageValidator, FieldLengthAndUtf8) {
  ManualClock clock(at("2024-06-01T00:00:00Z"));
  MessageValidator v(10, std::chrono::seconds{300}, clock);
  EXPECT_FALSE(v.checkField("text", "0123456789"));
  auto long_field = v.checkField("text", "01234567890");
  ASSERT_TRUE(long_field);
  EXPECT_EQ(long_field->reason, ErrorReason::FieldTooLong);
  EXPECT_NE(long_field->message.find("text"), std::string::npos);
  auto bad = v.checkField("author_name", "Caf\xE9");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->reason, ErrorReason::InvalidUtf8);
  EXPECT_EQ(bad->message.find("Caf"), std::string::npos);  // never the contents
}

TEST(MessageValidator, Timestamps) {
  ManualClock clock(at("2024-06-01T00:00:00Z"));
  MessageValidator v(1024, std::chrono::seconds{300}, clock);
  EXPECT_FALSE(v.checkTimestamp(at("2024-06-01T00:05:00Z")));
  auto future = v.checkTimestamp(at("2024-06-01T00:05:01Z"));
  ASSERT_TRUE(future);
  EXPECT_EQ(future->reason, ErrorReason::FutureTimestamp);
  EXPECT_FALSE(v.checkTimestamp(at("2000-01-01T00:00:00Z")));
  auto old = v.checkTimestamp(at("1999-12-31T23:59:59Z"));
  ASSERT_TRUE(old);
  EXPECT_EQ(old->reason, ErrorReason::InvalidTimestamp);
  clock.advance(std::chrono::hours{1});
  EXPECT_FALSE(v.checkTimestamp(at("2024-06-01T00:05:01Z")));
  // An explicit reading of the clock wins.
  EXPECT_TRUE(v.checkTimestamp(at("2024-06-01T00:05:01Z"), at("2024-06-01T00:00:00Z")));
}

TEST(MessageValidator, WholeMessage) {
  ManualClock clock(at("2024-06-01T00:00:00Z"));
  MessageValidator v(1024, std::chrono::seconds{300}, clock);
  Message m;
  m.id = "1";
  m.conversation_id = "1";
  m.author_id = "u";
  m.created_at = at("2024-05-01T00:00:00Z");
  EXPECT_FALSE(v.check(m));
  m.author_id.clear();
  ASSERT_TRUE(v.check(m));
  EXPECT_EQ(v.check(m)->reason, ErrorReason::MissingField);
  m.author_id = "u";
  m.text = std::string(2000, 'x');
  EXPECT_EQ(v.check(m)->reason, ErrorReason::FieldTooLong);
}

}  // namespace
}  // namespace replywatch::connectors
