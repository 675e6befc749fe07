#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "daemon/store/store.h"
#include "tests/unit/store/store_test_util.h"

namespace replywatch::store {
namespace {

using testing::answeredTurn;
using testing::message;
using testing::openTurn;
using testing::RawDb;
using testing::TempDir;

std::unique_ptr<Store> mustOpen(const std::filesystem::path& path, OpenOptions options = {}) {
  auto opened = openSqliteStore(path, options);
  EXPECT_TRUE(opened.ok()) << (opened.ok() ? "" : opened.error().message);
  if (!opened.ok()) return nullptr;
  return std::move(opened.value());
}

std::string fileBytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string out(static_cast<std::size_t>(std::filesystem::file_size(path)), '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  return out;
}

std::vector<std::string> ids(const std::vector<MessageRecord>& messages) {
  std::vector<std::string> out;
  out.reserve(messages.size());
  for (const auto& m : messages) out.push_back(m.id);
  return out;
}

std::vector<std::string> questionIds(const std::vector<Turn>& turns) {
  std::vector<std::string> out;
  out.reserve(turns.size());
  for (const auto& t : turns) out.push_back(t.question_id);
  return out;
}

// --- opening and migrations -----------------------------------------------------------

TEST(SqliteStoreOpen, MigratesANewFile) {
  TempDir dir;
  const auto path = dir.file("store.db");
  {
    auto store = mustOpen(path);
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->schemaVersion(), 5);
  }
  RawDb raw(path);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw.integer("PRAGMA user_version"), 5);
  EXPECT_EQ(raw.integer("SELECT MAX(version) FROM schema_version"), 5);
  EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(raw.integer("SELECT lsn FROM commit_log_applied"), 0);
  for (const char* table : {"messages", "turns", "cursors", "escalations", "schema_version",
                            "commit_log_applied", "retired_counts"}) {
    EXPECT_EQ(
        raw.integer(std::string("SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = '") +
                    table + "'"),
        1)
        << table;
  }
  // No column can hold message text.
  EXPECT_EQ(raw.integer("SELECT COUNT(*) FROM pragma_table_info('messages') WHERE name = 'text'"), 0);
  // The secondary indexes: turns are read per account only (version 4).
  EXPECT_EQ(
      raw.text("SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_schema WHERE type = 'index' "
               "AND sql IS NOT NULL ORDER BY name)"),
      "escalations_by_link escalations_by_ref escalations_by_requested_at messages_by_conversation "
      "turns_by_account_asked_at turns_open");
}

TEST(SqliteStoreOpen, MigratesAnExistingEmptyFile) {
  TempDir dir;
  const auto path = dir.file("empty.db");
  { std::ofstream touch(path); }
  ASSERT_EQ(std::filesystem::file_size(path), 0u);
  auto store = mustOpen(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->schemaVersion(), 5);
}

TEST(SqliteStoreOpen, ReopeningAnUpToDateFileAppliesNothing) {
  TempDir dir;
  const auto path = dir.file("store.db");
  { ASSERT_NE(mustOpen(path), nullptr); }
  auto store = mustOpen(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->schemaVersion(), 5);
  RawDb raw(path);
  EXPECT_EQ(raw.integer("SELECT COUNT(*) FROM schema_version"), 5);
}

TEST(SqliteStoreOpen, RefusesANewerSchemaAndLeavesTheFileUntouched) {
  TempDir dir;
  const auto path = dir.file("future.db");
  {
    RawDb raw(path);
    ASSERT_TRUE(raw.exec(
        "CREATE TABLE future (x INTEGER); INSERT INTO future VALUES (42); PRAGMA user_version = 99;"));
  }
  const std::string before = fileBytes(path);
  ASSERT_FALSE(before.empty());

  auto opened = openSqliteStore(path);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().reason, "store");
  EXPECT_NE(opened.error().message.find(path.string()), std::string::npos) << opened.error().message;
  EXPECT_NE(opened.error().message.find("99"), std::string::npos) << opened.error().message;
  EXPECT_NE(opened.error().message.find("newer"), std::string::npos) << opened.error().message;

  auto read_only = openSqliteStore(path, OpenOptions{.read_only = true});
  ASSERT_FALSE(read_only.ok());
  EXPECT_NE(read_only.error().message.find("newer"), std::string::npos);

  EXPECT_EQ(fileBytes(path), before);
  EXPECT_FALSE(std::filesystem::exists(path.string() + "-wal"));
  RawDb raw(path);
  EXPECT_EQ(raw.integer("PRAGMA user_version"), 99);
  EXPECT_EQ(raw.text("PRAGMA journal_mode"), "delete");
}

TEST(SqliteStoreOpen, MissingDirectoryIsAPlainError) {
  TempDir dir;
  const auto path = dir.path() / "no" / "such" / "dir" / "store.db";
  auto opened = openSqliteStore(path);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().reason, "store");
  EXPECT_EQ(opened.error().message, "cannot open store " + path.string() + ": unable to open database file");
}

TEST(SqliteStoreOpen, NotADatabaseIsAnError) {
  TempDir dir;
  const auto path = dir.file("garbage.db");
  {
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < 512; ++i) out << "this is not a database ";
  }
  const std::string before = fileBytes(path);
  auto opened = openSqliteStore(path);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().reason, "store");
  EXPECT_NE(opened.error().message.find(path.string()), std::string::npos);
  EXPECT_NE(opened.error().message.find("not a database"), std::string::npos) << opened.error().message;
  EXPECT_EQ(fileBytes(path), before);
}

TEST(SqliteStoreOpen, ReadOnlyOpenOfAMissingFileFailsWithoutCreatingIt) {
  TempDir dir;
  const auto path = dir.file("missing.db");
  auto opened = openSqliteStore(path, OpenOptions{.read_only = true});
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().reason, "store");
  EXPECT_EQ(opened.error().message, "cannot open store " + path.string() + ": no such file");
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(SqliteStoreOpen, ReadOnlyOpenOfAnUnmigratedFileFails) {
  TempDir dir;
  const auto path = dir.file("empty.db");
  { std::ofstream touch(path); }
  auto opened = openSqliteStore(path, OpenOptions{.read_only = true});
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.error().message.find("schema version 0"), std::string::npos) << opened.error().message;
  EXPECT_EQ(std::filesystem::file_size(path), 0u);
}

TEST(SqliteStoreOpen, ReadOnlyStoreReadsButRefusesWrites) {
  TempDir dir;
  const auto path = dir.file("store.db");
  {
    auto store = mustOpen(path);
    ASSERT_NE(store, nullptr);
    WriteBatch batch;
    batch.messages = {message("s", "c1", "c1", 1000)};
    batch.upsert_turns = {openTurn("s", "c1", "c1", 1000)};
    batch.cursors = {{"s", "cursor-1"}};
    ASSERT_TRUE(store->commit(batch).ok());
  }
  auto store = mustOpen(path, OpenOptions{.read_only = true});
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->schemaVersion(), 5);
  auto turns = store->turns({});
  ASSERT_TRUE(turns.ok());
  EXPECT_EQ(turns->size(), 1u);
  auto cursor = store->cursor("s");
  ASSERT_TRUE(cursor.ok());
  EXPECT_EQ(cursor.value(), std::optional<std::string>("cursor-1"));

  WriteBatch batch;
  batch.messages = {message("s", "c2", "c2", 2000)};
  auto committed = store->commit(batch);
  ASSERT_FALSE(committed.ok());
  EXPECT_EQ(committed.error().reason, "store");
  EXPECT_NE(committed.error().message.find("read-only"), std::string::npos);
  EXPECT_FALSE(store->prune(fromMillis(1'000'000), {}).ok());
}

