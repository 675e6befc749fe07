#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "daemon/core/clock.h"
#include "tests/unit/tracker/tracker_test_util.h"

namespace replywatch::tracker {
namespace {

using testing::at;
using testing::FakeStore;
using testing::ingest;
using testing::makeConfig;
using testing::msg;
using namespace std::chrono_literals;

const ChannelStats& channel(const Snapshot& s) { return s.channels.at({"acme", "x"}); }

TEST(Tracker, QuestionThenAnswerAcrossBatches) {
  auto cfg = makeConfig();
  ManualClock clock(at(0));
  FakeStore store;
  Tracker tracker(cfg, clock, store);

  Plan p1 = ingest(tracker, store, {msg("q", 0, Role::Question)});
  ASSERT_EQ(p1.new_messages.size(), 1u);
  ASSERT_EQ(p1.upsert_turns.size(), 1u);
  EXPECT_TRUE(p1.upsert_turns[0].open());
  EXPECT_EQ(channel(tracker.snapshot()).open, 1u);

  Plan p2 = ingest(tracker, store, {msg("a", 600, Role::Brand)});
  ASSERT_EQ(p2.upsert_turns.size(), 1u);
  EXPECT_EQ(p2.upsert_turns[0].answer_id, "a");
  EXPECT_TRUE(p2.delete_turns.empty());
  Snapshot s = tracker.snapshot();
  EXPECT_EQ(channel(s).questions_total, 1u);
  EXPECT_EQ(channel(s).open, 0u);
  const AnswerStats& a = s.answers.at({"acme", "x", "team", "internal"});
  EXPECT_EQ(a.answers_total, 1u);
  EXPECT_DOUBLE_EQ(a.wait_seconds_sum, 600);
}

TEST(Tracker, DuplicateDeliveryChangesNothing) {
  auto cfg = makeConfig();
  ManualClock clock(at(0));
  FakeStore store;
  Tracker tracker(cfg, clock, store);
  ingest(tracker, store, {msg("q", 0, Role::Question), msg("q", 0, Role::Question)});
  Plan dup = ingest(tracker, store, {msg("q", 0, Role::Question)});
  EXPECT_TRUE(dup.new_messages.empty());
  EXPECT_TRUE(dup.upsert_turns.empty());
  EXPECT_TRUE(dup.delete_turns.empty());
  EXPECT_EQ(channel(tracker.snapshot()).questions_total, 1u);
}

TEST(Tracker, PrepareDoesNotModifyTracker) {
  auto cfg = makeConfig();
  ManualClock clock(at(0));
  FakeStore store;
  Tracker tracker(cfg, clock, store);
  auto plan = tracker.prepare({msg("q", 0, Role::Question)});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(tracker.conversationsInMemory(), 0u);
  EXPECT_EQ(channel(tracker.snapshot()).questions_total, 0u);
  // A second prepare of the same message still sees it as new (nothing was committed).
  auto again = tracker.prepare({msg("q", 0, Role::Question)});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->new_messages.size(), 1u);
}

TEST(Tracker, LoaderErrorFailsPrepare) {
  auto cfg = makeConfig();
  ManualClock clock(at(0));
  FakeStore store;
  store.fail = true;
  Tracker tracker(cfg, clock, store);
  auto plan = tracker.prepare({msg("q", 0, Role::Question)});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error().reason, "io");
}

TEST(Tracker, EarlierQuestionRestructuresTurn) {
  auto cfg = makeConfig();
  ManualClock clock(at(0));
  FakeStore store;
  Tracker tracker(cfg, clock, store);
  ingest(tracker, store, {msg("q2", 100, Role::Question), msg("a", 200, Role::Brand)});
  Plan p = ingest(tracker, store, {msg("q1", 50, Role::Question)});
  ASSERT_EQ(p.delete_turns.size(), 1u);
  EXPECT_EQ(p.delete_turns[0].question_id, "q2");
  ASSERT_EQ(p.upsert_turns.size(), 1u);
  EXPECT_EQ(p.upsert_turns[0].question_id, "q1");
  EXPECT_EQ(p.upsert_turns[0].answer_id, "a");
  Snapshot s = tracker.snapshot();
  EXPECT_EQ(channel(s).questions_total, 1u);
  const AnswerStats& a = s.answers.at({"acme", "x", "team", "internal"});
  EXPECT_EQ(a.answers_total, 1u);
  EXPECT_DOUBLE_EQ(a.wait_seconds_sum, 150);
}

