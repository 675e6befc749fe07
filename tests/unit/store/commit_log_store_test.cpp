// The store with OpenOptions::commit_log: what commit() acknowledges is read back at
// once through the Store, refused when it repeats a message still in the log, and found
// in the file after a clean close.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "daemon/store/commit_log.h"
#include "daemon/store/store.h"
#include "tests/unit/store/store_test_util.h"

namespace replywatch::store {
namespace {

using testing::message;
using testing::openTurn;
using testing::RawDb;
using testing::TempDir;

// The applying thread waits this long to gather: in these tests it only applies when a
// read or a direct commit asks for it, or at close.
constexpr auto kNeverByItself = std::chrono::hours(1);

std::unique_ptr<Store> openLogged(const std::filesystem::path& path) {
  auto opened = openSqliteStore(path, OpenOptions{.commit_log = true, .apply_delay = kNeverByItself});
  EXPECT_TRUE(opened.ok()) << opened.error().message;
  return opened.ok() ? std::move(opened).value() : nullptr;
}

WriteBatch question(const std::string& conversation, std::int64_t at_ms) {
  WriteBatch b;
  b.messages.push_back(message("s", conversation, conversation + "-q", at_ms));
  b.upsert_turns.push_back(openTurn("s", conversation, conversation + "-q", at_ms));
  b.cursors = {{"s", conversation}};
  b.require_new_messages = true;
  return b;
}

TEST(CommitLogStore, ReadsSeeEveryAcknowledgedCommit) {
  TempDir dir;
  const auto path = dir.file("store.db");
  auto store = openLogged(path);
  ASSERT_NE(store, nullptr);
  auto committed = store->commit(question("c1", 1000));
  ASSERT_TRUE(committed.ok()) << committed.error().message;
  EXPECT_EQ(committed->messages_inserted, 1U);
  ASSERT_TRUE(store->commit(question("c2", 2000)).ok());
  {
    // Logged, not applied: the file does not hold them yet.
    RawDb raw(path);
    EXPECT_EQ(raw.integer("SELECT COUNT(*) FROM messages"), 0);
  }
  EXPECT_EQ(store->commitLogCounts().unapplied_messages, 2U);
  EXPECT_EQ(store->commitLogCounts().applied_rounds, 0U);
  auto conversation = store->conversation({"s", "c2"});
  ASSERT_TRUE(conversation.ok());
  ASSERT_EQ(conversation->size(), 1U);
  EXPECT_EQ((*conversation)[0].id, "c2-q");
  auto turns = store->turns({});
  ASSERT_TRUE(turns.ok());
  EXPECT_EQ(turns->size(), 2U);
  EXPECT_EQ(store->cursor("s").value(), std::optional<std::string>("c2"));
  const CommitLogCounts counts = store->commitLogCounts();
  EXPECT_EQ(counts.unapplied_messages, 0U);
  EXPECT_EQ(counts.applied_rounds, 1U);  // both batches in one transaction
  EXPECT_EQ(counts.failed_rounds, 0U);
  RawDb raw(path);
  EXPECT_EQ(raw.integer("SELECT COUNT(*) FROM messages"), 2);
  EXPECT_EQ(raw.integer("SELECT lsn FROM commit_log_applied"), 2);
}

// While the logged batches cannot be applied (here another connection holds the write
// lock; in the field, a full disk), a read that must see them fails instead of answering
// from a store that misses acknowledged data.
TEST(CommitLogStore, AReadFailsWhileAcknowledgedBatchesCannotBeApplied) {
  TempDir dir;
  const auto path = dir.file("store.db");
  auto store = openLogged(path);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->commit(question("c1", 1000)).ok());
  {
    RawDb blocker(path);
    ASSERT_TRUE(blocker.exec("BEGIN IMMEDIATE"));
    auto turns = store->turns({});  // the applying round gives up after the busy timeout
    ASSERT_FALSE(turns.ok()) << turns->size() << " turns";
    EXPECT_NE(turns.error().message.find("acknowledged batches are not applied yet"), std::string::npos)
        << turns.error().message;
    ASSERT_TRUE(blocker.exec("ROLLBACK"));
  }
  auto turns = store->turns({});
  ASSERT_TRUE(turns.ok()) << turns.error().message;
  EXPECT_EQ(turns->size(), 1U);
}

TEST(CommitLogStore, MessagePlacesSeeEveryAcknowledgedCommit) {
  TempDir dir;
  auto store = openLogged(dir.file("store.db"));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->commit(question("c1", 1000)).ok());
  auto found = store->messagePlaces("s", {"c1-q", "other"});
  ASSERT_TRUE(found.ok()) << found.error().message;
  EXPECT_EQ(found.value(),
            (std::vector<std::optional<MessagePlace>>{MessagePlace{"c1", testing::kAccount}, std::nullopt}));
}

