// Import throughput, printed for a human to read; never asserted on (timings vary with
// the machine). Disabled by default: run with --gtest_also_run_disabled_tests.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "daemon/store/store.h"
#include "daemon/store/store_file_builder.h"
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

// A load shaped like the twcs benchmark's (2.8 M rows, 1.58 M turns): conversations of
// one to three messages, a turn each, a quarter of them open. REPLYWATCH_BUILD_MESSAGES
// sets the size (default 2,800,000).
struct TwcsLikeLoad {
  std::vector<MessageRecord> messages;
  std::vector<Turn> turns;
  std::vector<std::size_t> turn_starts;  // index of each turn's first message
};

TwcsLikeLoad twcsLikeLoad(std::size_t size) {
  TwcsLikeLoad load;
  // Ids in no relation to the order of the messages, as tweet ids in the dataset's file:
  // a bijection of the sequence number onto 8-digit numbers.
  std::int64_t sequence = 0;
  auto next_id = [&] { return 10'000'000 + (sequence++ * 7'919'993) % 10'000'000; };
  std::int64_t clock = 1'500'000'000'000;
  for (std::size_t c = 0; load.messages.size() < size; ++c) {
    const std::string conversation = std::to_string(next_id());
    --sequence;  // the first message's id is the conversation's
    load.turn_starts.push_back(load.messages.size());
    const std::size_t length = 1 + c % 3;
    const std::int64_t asked = clock += 997;
    for (std::size_t k = 0; k < length; ++k) {
      MessageRecord m;
      m.source = "twcs";
      m.id = std::to_string(next_id());
      m.account = c % 7 == 0 ? "globex" : "acme";
      m.channel = "x";
      m.conversation_id = conversation;
      m.in_reply_to = k == 0 ? "" : conversation;
      m.created_at = fromMillis(asked + static_cast<std::int64_t>(k) * 60'000);
      m.role = k > 0 && k + 1 == length ? Role::Brand : Role::Question;
      if (m.role == Role::Brand) {
        m.responder = "AcmeSupport";
        m.handler = "agency";
        m.route = Route::Agency;
      }
      load.messages.push_back(m);
    }
    Turn turn = length > 1 ? testing::answeredTurn("twcs", conversation, conversation, asked,
                                                   asked + static_cast<std::int64_t>(length - 1) * 60'000)
                           : testing::openTurn("twcs", conversation, conversation, asked);
    turn.account = load.messages.back().account;
    load.turns.push_back(turn);
  }
  return load;
}

TEST(SqliteStoreThroughput, DISABLED_BuiltStoreAgainstABulkLoadThroughCommits) {
  const char* size_env = std::getenv("REPLYWATCH_BUILD_MESSAGES");
  const std::size_t size = size_env != nullptr ? std::strtoull(size_env, nullptr, 10) : 2'800'000;
  const TwcsLikeLoad load = twcsLikeLoad(size);
  TempDir dir;

  // REPLYWATCH_BUILD_ONLY=1 skips the load through commits (to profile the build alone).
  const bool build_only = std::getenv("REPLYWATCH_BUILD_ONLY") != nullptr;
  const auto commit_start = std::chrono::steady_clock::now();
  if (!build_only) {
    auto opened = openSqliteStore(dir.file("committed.db"));
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    Store& store = *opened.value();
    ASSERT_TRUE(store.beginBulkLoad().ok());
    constexpr std::size_t kPerBatch = 10'000;
    std::size_t turn = 0;
    for (std::size_t i = 0; i < load.messages.size(); i += kPerBatch) {
      WriteBatch batch;
      const std::size_t end = std::min(load.messages.size(), i + kPerBatch);
      batch.messages.assign(load.messages.begin() + static_cast<std::ptrdiff_t>(i),
                            load.messages.begin() + static_cast<std::ptrdiff_t>(end));
      while (turn < load.turns.size() && load.turn_starts[turn] < end) {
        batch.upsert_turns.push_back(load.turns[turn++]);
      }
      auto committed = store.commit(batch);
      ASSERT_TRUE(committed.ok()) << committed.error().message;
    }
    ASSERT_TRUE(store.endBulkLoad().ok());
  }
  const double committed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - commit_start).count();

  const auto build_start = std::chrono::steady_clock::now();
  auto built = buildSqliteStore(dir.file("built.db"), load.messages, load.turns);
  ASSERT_TRUE(built.ok()) << built.error().message;
  const double building =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - build_start).count();
  std::printf(
      "%zu messages, %zu turns: bulk load through commits %.2f s, built store %.2f s (%zu pages): "
      "built / committed = %.3f\n",
      load.messages.size(), load.turns.size(), committed, building, built->pages, building / committed);
}

}  // namespace
}  // namespace replywatch::store