// Reference aggregates computed from a set of turns (no tick involved).
struct Expected {
  std::uint64_t questions = 0, breaches = 0, open = 0;
  std::map<std::string, AnswerStats> answers;
};
Expected expectedFrom(const std::vector<Turn>& turns) {
  Expected e;
  for (const Turn& t : turns) {
    ++e.questions;
    if (t.breached_at) ++e.breaches;
    if (t.open()) {
      ++e.open;
      continue;
    }
    AnswerStats& a = e.answers[t.handler];
    ++a.answers_total;
    double w = toSeconds(*t.answered_at - t.asked_at);
    a.wait_seconds_sum += w;
    for (std::size_t i = 0; i < kResponseBuckets.size(); ++i) {
      if (w <= kResponseBuckets[i]) {
        ++a.bucket_counts[i];
        break;
      }
    }
  }
  return e;
}

TEST(TrackerProperty, ArrivalOrderBatchingAndDuplicatesDoNotMatter) {
  std::mt19937 rng(20240501);
  auto cfg = makeConfig();
  const char* handlers[] = {"team", "agency"};
  for (int round = 0; round < 40; ++round) {
    // A random set of conversations.
    std::vector<MessageRecord> all;
    std::map<std::string, std::vector<MessageRecord>> by_conversation;
    int conversations = 1 + static_cast<int>(rng() % 12);
    for (int c = 0; c < conversations; ++c) {
      std::string cid = "c" + std::to_string(c);
      int n = 1 + static_cast<int>(rng() % 10);
      for (int i = 0; i < n; ++i) {
        unsigned r = rng() % 10;
        Role role = r < 4 ? Role::Question : r < 6 ? Role::Inbound : r < 9 ? Role::Brand : Role::Ignored;
        // Coarse times force ties; spread over hours so some answers are late.
        std::int64_t t = static_cast<std::int64_t>(rng() % 12) * 900;
        MessageRecord m =
            msg(cid + "m" + std::to_string(rng() % 1000) + "_" + std::to_string(i), t, role, cid);
        if (role == Role::Brand) m.handler = handlers[rng() % 2];
        all.push_back(m);
        by_conversation[cid].push_back(m);
      }
    }
    std::vector<Turn> expected;
    for (auto& [cid, ms] : by_conversation) {
      auto turns = computeTurns(ms, 3600s);
      expected.insert(expected.end(), turns.begin(), turns.end());
    }
    std::sort(expected.begin(), expected.end(),
              [](const Turn& a, const Turn& b) { return keyOf(a) < keyOf(b); });

    for (int order = 0; order < 8; ++order) {
      std::vector<MessageRecord> feed = all;
      std::size_t dups = rng() % (all.size() + 1);
      for (std::size_t d = 0; d < dups; ++d) feed.push_back(all[rng() % all.size()]);
      std::shuffle(feed.begin(), feed.end(), rng);

      ManualClock clock(at(0));
      FakeStore store;
      TrackerOptions options;
      options.max_idle_conversations = order % 3 == 0 ? 0 : order % 3 == 1 ? 2 : 100000;
      Tracker tracker(cfg, clock, store, options);
      std::size_t pos = 0;
      while (pos < feed.size()) {
        std::size_t len = 1 + rng() % 6;
        std::vector<MessageRecord> batch(
            feed.begin() + static_cast<std::ptrdiff_t>(pos),
            feed.begin() + static_cast<std::ptrdiff_t>(std::min(feed.size(), pos + len)));
        pos += len;
        ingest(tracker, store, batch);
      }

      std::vector<Turn> got = store.allTurns();
      ASSERT_EQ(got, expected) << "round " << round << " order " << order;
      std::size_t stored_messages = 0;
      for (const auto& [k, ms] : store.messages) stored_messages += ms.size();
      ASSERT_EQ(stored_messages, all.size()) << "a duplicate reached the store";

      Expected e = expectedFrom(expected);
      Snapshot s = tracker.snapshot();
      const ChannelStats& ch = channel(s);
      EXPECT_EQ(ch.questions_total, e.questions);
      EXPECT_EQ(ch.breaches_total, e.breaches);
      EXPECT_EQ(ch.open, e.open);
      for (const char* h : handlers) {
        auto it = s.answers.find({"acme", "x", h, "internal"});
        AnswerStats got_a = it == s.answers.end() ? AnswerStats{} : it->second;
        AnswerStats want = e.answers.count(h) ? e.answers[h] : AnswerStats{};
        EXPECT_EQ(got_a.answers_total, want.answers_total) << h;
        EXPECT_EQ(got_a.bucket_counts, want.bucket_counts) << h;
        EXPECT_NEAR(got_a.wait_seconds_sum, want.wait_seconds_sum, 1e-6) << h;
      }
    }
  }
}