TEST(CommitLogStore, ALoggedMessageIsADuplicateBeforeItIsApplied) {
  TempDir dir;
  auto store = openLogged(dir.file("store.db"));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->commit(question("c1", 1000)).ok());
  auto found = store->contains("s", {"c1-q", "other"});
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found.value(), (std::vector<bool>{true, false}));

  // The same message under another conversation: refused whole, as a stored one is.
  WriteBatch again = question("c9", 5000);
  again.messages[0].id = "c1-q";
  auto refused = store->commit(again);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().reason, kDuplicateMessageReason);
  // Twice in one batch too.
  WriteBatch twice = question("c3", 3000);
  twice.messages.push_back(twice.messages[0]);
  auto refused_twice = store->commit(twice);
  ASSERT_FALSE(refused_twice.ok());
  EXPECT_EQ(refused_twice.error().reason, kDuplicateMessageReason);
  // Once applied, still refused (found in the file).
  ASSERT_TRUE(store->turns({}).ok());
  auto refused_stored = store->commit(again);
  ASSERT_FALSE(refused_stored.ok());
  EXPECT_EQ(refused_stored.error().reason, kDuplicateMessageReason);
  auto turns = store->turns({});
  ASSERT_TRUE(turns.ok());
  EXPECT_EQ(turns->size(), 1U);
}

TEST(CommitLogStore, EscalationsAreLinkedToLoggedMessages) {
  TempDir dir;
  auto store = openLogged(dir.file("store.db"));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->commit(question("c1", 1000)).ok());
  // An escalation batch goes to SQLite directly, after the logged batches before it.
  WriteBatch b;
  EscalationRecord& e = b.escalations.emplace_back();
  e.source = "relay";
  e.escalation.id = "e1";
  e.escalation.account = testing::kAccount;
  e.escalation.question_ref = "c1-q";
  e.escalation.requested_at = fromMillis(1500);
  e.route = Route::Agency;
  auto committed = store->commit(b);
  ASSERT_TRUE(committed.ok()) << committed.error().message;
  ASSERT_EQ(committed->escalations.size(), 1U);
  EXPECT_EQ(committed->escalations[0].record.turn, (TurnKey{"s", "c1", "c1-q"}));

  // With escalations stored, a later turn change goes directly too, and relinks them.
  WriteBatch answer;
  answer.messages.push_back(message("s", "c1", "c1-a", 2000, Role::Brand));
  Turn turn = testing::answeredTurn("s", "c1", "c1-q", 1000, 2000);
  answer.upsert_turns.push_back(turn);
  answer.require_new_messages = true;
  auto answered = store->commit(answer);
  ASSERT_TRUE(answered.ok()) << answered.error().message;
  ASSERT_EQ(answered->escalations.size(), 1U);
  ASSERT_TRUE(answered->escalations[0].turn.has_value());
  EXPECT_TRUE(answered->escalations[0].turn->answered_at.has_value());
}

WriteBatch escalation(const std::string& id, const std::string& question_ref, std::int64_t at_ms) {
  WriteBatch b;
  EscalationRecord& e = b.escalations.emplace_back();
  e.source = "relay";
  e.escalation.id = id;
  e.escalation.account = testing::kAccount;
  e.escalation.question_ref = question_ref;
  e.escalation.requested_at = fromMillis(at_ms);
  e.route = Route::Agency;
  return b;
}

WriteBatch answer(const std::string& conversation, std::int64_t asked_ms, std::int64_t at_ms) {
  WriteBatch b;
  b.messages.push_back(message("s", conversation, conversation + "-a", at_ms, Role::Brand));
  b.upsert_turns.push_back(testing::answeredTurn("s", conversation, conversation + "-q", asked_ms, at_ms));
  b.require_new_messages = true;
  return b;
}