// --- commit ---------------------------------------------------------------------------

TEST(SqliteStoreCommit, ReopenKeepsEverything) {
  TempDir dir;
  const auto path = dir.file("store.db");
  MessageRecord brand = message("s", "c1", "m2", 2000, Role::Brand);
  Turn answered = answeredTurn("s", "c1", "c1", 1000, 2000);
  answered.breached_at = fromMillis(1500);
  {
    auto store = mustOpen(path);
    ASSERT_NE(store, nullptr);
    WriteBatch batch;
    batch.messages = {message("s", "c1", "c1", 1000), brand};
    batch.upsert_turns = {answered};
    batch.cursors = {{"s", "page-2"}};
    auto outcome = store->commit(batch);
    ASSERT_TRUE(outcome.ok()) << outcome.error().message;
    EXPECT_EQ(outcome->messages_inserted, 2u);
  }
  auto store = mustOpen(path);
  ASSERT_NE(store, nullptr);
  auto messages = store->conversation({"s", "c1"});
  ASSERT_TRUE(messages.ok());
  ASSERT_EQ(messages->size(), 2u);
  EXPECT_EQ(ids(*messages), (std::vector<std::string>{"c1", "m2"}));
  const MessageRecord& got = (*messages)[1];
  EXPECT_EQ(got.source, brand.source);
  EXPECT_EQ(got.account, brand.account);
  EXPECT_EQ(got.channel, brand.channel);
  EXPECT_EQ(got.conversation_id, brand.conversation_id);
  EXPECT_EQ(got.in_reply_to, brand.in_reply_to);
  EXPECT_EQ(got.created_at, brand.created_at);
  EXPECT_EQ(got.role, Role::Brand);
  EXPECT_EQ(got.responder, brand.responder);
  EXPECT_EQ(got.handler, brand.handler);
  EXPECT_EQ(got.route, Route::Agency);

  auto turns = store->turns({});
  ASSERT_TRUE(turns.ok());
  ASSERT_EQ(turns->size(), 1u);
  EXPECT_EQ((*turns)[0], answered);
  EXPECT_EQ(store->cursor("s").value(), std::optional<std::string>("page-2"));
  EXPECT_EQ(store->cursor("other").value(), std::nullopt);
}

TEST(SqliteStoreCommit, SameBatchTwiceChangesNothing) {
  TempDir dir;
  auto store = mustOpen(dir.file("store.db"));
  ASSERT_NE(store, nullptr);
  WriteBatch batch;
  batch.messages = {message("s", "c1", "c1", 1000), message("s", "c1", "m2", 1100),
                    message("s", "c1", "m3", 1200, Role::Brand)};
  batch.upsert_turns = {answeredTurn("s", "c1", "c1", 1000, 1200)};
  batch.cursors = {{"s", "42"}};

  auto first = store->commit(batch);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->messages_inserted, 3u);
  auto turns_before = store->turns({});
  ASSERT_TRUE(turns_before.ok());

  auto second = store->commit(batch);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->messages_inserted, 0u);
  auto turns_after = store->turns({});
  ASSERT_TRUE(turns_after.ok());
  EXPECT_EQ(turns_after.value(), turns_before.value());
  EXPECT_EQ(store->conversation({"s", "c1"})->size(), 3u);
}

TEST(SqliteStoreCommit, DuplicateInsideOneBatchCountsOnce) {
  TempDir dir;
  auto store = mustOpen(dir.file("store.db"));
  ASSERT_NE(store, nullptr);
  WriteBatch batch;
  batch.messages = {message("s", "c1", "c1", 1000), message("s", "c1", "c1", 1000),
                    message("t", "c1", "c1", 1000)};
  auto outcome = store->commit(batch);
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->messages_inserted, 2u);  // same id in another source is another message
}

TEST(SqliteStoreCommit, EmptyBatchIsANoOp) {
  TempDir dir;
  auto store = mustOpen(dir.file("store.db"));
  ASSERT_NE(store, nullptr);
  auto outcome = store->commit(WriteBatch{});
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->messages_inserted, 0u);
}

TEST(SqliteStoreCommit, FailedBatchLeavesNeitherMessagesNorCursor) {
  TempDir dir;
  const auto path = dir.file("store.db");
  auto store = mustOpen(path);
  ASSERT_NE(store, nullptr);

  WriteBatch good;
  good.messages = {message("s", "c0", "c0", 500)};
  good.cursors = {{"s", "cursor-0"}};
  ASSERT_TRUE(store->commit(good).ok());

  WriteBatch bad;
  bad.messages = {message("s", "c1", "c1", 1000), message("s", "c1", "m2", 1100)};
  bad.upsert_turns = {openTurn("s", "c1", "c1", 1000)};
  Turn invalid = answeredTurn("s", "c2", "c2", 1000, 2000);
  invalid.route = static_cast<Route>(7);  // violates CHECK (route BETWEEN 0 AND 2)
  bad.upsert_turns.push_back(invalid);
  bad.delete_turns = {};
  bad.cursors = {{"s", "cursor-1"}};

  auto outcome = store->commit(bad);
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.error().reason, "store");
  EXPECT_NE(outcome.error().message.find("cannot commit to store " + path.string() + ": "), std::string::npos)
      << outcome.error().message;
  EXPECT_NE(outcome.error().message.find("CHECK constraint failed"), std::string::npos)
      << outcome.error().message;

  auto contained = store->contains("s", {"c0", "c1", "m2"});
  ASSERT_TRUE(contained.ok());
  EXPECT_EQ(contained.value(), (std::vector<bool>{true, false, false}));
  EXPECT_EQ(store->cursor("s").value(), std::optional<std::string>("cursor-0"));
  EXPECT_TRUE(store->turns({})->empty());

  // The store stays usable, and the same data commits once it is valid.
  bad.upsert_turns.pop_back();
  auto retried = store->commit(bad);
  ASSERT_TRUE(retried.ok()) << retried.error().message;
  EXPECT_EQ(retried->messages_inserted, 2u);
  EXPECT_EQ(store->cursor("s").value(), std::optional<std::string>("cursor-1"));

  // The same holds when the failing row comes first: an invalid message.
  WriteBatch bad_message;
  bad_message.messages = {message("", "c9", "c9", 1000)};  // CHECK (source <> '')
  bad_message.cursors = {{"s", "cursor-2"}};
  ASSERT_FALSE(store->commit(bad_message).ok());
  EXPECT_EQ(store->cursor("s").value(), std::optional<std::string>("cursor-1"));
}

TEST(SqliteStoreCommit, TurnsAreUpsertedAndDeleted) {
  TempDir dir;
  auto store = mustOpen(dir.file("store.db"));
  ASSERT_NE(store, nullptr);
  WriteBatch open;
  open.upsert_turns = {openTurn("s", "c1", "q1", 1000), openTurn("s", "c1", "q2", 5000)};
  ASSERT_TRUE(store->commit(open).ok());
  auto turns = store->turns({});
  ASSERT_TRUE(turns.ok());
  ASSERT_EQ(turns->size(), 2u);
  EXPECT_TRUE((*turns)[0].open());
  EXPECT_FALSE((*turns)[0].breached_at.has_value());

  // q1 answered late; q2 disappears after a recomputation.
  Turn answered = answeredTurn("s", "c1", "q1", 1000, 9000);
  answered.breached_at = fromMillis(4600);
  WriteBatch update;
  update.upsert_turns = {answered};
  update.delete_turns = {TurnKey{"s", "c1", "q2"}, TurnKey{"s", "c1", "never-existed"}};
  ASSERT_TRUE(store->commit(update).ok());
  turns = store->turns({});
  ASSERT_TRUE(turns.ok());
  ASSERT_EQ(turns->size(), 1u);
  EXPECT_EQ((*turns)[0], answered);

  // A key deleted and upserted in the same batch ends up upserted.
  WriteBatch both;
  Turn reopened = openTurn("s", "c1", "q1", 1000);
  both.delete_turns = {keyOf(reopened)};
  both.upsert_turns = {reopened};
  ASSERT_TRUE(store->commit(both).ok());
  turns = store->turns({});
  ASSERT_TRUE(turns.ok());
  ASSERT_EQ(turns->size(), 1u);
  EXPECT_EQ((*turns)[0], reopened);
}