TEST(TrackerThreshold, TickMarksBreachOnceAfterThreshold) {
  auto cfg = makeConfig();
  ManualClock clock(at(0));
  FakeStore store;
  Tracker tracker(cfg, clock, store);
  ingest(tracker, store, {msg("q", 0, Role::Question)});

  clock.set(at(3599));
  EXPECT_TRUE(tracker.tick().empty());
  EXPECT_EQ(channel(tracker.snapshot()).late_open, 0u);
  clock.set(at(3600));  // a wait equal to the threshold is not late
  EXPECT_TRUE(tracker.tick().empty());
  EXPECT_EQ(channel(tracker.snapshot()).late_open, 0u);

  clock.advance(1ms);
  auto ticked = tracker.tick();
  ASSERT_EQ(ticked.size(), 1u);
  EXPECT_EQ(ticked[0].question_id, "q");
  EXPECT_EQ(ticked[0].breached_at, at(3600));
  EXPECT_TRUE(ticked[0].open());
  store.applyTicks(ticked);
  Snapshot s = tracker.snapshot();
  EXPECT_EQ(channel(s).breaches_total, 1u);
  EXPECT_EQ(channel(s).late_open, 1u);

  clock.set(at(7200));
  EXPECT_TRUE(tracker.tick().empty());
  EXPECT_EQ(channel(tracker.snapshot()).breaches_total, 1u);

  // A backfilled answer created before the threshold: the breach stays recorded.
  Plan p = ingest(tracker, store, {msg("a", 1800, Role::Brand)});
  ASSERT_EQ(p.upsert_turns.size(), 1u);
  EXPECT_EQ(p.upsert_turns[0].breached_at, at(3600));
  s = tracker.snapshot();
  EXPECT_EQ(channel(s).breaches_total, 1u);
  EXPECT_EQ(channel(s).open, 0u);
  EXPECT_EQ(channel(s).late_open, 0u);
}

TEST(TrackerThreshold, AnsweredLateIsBreachedWithoutTick) {
  auto cfg = makeConfig();
  ManualClock clock(at(10000));
  FakeStore store;
  Tracker tracker(cfg, clock, store);
  Plan p = ingest(tracker, store, {msg("q", 0, Role::Question), msg("a", 7200, Role::Brand)});
  ASSERT_EQ(p.upsert_turns.size(), 1u);
  EXPECT_EQ(p.upsert_turns[0].breached_at, at(3600));
  EXPECT_EQ(channel(tracker.snapshot()).breaches_total, 1u);
  EXPECT_TRUE(tracker.tick().empty());
  EXPECT_EQ(channel(tracker.snapshot()).breaches_total, 1u);
}

TEST(TrackerThreshold, BackfilledOldQuestionIsTickedLater) {
  auto cfg = makeConfig();
  ManualClock clock(at(100000));
  FakeStore store;
  Tracker tracker(cfg, clock, store);
  EXPECT_TRUE(tracker.tick().empty());
  ingest(tracker, store, {msg("q", 0, Role::Question)});  // already far past the threshold
  EXPECT_EQ(channel(tracker.snapshot()).late_open, 1u);
  auto ticked = tracker.tick();
  ASSERT_EQ(ticked.size(), 1u);
  EXPECT_EQ(ticked[0].breached_at, at(3600));
  EXPECT_TRUE(tracker.tick().empty());
}