// A turn change without a message (the tick recording a breach).
WriteBatch breach(const std::string& conversation, std::int64_t asked_ms, std::int64_t at_ms) {
  WriteBatch b;
  Turn t = openTurn("s", conversation, conversation + "-q", asked_ms);
  t.breached_at = fromMillis(at_ms);
  b.upsert_turns.push_back(t);
  return b;
}

// What a commit reported, in a form two stores can compare.
std::string outcomeOf(const Result<CommitOutcome>& committed) {
  if (!committed.ok()) return "error: " + committed.error().message;
  std::string out = std::to_string(committed->messages_inserted) + " new;";
  for (const LinkedEscalation& e : committed->escalations) {
    out += " " + e.record.escalation.id + "->";
    if (e.record.turn) out += e.record.turn->conversation_id + "/" + e.record.turn->question_id;
    if (e.turn && e.turn->answered_at) out += " answered";
  }
  return out;
}

constexpr const char* kEscalationRows =
    "SELECT group_concat(row, ';') FROM (SELECT source || '|' || id || '|' || link_kind || '|' || "
    "ifnull(link_source, '') || '|' || ifnull(link_conversation_id, '') || '|' || ifnull(link_at_ms, '') || "
    "'|' || ifnull(turn_question_id, '') AS row FROM escalations ORDER BY source, id)";

TEST(CommitLogStore, WithEscalationsStoredOnlyBatchesThatChangeThemSkipTheLog) {
  TempDir dir;
  auto logged = openLogged(dir.file("logged.db"));
  ASSERT_NE(logged, nullptr);
  auto opened = openSqliteStore(dir.file("direct.db"));
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  auto direct = std::move(opened).value();

  // Each step on both stores: the same outcome, and whether it stayed in the log.
  struct Step {
    const char* what;
    WriteBatch batch;
    std::size_t unapplied_after;
  };
  const std::vector<Step> steps = {
      {"a record naming a message still unknown", escalation("e1", "c1-q", 1500), 0},
      {"a question nothing names", question("c2", 2000), 1},
      {"the message e1 names: links it", question("c1", 1000), 0},
      {"an answer in e1's conversation: relinks it", answer("c1", 1000, 3000), 0},
      {"a record naming a conversation still unknown", escalation("e2", "c5", 4000), 0},
      {"a question nothing names", question("c6", 6000), 1},
      {"a question in the conversation e2 names: links it", question("c5", 5000), 0},
      {"an answer nothing is linked to", answer("c2", 2000, 7000), 1},
      {"a question of a conversation e1 names, not by message id", question("c1-q", 8000), 2},
      {"a turn change alone (a breach), nothing linked", breach("c6", 6000, 9000), 2},
      {"a turn change alone in e2's conversation: relinks it", breach("c5", 5000, 9500), 0},
  };
  for (const Step& step : steps) {
    SCOPED_TRACE(step.what);
    const std::string expected = outcomeOf(direct->commit(step.batch));
    EXPECT_EQ(outcomeOf(logged->commit(step.batch)), expected);
    EXPECT_EQ(logged->commitLogCounts().unapplied_messages, step.unapplied_after);
  }
  // Reopened with records stored: still logged unless a record is concerned.
  logged.reset();
  logged = openLogged(dir.file("logged.db"));
  ASSERT_NE(logged, nullptr);
  for (const Step& step : std::vector<Step>{
           {"after reopening, a question nothing names", question("c8", 10000), 1},
           {"after reopening, an answer in e1's conversation", answer("c1", 1000, 11000), 0},
       }) {
    SCOPED_TRACE(step.what);
    const std::string expected = outcomeOf(direct->commit(step.batch));
    EXPECT_EQ(outcomeOf(logged->commit(step.batch)), expected);
    EXPECT_EQ(logged->commitLogCounts().unapplied_messages, step.unapplied_after);
  }
  logged.reset();
  direct.reset();
  RawDb from_log(dir.file("logged.db"));
  RawDb from_direct(dir.file("direct.db"));
  const std::string rows = from_direct.text(kEscalationRows);
  EXPECT_EQ(rows, "relay|e1|2|s|c1|1000|c1-q;relay|e2|1|s|c5|4000|c5-q");
  EXPECT_EQ(from_log.text(kEscalationRows), rows);
  EXPECT_EQ(from_log.integer("SELECT COUNT(*) FROM messages"),
            from_direct.integer("SELECT COUNT(*) FROM messages"));
}