TEST(SqliteStoreCommit, CursorKeepsTheLatestValuePerSource) {
  TempDir dir;
  auto store = mustOpen(dir.file("store.db"));
  ASSERT_NE(store, nullptr);
  for (const char* value : {"1", "2", "3"}) {
    WriteBatch batch;
    batch.cursors = {{"a", value}};
    ASSERT_TRUE(store->commit(batch).ok());
  }
  WriteBatch other;
  other.cursors = {{"b", ""}};
  ASSERT_TRUE(store->commit(other).ok());
  EXPECT_EQ(store->cursor("a").value(), std::optional<std::string>("3"));
  EXPECT_EQ(store->cursor("b").value(), std::optional<std::string>(""));
}

TEST(SqliteStoreCommit, OneBatchWritesTheCursorsOfSeveralSourcesInOrder) {
  TempDir dir;
  auto store = mustOpen(dir.file("store.db"));
  ASSERT_NE(store, nullptr);
  WriteBatch batch;
  batch.messages = {message("a", "c1", "m1", 1), message("b", "c1", "m2", 2)};
  batch.cursors = {{"a", "a-1"}, {"b", "b-1"}, {"a", "a-2"}};
  ASSERT_TRUE(store->commit(batch).ok());
  EXPECT_EQ(store->cursor("a").value(), std::optional<std::string>("a-2"));
  EXPECT_EQ(store->cursor("b").value(), std::optional<std::string>("b-1"));

  // A refused batch moves none of its cursors.
  WriteBatch refused;
  refused.messages = {message("a", "c2", "m1", 3)};
  refused.require_new_messages = true;
  refused.cursors = {{"a", "a-3"}, {"b", "b-2"}};
  EXPECT_FALSE(store->commit(refused).ok());
  EXPECT_EQ(store->cursor("a").value(), std::optional<std::string>("a-2"));
  EXPECT_EQ(store->cursor("b").value(), std::optional<std::string>("b-1"));
}

// --- reads ----------------------------------------------------------------------------

