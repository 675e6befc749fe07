#include <gtest/gtest.h>

#include <string>

#include "daemon/app/conversation_filter.h"

namespace replywatch::app {
namespace {

ConversationKey key(int source, int n) { return {"source-" + std::to_string(source), std::to_string(n)}; }

TEST(ConversationFilter, NeverForgetsAnAddedConversation) {
  ConversationFilter f(1000);
  for (int i = 0; i < 50'000; ++i) f.add(key(i % 3, i));
  for (int i = 0; i < 50'000; ++i) ASSERT_TRUE(f.mayContain(key(i % 3, i))) << i;
  // A key whose bits were all set already is not counted: a few of the 50,000.
  EXPECT_LE(f.count(), 50'000u);
  EXPECT_GT(f.count(), 49'500u);
}

TEST(ConversationFilter, CountsAConversationOnce) {
  ConversationFilter f(1000);
  for (int i = 0; i < 10; ++i) f.add(key(0, 7));
  EXPECT_EQ(f.count(), 1u);
  // Every message of a conversation adds it again: the filter fills with conversations,
  // not messages.
  for (int i = 0; i < 300'000; ++i) f.add(key(1, i % 1000));
  EXPECT_LE(f.count(), 1001u);
  EXPECT_FALSE(f.overfull());
}

TEST(ConversationFilter, FalsePositivesAreRareWithinCapacity) {
  ConversationFilter f(200'000);
  for (int i = 0; i < 200'000; ++i) f.add(key(0, i));
  EXPECT_FALSE(f.overfull());
  int false_positives = 0;
  for (int i = 0; i < 100'000; ++i) false_positives += f.mayContain(key(1, i)) ? 1 : 0;
  EXPECT_LT(false_positives, 2'000);  // under 2% (about 1% expected)
}

TEST(ConversationFilter, ReportsWhenOverfull) {
  ConversationFilter f(0);
  std::uint64_t n = 0;
  while (!f.overfull()) f.add(key(0, static_cast<int>(n++)));
  EXPECT_GT(n, 100'000u);  // the minimum size holds about 100k conversations
}

}  // namespace
}  // namespace replywatch::app