TEST(CommitLogStore, PruningSeesTheLoggedMessages) {
  TempDir dir;
  auto store = openLogged(dir.file("store.db"));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->commit(question("old", 1000)).ok());
  ASSERT_TRUE(store->commit(question("quiet", 1000)).ok());
  ASSERT_TRUE(store->turns({}).ok());  // applied
  // A new message of "old", logged only: the conversation is no longer stale.
  WriteBatch follow_up;
  follow_up.messages.push_back(message("s", "old", "old-2", 900'000));
  follow_up.require_new_messages = true;
  ASSERT_TRUE(store->commit(follow_up).ok());
  auto pruned = store->prune(fromMillis(500'000), {});
  ASSERT_TRUE(pruned.ok()) << pruned.error().message;
  EXPECT_EQ(pruned.value(), 1U);  // "quiet" only
  auto kept = store->conversation({"s", "old"});
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->size(), 2U);
}

TEST(CommitLogStore, ABulkLoadComesAfterTheLoggedBatches) {
  TempDir dir;
  const auto path = dir.file("store.db");
  auto store = openLogged(path);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->commit(question("logged", 1000)).ok());
  auto started = store->beginBulkLoad();
  ASSERT_TRUE(started.ok()) << started.error().message;
  EXPECT_FALSE(started->into_empty_store);  // the logged batch was applied first
  ASSERT_TRUE(store->commit(question("loaded", 2000)).ok());
  ASSERT_TRUE(store->endBulkLoad().ok());
  RawDb raw(path);
  EXPECT_EQ(raw.integer("SELECT COUNT(*) FROM messages"), 2);
  EXPECT_EQ(raw.integer("SELECT lsn FROM commit_log_applied"), 1);  // the load bypassed the log
  ASSERT_TRUE(store->commit(question("after", 3000)).ok());
  auto turns = store->turns({});
  ASSERT_TRUE(turns.ok());
  EXPECT_EQ(turns->size(), 3U);
}

TEST(CommitLogStore, ACleanCloseAppliesEverythingAndRemovesTheLog) {
  TempDir dir;
  const auto path = dir.file("store.db");
  const auto log_dir = path.string() + "-log";
  {
    auto store = openLogged(path);
    ASSERT_NE(store, nullptr);
    EXPECT_TRUE(std::filesystem::exists(log_dir));
    for (int i = 0; i < 20; ++i)
      ASSERT_TRUE(store->commit(question(testing::numbered("c", i), 1000 + i)).ok());
  }
  EXPECT_FALSE(std::filesystem::exists(log_dir));
  RawDb raw(path);
  EXPECT_EQ(raw.integer("SELECT COUNT(*) FROM messages"), 20);
  EXPECT_EQ(raw.integer("SELECT COUNT(*) FROM turns"), 20);
  EXPECT_EQ(raw.integer("SELECT lsn FROM commit_log_applied"), 20);

  // LSNs go on from the position recorded in the file.
  {
    auto store = openLogged(path);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->commit(question("later", 9000)).ok());
  }
  EXPECT_EQ(raw.integer("SELECT lsn FROM commit_log_applied"), 21);
  EXPECT_EQ(raw.integer("SELECT COUNT(*) FROM messages"), 21);
}