TEST(SqliteStoreRead, MessagePlacesGiveEachStoredMessagesConversationAndAccount) {
  TempDir dir;
  auto store = mustOpen(dir.file("store.db"));
  ASSERT_NE(store, nullptr);
  auto before = store->messagePlaces("s", {"a"});  // no message of the source yet
  ASSERT_TRUE(before.ok()) << before.error().message;
  EXPECT_EQ(before.value(), (std::vector<std::optional<MessagePlace>>{std::nullopt}));
  WriteBatch batch;
  batch.messages = {message("s", "c1", "a", 1), message("s", "c2", "b", 2), message("t", "c3", "c", 3)};
  batch.messages[1].account = "other-account";
  ASSERT_TRUE(store->commit(batch).ok());
  auto found = store->messagePlaces("s", {"b", "c", "a", "zz"});
  ASSERT_TRUE(found.ok()) << found.error().message;
  EXPECT_EQ(found.value(),
            (std::vector<std::optional<MessagePlace>>{MessagePlace{"c2", "other-account"}, std::nullopt,
                                                      MessagePlace{"c1", testing::kAccount}, std::nullopt}));
  auto none = store->messagePlaces("s", {});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(SqliteStoreRead, ContainsAnswersPerId) {
  TempDir dir;
  auto store = mustOpen(dir.file("store.db"));
  ASSERT_NE(store, nullptr);
  WriteBatch batch;
  batch.messages = {message("s", "c1", "a", 1), message("s", "c1", "b", 2), message("t", "c1", "c", 3)};
  ASSERT_TRUE(store->commit(batch).ok());
  auto found = store->contains("s", {"a", "c", "b", "zz", "a"});
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found.value(), (std::vector<bool>{true, false, true, false, true}));
  auto none = store->contains("s", {});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(SqliteStoreRead, ConversationIsOrderedByCreatedAtThenId) {
  TempDir dir;
  auto store = mustOpen(dir.file("store.db"));
  ASSERT_NE(store, nullptr);
  WriteBatch batch;
  // Arrival order differs from (created_at, id) order; "b" and "a" share a timestamp.
  batch.messages = {message("s", "c1", "z", 3000),     message("s", "c1", "b", 2000),
                    message("s", "c1", "a", 2000),     message("s", "c1", "c1", 1000),
                    message("s", "c2", "other", 1500), message("t", "c1", "other-source", 1500)};
  ASSERT_TRUE(store->commit(batch).ok());
  auto messages = store->conversation({"s", "c1"});
  ASSERT_TRUE(messages.ok());
  EXPECT_EQ(ids(*messages), (std::vector<std::string>{"c1", "a", "b", "z"}));
  auto empty = store->conversation({"s", "nope"});
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(SqliteStoreRead, TurnQueryFiltersAndOrders) {
  TempDir dir;
  auto store = mustOpen(dir.file("store.db"));
  ASSERT_NE(store, nullptr);
  WriteBatch batch;
  batch.upsert_turns = {
      openTurn("s", "c3", "q5", 5000, "acme"),           answeredTurn("s", "c1", "q1", 1000, 1100, "acme"),
      openTurn("s", "c2", "q2", 2000, "globex"),         answeredTurn("t", "c1", "q3", 3000, 3500, "acme"),
      answeredTurn("s", "c9", "q3", 3000, 3100, "acme"), openTurn("s", "c1", "q4", 4000, "globex"),
  };
  ASSERT_TRUE(store->commit(batch).ok());

  auto all = store->turns({});
  ASSERT_TRUE(all.ok());
  // Ties on asked_at are ordered by source, then conversation_id.
  EXPECT_EQ(questionIds(*all), (std::vector<std::string>{"q1", "q2", "q3", "q3", "q4", "q5"}));
  EXPECT_EQ((*all)[2].source, "s");
  EXPECT_EQ((*all)[3].source, "t");

  TurnQuery acme;
  acme.account = "acme";
  EXPECT_EQ(questionIds(store->turns(acme).value()), (std::vector<std::string>{"q1", "q3", "q3", "q5"}));

  TurnQuery window;
  window.since = fromMillis(2000);
  window.until = fromMillis(4000);
  EXPECT_EQ(questionIds(store->turns(window).value()), (std::vector<std::string>{"q2", "q3", "q3"}));

  TurnQuery since;
  since.since = fromMillis(4000);
  EXPECT_EQ(questionIds(store->turns(since).value()), (std::vector<std::string>{"q4", "q5"}));

  TurnQuery until;
  until.until = fromMillis(2000);
  EXPECT_EQ(questionIds(store->turns(until).value()), (std::vector<std::string>{"q1"}));

  TurnQuery combined;
  combined.account = "globex";
  combined.since = fromMillis(1000);
  combined.until = fromMillis(10000);
  combined.limit = 1;
  EXPECT_EQ(questionIds(store->turns(combined).value()), (std::vector<std::string>{"q2"}));

  TurnQuery zero;
  zero.limit = 0;
  EXPECT_TRUE(store->turns(zero)->empty());

  TurnQuery unknown;
  unknown.account = "initech";
  EXPECT_TRUE(store->turns(unknown)->empty());
}

// A query for every account reads each account's turns from the account index and
// merges them (a UNION ALL up to 64 accounts, one sorted IN list beyond): the result must
// be the same as sorting every matching turn, for any window and limit.
TEST(SqliteStoreRead, TurnsOfEveryAccountAreMergedInOrder) {
  for (const int accounts : {1, 3, 64, 65, 90}) {
    SCOPED_TRACE("accounts: " + std::to_string(accounts));
    TempDir dir;
    auto store = mustOpen(dir.file("store.db"));
    ASSERT_NE(store, nullptr);
    std::vector<Turn> all;
    std::mt19937 next(12345);  // its output is specified: the same turns everywhere
    for (int i = 0; i < 600; ++i) {
      // Few distinct times, so that ties on asked_at fall across accounts and sources.
      const std::int64_t asked = 1000 + static_cast<std::int64_t>(next() % 97) * 10;
      const std::string account = "acct-" + std::to_string(next() % static_cast<std::uint32_t>(accounts));
      const std::string source = next() % 2 == 0 ? "s" : "t";
      all.push_back(
          openTurn(source, "c" + std::to_string(next() % 50), "q" + std::to_string(i), asked, account));
    }
    WriteBatch batch;
    batch.upsert_turns = all;
    ASSERT_TRUE(store->commit(batch).ok());
    auto order = [](const Turn& a, const Turn& b) {
      return std::tie(a.asked_at, a.source, a.conversation_id, a.question_id) <
             std::tie(b.asked_at, b.source, b.conversation_id, b.question_id);
    };
    std::sort(all.begin(), all.end(), order);

    for (const auto& [since, until, limit] :
         std::vector<std::tuple<std::optional<std::int64_t>, std::optional<std::int64_t>,
                                std::optional<std::size_t>>>{{std::nullopt, std::nullopt, std::nullopt},
                                                             {1200, 1700, std::nullopt},
                                                             {std::nullopt, 1500, 7},
                                                             {1300, std::nullopt, 40},
                                                             {2000, std::nullopt, std::nullopt}}) {
      TurnQuery query;
      if (since) query.since = fromMillis(*since);
      if (until) query.until = fromMillis(*until);
      query.limit = limit;
      std::vector<std::string> expected;
      for (const Turn& t : all) {
        if (since && t.asked_at < fromMillis(*since)) continue;
        if (until && t.asked_at >= fromMillis(*until)) continue;
        if (limit && expected.size() == *limit) break;
        expected.push_back(t.question_id);
      }
      auto got = store->turns(query);
      ASSERT_TRUE(got.ok()) << got.error().message;
      EXPECT_EQ(questionIds(*got), expected)
          << "since " << since.value_or(-1) << " until " << until.value_or(-1);
    }

    // Pages, each starting after the last turn of the one before, give every turn once.
    for (const std::size_t page : {1U, 7U, 50U}) {
      for (const bool windowed : {false, true}) {
        std::vector<std::string> expected;
        for (const Turn& t : all) {
          if (!windowed || (t.asked_at >= fromMillis(1200) && t.asked_at < fromMillis(1700)))
            expected.push_back(t.question_id);
        }
        TurnQuery query;
        if (windowed) {
          query.since = fromMillis(1200);
          query.until = fromMillis(1700);
        }
        query.limit = page;
        std::vector<std::string> paged;
        for (;;) {
          auto got = store->turns(query);
          ASSERT_TRUE(got.ok()) << got.error().message;
          ASSERT_LE(got->size(), page);
          for (const Turn& t : *got) paged.push_back(t.question_id);
          if (got->size() < page) break;
          const Turn& last = got->back();
          query.after = TurnPosition{last.asked_at, last.source, last.conversation_id, last.question_id};
        }
        EXPECT_EQ(paged, expected) << "page " << page << (windowed ? ", window" : "");
      }
    }
    // A position no turn holds: the turns placed after it.
    const TurnPosition between{fromMillis(1500), "s", "c25", "q~"};
    std::vector<std::string> expected;
    for (const Turn& t : all) {
      if (std::tie(t.asked_at, t.source, t.conversation_id, t.question_id) >
          std::tie(between.asked_at, between.source, between.conversation_id, between.question_id))
        expected.push_back(t.question_id);
    }
    TurnQuery query;
    query.after = between;
    auto got = store->turns(query);
    ASSERT_TRUE(got.ok()) << got.error().message;
    EXPECT_EQ(questionIds(*got), expected);
  }
}

TEST(SqliteStoreRead, ConversationTurnsAreThoseOfOneConversation) {
  TempDir dir;
  auto store = mustOpen(dir.file("store.db"));
  ASSERT_NE(store, nullptr);
  WriteBatch batch;
  batch.upsert_turns = {openTurn("s", "c1", "q2", 2000), openTurn("s", "c1", "q1", 1000),
                        openTurn("s", "c2", "q3", 500), openTurn("t", "c1", "q4", 500)};
  batch.upsert_turns[0].breached_at = fromMillis(3000);
  ASSERT_TRUE(store->commit(batch).ok());
  auto got = store->conversationTurns({"s", "c1"});
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(questionIds(*got), (std::vector<std::string>{"q1", "q2"}));
  EXPECT_EQ(got->at(1).breached_at, fromMillis(3000));
  auto none = store->conversationTurns({"s", "nope"});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(SqliteStoreRead, ForEachTurnVisitsEveryTurn) {
  TempDir dir;
  auto store = mustOpen(dir.file("store.db"));
  ASSERT_NE(store, nullptr);
  WriteBatch batch;
  for (int i = 0; i < 500; ++i) {
    batch.upsert_turns.push_back(
        openTurn("s", testing::numbered("c", i), testing::numbered("q", i), 1000 + i));
  }
  ASSERT_TRUE(store->commit(batch).ok());
  std::size_t seen = 0;
  std::int64_t sum = 0;
  auto visited = store->forEachTurn([&](const Turn& t) {
    ++seen;
    sum += toMillis(t.asked_at) - 1000;
  });
  ASSERT_TRUE(visited.ok());
  EXPECT_EQ(seen, 500u);
  EXPECT_EQ(sum, 499 * 500 / 2);
}

TEST(SqliteStoreRead, OpenConversationMessagesGroupsConversationsWithAnOpenTurn) {
  TempDir dir;
  auto store = mustOpen(dir.file("store.db"));
  ASSERT_NE(store, nullptr);
  WriteBatch batch;
  // c1: answered then reopened (open turn q3). c2: answered only. c3 in source t: open.
  batch.messages = {
      message("s", "c1", "c1", 1000), message("s", "c1", "a2", 2000, Role::Brand),
      message("s", "c1", "q3", 3000), message("s", "c1", "q3b", 3000),
      message("s", "c2", "c2", 1500), message("s", "c2", "r2", 1600, Role::Brand),
      message("t", "c3", "c3", 500),  message("t", "c3", "x", 700, Role::Inbound),
  };
  batch.upsert_turns = {answeredTurn("s", "c1", "c1", 1000, 2000), openTurn("s", "c1", "q3", 3000),
                        answeredTurn("s", "c2", "c2", 1500, 1600), openTurn("t", "c3", "c3", 500)};
  ASSERT_TRUE(store->commit(batch).ok());

  auto messages = store->openConversationMessages();
  ASSERT_TRUE(messages.ok());
  ASSERT_EQ(messages->size(), 6u);
  EXPECT_EQ(ids(*messages), (std::vector<std::string>{"c1", "a2", "q3", "q3b", "c3", "x"}));
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ((*messages)[i].source, "s");
  for (std::size_t i = 4; i < 6; ++i) EXPECT_EQ((*messages)[i].source, "t");

  // Once every turn is answered, nothing is reloaded.
  WriteBatch close;
  close.upsert_turns = {answeredTurn("s", "c1", "q3", 3000, 4000), answeredTurn("t", "c3", "c3", 500, 900)};
  ASSERT_TRUE(store->commit(close).ok());
  messages = store->openConversationMessages();
  ASSERT_TRUE(messages.ok());
  EXPECT_TRUE(messages->empty());
}

TEST(SqliteStoreOpen, KeepsTheRetiredCountsText) {
  TempDir dir;
  const auto path = dir.file("store.db");
  {
    auto store = mustOpen(path);
    ASSERT_NE(store, nullptr);
    auto none = store->retiredCounts();
    ASSERT_TRUE(none.ok()) << none.error().message;
    EXPECT_FALSE(none->has_value());
    // Two prunings, each deleting one conversation: the second text replaces the first.
    WriteBatch batch;
    batch.messages = {message("s", "a", "a", 100), message("s", "b", "b", 200)};
    batch.upsert_turns = {openTurn("s", "a", "a", 100), openTurn("s", "b", "b", 200)};
    ASSERT_TRUE(store->commit(batch).ok());
    PruneHooks first;
    first.retired_counts = [](const PruneDeletion&) { return std::string("first"); };
    ASSERT_TRUE(store->prune(fromMillis(150), first).ok());
    PruneHooks second;
    second.retired_counts = [](const PruneDeletion&) { return std::string("{\"second\":1}"); };
    ASSERT_TRUE(store->prune(fromMillis(250), second).ok());
  }
  auto reopened = openSqliteStore(path, OpenOptions{.read_only = true});
  ASSERT_TRUE(reopened.ok()) << reopened.error().message;
  auto text = reopened.value()->retiredCounts();
  ASSERT_TRUE(text.ok()) << text.error().message;
  EXPECT_EQ(text->value_or(""), "{\"second\":1}");
  EXPECT_FALSE(reopened.value()->prune(fromMillis(250), {}).ok());
}

// --- prune ----------------------------------------------------------------------------

// What PruneHooks::retired_counts returns is saved by the transaction that deletes the
// turns it was given; a transaction that fails saves nothing and deletes nothing.
TEST(SqliteStorePrune, RetiredCountsAreSavedByTheDeletingTransaction) {
  TempDir dir;
  auto store = mustOpen(dir.file("store.db"));
  ASSERT_NE(store, nullptr);
  WriteBatch batch;
  batch.messages = {message("s", "old", "old", 100), message("s", "fresh", "fresh", 6000)};
  batch.upsert_turns = {openTurn("s", "old", "old", 100), openTurn("s", "fresh", "fresh", 6000)};
  ASSERT_TRUE(store->commit(batch).ok());

  PruneHooks failing;
  failing.retired_counts = [](const PruneDeletion&) -> std::string { throw std::runtime_error("no memory"); };
  auto refused = store->prune(fromMillis(1000), failing);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("no memory"), std::string::npos) << refused.error().message;
  EXPECT_EQ(store->conversation({"s", "old"})->size(), 1u);
  EXPECT_FALSE(store->retiredCounts().value().has_value());

  PruneHooks hooks;
  std::vector<std::string> seen;
  hooks.retired_counts = [&seen](const PruneDeletion& deleting) {
    for (const Turn& t : deleting.turns) seen.push_back(t.question_id);
    return "deleting " + std::to_string(deleting.turns.size());
  };
  ASSERT_TRUE(store->prune(fromMillis(1000), hooks).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"old"}));
  EXPECT_EQ(store->retiredCounts().value(), std::optional<std::string>("deleting 1"));
  EXPECT_TRUE(store->conversation({"s", "old"})->empty());
  // A pruning that deletes no turn leaves the saved text alone.
  ASSERT_TRUE(store->prune(fromMillis(1000), hooks).ok());
  EXPECT_EQ(store->retiredCounts().value(), std::optional<std::string>("deleting 1"));
}

