// The pipeline's write queue over a real SQLite store: concurrent ingest() calls are
// committed together, each caller gets its own exact outcome, a failed group fails every
// request of it, and a full queue refuses at once. A thin Store decorator holds the
// writer inside a commit on demand, so that groups form deterministically.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "daemon/app/pipeline.h"
#include "tests/unit/app/app_test_util.h"

namespace replywatch::app {
namespace {

using namespace std::chrono_literals;

using testing::TempDir;

// The real store, with commits that can be held at a gate (the writer waits inside
// commit() until the gate opens) and made to fail (nothing is written).
class GatedStore final : public testing::ForwardingStore {
 public:
  explicit GatedStore(std::unique_ptr<store::Store> inner) : ForwardingStore(std::move(inner)) {}

  void closeGate() {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  void openGate() {
    {
      std::lock_guard lock(mu_);
      closed_ = false;
    }
    cv_.notify_all();
  }
  void failCommits(bool fail) { fail_.store(fail); }
  // Commit calls that reached the gate (successful or not).
  int calls() const { return calls_.load(); }
  int waitingAtGate() const {
    std::lock_guard lock(mu_);
    return waiting_;
  }

  Result<store::CommitOutcome> commit(const store::WriteBatch& batch) override {
    calls_.fetch_add(1);
    {
      std::unique_lock lock(mu_);
      ++waiting_;
      cv_.wait(lock, [this] { return !closed_; });
      --waiting_;
    }
    if (fail_.load()) return makeError("store", "disk I/O error (injected)");
    return ForwardingStore::commit(batch);
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool closed_ = false;
  int waiting_ = 0;
  std::atomic<bool> fail_{false};
  std::atomic<int> calls_{0};
};

config::Config makeConfig() {
  config::Config c;
  config::AccountConfig a;
  a.name = "acme";
  c.accounts.push_back(a);
  for (const char* name : {"feed", "other"}) {
    config::SourceConfig s;
    s.name = name;
    s.type = "export";
    s.account = "acme";
    s.channel = "export";
    c.sources.push_back(s);
  }
  return c;
}

const std::int64_t kT0 = 1'700'000'000;

Message msg(std::string id, std::string conversation, std::int64_t offset_s = 0) {
  Message m;
  m.id = std::move(id);
  m.conversation_id = std::move(conversation);
  m.author_id = "member";
  m.created_at = fromMillis((kT0 + offset_s) * 1000);
  m.text = "Où est ma commande ?";
  return m;
}

// Waits for a condition with a generous timeout (never for a duration).
bool waitUntil(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

struct Fixture {
  explicit Fixture(config::Config c = makeConfig()) : cfg(std::move(c)) {
    auto opened = store::openSqliteStore(dir.file("store.db"));
    EXPECT_TRUE(opened.ok());
    store = std::make_unique<GatedStore>(std::move(opened).value());
    pipeline = std::make_unique<Pipeline>(cfg, clock, *store);
    EXPECT_TRUE(pipeline->restore().ok());
  }
  const config::SourceConfig& feed() const { return cfg.sources[0]; }
  const config::SourceConfig& other() const { return cfg.sources[1]; }

  // Starts an ingest() on its own thread.
  std::future<Result<connectors::IngestOutcome>> start(const config::SourceConfig& source,
                                                       std::vector<Message> messages,
                                                       std::optional<std::string> cursor = std::nullopt) {
    return std::async(std::launch::async, [this, &source, messages = std::move(messages), cursor]() mutable {
      return pipeline->ingest(source, std::move(messages), std::move(cursor));
    });
  }
  // Holds the writer inside the commit of a first, one-message request, so that the
  // next requests queue up behind it.
  std::future<Result<connectors::IngestOutcome>> holdWriter() {
    store->closeGate();
    auto held = start(feed(), {msg("held", "held")});
    EXPECT_TRUE(waitUntil([this] { return store->waitingAtGate() == 1; }));
    return held;
  }
  bool queued(std::uint64_t requests) const {
    return waitUntil([&] { return pipeline->writeQueueStats().queued_requests == requests; });
  }
  bool isStored(const std::string& source, const std::string& id) const {
    auto r = store->contains(source, {id});
    return r.ok() && r.value()[0];
  }

  TempDir dir{"group-commit"};
  config::Config cfg;
  ManualClock clock{fromMillis((kT0 + 600) * 1000)};
  std::unique_ptr<GatedStore> store;
  std::unique_ptr<Pipeline> pipeline;
};

TEST(GroupCommit, ConcurrentRequestsAreStoredExactlyOnceInFewerTransactions) {
  Fixture f;
  constexpr int kThreads = 8;
  constexpr int kRequests = 40;
  auto held = f.holdWriter();
  // Every thread sends its own two messages per request, plus a message that every
  // thread sends in its request of the same number: concurrent duplicates.
  std::vector<std::future<std::vector<Result<connectors::IngestOutcome>>>> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.push_back(std::async(std::launch::async, [&f, t] {
      std::vector<Result<connectors::IngestOutcome>> outcomes;
      outcomes.reserve(kRequests);
      for (int r = 0; r < kRequests; ++r) {
        const std::string own = "t" + std::to_string(t) + "-r" + std::to_string(r);
        const std::string shared = "shared-r" + std::to_string(r);
        outcomes.push_back(f.pipeline->ingest(
            f.feed(), {msg(own + "-a", own), msg(own + "-b", own, 10), msg(shared, shared)}, std::nullopt));
      }
      return outcomes;
    }));
  }
  // One request of every thread waits behind the held commit: they form one group.
  ASSERT_TRUE(f.queued(kThreads));
  f.store->openGate();
  ASSERT_TRUE(held.get().ok());

  std::size_t stored = 0;
  std::size_t duplicates = 0;
  for (auto& thread : threads) {
    for (auto& outcome : thread.get()) {
      ASSERT_TRUE(outcome.ok()) << outcome.error().message;
      EXPECT_EQ(outcome->received, 3u);
      EXPECT_EQ(outcome->stored + outcome->duplicates, 3u);
      stored += outcome->stored;
      duplicates += outcome->duplicates;
    }
  }
  // Each distinct message counted as stored by exactly one request.
  const std::size_t distinct = kThreads * kRequests * 2 + kRequests;
  EXPECT_EQ(stored, distinct);
  EXPECT_EQ(duplicates, kThreads * kRequests * 3 - distinct);
  for (int t = 0; t < kThreads; ++t) {
    for (int r = 0; r < kRequests; ++r) {
      const std::string own = "t" + std::to_string(t) + "-r" + std::to_string(r);
      ASSERT_TRUE(f.isStored("feed", own + "-a"));
      ASSERT_TRUE(f.isStored("feed", own + "-b"));
    }
  }
  for (int r = 0; r < kRequests; ++r) ASSERT_TRUE(f.isStored("feed", "shared-r" + std::to_string(r)));
  // One turn per conversation, in the store and in the tracker.
  const std::size_t conversations = kThreads * kRequests + kRequests + 1;  // + the held one
  EXPECT_EQ(f.store->turns({}).value().size(), conversations);
  EXPECT_EQ((f.pipeline->snapshot().channels[{"acme", "export"}].questions_total), conversations);

  const auto stats = f.pipeline->writeQueueStats();
  const std::uint64_t requests = kThreads * kRequests + 1;
  EXPECT_EQ(stats.requests_committed, requests);
  EXPECT_EQ(stats.commits, static_cast<std::uint64_t>(f.store->calls()));
  EXPECT_LE(stats.commits, requests - (kThreads - 1));
  EXPECT_EQ(stats.failed_commits, 0u);
  EXPECT_EQ(stats.queued_requests, 0u);
}

TEST(GroupCommit, TheSameMessageInConcurrentRequestsIsStoredOnceFirstWins) {
  Fixture f;
  auto held = f.holdWriter();
  // First x in c2, then x again in c1 (another thread of the same feed) with y: the
  // first request wins even though its conversation sorts after the second's.
  auto first = f.start(f.feed(), {msg("x", "c2")});
  ASSERT_TRUE(f.queued(1));
  auto second = f.start(f.feed(), {msg("x", "c1"), msg("y", "c1", 5)});
  ASSERT_TRUE(f.queued(2));
  // Same id in the same conversation, and the same id from another source (distinct).
  auto third = f.start(f.feed(), {msg("x", "c2")});
  ASSERT_TRUE(f.queued(3));
  auto fourth = f.start(f.other(), {msg("x", "c2")});
  ASSERT_TRUE(f.queued(4));
  f.store->openGate();
  ASSERT_TRUE(held.get().ok());

  auto a = first.get();
  auto b = second.get();
  auto c = third.get();
  auto d = fourth.get();
  ASSERT_TRUE(a.ok() && b.ok() && c.ok() && d.ok());
  EXPECT_EQ(a->stored, 1u);
  EXPECT_EQ(a->duplicates, 0u);
  EXPECT_EQ(b->stored, 1u);
  EXPECT_EQ(b->duplicates, 1u);
  EXPECT_EQ(c->stored, 0u);
  EXPECT_EQ(c->duplicates, 1u);
  EXPECT_EQ(d->stored, 1u);
  EXPECT_EQ(d->duplicates, 0u);
  // x is stored in the first request's conversation; c1 holds only y.
  auto c1 = f.store->conversation({"feed", "c1"}).value();
  auto c2 = f.store->conversation({"feed", "c2"}).value();
  ASSERT_EQ(c2.size(), 1u);
  EXPECT_EQ(c2[0].id, "x");
  ASSERT_EQ(c1.size(), 1u);
  EXPECT_EQ(c1[0].id, "y");
  EXPECT_EQ(f.store->turns({}).value().size(), 4u);  // held, c1 (y), c2 (x), other's c2 (x)
  // The four requests were one transaction after the held one.
  EXPECT_EQ(f.store->calls(), 2);
}

// A message stored earlier under another conversation makes the store refuse the
// group's transaction; the group is planned again without it and every request keeps
// its exact outcome.
TEST(GroupCommit, AMessageStoredUnderAnotherConversationIsADuplicateOfItsRequestOnly) {
  Fixture f;
  ASSERT_TRUE(f.pipeline->ingest(f.feed(), {msg("m1", "c1")}, std::nullopt).ok());
  auto held = f.holdWriter();
  auto moved = f.start(f.feed(), {msg("m1", "c9"), msg("m2", "c9", 5)}, "cursor-a");
  ASSERT_TRUE(f.queued(1));
  auto plain = f.start(f.other(), {msg("m3", "c3")}, "cursor-b");
  ASSERT_TRUE(f.queued(2));
  f.store->openGate();
  ASSERT_TRUE(held.get().ok());
  auto a = moved.get();
  auto b = plain.get();
  ASSERT_TRUE(a.ok()) << a.error().message;
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(a->stored, 1u);
  EXPECT_EQ(a->duplicates, 1u);
  EXPECT_EQ(b->stored, 1u);
  EXPECT_EQ(b->duplicates, 0u);
  EXPECT_EQ(f.store->conversation({"feed", "c9"}).value().size(), 1u);
  EXPECT_EQ(f.store->cursor("feed").value(), std::optional<std::string>("cursor-a"));
  EXPECT_EQ(f.store->cursor("other").value(), std::optional<std::string>("cursor-b"));
  EXPECT_EQ(f.store->turns({}).value().size(), 4u);  // c1, held, c9 (m2), c3
}

TEST(GroupCommit, AFailedGroupFailsEveryRequestAndStoresNothing) {
  Fixture f;
  auto held = f.holdWriter();
  auto a = f.start(f.feed(), {msg("a1", "ca"), msg("a2", "ca", 5)});
  ASSERT_TRUE(f.queued(1));
  auto b = f.start(f.feed(), {msg("b1", "cb")}, "cursor-b");
  ASSERT_TRUE(f.queued(2));
  auto c = f.start(f.other(), {msg("c1", "cc")}, "cursor-c");
  ASSERT_TRUE(f.queued(3));
  f.store->failCommits(true);
  f.store->openGate();
  EXPECT_FALSE(held.get().ok());
  for (auto* pending : {&a, &b, &c}) {
    auto r = pending->get();
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().reason, "store");
  }
  EXPECT_EQ(f.store->calls(), 2);  // the held request, then a, b and c together
  for (const char* id : {"a1", "a2", "b1"}) EXPECT_FALSE(f.isStored("feed", id));
  EXPECT_FALSE(f.isStored("other", "c1"));
  EXPECT_EQ(f.store->cursor("feed").value(), std::nullopt);
  EXPECT_EQ(f.store->cursor("other").value(), std::nullopt);
  EXPECT_EQ((f.pipeline->snapshot().channels[{"acme", "export"}].questions_total), 0u);
  auto stats = f.pipeline->writeQueueStats();
  EXPECT_EQ(stats.failed_commits, 2u);
  EXPECT_EQ(stats.commits, 0u);

  // The tracker did not take them either: delivered again, they are new.
  f.store->failCommits(false);
  auto again = f.pipeline->ingest(f.feed(), {msg("a1", "ca"), msg("a2", "ca", 5)}, std::nullopt);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->stored, 2u);
  EXPECT_EQ((f.pipeline->snapshot().channels[{"acme", "export"}].questions_total), 1u);
}

TEST(GroupCommit, AFullQueueRefusesAtOnceAndALargeBatchAloneIsTaken) {
  auto cfg = makeConfig();
  cfg.ingest.max_queued_messages = 2;
  Fixture f(cfg);
  auto held = f.holdWriter();
  auto queued = f.start(f.feed(), {msg("q1", "c1"), msg("q2", "c1", 5)});
  ASSERT_TRUE(f.queued(1));
  // The queue holds two messages: one more is refused without waiting for the writer.
  auto refused = f.start(f.feed(), {msg("r1", "c2")});
  ASSERT_EQ(refused.wait_for(60s), std::future_status::ready);
  auto r = refused.get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, kQueueFullReason);
  EXPECT_EQ(f.pipeline->writeQueueStats().refused_full, 1u);