TEST(TrackerThreshold, PerAccountThresholdAndDefault) {
  auto cfg = makeConfig(600s);
  ManualClock clock(at(0));
  FakeStore store;
  Tracker tracker(cfg, clock, store);
  ingest(tracker, store,
         {msg("q", 0, Role::Question), msg("o", 0, Role::Question, "c9", "other", "nobody", "x")});
  clock.set(at(601));
  auto ticked = tracker.tick();
  ASSERT_EQ(ticked.size(), 1u);
  EXPECT_EQ(ticked[0].account, "acme");
  EXPECT_EQ(ticked[0].breached_at, at(600));
  clock.set(at(3601));
  ticked = tracker.tick();
  ASSERT_EQ(ticked.size(), 1u);
  EXPECT_EQ(ticked[0].account, "nobody");  // unknown account: default 3600 s
  EXPECT_EQ(ticked[0].breached_at, at(3600));
}

TEST(TrackerRestart, BreachIsNotCountedAgainAfterRestore) {
  auto cfg = makeConfig();
  ManualClock clock(at(0));
  FakeStore store;
  {
    Tracker first(cfg, clock, store);
    ingest(first, store,
           {msg("q", 0, Role::Question), msg("q2", 10, Role::Question, "c2"),
            msg("late_q", 0, Role::Question, "c3"), msg("late_a", 4000, Role::Brand, "c3")});
    clock.set(at(3605));
    auto ticked = first.tick();
    ASSERT_EQ(ticked.size(), 1u);  // c1 only; c2 crosses at 3610
    store.applyTicks(ticked);
    EXPECT_EQ(channel(first.snapshot()).breaches_total, 2u);
  }
  Tracker second(cfg, clock, store);
  second.restore(store.allTurns(), store.openMessages());
  Snapshot s = second.snapshot();
  EXPECT_EQ(channel(s).questions_total, 3u);
  EXPECT_EQ(channel(s).breaches_total, 2u);
  EXPECT_EQ(channel(s).open, 2u);
  EXPECT_EQ(channel(s).late_open, 1u);
  EXPECT_EQ(second.conversationsInMemory(), 2u);

  EXPECT_TRUE(second.tick().empty());  // c1 was already counted before the restart
  EXPECT_EQ(channel(second.snapshot()).breaches_total, 2u);

  clock.set(at(3611));
  auto ticked = second.tick();
  ASSERT_EQ(ticked.size(), 1u);
  EXPECT_EQ(ticked[0].conversation_id, "c2");
  store.applyTicks(ticked);
  EXPECT_EQ(channel(second.snapshot()).breaches_total, 3u);

  // Answering the restored, breached turn keeps its breach.
  Plan p = ingest(second, store, {msg("a", 5000, Role::Brand)});
  ASSERT_EQ(p.upsert_turns.size(), 1u);
  EXPECT_EQ(p.upsert_turns[0].breached_at, at(3600));
  s = second.snapshot();
  EXPECT_EQ(channel(s).breaches_total, 3u);
  EXPECT_EQ(channel(s).questions_total, 3u);
  EXPECT_EQ(channel(s).open, 1u);

  // Streaming restore gives the same figures.
  Tracker third(cfg, clock, store);
  for (const Turn& t : store.allTurns()) third.restoreTurn(t);
  third.restoreOpenMessages(store.openMessages());
  EXPECT_TRUE(third.tick().empty());
  Snapshot s3 = third.snapshot();
  EXPECT_EQ(channel(s3).breaches_total, 3u);
  EXPECT_EQ(channel(s3).questions_total, 3u);
  ASSERT_EQ(s3.answers.size(), s.answers.size());
  for (const auto& [k, a] : s.answers) {
    EXPECT_EQ(s3.answers.at(k).answers_total, a.answers_total);
    EXPECT_EQ(s3.answers.at(k).bucket_counts, a.bucket_counts);
    EXPECT_DOUBLE_EQ(s3.answers.at(k).wait_seconds_sum, a.wait_seconds_sum);
  }
}