TEST(SqliteStorePrune, RemovesOnlyConversationsWithoutRecentActivity) {
  TempDir dir;
  auto store = mustOpen(dir.file("store.db"));
  ASSERT_NE(store, nullptr);
  WriteBatch batch;
  // old: entirely before the cutoff. mixed: started long ago, active since. fresh: recent.
  batch.messages = {message("s", "old", "old", 100), message("s", "old", "o2", 200, Role::Brand),
                    message("s", "mixed", "mixed", 100), message("s", "mixed", "m2", 5000),
                    message("s", "fresh", "fresh", 6000)};
  batch.upsert_turns = {answeredTurn("s", "old", "old", 100, 200),
                        answeredTurn("s", "mixed", "mixed", 100, 150), openTurn("s", "mixed", "m2", 5000),
                        openTurn("s", "fresh", "fresh", 6000)};
  ASSERT_TRUE(store->commit(batch).ok());

  std::vector<std::string> deleted_turns;
  std::vector<std::string> deleted_conversations;
  std::mutex caller;
  int excluded = 0;
  PruneHooks hooks;
  // Each write transaction runs with the caller's lock held: two here, the deletion and
  // the one of the unlinked escalation records.
  hooks.exclude = [&] {
    ++excluded;
    return std::unique_lock(caller);
  };
  hooks.deleted = [&](const PruneDeletion& deleted) {
    EXPECT_EQ(excluded, 1);
    for (const Turn& t : deleted.turns) deleted_turns.push_back(t.question_id);
    for (const ConversationKey& k : deleted.conversations) deleted_conversations.push_back(k.conversation_id);
  };
  auto pruned = store->prune(fromMillis(1000), hooks);
  ASSERT_TRUE(pruned.ok()) << pruned.error().message;
  EXPECT_EQ(pruned.value(), 2u);
  EXPECT_EQ(deleted_turns, (std::vector<std::string>{"old"}));
  EXPECT_EQ(deleted_conversations, (std::vector<std::string>{"old"}));
  EXPECT_EQ(excluded, 2);
  EXPECT_TRUE(store->conversation({"s", "old"})->empty());
  EXPECT_EQ(store->conversation({"s", "mixed"})->size(), 2u);
  EXPECT_EQ(store->conversation({"s", "fresh"})->size(), 1u);
  // The old message of an active conversation stays, with its turn.
  EXPECT_EQ(questionIds(store->turns({}).value()), (std::vector<std::string>{"mixed", "m2", "fresh"}));

  // Pruning again finds nothing; a cutoff equal to the newest message keeps it.
  EXPECT_EQ(store->prune(fromMillis(1000), {}).value(), 0u);
  EXPECT_EQ(store->prune(fromMillis(5000), {}).value(), 0u);
  // "mixed" is stale by then: its question m2 is still open, and goes with it (an
  // unanswered question older than the retention is no longer waited for).
  deleted_turns.clear();
  EXPECT_EQ(store
                ->prune(fromMillis(5001), {.exclude = {},
                                           .retired_counts = {},
                                           .deleted =
                                               [&](const PruneDeletion& deleted) {
                                                 for (const Turn& t : deleted.turns)
                                                   deleted_turns.push_back(t.question_id);
                                               }})
                .value(),
            2u);
  std::sort(deleted_turns.begin(), deleted_turns.end());
  EXPECT_EQ(deleted_turns, (std::vector<std::string>{"m2", "mixed"}));
  EXPECT_TRUE(store->conversation({"s", "mixed"})->empty());
  EXPECT_EQ(questionIds(store->turns({}).value()), (std::vector<std::string>{"fresh"}));
  EXPECT_EQ(store->openConversationMessages()->size(), 1u);
}

