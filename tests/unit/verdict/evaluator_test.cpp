// The daemon's periodic evaluation: the published snapshot and its verdict metric text,
// rendered once per evaluation and served to every scrape until the next one.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "daemon/core/clock.h"
#include "daemon/core/timestamp.h"
#include "daemon/verdict/evaluator.h"
#include "daemon/verdict/report.h"

namespace replywatch::verdict {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using ::testing::HasSubstr;

const Timestamp kStart = *parseRfc3339("2026-11-23T12:00:00Z");

config::Config configuration() {
  config::Config c;
  config::AccountConfig a;
  a.name = "acme-fr";
  a.timezone = "Europe/Paris";
  a.threshold = hours{1};
  c.accounts.push_back(a);
  return c;
}

// The turn store of the test: agency turns asked an hour apart, answered in 20 minutes
// (on time) or in 2 hours (late).
struct Store {
  std::vector<TurnFact> facts;
  bool fail = false;

  void add(int count, bool late, Timestamp first_asked, Timestamp now) {
    for (int i = 0; i < count; ++i) {
      Turn t;
      t.account = "acme-fr";
      t.channel = "x";
      t.source = "src";
      t.question_id = "q" + std::to_string(facts.size());
      t.conversation_id = "c" + t.question_id;
      t.asked_at = first_asked + hours{i};
      t.answered_at = t.asked_at + (late ? hours{2} : minutes{20});
      t.answer_id = "a" + t.question_id;
      t.route = Route::Agency;
      t.handler = "cm-agency";
      facts.push_back({t, tracker::decomposeWait(t.asked_at, t.answered_at, {}, now)});
    }
  }

  Result<std::vector<TurnFact>> load(Timestamp from, Timestamp until) const {
    if (fail) return makeError("io", "the store is unavailable");
    std::vector<TurnFact> in_window;
    for (const auto& f : facts) {
      if (f.turn.asked_at >= from && f.turn.asked_at < until) in_window.push_back(f);
    }
    return in_window;
  }
};

TEST(Evaluator, MetricsTextIsTheRenderingOfTheCurrentSnapshot) {
  const auto config = configuration();
  ManualClock clock(kStart);
  Store store;
  store.add(30, false, kStart - hours{100}, kStart);
  store.add(10, true, kStart - hours{60}, kStart);
  Evaluator evaluator(
      config, [&store](Timestamp from, Timestamp until) { return store.load(from, until); }, clock);

  // Before the first evaluation: the text for no snapshot.
  ASSERT_EQ(evaluator.current(), nullptr);
  ASSERT_NE(evaluator.metricsText(), nullptr);
  EXPECT_EQ(*evaluator.metricsText(), renderMetrics(nullptr));

  ASSERT_TRUE(evaluator.evaluate());
  const auto first = evaluator.metricsText();
  const auto first_snapshot = evaluator.current();
  ASSERT_NE(first_snapshot, nullptr);
  const std::string first_rendered = renderMetrics(first_snapshot.get());
  EXPECT_EQ(*first, first_rendered);
  EXPECT_THAT(*first, HasSubstr("replywatch_window_turns{account=\"acme-fr\",route=\"agency\"} 40\n"));
  EXPECT_THAT(*first, HasSubstr("replywatch_window_late_ratio{account=\"acme-fr\",route=\"agency\"} 0.25\n"));
  // Scrapes between two evaluations share the same rendered text.
  EXPECT_EQ(evaluator.metricsText(), first);

  // More turns and a later evaluation: the published text follows the new snapshot.
  clock.advance(hours{1});
  store.add(10, true, kStart - hours{20}, clock.now());
  ASSERT_TRUE(evaluator.evaluate());
  const auto second = evaluator.metricsText();
  ASSERT_NE(second, nullptr);
  EXPECT_NE(second, first);
  EXPECT_EQ(*second, renderMetrics(evaluator.current().get()));
  EXPECT_THAT(*second, HasSubstr("replywatch_window_turns{account=\"acme-fr\",route=\"agency\"} 50\n"));
  EXPECT_THAT(*second, HasSubstr("replywatch_window_late_ratio{account=\"acme-fr\",route=\"agency\"} 0.4\n"));
  EXPECT_NE(*second, *first);
  // A scrape still holding the previous text keeps it whole.
  EXPECT_EQ(*first, first_rendered);

  // A failed evaluation keeps the previous snapshot and its text.
  store.fail = true;
  clock.advance(hours{1});
  EXPECT_FALSE(evaluator.evaluate());
  EXPECT_EQ(evaluator.metricsText(), second);
  EXPECT_EQ(*evaluator.metricsText(), renderMetrics(evaluator.current().get()));
}

// Retention shorter than the window: the window starts where the store keeps every turn.
TEST(Evaluator, TheWindowStartsWhereTheRetentionKeepsEveryTurn) {
  auto config = configuration();
  config.verdict.window = hours{24 * 28};
  ManualClock clock(kStart);
  std::vector<std::pair<Timestamp, Timestamp>> asked;
  Evaluator evaluator(
      config,
      [&asked](Timestamp from, Timestamp until) -> Result<std::vector<TurnFact>> {
        asked.emplace_back(from, until);
        return std::vector<TurnFact>{};
      },
      clock);
  ASSERT_TRUE(evaluator.evaluate());
  config.store.retention = std::chrono::seconds{2 * 86'400};
  ASSERT_TRUE(evaluator.evaluate());
  ASSERT_EQ(asked.size(), 2u);
  EXPECT_EQ(asked[0].first, kStart - hours{24 * 28});
  EXPECT_EQ(asked[1].first, kStart - hours{48});
  EXPECT_EQ(evaluator.current()->accounts[0].from, kStart - hours{48});
  EXPECT_EQ(asked[1].second, kStart);
  // A retention longer than the window leaves it whole.
  EXPECT_EQ(retainedFrom(config, kStart - hours{24}, kStart), kStart - hours{24});
}

}  // namespace
}  // namespace replywatch::verdict
