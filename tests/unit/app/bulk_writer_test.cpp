// The bulk writer and its key set over a real SQLite store, and the pipeline's loads into
// an empty store whose commits run on it: queued commits, a failed one failing the load.
#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "daemon/app/bulk_writer.h"
#include "daemon/app/pipeline.h"
#include "tests/unit/app/app_test_util.h"

namespace replywatch::app {
namespace {

const std::int64_t kT0 = 1'700'000'000;

MessageRecord record(std::string source, std::string id, std::string conversation = "c1") {
  MessageRecord r;
  r.source = std::move(source);
  r.id = std::move(id);
  r.account = "acme";
  r.channel = "export";
  r.conversation_id = std::move(conversation);
  r.created_at = fromMillis(kT0 * 1000);
  r.role = Role::Question;
  return r;
}

TEST(MessageKeySet, TellsKeysAddedBeforeAcrossCallsAndWithinOne) {
  MessageKeySet keys;
  EXPECT_TRUE(keys.addAll({record("s", "m1"), record("s", "m2")}));
  EXPECT_FALSE(keys.addAll({record("s", "m3"), record("s", "m1")}));
  EXPECT_TRUE(keys.addAll({record("other", "m1"), record("s", "m10")}));  // another source: another key
  EXPECT_FALSE(keys.addAll({record("s", "m4"), record("s", "m4")}));
  EXPECT_EQ(keys.size(), 6U);
}

TEST(MessageKeySet, KeepsEveryKeyAsItGrows) {
  MessageKeySet keys;
  constexpr int kKeys = 200'000;  // several times the first table's capacity
  for (int i = 0; i < kKeys; ++i) ASSERT_TRUE(keys.addAll({record("s", std::to_string(i))})) << i;
  EXPECT_EQ(keys.size(), static_cast<std::size_t>(kKeys));
  int known = 0;
  for (int i = 0; i < kKeys; i += 7) known += keys.addAll({record("s", std::to_string(i))}) ? 0 : 1;
  EXPECT_EQ(known, (kKeys + 6) / 7);
}

store::WriteBatch batchOf(std::initializer_list<const char*> ids) {
  store::WriteBatch batch;
  for (const char* id : ids) batch.messages.push_back(record("s", id, std::string("c-") + id));
  batch.require_new_messages = true;
  return batch;
}

TEST(BulkWriter, CommitsWhatItIsGivenInOrder) {
  testing::TempDir dir("bulk-writer");
  auto store = store::openSqliteStore(dir.file("store.db")).value();
  ASSERT_TRUE(store->beginBulkLoad().ok());
  {
    BulkWriter writer(*store, 2);
    for (int i = 0; i < 20; ++i) {
      store::WriteBatch batch = batchOf({});
      batch.messages.push_back(record("s", "m" + std::to_string(i)));
      batch.cursors = {{"s", "after-" + std::to_string(i)}};
      ASSERT_TRUE(writer.submit(std::move(batch)).ok());
    }
    ASSERT_TRUE(writer.drain().ok());
    EXPECT_EQ(store->cursor("s").value(), std::optional<std::string>("after-19"));
    ASSERT_TRUE(writer.submit(batchOf({"last"})).ok());
  }  // the destructor commits what is queued
  ASSERT_TRUE(store->endBulkLoad().ok());
  EXPECT_EQ(store->contains("s", {"m0", "m19", "last"}).value(), (std::vector<bool>{true, true, true}));
}

// A commit the store refuses is the writer's error from then on, and what was queued
// behind it is not committed.
TEST(BulkWriter, AFailedCommitIsReportedAndDropsTheBatchesBehindIt) {
  testing::TempDir dir("bulk-writer");
  auto store = store::openSqliteStore(dir.file("store.db")).value();
  ASSERT_TRUE(store->beginBulkLoad().ok());
  BulkWriter writer(*store, 8);
  ASSERT_TRUE(writer.submit(batchOf({"m1"})).ok());
  ASSERT_TRUE(writer.submit(batchOf({"m2", "m1"})).ok());  // m1 again: refused whole
  (void)writer.submit(batchOf({"m3"}));                    // queued or refused, never stored
  auto drained = writer.drain();
  ASSERT_FALSE(drained.ok());
  EXPECT_EQ(drained.error().reason, store::kDuplicateMessageReason);
  auto later = writer.submit(batchOf({"m4"}));
  ASSERT_FALSE(later.ok());
  EXPECT_EQ(later.error().reason, store::kDuplicateMessageReason);
  EXPECT_EQ(store->contains("s", {"m1", "m2", "m3", "m4"}).value(),
            (std::vector<bool>{true, false, false, false}));
  ASSERT_TRUE(store->abortBulkLoad().ok());
}

using testing::feedConfig;
using testing::feedMessage;

// A real store whose commit of a batch holding message `fail_on` fails, as a full disk
// would make it; the commits' threads are recorded.
class FailingStore final : public testing::ForwardingStore {
 public:
  FailingStore(std::unique_ptr<store::Store> inner, std::string fail_on)
      : ForwardingStore(std::move(inner)), fail_on_(std::move(fail_on)) {}