// What the page caches held of the deleted data goes with a pruning: they follow what is
// read between prunings, not every page the file ever had.
TEST(SqliteStorePrune, ReleasesThePageCachesItLeavesUnused) {
  TempDir dir;
  auto store = mustOpen(dir.file("store.db"));
  ASSERT_NE(store, nullptr);
  constexpr int kConversations = 2000;
  WriteBatch batch;
  for (int c = 0; c < kConversations; ++c) {
    const std::string conversation = "c" + std::to_string(c);
    batch.messages.push_back(message("s", conversation, conversation + "-q", 100 + c));
    batch.messages.push_back(message("s", conversation, conversation + "-a", 200 + c, Role::Brand));
    batch.upsert_turns.push_back(answeredTurn("s", conversation, conversation + "-q", 100 + c, 200 + c));
  }
  ASSERT_TRUE(store->commit(batch).ok());
  // Read everything back on the read connection too.
  std::size_t seen = 0;
  ASSERT_TRUE(store->forEachTurn([&seen](const Turn&) { ++seen; }).ok());
  ASSERT_EQ(seen, static_cast<std::size_t>(kConversations));
  const std::size_t filled = store->pageCacheBytes();
  // 4,000 messages, their index and 2,000 turns: well over a hundred 4 KiB pages.
  ASSERT_GT(filled, std::size_t{400} * 1024);

  auto pruned = store->prune(fromMillis(1'000'000), {});
  ASSERT_TRUE(pruned.ok()) << pruned.error().message;
  EXPECT_EQ(pruned.value(), static_cast<std::uint64_t>(2 * kConversations));
  const std::size_t after = store->pageCacheBytes();
  EXPECT_LT(after, filled / 4) << "page caches held " << filled << " bytes before the pruning, " << after
                               << " after";
  // The store works on: the released pages are read again when needed.
  WriteBatch next;
  next.messages = {message("s", "later", "later-q", 2'000'000)};
  next.upsert_turns = {openTurn("s", "later", "later-q", 2'000'000)};
  ASSERT_TRUE(store->commit(next).ok());
  EXPECT_EQ(questionIds(store->turns({}).value()), (std::vector<std::string>{"later-q"}));
}

TEST(SqliteStoreCommit, RequireNewMessagesRollsBackTheWholeBatch) {
  TempDir dir;
  auto store = mustOpen(dir.file("store.db"));
  ASSERT_NE(store, nullptr);
  WriteBatch first;
  first.messages = {message("s", "c1", "m1", 100)};
  first.upsert_turns = {openTurn("s", "c1", "m1", 100)};
  ASSERT_TRUE(store->commit(first).ok());

  // m1 again, under another conversation, with a turn computed as if it were new.
  WriteBatch again;
  again.messages = {message("s", "c2", "m1", 100), message("s", "c2", "m2", 200)};
  again.upsert_turns = {openTurn("s", "c2", "m1", 100)};
  again.cursors = {{"s", "after-m2"}};
  again.require_new_messages = true;
  auto refused = store->commit(again);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().reason, kDuplicateMessageReason);
  // Nothing of the batch stayed.
  EXPECT_EQ(questionIds(store->turns({}).value()), (std::vector<std::string>{"m1"}));
  EXPECT_TRUE(store->conversation({"s", "c2"})->empty());
  EXPECT_FALSE(store->cursor("s")->has_value());

  // Without the flag, the known message is skipped and the rest committed.
  again.require_new_messages = false;
  auto committed = store->commit(again);
  ASSERT_TRUE(committed.ok());
  EXPECT_EQ(committed->messages_inserted, 1u);
}

// --- bulk load -------------------------------------------------------------------------

TEST(SqliteStoreBulkLoad, BatchesAreReadableDuringTheLoadAndDurableAfterIt) {
  TempDir dir;
  auto store = mustOpen(dir.file("store.db"));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->beginBulkLoad().ok());
  WriteBatch first;
  first.messages = {message("s", "c1", "m1", 100), message("s", "c1", "m2", 200, Role::Brand)};
  first.upsert_turns = {answeredTurn("s", "c1", "m1", 100, 200)};
  ASSERT_TRUE(store->commit(first).ok());
  // The store's own reads see the batches of the open load.
  EXPECT_EQ(ids(store->conversation({"s", "c1"}).value()), (std::vector<std::string>{"m1", "m2"}));
  EXPECT_EQ(store->contains("s", {"m1", "m3"}).value(), (std::vector<bool>{true, false}));
  // Another connection does not until the load ends.
  RawDb other(dir.file("store.db"), SQLITE_OPEN_READONLY);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other.integer("SELECT COUNT(*) FROM messages"), 0);

  WriteBatch second;
  second.messages = {message("s", "c2", "m3", 300)};
  second.upsert_turns = {openTurn("s", "c2", "m3", 300)};
  second.cursors.emplace_back("s", "after-m3");
  ASSERT_TRUE(store->commit(second).ok());
  ASSERT_TRUE(store->endBulkLoad().ok());
  EXPECT_EQ(other.integer("SELECT COUNT(*) FROM messages"), 3);
  store.reset();

  auto reopened = mustOpen(dir.file("store.db"));
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(questionIds(reopened->turns({}).value()), (std::vector<std::string>{"m1", "m3"}));
  EXPECT_EQ(reopened->cursor("s").value(), std::optional<std::string>("after-m3"));
  EXPECT_EQ(ids(reopened->openConversationMessages().value()), (std::vector<std::string>{"m3"}));
}

TEST(SqliteStoreBulkLoad, AFailedBatchIsUndoneAloneAndTheLoadGoesOn) {
  TempDir dir;
  auto store = mustOpen(dir.file("store.db"));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->beginBulkLoad().ok());
  WriteBatch first;
  first.messages = {message("s", "c1", "m1", 100)};
  first.upsert_turns = {openTurn("s", "c1", "m1", 100)};
  ASSERT_TRUE(store->commit(first).ok());
  WriteBatch refused;
  refused.messages = {message("s", "c2", "m1", 100), message("s", "c2", "m2", 200)};
  refused.upsert_turns = {openTurn("s", "c2", "m1", 100)};
  refused.require_new_messages = true;
  auto failed = store->commit(refused);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().reason, kDuplicateMessageReason);
  EXPECT_TRUE(store->conversation({"s", "c2"})->empty());
  WriteBatch after;
  after.messages = {message("s", "c3", "m4", 400)};
  ASSERT_TRUE(store->commit(after).ok());
  ASSERT_TRUE(store->endBulkLoad().ok());
  EXPECT_EQ(questionIds(store->turns({}).value()), (std::vector<std::string>{"m1"}));
  EXPECT_EQ(store->contains("s", {"m1", "m2", "m4"}).value(), (std::vector<bool>{true, false, true}));
}

TEST(SqliteStoreBulkLoad, TurnIndexesAreTheSameAfterALoadIntoAnEmptyStore) {
  TempDir dir;
  const std::string kIndexes =
      "SELECT group_concat(name || ':' || sql, '|') FROM (SELECT name, sql FROM sqlite_master "
      "WHERE type = 'index' AND tbl_name = 'turns' AND sql IS NOT NULL ORDER BY name)";
  std::string before;
  {
    auto store = mustOpen(dir.file("store.db"));
    ASSERT_NE(store, nullptr);
    RawDb raw(dir.file("store.db"), SQLITE_OPEN_READONLY);
    before = raw.text(kIndexes);
    ASSERT_NE(before.find("turns_open"), std::string::npos);
    ASSERT_TRUE(store->beginBulkLoad().ok());
    WriteBatch batch;
    batch.messages = {message("s", "c1", "m1", 100)};
    batch.upsert_turns = {openTurn("s", "c1", "m1", 100)};
    ASSERT_TRUE(store->commit(batch).ok());
    ASSERT_TRUE(store->endBulkLoad().ok());
  }
  RawDb raw(dir.file("store.db"), SQLITE_OPEN_READONLY);
  EXPECT_EQ(raw.text(kIndexes), before);
  EXPECT_EQ(raw.text("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(raw.integer("SELECT COUNT(*) FROM turns INDEXED BY turns_open WHERE source = 's' AND "
                        "conversation_id = 'c1' AND answered_at_ms IS NULL"),
            1);
}