TEST(CommitLogStore, TheApplyingThreadWritesTheNextSegmentAhead) {
  TempDir dir;
  const auto path = dir.file("store.db");
  const std::filesystem::path log_dir = path.string() + "-log";
  const std::filesystem::path spare = log_dir / "segment.spare";
  {
    auto opened = openSqliteStore(
        path, OpenOptions{.commit_log = true, .apply_delay = kNeverByItself, .log_segment_bytes = 4096});
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    Store& store = *opened.value();
    ASSERT_TRUE(store.commit(question("c0", 1000)).ok());
    EXPECT_FALSE(std::filesystem::exists(spare));
    ASSERT_TRUE(store.turns({}).ok());  // a read: one round applied, then the spare written
    for (int i = 0; i < 500 && !std::filesystem::exists(spare); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_TRUE(std::filesystem::exists(spare));
    EXPECT_EQ(std::filesystem::file_size(spare), 4096U);
    // Enough batches to fill the first segment: the second one is the spare.
    std::size_t segments = 0;
    for (int i = 1; i < 60 && std::filesystem::exists(spare); ++i) {
      ASSERT_TRUE(store.commit(question(testing::numbered("c", i), 1000 + i)).ok());
    }
    for (const auto& entry : std::filesystem::directory_iterator(log_dir))
      segments += entry.path().extension() == ".log" ? 1 : 0;
    EXPECT_EQ(segments, 2U);
    EXPECT_FALSE(std::filesystem::exists(spare));
    ASSERT_TRUE(store.commit(question("last", 9000)).ok());
  }
  // Everything acknowledged was applied at the close, the zeros read as no record.
  RawDb raw(path);
  const std::int64_t stored = raw.integer("SELECT COUNT(*) FROM messages");
  EXPECT_GE(stored, 3);
  EXPECT_EQ(raw.integer("SELECT lsn FROM commit_log_applied"), stored);
  EXPECT_EQ(raw.integer("SELECT COUNT(*) FROM messages WHERE id = 'last-q'"), 1);
}

TEST(CommitLogStore, AnotherReadWriteOpenOfAServedStoreIsRefused) {
  TempDir dir;
  const auto path = dir.file("store.db");
  auto store = openLogged(path);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->commit(question("c1", 1000)).ok());
  // A second serving open is refused, and so is a plain read-write open (an import): it
  // would write behind the serving process's tracker. Neither touches the log; the
  // error says which process holds the store.
  const std::string held = "is open for writing by another replywatch process (pid " +
                           std::to_string(::getpid()) + ", replywatch serve)";
  auto second = openSqliteStore(path, OpenOptions{.commit_log = true});
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message.find(held), std::string::npos) << second.error().message;
  auto plain = openSqliteStore(path);
  ASSERT_FALSE(plain.ok());
  EXPECT_NE(plain.error().message.find(held), std::string::npos) << plain.error().message;
  EXPECT_TRUE(std::filesystem::exists(path.string() + "-log"));
  {
    // Nor does a read-only open warn about batches the serving process is applying.
    testing::CapturedLog log;
    auto reader = openSqliteStore(path, OpenOptions{.read_only = true});
    ASSERT_TRUE(reader.ok()) << reader.error().message;
    EXPECT_EQ(log.text().find("not applied yet"), std::string::npos) << log.text();
  }
  auto turns = store->turns({});
  ASSERT_TRUE(turns.ok());
  EXPECT_EQ(turns->size(), 1U);
  store.reset();
  // Once the serving store is closed, serving again is possible.
  EXPECT_NE(openLogged(path), nullptr);
}

// A symbolic link to the database file, or to a directory above it, is another spelling
// of the same store: the same lock, the same log.
TEST(CommitLogStore, OpensThroughAnotherPathToTheSameFileAreRefused) {
  TempDir dir;
  const auto path = dir.file("store.db");
  const auto link = dir.file("link.db");
  const auto alias = dir.file("alias");
  auto store = openLogged(path);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->commit(question("c1", 1000)).ok());
  std::filesystem::create_symlink(path, link);
  std::filesystem::create_directory_symlink(dir.path(), alias);
  std::filesystem::create_directory(dir.file("sub"));
  for (const auto& other : {link, alias / "store.db", alias / "sub" / ".." / "store.db"}) {
    auto lock = CommitLogLock::take(other, /*exclusive=*/false);
    ASSERT_TRUE(lock.ok()) << lock.error().message;
    EXPECT_FALSE(lock->held()) << other;
  }
  auto served = openSqliteStore(link, OpenOptions{.commit_log = true});
  ASSERT_FALSE(served.ok());
  EXPECT_NE(served.error().message.find("is open for writing by another replywatch process"),
            std::string::npos)
      << served.error().message;
  EXPECT_FALSE(std::filesystem::exists(link.string() + "-log"));
  EXPECT_FALSE(std::filesystem::exists(link.string() + "-log.lock"));
  store.reset();

  // Served through the link, the store keeps its log beside the file.
  store = openLogged(link);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->commit(question("c2", 2000)).ok());
  EXPECT_TRUE(std::filesystem::exists(path.string() + "-log"));
  EXPECT_FALSE(std::filesystem::exists(link.string() + "-log"));
  store.reset();
  RawDb raw(path);
  EXPECT_EQ(raw.integer("SELECT COUNT(*) FROM messages"), 2);
  EXPECT_EQ(raw.integer("SELECT lsn FROM commit_log_applied"), 2);
}