TEST(TrackerSnapshot, GaugesAndHistogram) {
  auto cfg = makeConfig();
  ManualClock clock(at(0));
  FakeStore store;
  Tracker tracker(cfg, clock, store);
  Snapshot empty = tracker.snapshot();
  ASSERT_TRUE(empty.channels.count({"acme", "x"}));  // configured sources appear with zeros
  EXPECT_EQ(channel(empty).oldest_open_age_seconds, 0);

  ingest(tracker, store,
         {msg("o1", 0, Role::Question, "open1"), msg("o2", 5000, Role::Question, "open2"),
          msg("o3", 9000, Role::Question, "open3"), msg("q1", 0, Role::Question, "a1"),
          msg("r1", 30, Role::Brand, "a1"),                                           // bucket 60
          msg("q2", 0, Role::Question, "a2"), msg("r2", 600, Role::Brand, "a2"),      // bucket 600
          msg("q3", 0, Role::Question, "a3"), msg("r3", 3600, Role::Brand, "a3"),     // bucket 3600
          msg("q4", 0, Role::Question, "a4"), msg("r4", 90000, Role::Brand, "a4")});  // above 86400
  clock.set(at(10000));
  Snapshot s = tracker.snapshot();
  const ChannelStats& ch = channel(s);
  EXPECT_EQ(ch.questions_total, 7u);
  EXPECT_EQ(ch.open, 3u);
  EXPECT_EQ(ch.late_open, 2u);  // ages 10000 and 5000 exceed 3600; 1000 does not
  EXPECT_DOUBLE_EQ(ch.oldest_open_age_seconds, 10000);
  EXPECT_EQ(ch.breaches_total, 1u);  // r4 answered late; open ones not ticked yet

  const AnswerStats& a = s.answers.at({"acme", "x", "team", "internal"});
  EXPECT_EQ(a.answers_total, 4u);
  std::array<std::uint64_t, kResponseBuckets.size()> want{};
  want[0] = 1;  // 30 s   <= 60
  want[2] = 1;  // 600 s  <= 600
  want[6] = 1;  // 3600 s <= 3600
  EXPECT_EQ(a.bucket_counts, want);
  EXPECT_DOUBLE_EQ(a.wait_seconds_sum, 30 + 600 + 3600 + 90000);

  // Answering the oldest open turn moves the oldest age to the next one.
  ingest(tracker, store, {msg("ra", 9500, Role::Brand, "open1")});
  s = tracker.snapshot();
  EXPECT_EQ(channel(s).open, 2u);
  EXPECT_DOUBLE_EQ(channel(s).oldest_open_age_seconds, 5000);
  EXPECT_EQ(channel(s).late_open, 1u);
}

// A breach tick() recorded on a turn then answered in time (a backfilled answer) is not
// in the messages: it must come back with the stored turns when the conversation is read
// from the store again, after a restart or an eviction, or an earlier answer drops it.
TEST(TrackerRestart, ARecordedBreachSurvivesAReadFromTheStore) {
  auto cfg = makeConfig();
  for (const char* how : {"restart", "eviction", "restart, conversation still open"}) {
    SCOPED_TRACE(how);
    const bool evict = std::string(how) == "eviction";
    const bool still_open = std::string(how) == "restart, conversation still open";
    ManualClock clock(at(0));
    FakeStore store;
    TrackerOptions options;
    if (evict) options.max_idle_conversations = 0;
    auto first = std::make_unique<Tracker>(cfg, clock, store, options);
    ingest(*first, store, {msg("q", 0, Role::Question)});
    clock.set(at(3601));
    auto ticked = first->tick();
    ASSERT_EQ(ticked.size(), 1u);
    store.applyTicks(ticked);
    clock.set(at(7200));
    ingest(*first, store, {msg("a", 1800, Role::Brand)});  // answered in time, breach kept
    if (still_open) ingest(*first, store, {msg("q2", 7000, Role::Question)});
    ASSERT_EQ(store.turns.at(TurnKey{"src", "c1", "q"}).breached_at, at(3600));
    EXPECT_EQ(channel(first->snapshot()).breaches_total, 1u);

    Tracker* tracker = first.get();
    std::unique_ptr<Tracker> second;
    if (!evict) {
      first.reset();
      second = std::make_unique<Tracker>(cfg, clock, store, options);
      second->restore(store.allTurns(), store.openMessages());
      tracker = second.get();
      EXPECT_EQ(channel(tracker->snapshot()).breaches_total, 1u);
    }
    const int loads = store.loads;
    // An even earlier answer: the turn is recomputed and keeps its breach.
    Plan p = ingest(*tracker, store, {msg("b", 900, Role::Brand)});
    if (!still_open) {
      EXPECT_EQ(store.loads, loads + 1);  // read back from the store
    }
    ASSERT_EQ(p.upsert_turns.size(), 1u);
    EXPECT_EQ(p.upsert_turns[0].answer_id, "b");
    EXPECT_EQ(p.upsert_turns[0].breached_at, at(3600));
    EXPECT_EQ(store.turns.at(TurnKey{"src", "c1", "q"}).breached_at, at(3600));
    EXPECT_EQ(channel(tracker->snapshot()).breaches_total, 1u);
  }
}