  // A poll loop waits for room instead.
  auto poll = std::async(std::launch::async, [&f] {
    const Pipeline::WaitForRoom wait_for_room;
    return f.pipeline->ingest(f.feed(), {msg("p1", "c3")}, "poll-cursor");
  });
  ASSERT_TRUE(waitUntil([&f] { return f.pipeline->writeQueueStats().waiting_for_room == 1; }));
  f.store->openGate();
  ASSERT_TRUE(held.get().ok());
  ASSERT_TRUE(queued.get().ok());
  auto polled = poll.get();
  ASSERT_TRUE(polled.ok()) << polled.error().message;
  EXPECT_EQ(polled->stored, 1u);
  EXPECT_FALSE(f.isStored("feed", "r1"));
  EXPECT_EQ(f.pipeline->writeQueueStats().refused_full, 1u);

  // Five messages, over the bound, find the queue empty: taken alone.
  std::vector<Message> large;
  large.reserve(5);
  for (int i = 0; i < 5; ++i) large.push_back(msg("l" + std::to_string(i), "c4", i));
  auto alone = f.pipeline->ingest(f.feed(), std::move(large), std::nullopt);
  ASSERT_TRUE(alone.ok()) << alone.error().message;
  EXPECT_EQ(alone->stored, 5u);
}

TEST(GroupCommit, StopCommitsWhatIsQueuedAndRefusesTheRest) {
  Fixture f;
  auto held = f.holdWriter();
  auto queued = f.start(f.feed(), {msg("q1", "c1")}, "cursor-q");
  ASSERT_TRUE(f.queued(1));
  auto stopped = std::async(std::launch::async, [&f] { f.pipeline->stop(); });
  ASSERT_TRUE(waitUntil([&f] { return f.pipeline->stopping(); }));
  auto late = f.pipeline->ingest(f.feed(), {msg("late", "c2")}, std::nullopt);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().reason, kStoppingReason);
  f.store->openGate();
  stopped.get();
  ASSERT_TRUE(held.get().ok());
  auto q = queued.get();
  ASSERT_TRUE(q.ok()) << q.error().message;
  EXPECT_EQ(q->stored, 1u);
  EXPECT_TRUE(f.isStored("feed", "q1"));
  EXPECT_FALSE(f.isStored("feed", "late"));
  EXPECT_EQ(f.store->cursor("feed").value(), std::optional<std::string>("cursor-q"));
  EXPECT_EQ(f.pipeline->writeQueueStats().refused_stopping, 1u);
}

}  // namespace
}  // namespace replywatch::app