// A hard link is a second name SQLite does not resolve: its write-ahead log would be
// another file. The store is not written through two names.
TEST(CommitLogStore, AStoreWithTwoNamesIsNotWritten) {
  TempDir dir;
  const auto path = dir.file("store.db");
  ASSERT_NE(openLogged(path), nullptr);
  std::filesystem::create_hard_link(path, dir.file("copy.db"));
  for (const OpenOptions& options : {OpenOptions{}, OpenOptions{.commit_log = true}}) {
    auto opened = openSqliteStore(dir.file("copy.db"), options);
    ASSERT_FALSE(opened.ok());
    EXPECT_NE(opened.error().message.find("has 2 names (hard links)"), std::string::npos)
        << opened.error().message;
  }
  EXPECT_TRUE(openSqliteStore(path, OpenOptions{.read_only = true}).ok());
  std::filesystem::remove(dir.file("copy.db"));
  EXPECT_NE(openLogged(path), nullptr);
}

// A log named after a symbolic link (as the store named it before it resolved links) is
// not left behind unapplied.
TEST(CommitLogStore, ALogNamedAfterALinkIsNotLeftBehind) {
  TempDir dir;
  const auto path = dir.file("store.db");
  const auto link = dir.file("link.db");
  ASSERT_NE(openLogged(path), nullptr);
  std::filesystem::create_symlink(path, link);
  std::filesystem::create_directory(link.string() + "-log");
  auto opened = openSqliteStore(link);
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.error().message.find("a commit log was kept at " + link.string() + "-log"),
            std::string::npos)
      << opened.error().message;
  std::filesystem::rename(link.string() + "-log", path.string() + "-log");
  EXPECT_TRUE(openSqliteStore(link).ok());
}

// The process serving the store holds its lock: an applied position at or beyond its
// own records means another process applied another log, and skipping its records would
// lose them. Applying stops, nothing more is acknowledged, and the records stay logged.
TEST(CommitLogStore, AnAppliedPositionBeyondTheLogStopsApplyingAndKeepsTheLog) {
  TempDir dir;
  const auto path = dir.file("store.db");
  auto store = openLogged(path);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->commit(question("c1", 1000)).ok());
  {
    RawDb raw(path);
    ASSERT_TRUE(raw.exec("UPDATE commit_log_applied SET lsn = 5"));
  }
  testing::CapturedLog log;
  (void)store->turns({});  // waits for a round
  auto next = store->commit(question("c2", 2000));
  ASSERT_FALSE(next.ok());
  EXPECT_NE(next.error().message.find("records commit log record 5 as applied, at or beyond record 1"),
            std::string::npos)
      << next.error().message;
  EXPECT_NE(log.text().find("the store cannot apply its commit log"), std::string::npos) << log.text();
  store.reset();
  EXPECT_TRUE(std::filesystem::exists(path.string() + "-log"));
  auto records = CommitLog::readRecords(path.string() + "-log", 0);
  ASSERT_TRUE(records.ok()) << records.error().message;
  ASSERT_EQ(records->size(), 1U);
  RawDb raw(path);
  EXPECT_EQ(raw.integer("SELECT COUNT(*) FROM messages"), 0);
}