TEST(TrackerMemory, IdleConversationsAreEvictedAndReloaded) {
  auto cfg = makeConfig();
  ManualClock clock(at(0));
  FakeStore store;
  TrackerOptions options;
  options.max_idle_conversations = 1;
  Tracker tracker(cfg, clock, store, options);
  ingest(tracker, store, {msg("qa", 0, Role::Question, "A"), msg("aa", 10, Role::Brand, "A")});
  ingest(tracker, store, {msg("qb", 0, Role::Question, "B"), msg("ab", 10, Role::Brand, "B")});
  ingest(tracker, store, {msg("qo", 0, Role::Question, "O")});
  EXPECT_EQ(tracker.conversationsInMemory(), 2u);  // B (idle, most recent) and O (open)

  int loads = store.loads;
  Plan dup = ingest(tracker, store, {msg("aa", 10, Role::Brand, "A")});
  EXPECT_EQ(store.loads, loads + 1);  // A was reloaded through the loader
  EXPECT_TRUE(dup.new_messages.empty());
  EXPECT_TRUE(dup.upsert_turns.empty());

  Plan p = ingest(tracker, store, {msg("qa2", 20, Role::Question, "A")});
  ASSERT_EQ(p.upsert_turns.size(), 1u);
  EXPECT_EQ(p.upsert_turns[0].question_id, "qa2");
  EXPECT_TRUE(p.delete_turns.empty());
  Snapshot s = tracker.snapshot();
  EXPECT_EQ(channel(s).questions_total, 4u);
  EXPECT_EQ(channel(s).open, 2u);
  EXPECT_EQ(s.answers.at({"acme", "x", "team", "internal"}).answers_total, 2u);

  // Open conversations are never evicted.
  TrackerOptions none;
  none.max_idle_conversations = 0;
  FakeStore store2;
  Tracker t2(cfg, clock, store2, none);
  ingest(t2, store2,
         {msg("q", 0, Role::Question, "X"), msg("q", 0, Role::Question, "Y"), msg("a", 1, Role::Brand, "Y")});
  EXPECT_EQ(t2.conversationsInMemory(), 1u);
}

TEST(TrackerMemory, ManyConversationsSurviveTableGrowthAndEviction) {
  auto cfg = makeConfig();
  ManualClock clock(at(0));
  FakeStore store;
  TrackerOptions options;
  options.max_idle_conversations = 500;
  Tracker tracker(cfg, clock, store, options);
  std::vector<MessageRecord> batch;
  for (int i = 0; i < 5000; ++i) {
    std::string c = "conv" + std::to_string(i);
    batch.push_back(msg("q" + std::to_string(i), i, Role::Question, c));
    if (i % 2 == 0) batch.push_back(msg("a" + std::to_string(i), i + 100, Role::Brand, c));
  }
  ingest(tracker, store, batch);
  EXPECT_EQ(tracker.conversationsInMemory(), 2500u + 500u);
  Plan again = ingest(tracker, store, batch);
  EXPECT_TRUE(again.new_messages.empty());
  EXPECT_TRUE(again.upsert_turns.empty());
  Snapshot s = tracker.snapshot();
  EXPECT_EQ(channel(s).questions_total, 5000u);
  EXPECT_EQ(channel(s).open, 2500u);
}