  Result<store::CommitOutcome> commit(const store::WriteBatch& batch) override {
    {
      std::lock_guard lock(mu_);
      threads_.insert(std::this_thread::get_id());
    }
    for (const auto& m : batch.messages) {
      if (m.id == fail_on_) return makeError("io", "cannot commit to store: disk I/O error");
    }
    return ForwardingStore::commit(batch);
  }
  std::size_t committingThreads() {
    std::lock_guard lock(mu_);
    return threads_.size();
  }

 private:
  const std::string fail_on_;
  std::mutex mu_;
  std::set<std::thread::id> threads_;
};

// A pipeline over a FailingStore in a directory of its own, for one test.
struct BulkPipeline {
  explicit BulkPipeline(std::string fail_on)
      : store(store::openSqliteStore(dir.file("store.db")).value(), std::move(fail_on)),
        p(cfg, clock, store) {}
  // Questions q<from> to q<to - 1>, each in a conversation of its own and a batch of its own.
  void questions(int from, int to) {
    for (int i = from; i < to; ++i) {
      const std::string n = std::to_string(i);
      ASSERT_TRUE(p.ingest(cfg.sources[0], {feedMessage("q" + n, "c" + n, kT0 + i)}, std::nullopt).ok()) << n;
    }
  }
  tracker::ChannelStats channel() { return p.snapshot().channels[{"acme", "export"}]; }

  testing::TempDir dir{"bulk-pipeline"};
  config::Config cfg = feedConfig();
  ManualClock clock{fromMillis((kT0 + 600) * 1000)};
  FailingStore store;
  Pipeline p;
};

// The load's commits run on the bulk writer's thread; a cursor is read back after them.
TEST(PipelineBulkWriter, ALoadIntoAnEmptyStoreCommitsBehindTheWriter) {
  BulkPipeline b("none");
  Pipeline& p = b.p;
  const config::Config& cfg = b.cfg;
  FailingStore& store = b.store;
  ASSERT_TRUE(p.restore().ok());
  ASSERT_TRUE(p.beginBulkLoad().ok());
  for (int i = 0; i < 50; ++i) {
    const std::string n = std::to_string(i);
    auto out =
        p.ingest(cfg.sources[0],
                 {feedMessage("q" + n, "c" + n, kT0 + i), feedMessage("a" + n, "c" + n, kT0 + i + 60, true)},
                 "after-" + n);
    ASSERT_TRUE(out.ok()) << out.error().message;
    EXPECT_EQ(out->stored, 2U);
  }
  EXPECT_EQ(p.cursor("feed").value(), std::optional<std::string>("after-49"));
  // A message loaded already, under another conversation: the store's check keeps it out.
  auto again =
      p.ingest(cfg.sources[0], {feedMessage("q7", "elsewhere", kT0), feedMessage("q50", "c50", kT0 + 50)},
               std::nullopt);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->stored, 1U);
  EXPECT_EQ(again->duplicates, 1U);
  ASSERT_TRUE(p.endBulkLoad().ok());
  EXPECT_EQ(store.committingThreads(), 2U);  // the bulk writer's, then the pipeline writer's
  EXPECT_EQ(store.turns({}).value().size(), 51U);
  EXPECT_EQ(b.channel().questions_total, 51U);
}

// A queued commit that fails fails the whole load: later batches and the end of the load
// return its error, and nothing of the load is stored.
TEST(PipelineBulkWriter, AFailedQueuedCommitFailsTheWholeLoad) {
  testing::TempDir dir("bulk-pipeline");
  auto cfg = feedConfig();
  ManualClock clock(fromMillis((kT0 + 600) * 1000));
  {
    FailingStore store(store::openSqliteStore(dir.file("store.db")).value(), "q3");
    Pipeline p(cfg, clock, store);
    ASSERT_TRUE(p.restore().ok());
    ASSERT_TRUE(p.beginBulkLoad().ok());
    for (int i = 0; i < 3; ++i) {
      const std::string n = std::to_string(i);
      ASSERT_TRUE(p.ingest(cfg.sources[0], {feedMessage("q" + n, "c" + n, kT0 + i)}, std::nullopt).ok());
    }
    // Answered once queued: the failure comes after.
    ASSERT_TRUE(p.ingest(cfg.sources[0], {feedMessage("q3", "c3", kT0 + 3)}, std::nullopt).ok());
    auto cursor = p.cursor("feed");
    ASSERT_FALSE(cursor.ok());
    EXPECT_EQ(cursor.error().reason, "io");
    auto later = p.ingest(cfg.sources[0], {feedMessage("q4", "c4", kT0 + 4)}, std::nullopt);
    ASSERT_FALSE(later.ok());
    EXPECT_EQ(later.error().reason, "io");
    auto ended = p.endBulkLoad();
    ASSERT_FALSE(ended.ok());
    EXPECT_EQ(ended.error().reason, "io");
    EXPECT_NE(ended.error().message.find("nothing of the load was stored"), std::string::npos)
        << ended.error().message;
    EXPECT_EQ(store.contains("feed", {"q0", "q1", "q2", "q3"}).value(),
              (std::vector<bool>{false, false, false, false}));
  }
  auto reopened = store::openSqliteStore(dir.file("store.db")).value();
  EXPECT_TRUE(reopened->turns({}).value().empty());
}

// A file that fails part way is given up: into a store that held data before the load
// (every commit on the importing thread), nothing of the load stays, a turn the load
// answered is open again, and the tracker counts what the store holds.
TEST(PipelineBulkLoad, AGivenUpLoadLeavesNothingOfItAndTheTrackerFollowsTheStore) {
  BulkPipeline b("q13");
  Pipeline& p = b.p;
  const config::Config& cfg = b.cfg;
  FailingStore& store = b.store;
  ASSERT_TRUE(p.restore().ok());
  const auto channel = [&b] { return b.channel(); };
  ASSERT_TRUE(p.beginBulkLoad().ok());
  b.questions(0, 5);
  ASSERT_TRUE(p.endBulkLoad().ok());
  ASSERT_EQ(channel().open, 5U);

  ASSERT_TRUE(p.beginBulkLoad().ok());
  auto answered = p.ingest(cfg.sources[0],
                           {feedMessage("a0", "c0", kT0 + 60, true), feedMessage("q10", "c10", kT0 + 10),
                            feedMessage("q11", "c11", kT0 + 11)},
                           std::nullopt);
  ASSERT_TRUE(answered.ok()) << answered.error().message;
  EXPECT_EQ(channel().questions_total, 7U);
  EXPECT_EQ(channel().open, 6U);
  auto failed = p.ingest(cfg.sources[0], {feedMessage("q13", "c13", kT0 + 13)}, std::nullopt);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().reason, "io");

