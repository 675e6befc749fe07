#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "daemon/store/commit_log.h"
#include "daemon/store/store.h"
#include "daemon/store/store_file_builder.h"
#include "tests/unit/store/store_test_util.h"

namespace replywatch::store {
namespace {

using testing::answeredTurn;
using testing::message;
using testing::numbered;
using testing::openTurn;
using testing::RawDb;
using testing::TempDir;

// Every row of `table` in key order, each value with its type ("integer:5", "text:ab",
// "null:"), so that an integer and the text of the same digits differ.
std::vector<std::string> dump(const std::filesystem::path& path, const std::string& table,
                              const std::string& key) {
  sqlite3* db = nullptr;
  std::vector<std::string> rows;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "cannot open " << path;
    sqlite3_close(db);
    return rows;
  }
  sqlite3_stmt* stmt = nullptr;
  const std::string sql = "SELECT * FROM " + table + " ORDER BY " + key;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  while (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
    std::string row;
    for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
      static const char* const kTypes[] = {"?", "integer", "float", "text", "blob", "null"};
      row.append(kTypes[sqlite3_column_type(stmt, i)]).append(":");
      if (const unsigned char* text = sqlite3_column_text(stmt, i); text != nullptr) {
        row.append(reinterpret_cast<const char*>(text));
      }
      row.append("|");
    }
    rows.push_back(row);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return rows;
}

struct Load {
  std::vector<MessageRecord> messages;
  std::vector<Turn> turns;
};

// Conversations of a question and maybe an answer over two sources and two accounts,
// some open, some breached, in no particular order; ids longer than 8 bytes that share
// their first 8.
Load randomLoad(std::size_t conversations, std::uint32_t seed) {
  std::mt19937 rng(seed);
  Load load;
  for (std::size_t c = 0; c < conversations; ++c) {
    const std::string source = c % 3 == 0 ? "relay-free-x" : "export-fb";
    const std::string conversation = numbered("conversation-", static_cast<std::int64_t>(rng() % 1000000),
                                              numbered("-", static_cast<std::int64_t>(c)));
    // Coarse times: many turns asked at the same millisecond, over both sources.
    const std::int64_t asked = 1700000000000LL + static_cast<std::int64_t>(rng() % 500) * 60000;
    const std::string account = c % 2 == 0 ? "acme" : "globex";
    load.messages.push_back(message(source, conversation, conversation, asked));
    load.messages.back().account = account;
    if (rng() % 4 == 0) {
      load.turns.push_back(openTurn(source, conversation, conversation, asked, account));
      continue;
    }
    const std::int64_t answered = asked + static_cast<std::int64_t>(rng() % 8000000);
    const std::string answer = conversation + testing::kAnswerSuffix;
    load.messages.push_back(message(source, conversation, answer, answered, Role::Brand));
    load.messages.back().account = account;
    Turn turn = answeredTurn(source, conversation, conversation, asked, answered, account);
    if (answered - asked > 3600000) turn.breached_at = fromMillis(asked + 3600000);
    load.turns.push_back(turn);
  }
  std::shuffle(load.messages.begin(), load.messages.end(), rng);
  std::shuffle(load.turns.begin(), load.turns.end(), rng);
  return load;
}

// The same load through commit(), in a bulk load as `replywatch import` does.
void commitLoad(const std::filesystem::path& path, const Load& load) {
  auto opened = openSqliteStore(path);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  Store& store = *opened.value();
  ASSERT_TRUE(store.beginBulkLoad().ok());
  WriteBatch batch;
  batch.messages = load.messages;
  batch.upsert_turns = load.turns;
  ASSERT_TRUE(store.commit(batch).ok());
  ASSERT_TRUE(store.endBulkLoad().ok());
}

TEST(BuildSqliteStore, WritesTheRowsAndIndexesABulkLoadThroughCommitsWrites) {
  TempDir dir;
  const Load load = randomLoad(3000, 7);
  const auto committed = dir.file("committed.db");
  commitLoad(committed, load);
  if (HasFatalFailure()) return;
  const auto built = dir.file("built.db");
  auto result = buildSqliteStore(built, load.messages, load.turns);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->messages, load.messages.size());
  EXPECT_EQ(result->turns, load.turns.size());
  EXPECT_FALSE(std::filesystem::exists(built.string() + ".building"));

