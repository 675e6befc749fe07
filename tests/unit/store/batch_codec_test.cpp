#include <gtest/gtest.h>

#include <string>

#include "daemon/store/batch_codec.h"
#include "tests/unit/store/store_test_util.h"

namespace replywatch::store {
namespace {

// A batch using every field, optionals both set and unset, and bytes a text encoding
// would trip on (NUL, non-ASCII, a long string).
WriteBatch everyField() {
  WriteBatch b;
  b.require_new_messages = true;
  MessageRecord m = testing::message("src", "conv-1", "m-1", 1'717'200'000'000);
  m.in_reply_to = std::string("with\0nul", 8);
  m.responder = "équipe";
  m.handler = std::string(300, 'h');
  m.route = Route::Agency;
  b.messages.push_back(m);
  b.messages.push_back(testing::message("src", "conv-1", "m-2", -5, Role::Brand));
  b.upsert_turns.push_back(
      testing::answeredTurn("src", "conv-1", "m-1", 1'717'200'000'000, 1'717'200'060'000));
  Turn open = testing::openTurn("src", "conv-2", "q", 42);
  open.breached_at = fromMillis(3'600'042);
  b.upsert_turns.push_back(open);
  b.delete_turns.push_back(TurnKey{"src", "conv-3", "old"});
  b.cursors = {{"src", "page-7"}, {"other", ""}};
  EscalationRecord e;
  e.source = "relay";
  e.escalation.id = "e-1";
  e.escalation.account = "acme";
  e.escalation.question_ref = "m-1";
  e.escalation.requested_at = fromMillis(1000);
  e.escalation.answered_at = fromMillis(2000);
  e.escalation.requested_by = "agency-a";
  e.escalation.relay = "legal";
  e.route = Route::Internal;
  e.turn = TurnKey{"src", "conv-1", "m-1"};
  b.escalations.push_back(e);
  e.escalation.id = "e-2";
  e.escalation.answered_at.reset();
  e.turn.reset();
  b.escalations.push_back(e);
  return b;
}

void expectSame(const WriteBatch& a, const WriteBatch& b) {
  EXPECT_EQ(a.require_new_messages, b.require_new_messages);
  ASSERT_EQ(a.messages.size(), b.messages.size());
  for (std::size_t i = 0; i < a.messages.size(); ++i) {
    const MessageRecord& x = a.messages[i];
    const MessageRecord& y = b.messages[i];
    EXPECT_EQ(x.source, y.source);
    EXPECT_EQ(x.id, y.id);
    EXPECT_EQ(x.account, y.account);
    EXPECT_EQ(x.channel, y.channel);
    EXPECT_EQ(x.conversation_id, y.conversation_id);
    EXPECT_EQ(x.in_reply_to, y.in_reply_to);
    EXPECT_EQ(x.created_at, y.created_at);
    EXPECT_EQ(x.role, y.role);
    EXPECT_EQ(x.responder, y.responder);
    EXPECT_EQ(x.handler, y.handler);
    EXPECT_EQ(x.route, y.route);
  }
  EXPECT_EQ(a.upsert_turns, b.upsert_turns);
  EXPECT_EQ(a.delete_turns, b.delete_turns);
  EXPECT_EQ(a.cursors, b.cursors);
  EXPECT_EQ(a.escalations, b.escalations);
}

TEST(BatchCodec, RoundTripsEveryField) {
  const WriteBatch batch = everyField();
  std::string bytes;
  encodeBatch(batch, bytes);
  auto decoded = decodeBatch(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  expectSame(batch, decoded.value());
}

TEST(BatchCodec, RoundTripsAnEmptyBatch) {
  std::string bytes;
  encodeBatch(WriteBatch{}, bytes);
  auto decoded = decodeBatch(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  expectSame(WriteBatch{}, decoded.value());
}

TEST(BatchCodec, EveryTruncationIsAnError) {
  std::string bytes;
  encodeBatch(everyField(), bytes);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto decoded = decodeBatch(std::string_view(bytes).substr(0, n));
    EXPECT_FALSE(decoded.ok()) << "prefix of " << n << " bytes decoded";
  }
}

TEST(BatchCodec, RefusesTrailingBytesAnUnknownVersionAndOutOfRangeValues) {
  std::string bytes;
  encodeBatch(everyField(), bytes);
  auto trailing = decodeBatch(bytes + '\0');
  ASSERT_FALSE(trailing.ok());
  EXPECT_NE(trailing.error().message.find("bytes after"), std::string::npos) << trailing.error().message;

  std::string version = bytes;
  version[0] = 9;
  auto unknown = decodeBatch(version);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("version 9"), std::string::npos) << unknown.error().message;

  std::string flag = bytes;
  flag[1] = 2;  // require_new_messages is 0 or 1
  EXPECT_FALSE(decodeBatch(flag).ok());

  // A count larger than the bytes left cannot be honest: refused before reserving.
  std::string huge;
  huge.push_back(1);
  huge.push_back(0);
  for (int i = 0; i < 9; ++i) huge.push_back(static_cast<char>(0xff));
  huge.push_back(1);
  EXPECT_FALSE(decodeBatch(huge).ok());
}

}  // namespace
}  // namespace replywatch::store
