#include <gtest/gtest.h>

#include "tests/unit/tracker/tracker_test_util.h"

namespace replywatch::tracker {
namespace {

using testing::at;
using testing::msg;
constexpr std::chrono::seconds kHour{3600};

TEST(ComputeTurns, SingleQuestionAndAnswer) {
  auto turns = computeTurns({msg("q", 0, Role::Question), msg("a", 600, Role::Brand)}, kHour);
  ASSERT_EQ(turns.size(), 1u);
  const Turn& t = turns[0];
  EXPECT_EQ(t.account, "acme");
  EXPECT_EQ(t.channel, "x");
  EXPECT_EQ(t.source, "src");
  EXPECT_EQ(t.conversation_id, "c1");
  EXPECT_EQ(t.question_id, "q");
  EXPECT_EQ(t.asked_at, at(0));
  EXPECT_EQ(t.answer_id, "a");
  EXPECT_EQ(t.answered_at, at(600));
  EXPECT_EQ(t.responder, "agent1");
  EXPECT_EQ(t.handler, "team");
  EXPECT_EQ(t.route, Route::Internal);
  EXPECT_FALSE(t.breached_at);
  EXPECT_FALSE(t.open());
}

TEST(ComputeTurns, SeveralInboundMessagesJoinOneTurn) {
  auto turns = computeTurns({msg("q3", 120, Role::Question), msg("q1", 0, Role::Question),
                             msg("q2", 60, Role::Inbound), msg("a", 300, Role::Brand)},
                            kHour);
  ASSERT_EQ(turns.size(), 1u);
  EXPECT_EQ(turns[0].question_id, "q1");
  EXPECT_EQ(turns[0].asked_at, at(0));
  EXPECT_EQ(turns[0].answer_id, "a");
}

TEST(ComputeTurns, BrandWithoutOpenTurnIsIgnored) {
  auto turns = computeTurns({msg("p", 0, Role::Brand), msg("q", 10, Role::Question)}, kHour);
  ASSERT_EQ(turns.size(), 1u);
  EXPECT_TRUE(turns[0].open());
  EXPECT_TRUE(computeTurns({msg("p", 0, Role::Brand)}, kHour).empty());
}

TEST(ComputeTurns, AnswerThenNewQuestionOpensSecondTurn) {
  auto turns = computeTurns({msg("q1", 0, Role::Question), msg("a1", 100, Role::Brand),
                             msg("a2", 150, Role::Brand), msg("q2", 200, Role::Question)},
                            kHour);
  ASSERT_EQ(turns.size(), 2u);
  EXPECT_EQ(turns[0].answer_id, "a1");
  EXPECT_EQ(turns[1].question_id, "q2");
  EXPECT_TRUE(turns[1].open());
}

TEST(ComputeTurns, InboundNeverOpensButJoins) {
  auto turns =
      computeTurns({msg("i0", 0, Role::Inbound), msg("q", 10, Role::Question), msg("i1", 20, Role::Inbound),
                    msg("a", 30, Role::Brand), msg("i2", 40, Role::Inbound)},
                   kHour);
  ASSERT_EQ(turns.size(), 1u);
  EXPECT_EQ(turns[0].question_id, "q");
  EXPECT_EQ(turns[0].answered_at, at(30));
}

TEST(ComputeTurns, IgnoredMessagesChangeNothing) {
  auto turns = computeTurns({msg("bot", 0, Role::Ignored), msg("q", 10, Role::Question),
                             msg("bot2", 20, Role::Ignored), msg("a", 30, Role::Brand)},
                            kHour);
  ASSERT_EQ(turns.size(), 1u);
  EXPECT_EQ(turns[0].question_id, "q");
  EXPECT_EQ(turns[0].answer_id, "a");
}

TEST(ComputeTurns, TiesOrderedByIdAndDuplicatesDropped) {
  // Same timestamp: "a" sorts before "q", so the brand message comes first and is ignored.
  auto turns = computeTurns(
      {msg("q", 0, Role::Question), msg("a", 0, Role::Brand), msg("q", 0, Role::Question)}, kHour);
  ASSERT_EQ(turns.size(), 1u);
  EXPECT_TRUE(turns[0].open());
}

TEST(ComputeTurns, BreachedWhenWaitStrictlyExceedsThreshold) {
  auto on_time = computeTurns({msg("q", 0, Role::Question), msg("a", 3600, Role::Brand)}, kHour);
  EXPECT_FALSE(on_time[0].breached_at);
  auto late = computeTurns({msg("q", 0, Role::Question), msg("a", 3601, Role::Brand)}, kHour);
  EXPECT_EQ(late[0].breached_at, at(3600));
  auto open = computeTurns({msg("q", 0, Role::Question)}, kHour);
  EXPECT_FALSE(open[0].breached_at);
}

}  // namespace
}  // namespace replywatch::tracker