  RawDb raw(built);
  EXPECT_EQ(raw.text("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(raw.integer("PRAGMA page_count"), static_cast<std::int64_t>(result->pages));
  EXPECT_EQ(raw.integer("PRAGMA user_version"), RawDb(committed).integer("PRAGMA user_version"));
  EXPECT_EQ(dump(built, "messages", "source, id"), dump(committed, "messages", "source, id"));
  EXPECT_EQ(dump(built, "turns", "source, conversation_id, question_id"),
            dump(committed, "turns", "source, conversation_id, question_id"));
  // Each index gives what the committed store's gives.
  for (const auto& [index, columns] :
       {std::pair<std::string, std::string>{"messages_by_conversation",
                                            "source, conversation_id, created_at_ms, id"},
        {"turns_by_account_asked_at", "account, asked_at_ms, source, conversation_id, question_id"},
        {"turns_open", "source, conversation_id, question_id"}}) {
    const std::string where = index == "turns_open" ? " WHERE answered_at_ms IS NULL" : "";
    const std::string table = index.rfind("messages", 0) == 0 ? "messages" : "turns";
    std::string query = "(SELECT ";
    query.append(columns).append(" FROM ").append(table).append(" INDEXED BY ").append(index).append(where);
    query.append(")");
    EXPECT_EQ(dump(built, query, columns), dump(committed, query, columns)) << index;
  }
}

TEST(BuildSqliteStore, TheBuiltStoreOpensAndTakesFurtherCommits) {
  TempDir dir;
  const Load load = randomLoad(500, 11);
  const auto path = dir.file("store.db");
  auto built = buildSqliteStore(path, load.messages, load.turns);
  ASSERT_TRUE(built.ok()) << built.error().message;
  {
    auto opened = openSqliteStore(path);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    Store& store = *opened.value();
    std::size_t open_turns = 0;
    for (const Turn& t : load.turns) open_turns += t.answered_at ? 0 : 1;
    auto open = store.openConversationMessages();
    ASSERT_TRUE(open.ok()) << open.error().message;
    EXPECT_EQ(open->size(), open_turns);  // one question per open conversation

    // An answer to one of the open questions, and a new conversation.
    const Turn* first_open = nullptr;
    for (const Turn& t : load.turns) {
      if (!t.answered_at) first_open = &t;
    }
    ASSERT_NE(first_open, nullptr);
    WriteBatch batch;
    batch.messages.push_back(message(first_open->source, first_open->conversation_id, "late-answer",
                                     toMillis(first_open->asked_at) + 1000, Role::Brand));
    Turn answered = *first_open;
    answered.answer_id = "late-answer";
    answered.answered_at = first_open->asked_at + std::chrono::seconds(1);
    batch.upsert_turns.push_back(answered);
    batch.messages.push_back(message("export-fb", "fresh", "fresh", 1800000000000LL));
    batch.upsert_turns.push_back(openTurn("export-fb", "fresh", "fresh", 1800000000000LL));
    ASSERT_TRUE(store.commit(batch).ok());
    auto after = store.openConversationMessages();
    ASSERT_TRUE(after.ok());
    EXPECT_EQ(after->size(), open_turns);  // one answered, one opened
  }
  RawDb raw(path);
  EXPECT_EQ(raw.text("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(raw.integer("SELECT count(*) FROM messages"),
            static_cast<std::int64_t>(load.messages.size() + 2));
}

TEST(BuildSqliteStore, AnEmptyLoadIsAnEmptyStore) {
  TempDir dir;
  const auto path = dir.file("empty.db");
  auto built = buildSqliteStore(path, std::vector<MessageRecord>{}, std::vector<Turn>{});
  ASSERT_TRUE(built.ok()) << built.error().message;
  RawDb raw(path);
  EXPECT_EQ(raw.text("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(raw.integer("SELECT count(*) FROM messages"), 0);
  auto opened = openSqliteStore(path);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
}

TEST(BuildSqliteStore, RefusesToBuildOverAnythingAStoreOfThatNameLeft) {
  TempDir dir;
  const Load load = randomLoad(10, 3);
  const auto path = dir.file("store.db");
  std::ofstream(path) << "keep me";
  auto refused = buildSqliteStore(path, load.messages, load.turns);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("a store is built as a new file"), std::string::npos)
      << refused.error().message;
  std::string content;
  std::getline(std::ifstream(path), content);
  EXPECT_EQ(content, "keep me");

  // A write-ahead log or a commit log of a removed store would be applied to the new one.
  const auto other = dir.file("other.db");
  std::ofstream(other.string() + "-wal") << "stale";
  refused = buildSqliteStore(other, load.messages, load.turns);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("-wal exists"), std::string::npos) << refused.error().message;
  EXPECT_FALSE(std::filesystem::exists(other));

  const auto third = dir.file("third.db");
  std::filesystem::create_directories(commitLogDirectory(third));
  refused = buildSqliteStore(third, load.messages, load.turns);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("commit log"), std::string::npos) << refused.error().message;
  EXPECT_FALSE(std::filesystem::exists(third));
}

TEST(BuildSqliteStore, RefusesAKeyTwiceAndLeavesNoFile) {
  TempDir dir;
  Load load = randomLoad(50, 5);
  load.messages.push_back(load.messages.front());
  const auto path = dir.file("store.db");
  auto refused = buildSqliteStore(path, load.messages, load.turns);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("comes twice"), std::string::npos) << refused.error().message;
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".building"));

  load.messages.pop_back();
  load.turns.push_back(load.turns.back());
  refused = buildSqliteStore(path, load.messages, load.turns);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("comes twice"), std::string::npos) << refused.error().message;
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".building"));
}

