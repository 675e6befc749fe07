// The verdict's input, loaded from a real SQLite store: the window and account filters,
// and each turn's wait split by phase over the relay legs linked to it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "daemon/app/turn_facts.h"

namespace replywatch::app {
namespace {

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> n{0};
    path_ = std::filesystem::temp_directory_path() /
            ("replywatch-facts-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

Turn turn(const std::string& account, const std::string& id, Timestamp asked,
          std::optional<Timestamp> answered) {
  Turn t;
  t.account = account;
  t.channel = "x";
  t.source = "src";
  t.conversation_id = "c" + id;
  t.question_id = id;
  t.asked_at = asked;
  t.answered_at = answered;
  if (answered) {
    t.answer_id = "a" + id;
    t.handler = "cm-agency";
    t.route = Route::Agency;
  }
  return t;
}

TEST(TurnFacts, WindowAccountAndPhasesFromTheStore) {
  TempDir dir;
  auto opened = store::openSqliteStore(dir.path() / "store.db");
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  auto store = std::move(opened).value();
  const Timestamp t0 = *parseRfc3339("2026-11-01T10:00:00Z");
  const Timestamp until = t0 + std::chrono::hours{48};
  store::WriteBatch batch;
  batch.upsert_turns = {
      turn("acme", "q1", t0, t0 + std::chrono::minutes{30}),
      turn("acme", "q2", t0 + std::chrono::hours{1}, std::nullopt),
      turn("other", "q3", t0 + std::chrono::hours{2}, t0 + std::chrono::hours{3}),
      turn("acme", "q4", t0 - std::chrono::seconds{1}, t0),        // before the window
      turn("acme", "q5", until, until + std::chrono::minutes{1}),  // at the window's end: outside
  };
  ASSERT_TRUE(store->commit(batch).ok());

  // Account by account, in the order asked for, each in asked_at order.
  auto facts = loadTurnFacts(*store, t0, until, {"acme", "other"});
  ASSERT_TRUE(facts.ok()) << facts.error().message;
  ASSERT_EQ(facts->size(), 3u);
  EXPECT_EQ((*facts)[0].turn.question_id, "q1");
  EXPECT_FALSE((*facts)[0].phases.escalated);
  EXPECT_EQ((*facts)[0].phases.direct, std::chrono::minutes{30});
  EXPECT_EQ((*facts)[0].phases.total(), std::chrono::minutes{30});
  EXPECT_EQ((*facts)[1].turn.question_id, "q2");
  EXPECT_EQ((*facts)[1].phases.direct, std::chrono::hours{47});  // open: measured up to `until`
  EXPECT_EQ((*facts)[2].turn.account, "other");

  auto acme = loadTurnFacts(*store, t0, until, {"acme"});
  ASSERT_TRUE(acme.ok());
  EXPECT_EQ(acme->size(), 2u);
  auto reversed = loadTurnFacts(*store, t0, until, {"other", "acme"});
  ASSERT_TRUE(reversed.ok());
  ASSERT_EQ(reversed->size(), 3u);
  EXPECT_EQ((*reversed)[0].turn.question_id, "q3");
  EXPECT_EQ((*reversed)[2].turn.question_id, "q2");
  auto none = loadTurnFacts(*store, t0, until, {});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(TurnFacts, LinkedRelayLegsSplitTheWait) {
  TempDir dir;
  auto opened = store::openSqliteStore(dir.path() / "store.db");
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  auto store = std::move(opened).value();
  const Timestamp t0 = *parseRfc3339("2026-11-02T10:00:00Z");
  using std::chrono::minutes;

  store::WriteBatch batch;
  MessageRecord question;
  question.source = "src";
  question.id = "q1";
  question.account = "acme";
  question.channel = "x";
  question.conversation_id = "cq1";
  question.created_at = t0;
  question.role = Role::Question;
  batch.messages = {question};
  batch.upsert_turns = {turn("acme", "q1", t0, t0 + minutes{60}), turn("acme", "q2", t0, t0 + minutes{5})};
  EscalationRecord leg;
  leg.source = "relays";
  leg.escalation.id = "e1";
  leg.escalation.account = "acme";
  leg.escalation.question_ref = "q1";  // a message id: links to q1's turn
  leg.escalation.requested_at = t0 + minutes{10};
  leg.escalation.requested_by = "cm-agency";
  leg.escalation.relay = "legal";
  leg.escalation.answered_at = t0 + minutes{40};
  leg.route = Route::Agency;
  batch.escalations = {leg};
  ASSERT_TRUE(store->commit(batch).ok());

  auto facts = loadTurnFacts(*store, t0, t0 + std::chrono::hours{24}, {"acme"});
  ASSERT_TRUE(facts.ok()) << facts.error().message;
  ASSERT_EQ(facts->size(), 2u);
  const auto& q1 = (*facts)[0].turn.question_id == "q1" ? (*facts)[0] : (*facts)[1];
  const auto& q2 = (*facts)[0].turn.question_id == "q1" ? (*facts)[1] : (*facts)[0];
  EXPECT_TRUE(q1.phases.escalated);
  EXPECT_EQ(q1.phases.before_escalation, minutes{10});
  EXPECT_EQ(q1.phases.relay, minutes{30});
  EXPECT_EQ(q1.phases.after_relay, minutes{20});
  EXPECT_EQ(q1.phases.direct, minutes{0});
  EXPECT_FALSE(q2.phases.escalated);
  EXPECT_EQ(q2.phases.direct, minutes{5});

  // A window ending while the relay works: q1 is open at its end, its relay leg too.
  auto mid_relay = loadTurnFacts(*store, t0, t0 + minutes{20}, {"acme"});
  ASSERT_TRUE(mid_relay.ok()) << mid_relay.error().message;
  const auto& early = (*mid_relay)[0].turn.question_id == "q1" ? (*mid_relay)[0] : (*mid_relay)[1];
  EXPECT_TRUE(early.phases.escalated);
  EXPECT_EQ(early.phases.before_escalation, minutes{10});
  EXPECT_EQ(early.phases.relay, minutes{10});
  EXPECT_EQ(early.phases.total(), minutes{20});
  // A window ending before the leg was requested: no escalation yet.
  auto before_leg = loadTurnFacts(*store, t0, t0 + minutes{8}, {"acme"});
  ASSERT_TRUE(before_leg.ok()) << before_leg.error().message;
  for (const auto& fact : *before_leg) {
    EXPECT_FALSE(fact.phases.escalated) << fact.turn.question_id;
    EXPECT_LE(fact.phases.total(), minutes{8}) << fact.turn.question_id;
  }
}

}  // namespace
}  // namespace replywatch::app
