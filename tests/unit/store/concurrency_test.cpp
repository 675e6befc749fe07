// Two threads commit while a third reads: no errors, no lost batch, and readers only
// ever see whole batches.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "daemon/store/store.h"
#include "tests/unit/store/store_test_util.h"

namespace replywatch::store {
namespace {

using testing::answeredTurn;
using testing::message;
using testing::TempDir;

constexpr int kBatchesPerWriter = 150;
constexpr int kConversationsPerBatch = 10;  // two messages and one turn each

WriteBatch writerBatch(const std::string& source, int n) {
  WriteBatch batch;
  for (int c = 0; c < kConversationsPerBatch; ++c) {
    const std::string conversation = testing::numbered("n", n, testing::numbered("-c", c));
    const std::int64_t t = 1'000'000 + n * 100 + c;
    batch.messages.push_back(message(source, conversation, conversation, t));
    batch.messages.push_back(message(source, conversation, conversation + "-r", t + 50, Role::Brand));
    batch.upsert_turns.push_back(answeredTurn(source, conversation, conversation, t, t + 50));
  }
  batch.cursors = {{source, std::to_string(n)}};
  return batch;
}

TEST(SqliteStoreConcurrency, TwoWritersAndAReader) {
  TempDir dir;
  auto opened = openSqliteStore(dir.file("store.db"));
  ASSERT_TRUE(opened.ok());
  Store& store = *opened.value();

  std::atomic<int> writers_done{0};
  std::atomic<int> write_errors{0};
  std::atomic<int> read_errors{0};
  std::atomic<int> torn_reads{0};
  std::atomic<int> reads{0};

  auto writer = [&](const std::string& source) {
    for (int n = 1; n <= kBatchesPerWriter; ++n) {
      auto outcome = store.commit(writerBatch(source, n));
      if (!outcome.ok() || outcome->messages_inserted != 2 * kConversationsPerBatch) ++write_errors;
    }
    ++writers_done;
  };
  auto reader = [&] {
    std::size_t last_seen = 0;
    while (writers_done.load() < 2) {
      auto turns = store.turns({});
      if (!turns.ok()) {
        ++read_errors;
        continue;
      }
      // Whole batches only, and never fewer turns than a previous read.
      if (turns->size() % kConversationsPerBatch != 0 || turns->size() < last_seen) ++torn_reads;
      last_seen = turns->size();
      auto conversation = store.conversation({"a", "n1-c0"});
      if (!conversation.ok()) ++read_errors;
      auto cursor = store.cursor("b");
      if (!cursor.ok()) ++read_errors;
      auto found = store.contains("a", {"n1-c0", "n2-c0"});
      if (!found.ok()) ++read_errors;
      ++reads;
    }
  };

  std::thread a(writer, "a");
  std::thread b(writer, "b");
  std::thread r(reader);
  a.join();
  b.join();
  r.join();

  EXPECT_EQ(write_errors.load(), 0);
  EXPECT_EQ(read_errors.load(), 0);
  EXPECT_EQ(torn_reads.load(), 0);
  EXPECT_GT(reads.load(), 0);
  auto turns = store.turns({});
  ASSERT_TRUE(turns.ok());
  EXPECT_EQ(turns->size(), static_cast<std::size_t>(2 * kBatchesPerWriter * kConversationsPerBatch));
  EXPECT_EQ(store.cursor("a").value(), std::optional<std::string>(std::to_string(kBatchesPerWriter)));
  EXPECT_EQ(store.cursor("b").value(), std::optional<std::string>(std::to_string(kBatchesPerWriter)));
  TurnQuery query;
  query.account = "acme";
  EXPECT_EQ(store.turns(query)->size(), turns->size());
}

}  // namespace
}  // namespace replywatch::store