TEST(SqliteStoreBulkLoad, AStoreClosedDuringALoadKeepsWhatItHadBefore) {
  TempDir dir;
  {
    auto store = mustOpen(dir.file("store.db"));
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->beginBulkLoad().ok());
    WriteBatch batch;
    batch.messages = {message("s", "c1", "m1", 100)};
    batch.upsert_turns = {openTurn("s", "c1", "m1", 100)};
    ASSERT_TRUE(store->commit(batch).ok());
  }  // never ended: as after a crash, nothing of the load is there
  auto reopened = mustOpen(dir.file("store.db"));
  ASSERT_NE(reopened, nullptr);
  EXPECT_TRUE(reopened->turns({})->empty());
  RawDb raw(dir.file("store.db"), SQLITE_OPEN_READONLY);
  EXPECT_EQ(raw.integer("SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'turns' AND "
                        "name LIKE 'turns_%'"),
            2);
}

// A load given up (a commit of it failed elsewhere): none of its batches stays, the
// indexes dropped for it are back, and the store commits as before.
TEST(SqliteStoreBulkLoad, AnAbortedLoadLeavesNothingOfItAndTheStoreWorksOn) {
  for (const bool into_empty : {true, false}) {
    SCOPED_TRACE(into_empty ? "into an empty store" : "into a store holding a message");
    TempDir dir;
    const auto path = dir.file("store.db");
    auto store = mustOpen(path);
    ASSERT_NE(store, nullptr);
    if (!into_empty) {
      WriteBatch first;
      first.messages = {message("s", "c0", "m0", 50)};
      first.upsert_turns = {openTurn("s", "c0", "m0", 50)};
      ASSERT_TRUE(store->commit(first).ok());
    }
    const std::string kIndexes =
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name IN "
        "('turns_by_account_asked_at', 'turns_open', "
        "'messages_by_conversation')";
    ASSERT_TRUE(store->beginBulkLoad().ok());
    WriteBatch batch;
    batch.messages = {message("s", "c1", "m1", 100), message("s", "c1", "m2", 200, Role::Brand)};
    batch.upsert_turns = {answeredTurn("s", "c1", "m1", 100, 200)};
    batch.cursors = {{"s", "after-m2"}};
    ASSERT_TRUE(store->commit(batch).ok());
    ASSERT_TRUE(store->abortBulkLoad().ok());
    EXPECT_FALSE(std::filesystem::exists(path.string() + "-journal"));
    EXPECT_EQ(store->contains("s", {"m0", "m1", "m2"}).value(),
              (std::vector<bool>{!into_empty, false, false}));
    EXPECT_EQ(store->cursor("s").value(), std::nullopt);
    {
      RawDb raw(path, SQLITE_OPEN_READONLY);
      ASSERT_TRUE(raw.ok());
      EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");
      EXPECT_EQ(raw.integer(kIndexes), 3);
      EXPECT_EQ(raw.text("PRAGMA integrity_check"), "ok");
    }
    WriteBatch later;
    later.messages = {message("s", "c2", "m3", 300)};
    later.upsert_turns = {openTurn("s", "c2", "m3", 300)};
    ASSERT_TRUE(store->commit(later).ok());
    EXPECT_EQ(questionIds(store->turns({}).value()),
              into_empty ? (std::vector<std::string>{"m3"}) : (std::vector<std::string>{"m0", "m3"}));
    // Nothing to give up outside a load.
    EXPECT_TRUE(store->abortBulkLoad().ok());
    EXPECT_EQ(store->contains("s", {"m3"}).value(), (std::vector<bool>{true}));
  }
}

// A load into an empty store writes its pages once, into the database file, under a
// rollback journal; the store is back in WAL mode once the load ends.
TEST(SqliteStoreBulkLoad, ALoadIntoAnEmptyStoreBypassesTheLogAndReturnsToWalMode) {
  TempDir dir;
  const auto path = dir.file("store.db");
  const std::filesystem::path wal = path.string() + "-wal";
  auto store = mustOpen(path);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(std::filesystem::exists(wal));
  ASSERT_TRUE(store->beginBulkLoad().ok());
  EXPECT_FALSE(std::filesystem::exists(wal));
  WriteBatch batch;
  batch.messages = {message("s", "c1", "m1", 100), message("s", "c1", "m2", 200, Role::Brand)};
  batch.upsert_turns = {answeredTurn("s", "c1", "m1", 100, 200)};
  ASSERT_TRUE(store->commit(batch).ok());
  EXPECT_EQ(ids(store->conversation({"s", "c1"}).value()), (std::vector<std::string>{"m1", "m2"}));
  EXPECT_FALSE(std::filesystem::exists(wal));
  ASSERT_TRUE(store->endBulkLoad().ok());
  EXPECT_FALSE(std::filesystem::exists(path.string() + "-journal"));
  {
    RawDb raw(path, SQLITE_OPEN_READONLY);
    ASSERT_TRUE(raw.ok());
    EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");
    EXPECT_EQ(raw.integer("SELECT COUNT(*) FROM messages"), 2);
  }
  // The store works as before: reads on its read connection, commits in the log.
  EXPECT_EQ(questionIds(store->turns({}).value()), (std::vector<std::string>{"m1"}));
  WriteBatch later;
  later.messages = {message("s", "c2", "m3", 300)};
  later.upsert_turns = {openTurn("s", "c2", "m3", 300)};
  ASSERT_TRUE(store->commit(later).ok());
  EXPECT_GT(std::filesystem::file_size(wal), 0u);
  EXPECT_EQ(ids(store->openConversationMessages().value()), (std::vector<std::string>{"m3"}));
}