// The messages' order by conversation, as a caller that sorted them already gives it.
std::vector<std::uint32_t> byConversation(const std::vector<MessageRecord>& messages) {
  std::vector<std::uint32_t> order(messages.size());
  for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
    const MessageRecord& x = messages[a];
    const MessageRecord& y = messages[b];
    return std::tie(x.source, x.conversation_id, x.created_at, x.id) <
           std::tie(y.source, y.conversation_id, y.created_at, y.id);
  });
  return order;
}

// The messages' order by key, as a caller that sorted them already gives it.
std::vector<std::uint32_t> byKey(const std::vector<MessageRecord>& messages) {
  std::vector<std::uint32_t> order(messages.size());
  for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
    return std::tie(messages[a].source, messages[a].id) < std::tie(messages[b].source, messages[b].id);
  });
  return order;
}

TEST(BuildSqliteStore, GivenOrdersAreCheckedAndUsed) {
  TempDir dir;
  const Load load = randomLoad(800, 11);
  const auto sorted_here = dir.file("sorted-here.db");
  ASSERT_TRUE(buildSqliteStore(sorted_here, load.messages, load.turns).ok());
  const MessageOrders orders{byKey(load.messages), byConversation(load.messages)};
  for (const MessageOrders& given :
       {orders, MessageOrders{orders.by_key, {}}, MessageOrders{{}, orders.by_conversation}}) {
    const auto path = dir.file("given.db");
    auto built = buildSqliteStore(path, load.messages, load.turns, given);
    ASSERT_TRUE(built.ok()) << built.error().message;
    EXPECT_EQ(RawDb(path).text("PRAGMA integrity_check"), "ok");
    EXPECT_EQ(dump(path, "messages", "source, id"), dump(sorted_here, "messages", "source, id"));
    const std::string query =
        "(SELECT source, conversation_id, created_at_ms, id FROM messages INDEXED BY "
        "messages_by_conversation)";
    EXPECT_EQ(dump(path, query, "source, conversation_id, created_at_ms, id"),
              dump(sorted_here, query, "source, conversation_id, created_at_ms, id"));
    std::filesystem::remove(path);
  }

  // Not that order: two rows swapped, one row twice, one missing, an index out of range.
  auto wrongs = [](const std::vector<std::uint32_t>& order) {
    std::vector<std::vector<std::uint32_t>> wrong(4, order);
    std::swap(wrong[0][10], wrong[0][11]);
    wrong[1][20] = wrong[1][21];
    wrong[2].pop_back();
    wrong[3].back() = static_cast<std::uint32_t>(order.size());
    return wrong;
  };
  std::vector<std::pair<MessageOrders, std::string>> cases;
  for (auto& w : wrongs(orders.by_key))
    cases.emplace_back(MessageOrders{w, orders.by_conversation}, "order by key");
  for (auto& w : wrongs(orders.by_conversation))
    cases.emplace_back(MessageOrders{{}, w}, "order by conversation");
  // A message given twice, both copies in the order by key.
  Load twice = load;
  twice.messages.push_back(twice.messages.front());
  cases.emplace_back(MessageOrders{byKey(twice.messages), {}}, "comes twice");
  for (std::size_t k = 0; k < cases.size(); ++k) {
    const auto path = dir.file("wrong-" + std::to_string(k) + ".db");
    const auto& messages = k + 1 == cases.size() ? twice.messages : load.messages;
    auto refused = buildSqliteStore(path, messages, load.turns, cases[k].first);
    ASSERT_FALSE(refused.ok()) << k;
    EXPECT_NE(refused.error().message.find(cases[k].second), std::string::npos) << refused.error().message;
    EXPECT_FALSE(std::filesystem::exists(path)) << k;
    EXPECT_FALSE(std::filesystem::exists(path.string() + ".building")) << k;
  }
}

TEST(BuildSqliteStore, RefusesWhatTheTablesConstraintsRefuse) {
  TempDir dir;
  Load load = randomLoad(20, 13);
  load.messages[3].source.clear();
  const auto path = dir.file("store.db");
  auto refused = buildSqliteStore(path, load.messages, load.turns);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("has no source"), std::string::npos) << refused.error().message;
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(BuildSqliteStore, WaitsForNoOneHoldingTheStoresLock) {
  TempDir dir;
  const Load load = randomLoad(10, 9);
  const auto path = dir.file("store.db");
  auto lock = CommitLogLock::take(path, /*exclusive=*/true);
  ASSERT_TRUE(lock.ok() && lock->held());
  auto refused = buildSqliteStore(path, load.messages, load.turns);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("holds the store's lock"), std::string::npos)
      << refused.error().message;
  EXPECT_FALSE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace replywatch::store