namespace replywatch::app {
namespace {

// ingestAsync() returns at once; each callback runs once, after the commit holding its
// batch, with its own outcome; requests queued meanwhile share one commit; a full queue
// refuses on the caller's thread before ingestAsync() returns.
TEST(GroupCommit, AsyncIngestAnswersThroughCallbacksAfterTheCommit) {
  config::Config cfg = makeConfig();
  cfg.ingest.max_queued_messages = 3;
  Fixture f(cfg);
  auto held = f.holdWriter();
  const int calls_before = f.store->calls();

  std::mutex mu;
  std::vector<std::pair<std::string, Result<connectors::IngestOutcome>>> answers;
  std::atomic<bool> stored_when_answered{true};
  auto callback = [&](std::string name, std::string id) {
    return [&, name = std::move(name), id = std::move(id)](Result<connectors::IngestOutcome> r) {
      if (r.ok() && r.value().stored > 0 && !f.isStored("feed", id)) stored_when_answered = false;
      std::lock_guard lock(mu);
      answers.emplace_back(name, std::move(r));
    };
  };
  f.pipeline->ingestAsync(f.feed(), {msg("a1", "ca"), msg("a2", "ca", 1)}, std::nullopt, callback("a", "a1"));
  f.pipeline->ingestAsync(f.feed(), {msg("b1", "cb"), msg("a1", "ca")}, std::nullopt, callback("b", "b1"));
  {
    std::lock_guard lock(mu);
    // The second request did not fit (3 messages at most): refused at once.
    ASSERT_EQ(answers.size(), 1u);
    EXPECT_EQ(answers[0].first, "b");
    ASSERT_FALSE(answers[0].second.ok());
    EXPECT_EQ(answers[0].second.error().reason, kQueueFullReason);
    answers.clear();
  }
  f.pipeline->ingestAsync(f.feed(), {msg("a1", "ca")}, std::nullopt, callback("dup", "a1"));
  EXPECT_TRUE(f.queued(2));
  {
    std::lock_guard lock(mu);
    EXPECT_TRUE(answers.empty());  // nothing answered before the commit
  }
  f.store->openGate();
  ASSERT_TRUE(held.get().ok());
  ASSERT_TRUE(waitUntil([&] {
    std::lock_guard lock(mu);
    return answers.size() == 2;
  }));
  EXPECT_TRUE(stored_when_answered.load());
  // The two queued requests went in one more commit.
  EXPECT_EQ(f.store->calls(), calls_before + 1);
  std::lock_guard lock(mu);
  for (const auto& [name, r] : answers) {
    ASSERT_TRUE(r.ok()) << name;
    if (name == "a") {
      EXPECT_EQ(r.value().received, 2u);
      EXPECT_EQ(r.value().stored, 2u);
    } else {
      EXPECT_EQ(name, "dup");
      EXPECT_EQ(r.value().received, 1u);
      EXPECT_EQ(r.value().stored, 0u);
      EXPECT_EQ(r.value().duplicates, 1u);
    }
  }
  EXPECT_TRUE(f.isStored("feed", "a2"));
  EXPECT_FALSE(f.isStored("feed", "b1"));
}

// Deliveries queued through ingestAsync() when stop() begins are committed and answered
// before stop() returns (nothing is left unanswered); a failed group commit answers each
// of its asynchronous callers with the store's error, nothing of the group stored.
TEST(GroupCommit, AsyncIngestInFlightAtStopIsCommittedAndAnswered) {
  Fixture f;
  auto held = f.holdWriter();
  std::mutex mu;
  std::vector<Result<connectors::IngestOutcome>> answers;
  auto callback = [&](Result<connectors::IngestOutcome> r) {
    std::lock_guard lock(mu);
    answers.push_back(std::move(r));
  };
  f.pipeline->ingestAsync(f.feed(), {msg("s1", "cs")}, std::nullopt, callback);
  f.pipeline->ingestAsync(f.feed(), {msg("s2", "ct")}, std::nullopt, callback);
  ASSERT_TRUE(f.queued(2));
  auto stopped = std::async(std::launch::async, [&f] { f.pipeline->stop(); });
  ASSERT_TRUE(waitUntil([&f] { return f.pipeline->stopping(); }));
  {
    std::lock_guard lock(mu);
    EXPECT_TRUE(answers.empty());
  }
  f.store->openGate();
  stopped.get();
  ASSERT_TRUE(held.get().ok());
  std::lock_guard lock(mu);
  ASSERT_EQ(answers.size(), 2u);
  for (const auto& r : answers) {
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->stored, 1u);
  }
  EXPECT_TRUE(f.isStored("feed", "s1"));
  EXPECT_TRUE(f.isStored("feed", "s2"));
}

TEST(GroupCommit, AsyncIngestOfAFailedGroupGetsTheStoreError) {
  Fixture f;
  auto held = f.holdWriter();
  std::mutex mu;
  std::vector<Result<connectors::IngestOutcome>> answers;
  auto callback = [&](Result<connectors::IngestOutcome> r) {
    std::lock_guard lock(mu);
    answers.push_back(std::move(r));
  };
  f.pipeline->ingestAsync(f.feed(), {msg("f1", "cf")}, std::nullopt, callback);
  f.pipeline->ingestAsync(f.feed(), {msg("f2", "cg")}, std::nullopt, callback);
  ASSERT_TRUE(f.queued(2));
  f.store->failCommits(true);
  f.store->openGate();
  (void)held.get();
  ASSERT_TRUE(waitUntil([&] {
    std::lock_guard lock(mu);
    return answers.size() == 2;
  }));
  std::lock_guard lock(mu);
  for (const auto& r : answers) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().reason, "store");
  }
  EXPECT_FALSE(f.isStored("feed", "f1"));
  EXPECT_FALSE(f.isStored("feed", "f2"));
}

// After stop(), ingestAsync() refuses on the caller's thread.
TEST(GroupCommit, AsyncIngestIsRefusedOnceStopping) {
  Fixture f;
  f.pipeline->stop();
  std::optional<Result<connectors::IngestOutcome>> answer;
  f.pipeline->ingestAsync(f.feed(), {msg("late", "cl")}, std::nullopt,
                          [&answer](Result<connectors::IngestOutcome> r) { answer = std::move(r); });
  ASSERT_TRUE(answer.has_value());
  ASSERT_FALSE(answer->ok());
  EXPECT_EQ(answer->error().reason, kStoppingReason);
  EXPECT_FALSE(f.isStored("feed", "late"));
}

}  // namespace
}  // namespace replywatch::app