  ASSERT_TRUE(p.abortBulkLoad().ok());
  EXPECT_EQ(store.contains("feed", {"q0", "q4", "a0", "q10", "q11", "q13"}).value(),
            (std::vector<bool>{true, true, false, false, false, false}));
  const auto turns = store.turns({}).value();
  ASSERT_EQ(turns.size(), 5U);
  EXPECT_TRUE(turns[0].answer_id.empty());
  EXPECT_EQ(channel().questions_total, 5U);
  EXPECT_EQ(channel().open, 5U);

  // Ingestion goes on from there: the answer is new again.
  auto again = p.ingest(cfg.sources[0], {feedMessage("a0", "c0", kT0 + 60, true)}, std::nullopt);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->stored, 1U);
  EXPECT_EQ(channel().open, 4U);
}

// Into an empty store, the load's commits queued on the bulk writer are given up too.
TEST(PipelineBulkLoad, AGivenUpLoadIntoAnEmptyStoreDropsItsQueuedCommits) {
  BulkPipeline b("none");
  Pipeline& p = b.p;
  FailingStore& store = b.store;
  ASSERT_TRUE(p.restore().ok());
  ASSERT_TRUE(p.beginBulkLoad().ok());
  b.questions(0, 20);
  ASSERT_TRUE(p.abortBulkLoad().ok());
  EXPECT_EQ(store.committingThreads(), 1U);  // the bulk writer's
  EXPECT_TRUE(store.turns({}).value().empty());
  EXPECT_EQ(store.contains("feed", {"q0", "q19"}).value(), (std::vector<bool>{false, false}));
  EXPECT_EQ(b.channel().questions_total, 0U);

  // The next load starts from the empty store again.
  ASSERT_TRUE(p.beginBulkLoad().ok());
  b.questions(0, 1);
  ASSERT_TRUE(p.endBulkLoad().ok());
  EXPECT_EQ(store.turns({}).value().size(), 1U);
  EXPECT_EQ(b.channel().questions_total, 1U);
}

}  // namespace
}  // namespace replywatch::app
