// The ingest pipeline over a real SQLite store and the real tracker.
#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include "daemon/app/pipeline.h"
#include "tests/unit/app/app_test_util.h"

namespace replywatch::app {
namespace {

// A temporary directory holding one store file, opened as often as a test needs.
class TempStore {
 public:
  std::unique_ptr<store::Store> open() {
    auto s = store::openSqliteStore(dir_.file("store.db"));
    EXPECT_TRUE(s.ok());
    return std::move(s).value();
  }

 private:
  testing::TempDir dir_{"pipeline"};
};

using testing::feedConfig;
using testing::feedMessage;

std::vector<std::string> turnKeys(store::Store& s) {
  std::vector<std::string> keys;
  // Result::value() && returns a reference into the temporary Result: take the vector out
  // first, since a range-for over it would outlive that temporary.
  const std::vector<Turn> turns = s.turns({}).value();
  keys.reserve(turns.size());
  for (const auto& t : turns) keys.push_back(t.conversation_id + "/" + t.question_id);
  return keys;
}

const std::int64_t kT0 = 1'700'000'000;

TEST(Pipeline, StoresAndTracksABatch) {
  TempStore dir;
  auto store = dir.open();
  auto cfg = feedConfig();
  ManualClock clock(fromMillis((kT0 + 600) * 1000));
  Pipeline p(cfg, clock, *store);
  ASSERT_TRUE(p.restore().ok());
  auto out = p.ingest(cfg.sources[0], {feedMessage("q1", "c1", kT0), feedMessage("a1", "c1", kT0 + 60, true)},
                      "cursor-1");
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(out->stored, 2u);
  EXPECT_EQ(out->duplicates, 0u);
  EXPECT_EQ(turnKeys(*store), (std::vector<std::string>{"c1/q1"}));
  EXPECT_EQ(store->cursor("feed").value(), std::optional<std::string>("cursor-1"));
  auto again = p.ingest(
      cfg.sources[0], {feedMessage("q1", "c1", kT0), feedMessage("a1", "c1", kT0 + 60, true)}, std::nullopt);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->stored, 0u);
  EXPECT_EQ(again->duplicates, 2u);
}

// A message already stored, delivered again under another conversation id, must not
// open a turn there: the store holds it once, and the turns must agree with the store.
TEST(Pipeline, KnownMessageUnderAnotherConversationOpensNoTurn) {
  TempStore dir;
  auto store = dir.open();
  auto cfg = feedConfig();
  ManualClock clock(fromMillis((kT0 + 600) * 1000));
  Pipeline p(cfg, clock, *store);
  ASSERT_TRUE(p.restore().ok());
  ASSERT_TRUE(p.ingest(cfg.sources[0], {feedMessage("m1", "c1", kT0)}, std::nullopt).ok());

  auto out =
      p.ingest(cfg.sources[0], {feedMessage("m1", "c2", kT0), feedMessage("m2", "c2", kT0 + 30)}, "after-m2");
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(out->stored, 1u);
  EXPECT_EQ(out->duplicates, 1u);
  EXPECT_EQ(turnKeys(*store), (std::vector<std::string>{"c1/m1", "c2/m2"}));
  EXPECT_EQ(store->cursor("feed").value(), std::optional<std::string>("after-m2"));
  auto snap = p.snapshot();
  EXPECT_EQ((snap.channels[{"acme", "export"}].questions_total), 2u);

  // The same id twice in one batch, in two conversations: stored once.
  auto twice = p.ingest(cfg.sources[0],
                        {feedMessage("m3", "c3", kT0 + 40), feedMessage("m3", "c4", kT0 + 40)}, std::nullopt);
  ASSERT_TRUE(twice.ok()) << twice.error().message;
  EXPECT_EQ(twice->stored, 1u);
  EXPECT_EQ(turnKeys(*store).size(), 3u);
}

// Every field of every stored turn, in the store's order.
std::vector<std::string> turnRows(store::Store& s) {
  std::vector<std::string> rows;
  const std::vector<Turn> turns = s.turns({}).value();
  for (const auto& t : turns) {
    std::string row =
        t.conversation_id + "/" + t.question_id + " asked=" + std::to_string(toMillis(t.asked_at));
    row += " answer=" + t.answer_id;
    row += " at=" + (t.answered_at ? std::to_string(toMillis(*t.answered_at)) : std::string("-"));
    row += " breached=" + (t.breached_at ? std::to_string(toMillis(*t.breached_at)) : std::string("-"));
    rows.push_back(std::move(row));
  }
  return rows;
}

// A bulk load into an empty store keeps every conversation in memory instead of
// reading it back: the same outcomes, turns and counters as batches committed one by
// one, for conversations spread over several batches; a second load, into the store
// now holding messages, reads conversations from the store again.
TEST(Pipeline, ABulkLoadIntoAnEmptyStoreStoresWhatSeparateCommitsStore) {
  auto cfg = feedConfig();
  constexpr int kConversations = 300;
  auto c = [](int i) { return "c" + std::to_string(i); };
  std::vector<std::vector<Message>> batches(4);
  for (int i = 0; i < kConversations; ++i) {
    const std::int64_t t = kT0 + i;
    batches[0].push_back(feedMessage("q" + std::to_string(i), c(i), t));
    if (i % 2 == 0) {
      batches[1].push_back(feedMessage("f" + std::to_string(i), c(i), t + 100));
      batches[2].push_back(feedMessage("a" + std::to_string(i), c(i), t + 7200, true));
    } else {
      batches[1].push_back(feedMessage("a" + std::to_string(i), c(i), t + 50, true));
      batches[2].push_back(feedMessage("q2-" + std::to_string(i), c(i), t + 500));
      batches[3].push_back(feedMessage("a2-" + std::to_string(i), c(i), t + 900, true));
    }
  }
  batches[2].push_back(feedMessage("q0", c(0), kT0));         // a duplicate
  batches[2].push_back(feedMessage("q1", "elsewhere", kT0));  // stored already, under another conversation
  batches[3].push_back(feedMessage("late-q", c(2), kT0 + 9000));

  TempStore bulk_dir, plain_dir;
  auto bulk_store = bulk_dir.open();
  auto plain_store = plain_dir.open();
  ManualClock clock(fromMillis((kT0 + 20'000) * 1000));
  Pipeline bulk(cfg, clock, *bulk_store);
  Pipeline plain(cfg, clock, *plain_store);
  ASSERT_TRUE(bulk.restore().ok());
  ASSERT_TRUE(plain.restore().ok());

  auto ingest_both = [&](const std::vector<Message>& batch) {
    auto a = bulk.ingest(cfg.sources[0], batch, std::nullopt);
    auto b = plain.ingest(cfg.sources[0], batch, std::nullopt);
    ASSERT_TRUE(a.ok()) << a.error().message;
    ASSERT_TRUE(b.ok()) << b.error().message;
    EXPECT_EQ(a->stored, b->stored);
    EXPECT_EQ(a->duplicates, b->duplicates);
  };
  ASSERT_TRUE(bulk.beginBulkLoad().ok());
  for (int b = 0; b < 3; ++b) ingest_both(batches[static_cast<std::size_t>(b)]);
  // Every conversation of the load is held.
  EXPECT_EQ(bulk.held().conversations, static_cast<std::size_t>(kConversations));
  ASSERT_TRUE(bulk.endBulkLoad().ok());
  EXPECT_EQ(turnRows(*bulk_store), turnRows(*plain_store));

  ASSERT_TRUE(bulk.beginBulkLoad().ok());
  ingest_both(batches[3]);
  ASSERT_TRUE(bulk.endBulkLoad().ok());
  const auto rows = turnRows(*bulk_store);
  EXPECT_EQ(rows, turnRows(*plain_store));
  EXPECT_EQ(rows.size(), static_cast<std::size_t>(kConversations + kConversations / 2 + 1));
  auto a = bulk.snapshot().channels[{"acme", "export"}];
  auto b = plain.snapshot().channels[{"acme", "export"}];
  EXPECT_EQ(a.questions_total, b.questions_total);
  EXPECT_EQ(a.open, b.open);
  EXPECT_EQ(a.breaches_total, b.breaches_total);
  EXPECT_EQ(a.late_open, b.late_open);

  // A restart over the loaded store sees the same.
  Pipeline restarted(cfg, clock, *bulk_store);
  ASSERT_TRUE(restarted.restore().ok());
  EXPECT_EQ((restarted.snapshot().channels[{"acme", "export"}].open), b.open);
}

TEST(Pipeline, RestartRebuildsCountersAndBreachesAreNotCountedTwice) {
  TempStore dir;
  auto cfg = feedConfig();
  ManualClock clock(fromMillis(kT0 * 1000));
  {
    auto store = dir.open();
    Pipeline p(cfg, clock, *store);
    ASSERT_TRUE(p.restore().ok());
    ASSERT_TRUE(p.ingest(cfg.sources[0], {feedMessage("q1", "c1", kT0)}, std::nullopt).ok());
    clock.advance(std::chrono::seconds{3601});
    EXPECT_EQ(p.tick().value(), 1u);
    EXPECT_EQ(p.tick().value(), 0u);
    EXPECT_EQ((p.snapshot().channels[{"acme", "export"}].breaches_total), 1u);
  }
  auto store = dir.open();
  Pipeline p(cfg, clock, *store);
  ASSERT_TRUE(p.restore().ok());
  EXPECT_EQ(p.tick().value(), 0u);
  auto snap = p.snapshot();
  EXPECT_EQ((snap.channels[{"acme", "export"}].breaches_total), 1u);
  EXPECT_EQ((snap.channels[{"acme", "export"}].questions_total), 1u);
  EXPECT_EQ((snap.channels[{"acme", "export"}].late_open), 1u);
}

// feedConfig() with a relay source, "relays", as sources[1].
config::Config feedAndRelaysConfig() {
  auto cfg = feedConfig();
  config::SourceConfig relays;
  relays.name = "relays";
  relays.type = "relay";
  relays.account = "acme";
  relays.channel = "relay";
  cfg.sources.push_back(relays);
  return cfg;
}

// The running counters of two snapshots agree (questions, breaches, answers and their
// waits, relay figures); gauges are not compared.
void expectSameCounters(const tracker::Snapshot& got, const tracker::Snapshot& want) {
  ASSERT_EQ(got.channels.size(), want.channels.size());
  for (const auto& [key, w] : want.channels) {
    const auto& g = got.channels.at(key);
    EXPECT_EQ(g.questions_total, w.questions_total) << key.first << "/" << key.second;
    EXPECT_EQ(g.breaches_total, w.breaches_total) << key.first << "/" << key.second;
  }
  ASSERT_EQ(got.answers.size(), want.answers.size());
  for (const auto& [key, w] : want.answers) {
    const auto& g = got.answers.at(key);
    EXPECT_EQ(g.answers_total, w.answers_total) << key[2] << "/" << key[3];
    EXPECT_EQ(g.bucket_counts, w.bucket_counts) << key[2] << "/" << key[3];
    EXPECT_DOUBLE_EQ(g.wait_seconds_sum, w.wait_seconds_sum) << key[2] << "/" << key[3];
  }
  ASSERT_EQ(got.escalations.size(), want.escalations.size());
  for (const auto& [key, w] : want.escalations) {
    const auto& g = got.escalations.at(key);
    EXPECT_EQ(g.escalations_total, w.escalations_total) << key.first << "/" << key.second;
    EXPECT_EQ(g.answered_total, w.answered_total) << key.first << "/" << key.second;
    EXPECT_EQ(g.bucket_counts, w.bucket_counts) << key.first << "/" << key.second;
  }
  ASSERT_EQ(got.phases.size(), want.phases.size());
  for (const auto& [key, w] : want.phases) {
    const auto& g = got.phases.at(key);
    // Sums of the same seconds in another order.
    EXPECT_NEAR(g.before_escalation_seconds, w.before_escalation_seconds, 1e-6)
        << key.first << "/" << key.second;
    EXPECT_NEAR(g.relay_seconds, w.relay_seconds, 1e-6) << key.first << "/" << key.second;
    EXPECT_NEAR(g.after_relay_seconds, w.after_relay_seconds, 1e-6) << key.first << "/" << key.second;
    EXPECT_NEAR(g.escalated_wait_seconds, w.escalated_wait_seconds, 1e-6) << key.first << "/" << key.second;
  }
}

// Retention removes stale conversations, open questions included, from the store and
// from memory; a later message in such a conversation starts afresh instead of
// resurrecting pruned turns.
TEST(Pipeline, PruneForgetsStaleConversationsOpenOrNot) {
  TempStore dir;
  auto store = dir.open();
  auto cfg = feedAndRelaysConfig();
  ManualClock clock(fromMillis((kT0 + 600) * 1000));
  Pipeline p(cfg, clock, *store);
  ASSERT_TRUE(p.restore().ok());
  ASSERT_TRUE(p.ingest(cfg.sources[0],
                       {feedMessage("q1", "old", kT0), feedMessage("a1", "old", kT0 + 60, true),
                        feedMessage("q2", "waiting", kT0 + 10), feedMessage("q4", "recent", kT0 + 200)},
                       std::nullopt)
                  .ok());
  auto escalation = [](std::string id, std::string question, std::int64_t at_s) {
    Escalation e;
    e.id = std::move(id);
    e.account = "acme";
    e.question_ref = std::move(question);
    e.requested_at = fromMillis(at_s * 1000);
    e.requested_by = "nobody";
    e.relay = "legal";
    return e;
  };
  ASSERT_TRUE(
      p.ingestEscalations(cfg.sources[1],
                          {escalation("e-waiting", "q2", kT0 + 20), escalation("e-orphan", "zz", kT0 + 30),
                           escalation("e-recent", "q4", kT0 + 210)},
                          std::nullopt)
          .ok());
  EXPECT_EQ((p.snapshot().channels[{"acme", "export"}].open), 2u);
  EXPECT_EQ(p.held().conversations, 3u);
  EXPECT_EQ(p.held().escalation_records, 3u);

  auto pruned = p.prune(fromMillis((kT0 + 100) * 1000));
  ASSERT_TRUE(pruned.ok()) << pruned.error().message;
  EXPECT_EQ(*pruned, 3u);
  EXPECT_EQ(turnKeys(*store), (std::vector<std::string>{"recent/q4"}));
  // The open question of "waiting" went with it: the open gauge agrees with the store,
  // the running counter keeps what it counted.
  auto snap = p.snapshot();
  EXPECT_EQ((snap.channels[{"acme", "export"}].open), 1u);
  EXPECT_EQ((snap.channels[{"acme", "export"}].questions_total), 3u);
  EXPECT_EQ(p.held().conversations, 1u);
  EXPECT_EQ(p.held().escalation_records, 1u);
  // So does the relay counter: e-waiting's record went, what it counted stays.
  EXPECT_EQ((snap.escalations[{"acme", "unknown"}].escalations_total), 2u);

  ASSERT_TRUE(p.ingest(cfg.sources[0],
                       {feedMessage("q3", "old", kT0 + 500), feedMessage("a2", "waiting", kT0 + 510, true)},
                       std::nullopt)
                  .ok());
  EXPECT_EQ(turnKeys(*store), (std::vector<std::string>{"recent/q4", "old/q3"}));
  EXPECT_EQ((p.snapshot().channels[{"acme", "export"}].open), 2u);

  // A restart counts the same open questions as the running daemon, and its counters go
  // on from where they were: what the pruned turns and records counted was kept.
  auto restarted = std::make_unique<Pipeline>(cfg, clock, *store);
  ASSERT_TRUE(restarted->restore().ok());
  EXPECT_EQ((restarted->snapshot().channels[{"acme", "export"}].open), 2u);
  expectSameCounters(restarted->snapshot(), p.snapshot());
  EXPECT_EQ((restarted->snapshot().channels[{"acme", "export"}].questions_total), 4u);

  // A second pruning adds to what the first kept.
  clock.set(fromMillis((kT0 + 100'000) * 1000));
  const auto before = restarted->snapshot();
  ASSERT_TRUE(restarted->prune(fromMillis((kT0 + 50'000) * 1000)).ok());
  EXPECT_TRUE(turnKeys(*store).empty());
  restarted = std::make_unique<Pipeline>(cfg, clock, *store);
  ASSERT_TRUE(restarted->restore().ok());
  expectSameCounters(restarted->snapshot(), before);
  EXPECT_EQ((restarted->snapshot().channels[{"acme", "export"}].questions_total), 4u);
  EXPECT_EQ((restarted->snapshot().channels[{"acme", "export"}].open), 0u);
}

// A pruning whose store fails after some of its transactions committed: what those
// deleted counted, turns and escalation records, is kept all the same.
class PruneFailsAfterDeleting final : public testing::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  Result<std::uint64_t> prune(Timestamp cutoff, const store::PruneHooks& hooks) override {
    auto pruned = ForwardingStore::prune(cutoff, hooks);
    if (!pruned.ok()) return pruned;
    return makeError("store", "cannot prune store: disk I/O error");
  }
};

TEST(Pipeline, APruningThatFailsPartWayKeepsWhatItDeletedCounted) {
  TempStore dir;
  auto cfg = feedAndRelaysConfig();
  ManualClock clock(fromMillis((kT0 + 600) * 1000));
  PruneFailsAfterDeleting store(dir.open());
  tracker::Snapshot before;
  {
    Pipeline p(cfg, clock, store);
    ASSERT_TRUE(p.restore().ok());
    ASSERT_TRUE(p.ingest(cfg.sources[0],
                         {feedMessage("q1", "old", kT0), feedMessage("a1", "old", kT0 + 60, true),
                          feedMessage("q4", "recent", kT0 + 200)},
                         std::nullopt)
                    .ok());
    Escalation e;
    e.id = "e-old";
    e.account = "acme";
    e.question_ref = "q1";
    e.requested_at = fromMillis((kT0 + 10) * 1000);
    e.answered_at = fromMillis((kT0 + 40) * 1000);
    e.requested_by = "nobody";
    e.relay = "legal";
    ASSERT_TRUE(p.ingestEscalations(cfg.sources[1], {e}, std::nullopt).ok());
    before = p.snapshot();
    ASSERT_EQ((before.escalations[{"acme", "unknown"}].escalations_total), 1u);
    EXPECT_FALSE(p.prune(fromMillis((kT0 + 100) * 1000)).ok());
    EXPECT_EQ(turnKeys(store), (std::vector<std::string>{"recent/q4"}));
    expectSameCounters(p.snapshot(), before);
  }
  Pipeline restarted(cfg, clock, store);
  ASSERT_TRUE(restarted.restore().ok());
  expectSameCounters(restarted.snapshot(), before);
}

// A process that dies during a pruning, right after its first deletion transaction
// committed: stood for here by a store whose `deleted` hook throws instead of telling the
// pipeline, ending the pruning there, and a pipeline dropped without a word more to the
// store. The first transaction saved what its turns and escalation records counted
// itself, so the restarted process counts on from where the dead one was.
class DiesAfterTheFirstDeletion final : public testing::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  Result<std::uint64_t> prune(Timestamp cutoff, const store::PruneHooks& hooks) override {
    struct Died {};
    store::PruneHooks dying = hooks;
    dying.deleted = [](const store::PruneDeletion&) { throw Died{}; };
    try {
      return ForwardingStore::prune(cutoff, dying);
    } catch (const Died&) {
      return makeError("store", "the process died");
    }
  }
};

TEST(Pipeline, TheCountsOfPrunedTurnsAndRecordsAreSavedWithTheirDeletion) {
  TempStore dir;
  auto cfg = feedAndRelaysConfig();
  ManualClock clock(fromMillis((kT0 + 600) * 1000));
  tracker::Snapshot before;
  {
    DiesAfterTheFirstDeletion store(dir.open());
    Pipeline p(cfg, clock, store);
    ASSERT_TRUE(p.restore().ok());
    // More stale conversations than one deletion transaction takes, each with a question
    // answered after a relay; the first also with a second relay on the same question.
    std::vector<Message> messages;
    std::vector<Escalation> escalations;
    auto escalation = [](std::string id, std::string question, std::int64_t from_s, std::int64_t to_s) {
      Escalation e;
      e.id = std::move(id);
      e.account = "acme";
      e.question_ref = std::move(question);
      e.requested_at = fromMillis(from_s * 1000);
      e.answered_at = fromMillis(to_s * 1000);
      e.requested_by = "nobody";
      e.relay = "legal";
      return e;
    };
    for (int i = 0; i < 600; ++i) {
      const std::string n = std::to_string(i);
      messages.push_back(feedMessage("q" + n, "old" + n, kT0));
      messages.push_back(feedMessage("a" + n, "old" + n, kT0 + 60, true));
      escalations.push_back(escalation("e" + n, "q" + n, kT0 + 10, kT0 + 40));
    }
    escalations.push_back(escalation("e0-again", "q0", kT0 + 20, kT0 + 50));
    messages.push_back(feedMessage("q-recent", "recent", kT0 + 200));
    ASSERT_TRUE(p.ingest(cfg.sources[0], messages, std::nullopt).ok());
    ASSERT_TRUE(p.ingestEscalations(cfg.sources[1], escalations, std::nullopt).ok());
    before = p.snapshot();
    ASSERT_EQ((before.escalations[{"acme", "unknown"}].escalations_total), 601u);
    ASSERT_EQ(before.phases.size(), 1u);
    ASSERT_GT(before.phases.begin()->second.relay_seconds, 0.0);
    EXPECT_FALSE(p.prune(fromMillis((kT0 + 100) * 1000)).ok());
    // Died part-way: some conversations went, not all.
    const std::size_t left = turnKeys(store).size();
    EXPECT_GT(left, 1u);
    EXPECT_LT(left, 601u);
  }
  auto store = dir.open();
  Pipeline restarted(cfg, clock, *store);
  ASSERT_TRUE(restarted.restore().ok());
  expectSameCounters(restarted.snapshot(), before);
  EXPECT_EQ((restarted.snapshot().channels[{"acme", "export"}].questions_total), 601u);
  EXPECT_EQ((restarted.snapshot().escalations[{"acme", "unknown"}].escalations_total), 601u);
  // The restarted process prunes the rest, and still counts the same.
  ASSERT_TRUE(restarted.prune(fromMillis((kT0 + 100) * 1000)).ok());
  EXPECT_EQ(turnKeys(*store), (std::vector<std::string>{"recent/q-recent"}));
  expectSameCounters(restarted.snapshot(), before);
  Pipeline again(cfg, clock, *store);
  ASSERT_TRUE(again.restore().ok());
  expectSameCounters(again.snapshot(), before);
}

// A message for a conversation about to be pruned, taken in between the pruning's start
// and its deletion: the writer loads the conversation back from the store and answers
// its question. The deletion that follows must take it out of memory as well; a later
// message to it would otherwise store its pruned turn again, and a restart count that
// question twice (once from the saved counts, once from the store).
class MessageArrivesBeforeTheDeletion final : public testing::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  std::function<void()> before_delete;
  Result<std::uint64_t> prune(Timestamp cutoff, const store::PruneHooks& hooks) override {
    if (before_delete) before_delete();
    return ForwardingStore::prune(cutoff, hooks);
  }
};

TEST(Pipeline, AConversationLoadedBackDuringAPruningLeavesMemoryWithItsDeletion) {
  TempStore dir;
  auto cfg = feedConfig();
  ManualClock clock(fromMillis((kT0 + 600) * 1000));
  tracker::Snapshot before;
  {
    MessageArrivesBeforeTheDeletion store(dir.open());
    Pipeline p(cfg, clock, store);
    ASSERT_TRUE(p.restore().ok());
    ASSERT_TRUE(p.ingest(cfg.sources[0], {feedMessage("q1", "c", kT0)}, std::nullopt).ok());
    store.before_delete = [&] {
      auto late = p.ingest(cfg.sources[0], {feedMessage("a1", "c", kT0 + 50, true)}, std::nullopt);
      ASSERT_TRUE(late.ok()) << late.error().message;
      EXPECT_EQ(late->stored, 1u);
    };
    auto pruned = p.prune(fromMillis((kT0 + 100) * 1000));
    ASSERT_TRUE(pruned.ok()) << pruned.error().message;
    EXPECT_EQ(*pruned, 2u);
    EXPECT_TRUE(turnKeys(store).empty());
    EXPECT_EQ(p.held().conversations, 0u);
    // An earlier answer to the pruned question, delivered after the pruning: a
    // conversation of its own now, without a question.
    ASSERT_TRUE(p.ingest(cfg.sources[0], {feedMessage("a0", "c", kT0 + 20, true)}, std::nullopt).ok());
    EXPECT_TRUE(turnKeys(store).empty());
    before = p.snapshot();
    EXPECT_EQ((before.channels[{"acme", "export"}].questions_total), 1u);
  }
  auto store = dir.open();
  Pipeline restarted(cfg, clock, *store);
  ASSERT_TRUE(restarted.restore().ok());
  expectSameCounters(restarted.snapshot(), before);
  EXPECT_EQ((restarted.snapshot().channels[{"acme", "export"}].questions_total), 1u);
}

}  // namespace
}  // namespace replywatch::app