TEST(Tracker, ForgottenConversationsAreReloadedThroughTheLoader) {
  auto cfg = makeConfig();
  ManualClock clock(at(0));
  FakeStore store;
  Tracker tracker(cfg, clock, store);
  ingest(tracker, store,
         {msg("q1", 0, Role::Question, "done"), msg("a1", 60, Role::Brand, "done"),
          msg("q2", 100, Role::Question, "open")});
  EXPECT_EQ(tracker.conversationsInMemory(), 2u);
  EXPECT_EQ(tracker.forget({{"src", "done"}}), 1u);
  EXPECT_EQ(tracker.conversationsInMemory(), 1u);
  EXPECT_EQ(channel(tracker.snapshot()).open, 1u);
  EXPECT_EQ(channel(tracker.snapshot()).questions_total, 2u);

  // A duplicate of a dropped conversation's message is recognised through the loader.
  const int loads = store.loads;
  Plan p = ingest(tracker, store, {msg("a1", 60, Role::Brand, "done")});
  EXPECT_GT(store.loads, loads);
  EXPECT_TRUE(p.new_messages.empty());
  EXPECT_TRUE(p.upsert_turns.empty());
}

// Retention forgets the conversations it pruned, open ones included: they no longer
// count as open, the running counters keep them.
TEST(Tracker, ForgetDropsConversationsOpenOrNot) {
  auto cfg = makeConfig();
  ManualClock clock(at(0));
  FakeStore store;
  Tracker tracker(cfg, clock, store);
  ingest(tracker, store,
         {msg("q1", 0, Role::Question, "done"), msg("a1", 60, Role::Brand, "done"),
          msg("q2", 10, Role::Question, "abandoned"), msg("q3", 20, Role::Question, "mixed"),
          msg("a3", 30, Role::Brand, "mixed"), msg("q4", 5000, Role::Question, "mixed"),
          msg("q5", 6000, Role::Question, "fresh")});
  clock.set(at(10'000));
  EXPECT_EQ(tracker.tick().size(), 3u);  // q2, q4 and q5 are past the hour
  Snapshot before = tracker.snapshot();
  EXPECT_EQ(tracker.conversationsInMemory(), 4u);
  EXPECT_EQ(channel(before).open, 3u);
  EXPECT_EQ(channel(before).late_open, 3u);
  EXPECT_DOUBLE_EQ(channel(before).oldest_open_age_seconds, 9990);

  EXPECT_EQ(tracker.forget({{"src", "done"}, {"src", "abandoned"}, {"src", "unknown"}, {"other", "mixed"}}),
            2u);
  EXPECT_EQ(tracker.conversationsInMemory(), 2u);
  Snapshot after = tracker.snapshot();
  EXPECT_EQ(channel(after).open, 2u);
  EXPECT_EQ(channel(after).late_open, 2u);
  EXPECT_DOUBLE_EQ(channel(after).oldest_open_age_seconds, 5000);
  EXPECT_EQ(channel(after).questions_total, channel(before).questions_total);
  EXPECT_EQ(channel(after).breaches_total, channel(before).breaches_total);
  EXPECT_EQ(after.answers.at({"acme", "x", "team", "internal"}).answers_total, 2u);
  EXPECT_EQ(tracker.forget({{"src", "done"}, {"src", "abandoned"}}), 0u);

  // A message for a forgotten conversation reloads it from the loader (here still
  // holding it): the old question is answered, not opened again.
  const int loads = store.loads;
  Plan p = ingest(tracker, store, {msg("a2", 9000, Role::Brand, "abandoned")});
  EXPECT_EQ(store.loads, loads + 1);
  ASSERT_EQ(p.upsert_turns.size(), 1u);
  EXPECT_EQ(p.upsert_turns[0].question_id, "q2");
  EXPECT_EQ(channel(tracker.snapshot()).open, 2u);

  // Everything forgotten: nothing left in memory, nothing open; slots are reused afterwards.
  EXPECT_EQ(tracker.forget({{"src", "abandoned"}, {"src", "mixed"}, {"src", "fresh"}}), 3u);
  EXPECT_EQ(tracker.conversationsInMemory(), 0u);
  EXPECT_EQ(channel(tracker.snapshot()).open, 0u);
  EXPECT_DOUBLE_EQ(channel(tracker.snapshot()).oldest_open_age_seconds, 0);
  EXPECT_TRUE(tracker.tick().empty());
  ingest(tracker, store, {msg("q6", 9500, Role::Question, "new")});
  EXPECT_EQ(tracker.conversationsInMemory(), 1u);
  EXPECT_EQ(channel(tracker.snapshot()).open, 1u);
}

// Many conversations over several slabs: memory and open counts follow what is forgotten.
TEST(TrackerMemory, ForgetBoundsWhatIsHeld) {
  auto cfg = makeConfig();
  ManualClock clock(at(0));
  FakeStore store;
  Tracker tracker(cfg, clock, store);
  for (int day = 0; day < 6; ++day) {
    std::vector<MessageRecord> batch;
    for (int i = 0; i < 3000; ++i) {
      const std::int64_t t = day * 86'400 + i * 20;
      const std::string c = "d" + std::to_string(day) + "c" + std::to_string(i);
      batch.push_back(msg("q" + c, t, Role::Question, c));
      if (i % 10 != 0) batch.push_back(msg("a" + c, t + 300, Role::Brand, c));
    }
    ingest(tracker, store, batch);
    clock.set(at((day + 1) * 86'400));
    store.applyTicks(tracker.tick());
    // Retention of one day, pruned daily: yesterday's traffic at most stays.
    if (day > 0) {
      std::vector<ConversationKey> before;
      before.reserve(3000);
      for (int i = 0; i < 3000; ++i)
        before.push_back({"src", "d" + std::to_string(day - 1) + "c" + std::to_string(i)});
      EXPECT_EQ(tracker.forget(before), 3000u) << "day " << day;
    }
    EXPECT_EQ(tracker.conversationsInMemory(), 3000u) << "day " << day;
    EXPECT_EQ(channel(tracker.snapshot()).open, 300u) << "day " << day;
  }
  EXPECT_EQ(channel(tracker.snapshot()).questions_total, 18'000u);
}

}  // namespace
}  // namespace replywatch::tracker

namespace replywatch::tracker {
namespace {

// An account named by the data (a twcs brand author), not configured, is judged by the
// threshold of its source's account, as the classifier gives it that account's settings.
TEST(Tracker, UnconfiguredAccountTakesItsSourceAccountThreshold) {
  auto cfg = testing::makeConfig(std::chrono::minutes{30});
  ManualClock clock(testing::at(0));
  testing::FakeStore store;
  Tracker tracker(cfg, clock, store);
  // Answered after 40 minutes: late against acme's 30 minutes, not against the default hour.
  Plan p = testing::ingest(tracker, store,
                           {testing::msg("q", 0, Role::Question, "c1", "src", "BrandHelp"),
                            testing::msg("a", 2400, Role::Brand, "c1", "src", "BrandHelp")});
  ASSERT_EQ(p.upsert_turns.size(), 1u);
  EXPECT_EQ(p.upsert_turns[0].account, "BrandHelp");
  EXPECT_TRUE(p.upsert_turns[0].breached_at.has_value());
  // An open question of that account is late after 30 minutes.
  testing::ingest(tracker, store, {testing::msg("q2", 100, Role::Question, "c2", "src", "BrandHelp")});
  clock.set(testing::at(100 + 1801));
  Snapshot s = tracker.snapshot();
  const ChannelStats& brand = s.channels.at({"BrandHelp", "x"});
  EXPECT_DOUBLE_EQ(brand.threshold_seconds, 1800);
  EXPECT_EQ(brand.late_open, 1u);
  EXPECT_DOUBLE_EQ(s.channels.at({"acme", "x"}).threshold_seconds, 1800);
  ASSERT_EQ(tracker.tick().size(), 1u);
}

}  // namespace
}  // namespace replywatch::tracker
