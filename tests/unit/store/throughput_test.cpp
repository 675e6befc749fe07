// Import throughput, printed for a human to read; never asserted on (timings vary with
// the machine). Disabled by default: run with --gtest_also_run_disabled_tests.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "daemon/store/store.h"
#include "tests/unit/store/store_test_util.h"

namespace replywatch::store {
namespace {

using testing::TempDir;

// Batches shaped like a twcs import: 18-digit ids, conversations of five messages
// (four inbound, one brand reply), one answered turn per conversation.
std::vector<WriteBatch> makeBatches(int batches, int per_batch) {
  std::vector<WriteBatch> out(static_cast<std::size_t>(batches));
  std::int64_t next_id = 900'000'000'000'000'000;
  std::int64_t clock = 1'500'000'000'000;
  for (auto& batch : out) {
    batch.messages.reserve(static_cast<std::size_t>(per_batch));
    for (int i = 0; i < per_batch; i += 5) {
      const std::string conversation = std::to_string(next_id);
      Turn turn;
      for (int k = 0; k < 5 && i + k < per_batch; ++k) {
        MessageRecord m;
        m.source = "twcs-import";
        m.id = std::to_string(next_id++);
        m.account = "acme";
        m.channel = "x";
        m.conversation_id = conversation;
        m.in_reply_to = k == 0 ? "" : conversation;
        m.created_at = fromMillis(clock += 1000);
        m.role = k == 4 ? Role::Brand : Role::Question;
        if (k == 4) {
          m.responder = "AcmeSupport";
          m.handler = "agency";
          m.route = Route::Agency;
        }
        batch.messages.push_back(m);
      }
      turn = testing::answeredTurn("twcs-import", conversation, conversation, clock - 4000, clock);
      batch.upsert_turns.push_back(turn);
    }
    batch.cursors = {{"twcs-import", std::to_string(next_id)}};
  }
  return out;
}

double threadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

TEST(SqliteStoreThroughput, DISABLED_ImportRate) {
  TempDir dir;
  auto opened = openSqliteStore(dir.file("store.db"));
  ASSERT_TRUE(opened.ok());
  auto& store = *opened.value();
  constexpr int kBatches = 100;
  constexpr int kPerBatch = 10'000;
  const auto batches = makeBatches(kBatches, kPerBatch);
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = threadCpuSeconds();
  std::size_t inserted = 0;
  for (const auto& batch : batches) {
    auto outcome = store.commit(batch);
    ASSERT_TRUE(outcome.ok()) << outcome.error().message;
    inserted += outcome->messages_inserted;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu = threadCpuSeconds() - cpu_start;
  EXPECT_EQ(inserted, static_cast<std::size_t>(kBatches * kPerBatch));
  std::printf(
      "imported %zu messages (+%zu turns) in %.2f s (%.2f s CPU): %.0f messages/s, %.0f per CPU second\n",
      inserted, inserted / 5, seconds, cpu, static_cast<double>(inserted) / seconds,
      static_cast<double>(inserted) / cpu);

  const auto reload_start = std::chrono::steady_clock::now();
  auto duplicate = store.commit(batches.front());
  ASSERT_TRUE(duplicate.ok());
  EXPECT_EQ(duplicate->messages_inserted, 0u);
  std::size_t turns = 0;
  ASSERT_TRUE(store.forEachTurn([&](const Turn&) { ++turns; }).ok());
  const double reload =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - reload_start).count();
  std::printf("duplicate batch + forEachTurn over %zu turns: %.2f s\n", turns, reload);
}

}  // namespace
}  // namespace replywatch::store