// What a crash in the middle of a load into an empty store leaves on disk, pages of the
// load already written into the database file: the journal brings the empty store back.
TEST(SqliteStoreBulkLoad, ACrashDuringALoadIntoAnEmptyStoreLeavesNothingOfIt) {
  TempDir dir;
  const auto path = dir.file("store.db");
  auto store = mustOpen(path);
  ASSERT_NE(store, nullptr);
  auto started = store->beginBulkLoad();
  ASSERT_TRUE(started.ok());
  EXPECT_TRUE(started->into_empty_store);
  // Once in the rollback journal, the file holds the whole (empty) store.
  const auto size_before = std::filesystem::file_size(path);
  // More than the 64 MiB page cache, so that pages go to the file during the load.
  const std::string wide(6000, 'h');
  constexpr int kMessages = 14000;
  for (int b = 0; b < kMessages / 1000; ++b) {
    WriteBatch batch;
    for (int i = b * 1000; i < (b + 1) * 1000; ++i) {
      MessageRecord m = message("s", testing::numbered("c", i), testing::numbered("m", i), 100 + i);
      m.handler = wide;
      batch.messages.push_back(std::move(m));
      batch.upsert_turns.push_back(
          openTurn("s", testing::numbered("c", i), testing::numbered("m", i), 100 + i));
    }
    batch.require_new_messages = true;
    ASSERT_TRUE(store->commit(batch).ok());
  }
  ASSERT_GT(std::filesystem::file_size(path), size_before + (std::uintmax_t{16} << 20));
  // The files as a crash would leave them.
  TempDir crashed;
  std::filesystem::copy_file(path, crashed.file("store.db"));
  ASSERT_TRUE(std::filesystem::exists(path.string() + "-journal"));
  std::filesystem::copy_file(path.string() + "-journal", crashed.file("store.db-journal"));
  {
    // A read-only open cannot undo the load, and says so.
    auto read_only = openSqliteStore(crashed.file("store.db"), OpenOptions{.read_only = true});
    ASSERT_FALSE(read_only.ok());
    EXPECT_NE(read_only.error().message.find("interrupted import"), std::string::npos)
        << read_only.error().message;
    auto reopened = mustOpen(crashed.file("store.db"));
    ASSERT_NE(reopened, nullptr);
    EXPECT_TRUE(reopened->turns({})->empty());
    EXPECT_TRUE(reopened->conversation({"s", "c1"})->empty());
  }
  EXPECT_LE(std::filesystem::file_size(crashed.file("store.db")), size_before);
  RawDb raw(crashed.file("store.db"), SQLITE_OPEN_READONLY);
  EXPECT_EQ(raw.text("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(raw.integer("SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'turns' AND "
                        "name LIKE 'turns_%'"),
            2);
  // The load itself still ends normally.
  ASSERT_TRUE(store->endBulkLoad().ok());
  EXPECT_EQ(store->turns({})->size(), static_cast<std::size_t>(kMessages));
}

// Another connection to an empty store keeps the load in the write-ahead log.
TEST(SqliteStoreBulkLoad, ALoadIntoAStoreOpenElsewhereStaysInTheLog) {
  TempDir dir;
  const auto path = dir.file("store.db");
  auto store = mustOpen(path);
  ASSERT_NE(store, nullptr);
  RawDb other(path, SQLITE_OPEN_READONLY);
  ASSERT_TRUE(other.ok());
  ASSERT_EQ(other.integer("SELECT COUNT(*) FROM messages"), 0);
  ASSERT_TRUE(store->beginBulkLoad().ok());
  EXPECT_TRUE(std::filesystem::exists(path.string() + "-wal"));
  WriteBatch batch;
  batch.messages = {message("s", "c1", "m1", 100)};
  batch.upsert_turns = {openTurn("s", "c1", "m1", 100)};
  ASSERT_TRUE(store->commit(batch).ok());
  EXPECT_EQ(other.integer("SELECT COUNT(*) FROM messages"), 0);
  ASSERT_TRUE(store->endBulkLoad().ok());
  EXPECT_EQ(other.integer("SELECT COUNT(*) FROM messages"), 1);
  EXPECT_EQ(other.text("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(questionIds(store->turns({}).value()), (std::vector<std::string>{"m1"}));
}

// A load into an empty store that is abandoned (the process ends without
// endBulkLoad) leaves no journal behind once the store is opened again.
TEST(SqliteStoreBulkLoad, AnAbandonedLoadIntoAnEmptyStoreLeavesNoJournal) {
  TempDir dir;
  const auto path = dir.file("store.db");
  {
    auto store = mustOpen(path);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->beginBulkLoad().ok());
    WriteBatch batch;
    batch.messages = {message("s", "c1", "m1", 100)};
    batch.upsert_turns = {openTurn("s", "c1", "m1", 100)};
    ASSERT_TRUE(store->commit(batch).ok());
  }
  EXPECT_FALSE(std::filesystem::exists(path.string() + "-journal"));
  auto reopened = mustOpen(path);
  ASSERT_NE(reopened, nullptr);
  EXPECT_TRUE(reopened->turns({})->empty());
  EXPECT_EQ(reopened->contains("s", {"m1"}).value(), (std::vector<bool>{false}));
  RawDb raw(path, SQLITE_OPEN_READONLY);
  EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");
}

// A second load, into a store that is no longer empty, goes through the log as before.
TEST(SqliteStoreBulkLoad, ALoadIntoAStoreWithMessagesUsesTheLog) {
  TempDir dir;
  const auto path = dir.file("store.db");
  auto store = mustOpen(path);
  ASSERT_NE(store, nullptr);
  WriteBatch first;
  first.messages = {message("s", "c1", "m1", 100)};
  first.upsert_turns = {openTurn("s", "c1", "m1", 100)};
  ASSERT_TRUE(store->commit(first).ok());
  ASSERT_TRUE(store->beginBulkLoad().ok());
  EXPECT_TRUE(std::filesystem::exists(path.string() + "-wal"));
  WriteBatch second;
  second.messages = {message("s", "c2", "m2", 200)};
  second.upsert_turns = {openTurn("s", "c2", "m2", 200)};
  ASSERT_TRUE(store->commit(second).ok());
  ASSERT_TRUE(store->endBulkLoad().ok());
  EXPECT_FALSE(std::filesystem::exists(path.string() + "-journal"));
  EXPECT_EQ(questionIds(store->turns({}).value()), (std::vector<std::string>{"m1", "m2"}));
}

TEST(SqliteStorePrune, WorksAcrossManyChunks) {
  TempDir dir;
  auto store = mustOpen(dir.file("store.db"));
  ASSERT_NE(store, nullptr);
  constexpr int kConversations = 5000;  // several scan and write chunks
  WriteBatch batch;
  std::uint64_t expected = 0;
  for (int i = 0; i < kConversations; ++i) {
    const std::string c = testing::numbered("c", i);
    const bool stale = i % 3 != 0;
    const std::int64_t base = stale ? 100 : 10'000;
    batch.messages.push_back(message(i % 2 == 0 ? "s" : "t", c, c, base));
    batch.messages.push_back(message(i % 2 == 0 ? "s" : "t", c, c + "-r", base + 10, Role::Brand));
    batch.upsert_turns.push_back(answeredTurn(i % 2 == 0 ? "s" : "t", c, c, base, base + 10));
    if (stale) expected += 2;
  }
  ASSERT_TRUE(store->commit(batch).ok());
  auto pruned = store->prune(fromMillis(5000), {});
  ASSERT_TRUE(pruned.ok()) << pruned.error().message;
  EXPECT_EQ(pruned.value(), expected);
  auto turns = store->turns({});
  ASSERT_TRUE(turns.ok());
  EXPECT_EQ(turns->size(), static_cast<std::size_t>((kConversations + 2) / 3));
  for (const Turn& t : *turns) EXPECT_EQ(toMillis(t.asked_at), 10'000);
}

TEST(SqliteStoreCheckpoints, AreCountedOnceTheLogFillsUp) {
  TempDir dir;
  auto store = mustOpen(dir.file("store.db"));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->checkpointCounts().checkpoints, 0U);
  // Ten batches of 3,000 conversations: several thousand pages through the log, well past
  // the 1,000 pages that wake the checkpoint thread.
  for (int b = 0; b < 10; ++b) {
    WriteBatch batch;
    for (int c = 0; c < 3000; ++c) {
      const std::string conversation = testing::numbered("c", b * 3000 + c);
      batch.messages.push_back(message("s", conversation, conversation + "-q", 100 + c));
      batch.upsert_turns.push_back(openTurn("s", conversation, conversation + "-q", 100 + c));
    }
    ASSERT_TRUE(store->commit(batch).ok());
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (store->checkpointCounts().checkpoints == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const CheckpointCounts counts = store->checkpointCounts();
  EXPECT_GT(counts.checkpoints, 0U);
  EXPECT_EQ(counts.failures, 0U);
}

}  // namespace
}  // namespace replywatch::store