// A plain read-write open (an import) holds the store's lock for as long as it is open:
// another import, or serving the store, is refused meanwhile (each would plan from what
// it read at its start, behind the other's back), and possible again once it is closed.
// Read-only opens go on.
TEST(CommitLogStore, AStoreOpenForAnImportIsNotWrittenByAnotherProcessMeanwhile) {
  TempDir dir;
  const auto path = dir.file("store.db");
  auto plain = openSqliteStore(path);
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  ASSERT_TRUE(plain.value()->commit(question("c1", 1000)).ok());
  const std::string held = "the store " + path.string() +
                           " is open for writing by another replywatch process (pid " +
                           std::to_string(::getpid()) + ", replywatch import)";
  auto other_plain = openSqliteStore(path);
  ASSERT_FALSE(other_plain.ok());
  EXPECT_NE(other_plain.error().message.find(held), std::string::npos) << other_plain.error().message;
  auto served = openSqliteStore(path, OpenOptions{.commit_log = true});
  ASSERT_FALSE(served.ok());
  EXPECT_NE(served.error().message.find(held), std::string::npos) << served.error().message;
  {
    auto reader = openSqliteStore(path, OpenOptions{.read_only = true});
    ASSERT_TRUE(reader.ok()) << reader.error().message;
    auto turns = reader.value()->turns({});
    ASSERT_TRUE(turns.ok());
    EXPECT_EQ(turns->size(), 1U);
  }
  plain.value().reset();
  // Released: no owner is left in the lock file.
  EXPECT_EQ(CommitLogLock::owner(path), "");
  auto again = openSqliteStore(path);
  ASSERT_TRUE(again.ok()) << again.error().message;
  again.value().reset();
  EXPECT_NE(openLogged(path), nullptr);
}

// A read-only command holds the log's lock shared for a moment (while it looks for
// unapplied batches): a serving open started then waits for it instead of failing.
TEST(CommitLogStore, AServingOpenWaitsForAReaderToLetTheLogGo) {
  TempDir dir;
  const auto path = dir.file("store.db");
  auto reader_lock = CommitLogLock::take(path, /*exclusive=*/false);
  ASSERT_TRUE(reader_lock.ok() && reader_lock->held());
  std::thread reader([lock = std::move(reader_lock).value()]() mutable {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    lock = CommitLogLock{};
  });
  auto store = openSqliteStore(path, OpenOptions{.commit_log = true});
  reader.join();
  ASSERT_TRUE(store.ok()) << store.error().message;
  EXPECT_TRUE(store.value()->commit(question("c1", 1000)).ok());
}

// The store names responders, handlers and conversations: whatever the umask, what it
// creates is for its owner only.
TEST(CommitLogStore, FilesAreCreatedForTheirOwnerOnly) {
  TempDir dir;
  const auto path = dir.file("store.db");
  const mode_t previous = ::umask(022);
  auto store = openLogged(path);
  ::umask(previous);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->commit(question("c1", 1000)).ok());
  ASSERT_TRUE(store->turns({}).ok());  // applied: the write-ahead log is written
  auto mode = [](const std::filesystem::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 0777;
  };
  EXPECT_EQ(mode(path), 0600U);
  EXPECT_EQ(mode(path.string() + "-wal"), 0600U);
  EXPECT_EQ(mode(path.string() + "-shm"), 0600U);
  EXPECT_EQ(mode(path.string() + "-log"), 0700U);
  EXPECT_EQ(mode(path.string() + "-log/0000000000000001.log"), 0600U);
  EXPECT_EQ(mode(path.string() + "-log.lock"), 0600U);
  store.reset();

  // An existing database keeps the mode it has.
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  store = openLogged(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(mode(path), 0640U);
  EXPECT_EQ(mode(path.string() + "-wal"), 0640U);
}

TEST(CommitLogStore, AppliesByItselfAfterTheGatheringDelay) {
  TempDir dir;
  const auto path = dir.file("store.db");
  auto opened =
      openSqliteStore(path, OpenOptions{.commit_log = true, .apply_delay = std::chrono::milliseconds(1)});
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  ASSERT_TRUE(opened.value()->commit(question("c1", 1000)).ok());
  RawDb raw(path);
  // Waits for the applying thread, not for a fixed time: bounded by the test timeout.
  while (raw.integer("SELECT lsn FROM commit_log_applied") != 1) std::this_thread::yield();
  EXPECT_EQ(raw.integer("SELECT COUNT(*) FROM messages"), 1);
}

}  // namespace
}  // namespace replywatch::store
