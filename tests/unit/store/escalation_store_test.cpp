// Escalation records in the store: the v1 -> v2 migration, upserts, linking a record's
// question_ref to a turn (now or when the message arrives), following recomputed turns,
// the read methods and retention.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "daemon/store/store.h"
#include "tests/unit/store/store_test_util.h"

namespace replywatch::store {
namespace {

using testing::answeredTurn;
using testing::kAccount;
using testing::message;
using testing::openTurn;
using testing::RawDb;
using testing::TempDir;

const std::string kSource = "acme-x";
const std::string kRelay = "relay-feed";

// 2024-06-01T00:00:00Z plus minutes.
std::int64_t at(int minutes) { return 1717200000000 + std::int64_t{minutes} * 60000; }

EscalationRecord escalation(const std::string& id, const std::string& ref, int requested_min,
                            std::optional<int> answered_min = std::nullopt) {
  EscalationRecord r;
  r.source = kRelay;
  r.escalation.id = id;
  r.escalation.account = kAccount;
  r.escalation.question_ref = ref;
  r.escalation.requested_at = fromMillis(at(requested_min));
  if (answered_min) r.escalation.answered_at = fromMillis(at(*answered_min));
  r.escalation.requested_by = "agency-a";
  r.escalation.relay = "legal";
  r.route = Route::Agency;
  return r;
}

class EscalationStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = openSqliteStore(dir_.file("replywatch.db"));
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened).value();
  }

  // Conversation C: q1 asked at 0, joined by q2 at 5, answered by a1 at 60; then q3
  // asked at 120, answered by a3 at 180.
  WriteBatch conversationC() {
    WriteBatch b;
    b.messages = {message(kSource, "C", "q1", at(0)), message(kSource, "C", "q2", at(5)),
                  message(kSource, "C", "a1", at(60), Role::Brand), message(kSource, "C", "q3", at(120)),
                  message(kSource, "C", "a3", at(180), Role::Brand)};
    b.upsert_turns = {answeredTurn(kSource, "C", "q1", at(0), at(60)),
                      answeredTurn(kSource, "C", "q3", at(120), at(180))};
    return b;
  }

  CommitOutcome commit(const WriteBatch& b) {
    auto done = store_->commit(b);
    EXPECT_TRUE(done.ok()) << done.error().message;
    return done.ok() ? done.value() : CommitOutcome{};
  }

  std::vector<LinkedEscalation> all() {
    std::vector<LinkedEscalation> out;
    auto read = store_->forEachEscalation({}, [&out](const LinkedEscalation& e) { out.push_back(e); });
    EXPECT_TRUE(read.ok());
    return out;
  }

  std::optional<TurnKey> turnOf(const std::string& id) {
    for (const auto& e : all()) {
      if (e.record.escalation.id == id) return e.record.turn;
    }
    ADD_FAILURE() << "no escalation " << id;
    return std::nullopt;
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
};

TurnKey keyC(const std::string& question) { return {kSource, "C", question}; }

TEST_F(EscalationStoreTest, MessageRefLinksToTheTurnContainingThatMessage) {
  commit(conversationC());
  WriteBatch b;
  b.escalations = {escalation("e-q1", "q1", 10), escalation("e-q2", "q2", 10), escalation("e-a1", "a1", 10),
                   escalation("e-q3", "q3", 130), escalation("e-a3", "a3", 130)};
  auto outcome = commit(b);
  EXPECT_EQ(outcome.escalations_changed, 5U);
  EXPECT_EQ(outcome.escalations.size(), 5U);
  EXPECT_EQ(turnOf("e-q1"), keyC("q1"));
  EXPECT_EQ(turnOf("e-q2"), keyC("q1"));  // a message that joined the turn
  EXPECT_EQ(turnOf("e-a1"), keyC("q1"));  // the answer belongs to the turn it closes
  EXPECT_EQ(turnOf("e-q3"), keyC("q3"));
  EXPECT_EQ(turnOf("e-a3"), keyC("q3"));
  for (const auto& e : outcome.escalations) {
    ASSERT_TRUE(e.turn.has_value());
    EXPECT_EQ(keyOf(*e.turn), *e.record.turn);
    EXPECT_EQ(e.record.route, Route::Agency);
  }
}

TEST_F(EscalationStoreTest, ConversationRefLinksToTheTurnUnderWayAtTheRequest) {
  commit(conversationC());
  WriteBatch b;
  b.escalations = {escalation("before", "C", -30), escalation("first", "C", 30), escalation("gap", "C", 90),
                   escalation("second", "C", 150), escalation("late", "C", 500)};
  commit(b);
  EXPECT_EQ(turnOf("before"), keyC("q1"));  // before every turn: the first one
  EXPECT_EQ(turnOf("first"), keyC("q1"));
  EXPECT_EQ(turnOf("gap"), keyC("q1"));  // between turns: the latest one asked before
  EXPECT_EQ(turnOf("second"), keyC("q3"));
  EXPECT_EQ(turnOf("late"), keyC("q3"));
}

TEST_F(EscalationStoreTest, RefOfAnotherAccountDoesNotLink) {
  commit(conversationC());
  WriteBatch b;
  b.escalations = {escalation("other", "q1", 10)};
  b.escalations[0].escalation.account = "someone-else";
  commit(b);
  EXPECT_EQ(turnOf("other"), std::nullopt);
}

TEST_F(EscalationStoreTest, UnknownRefIsKeptAndLinkedWhenTheMessageArrives) {
  WriteBatch b;
  b.escalations = {escalation("early", "q2", 10, 40), escalation("by-conv", "C", 130)};
  auto first = commit(b);
  ASSERT_EQ(first.escalations.size(), 2U);
  for (const auto& e : first.escalations) EXPECT_FALSE(e.record.turn.has_value());
  EXPECT_EQ(all().size(), 2U);

  auto second = commit(conversationC());
  EXPECT_EQ(turnOf("early"), keyC("q1"));
  EXPECT_EQ(turnOf("by-conv"), keyC("q3"));
  // The commit that linked them reports their new state with the turn.
  ASSERT_EQ(second.escalations.size(), 2U);
  for (const auto& e : second.escalations) {
    ASSERT_TRUE(e.turn.has_value()) << e.record.escalation.id;
    EXPECT_TRUE(e.turn->answered_at.has_value());
  }
}

TEST_F(EscalationStoreTest, MessageMatchReplacesAConversationMatchWhateverTheOrder) {
  // The ref "root" is both a conversation id and the id of its first message. Whichever
  // arrives first, the record ends linked through the message.
  WriteBatch b;
  b.escalations = {escalation("e", "root", 200)};
  commit(b);
  WriteBatch later;  // a later turn of conversation "root" arrives first
  later.messages = {message(kSource, "root", "q9", at(100))};
  later.upsert_turns = {openTurn(kSource, "root", "q9", at(100))};
  commit(later);
  EXPECT_EQ(turnOf("e"), (TurnKey{kSource, "root", "q9"}));
  WriteBatch root;  // then the root message, with the turns recomputed
  root.messages = {message(kSource, "root", "root", at(0)),
                   message(kSource, "root", "a0", at(50), Role::Brand)};
  root.upsert_turns = {answeredTurn(kSource, "root", "root", at(0), at(50))};
  commit(root);
  EXPECT_EQ(turnOf("e"), (TurnKey{kSource, "root", "root"}));
}

TEST_F(EscalationStoreTest, UpsertIsIdempotentAndKeepsAKnownAnswer) {
  commit(conversationC());
  WriteBatch b;
  b.escalations = {escalation("e1", "q1", 10)};
  EXPECT_EQ(commit(b).escalations_changed, 1U);
  EXPECT_EQ(commit(b).escalations_changed, 0U);  // the same delivery again changes nothing

  WriteBatch answered;
  answered.escalations = {escalation("e1", "q1", 10, 45)};
  auto outcome = commit(answered);
  EXPECT_EQ(outcome.escalations_changed, 1U);
  ASSERT_EQ(outcome.escalations.size(), 1U);
  EXPECT_EQ(outcome.escalations[0].record.escalation.answered_at, fromMillis(at(45)));
  EXPECT_EQ(commit(answered).escalations_changed, 0U);

  // An older event delivered late (no answer yet) does not clear the answer.
  EXPECT_EQ(commit(b).escalations_changed, 0U);
  auto stored = all();
  ASSERT_EQ(stored.size(), 1U);
  EXPECT_EQ(stored[0].record.escalation.answered_at, fromMillis(at(45)));
}

TEST_F(EscalationStoreTest, ChangedRefRelinks) {
  commit(conversationC());
  WriteBatch b;
  b.escalations = {escalation("e1", "q1", 10)};
  commit(b);
  EXPECT_EQ(turnOf("e1"), keyC("q1"));
  b.escalations[0].escalation.question_ref = "nowhere";
  commit(b);
  EXPECT_EQ(turnOf("e1"), std::nullopt);
  b.escalations[0].escalation.question_ref = "q3";
  commit(b);
  EXPECT_EQ(turnOf("e1"), keyC("q3"));
}

TEST_F(EscalationStoreTest, LinksFollowRecomputedTurns) {
  // One open turn q1; an escalation on the member's follow-up q2.
  WriteBatch first;
  first.messages = {message(kSource, "C", "q1", at(0)), message(kSource, "C", "q2", at(90))};
  first.upsert_turns = {openTurn(kSource, "C", "q1", at(0))};
  commit(first);
  WriteBatch b;
  b.escalations = {escalation("e", "q2", 95)};
  commit(b);
  EXPECT_EQ(turnOf("e"), keyC("q1"));
  // A late-delivered answer at 60 splits the turn: q2 now opens its own turn.
  WriteBatch split;
  split.messages = {message(kSource, "C", "a1", at(60), Role::Brand)};
  split.upsert_turns = {answeredTurn(kSource, "C", "q1", at(0), at(60)),
                        openTurn(kSource, "C", "q2", at(90))};
  auto outcome = commit(split);
  EXPECT_EQ(turnOf("e"), keyC("q2"));
  ASSERT_EQ(outcome.escalations.size(), 1U);
  ASSERT_TRUE(outcome.escalations[0].turn.has_value());
  EXPECT_EQ(outcome.escalations[0].turn->question_id, "q2");
  // The turn deleted and nothing left: unlinked, but still known.
  WriteBatch gone;
  gone.delete_turns = {keyC("q1"), keyC("q2")};
  commit(gone);
  EXPECT_EQ(turnOf("e"), std::nullopt);
}

TEST_F(EscalationStoreTest, EscalationsForReturnsEachTurnsLegsInOrder) {
  commit(conversationC());
  WriteBatch b;
  b.escalations = {escalation("z-late", "q1", 30, 50), escalation("a-early", "q2", 10, 20),
                   escalation("other", "q3", 130)};
  commit(b);
  auto legs = store_->escalationsFor({keyC("q3"), keyC("q1"), keyC("nope")});
  ASSERT_TRUE(legs.ok()) << legs.error().message;
  ASSERT_EQ(legs->size(), 3U);
  ASSERT_EQ((*legs)[0].size(), 1U);
  EXPECT_EQ((*legs)[0][0].escalation.id, "other");
  ASSERT_EQ((*legs)[1].size(), 2U);
  EXPECT_EQ((*legs)[1][0].escalation.id, "a-early");
  EXPECT_EQ((*legs)[1][1].escalation.id, "z-late");
  EXPECT_EQ((*legs)[1][1].escalation.answered_at, fromMillis(at(50)));
  EXPECT_EQ((*legs)[1][1].turn, keyC("q1"));
  EXPECT_TRUE((*legs)[2].empty());
}

TEST_F(EscalationStoreTest, ForEachEscalationFilters) {
  commit(conversationC());
  WriteBatch b;
  b.escalations = {escalation("a", "q1", 10), escalation("b", "q3", 130), escalation("pending", "zz", 140)};
  commit(b);
  std::vector<std::string> ids;
  EscalationQuery q;
  q.since = fromMillis(at(100));
  q.linked_only = true;
  ASSERT_TRUE(
      store_
          ->forEachEscalation(q, [&ids](const LinkedEscalation& e) { ids.push_back(e.record.escalation.id); })
          .ok());
  EXPECT_EQ(ids, std::vector<std::string>{"b"});
  ids.clear();
  q = {};
  q.account = "nobody";
  ASSERT_TRUE(
      store_
          ->forEachEscalation(q, [&ids](const LinkedEscalation& e) { ids.push_back(e.record.escalation.id); })
          .ok());
  EXPECT_TRUE(ids.empty());
}

TEST_F(EscalationStoreTest, PruneRemovesEscalationsWithTheirConversation) {
  commit(conversationC());
  WriteBatch b;
  b.escalations = {escalation("linked", "q1", 10), escalation("orphan", "zz", 10),
                   escalation("recent-orphan", "zz", 100000)};
  commit(b);
  // The deletion names the linked record it deleted, and asks for the retired counts
  // because of it; the old unlinked one goes at the end, in a transaction of its own that
  // saves no counts (it counted nothing).
  std::vector<std::pair<std::string, std::string>> named;
  std::vector<std::pair<std::string, std::string>> deleted;
  PruneHooks hooks;
  hooks.retired_counts = [&named](const PruneDeletion& deleting) {
    named = deleting.escalations;
    return std::string("{}");
  };
  hooks.deleted = [&deleted](const PruneDeletion& d) {
    deleted.insert(deleted.end(), d.escalations.begin(), d.escalations.end());
  };
  auto pruned = store_->prune(fromMillis(at(1000)), hooks);
  ASSERT_TRUE(pruned.ok()) << pruned.error().message;
  EXPECT_EQ(*pruned, 5U);
  const std::vector<std::pair<std::string, std::string>> linked = {{kRelay, "linked"}};
  EXPECT_EQ(named, linked);
  EXPECT_EQ(deleted,
            (std::vector<std::pair<std::string, std::string>>{{kRelay, "linked"}, {kRelay, "orphan"}}));
  auto left = all();
  ASSERT_EQ(left.size(), 1U);
  EXPECT_EQ(left[0].record.escalation.id, "recent-orphan");
}

TEST_F(EscalationStoreTest, ReadOnlyStoreReadsEscalations) {
  commit(conversationC());
  WriteBatch b;
  b.escalations = {escalation("e", "q1", 10)};
  commit(b);
  store_.reset();
  auto ro = openSqliteStore(dir_.file("replywatch.db"), OpenOptions{.read_only = true});
  ASSERT_TRUE(ro.ok()) << ro.error().message;
  auto legs = ro.value()->escalationsFor({keyC("q1")});
  ASSERT_TRUE(legs.ok());
  ASSERT_EQ((*legs)[0].size(), 1U);
  EXPECT_FALSE(ro.value()->commit(b).ok());
}

// The schema of version 1 as released: a file written by that version.
constexpr const char* kVersion1Schema = R"sql(
CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at_ms INTEGER NOT NULL);
CREATE TABLE messages (
  source TEXT NOT NULL CHECK (source <> ''), id TEXT NOT NULL, account TEXT NOT NULL, channel TEXT NOT NULL,
  conversation_id TEXT NOT NULL, in_reply_to TEXT NOT NULL DEFAULT '', created_at_ms INTEGER NOT NULL,
  role INTEGER NOT NULL CHECK (role BETWEEN 0 AND 3), responder TEXT NOT NULL DEFAULT '',
  handler TEXT NOT NULL DEFAULT '', route INTEGER NOT NULL CHECK (route BETWEEN 0 AND 2),
  PRIMARY KEY (source, id)) WITHOUT ROWID;
CREATE INDEX messages_by_conversation ON messages (source, conversation_id, created_at_ms, id);
CREATE TABLE turns (
  source TEXT NOT NULL CHECK (source <> ''), conversation_id TEXT NOT NULL, question_id TEXT NOT NULL,
  account TEXT NOT NULL, channel TEXT NOT NULL, asked_at_ms INTEGER NOT NULL, answer_id TEXT NOT NULL DEFAULT '',
  answered_at_ms INTEGER, responder TEXT NOT NULL DEFAULT '', handler TEXT NOT NULL DEFAULT '',
  route INTEGER NOT NULL CHECK (route BETWEEN 0 AND 2), breached_at_ms INTEGER,
  PRIMARY KEY (source, conversation_id, question_id)) WITHOUT ROWID;
CREATE INDEX turns_by_asked_at ON turns (asked_at_ms);
CREATE INDEX turns_by_account_asked_at ON turns (account, asked_at_ms);
CREATE INDEX turns_open ON turns (source, conversation_id) WHERE answered_at_ms IS NULL;
CREATE TABLE cursors (source TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL, updated_at_ms INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO schema_version VALUES (1, 'messages, turns and cursors', 1700000000000);
INSERT INTO messages VALUES ('acme-x', 'q1', 'acme', 'x', 'C', '', 1717200000000, 1, '', '', 0);
INSERT INTO messages VALUES ('acme-x', 'a1', 'acme', 'x', 'C', 'q1', 1717203600000, 3, 'acme_support', 'internal-team', 1);
INSERT INTO turns VALUES ('acme-x', 'C', 'q1', 'acme', 'x', 1717200000000, 'a1', 1717203600000, 'acme_support',
  'internal-team', 1, NULL);
INSERT INTO cursors VALUES ('acme-x', 'page-7', 1700000000000);
PRAGMA user_version = 1;
)sql";

TEST(EscalationMigrationTest, Version1FileIsMigratedWithItsDataKept) {
  TempDir dir;
  const auto path = dir.file("v1.db");
  {
    RawDb raw(path);
    ASSERT_TRUE(raw.ok());
    ASSERT_TRUE(raw.exec(kVersion1Schema));
  }
  // A read-only open refuses to migrate.
  EXPECT_FALSE(openSqliteStore(path, OpenOptions{.read_only = true}).ok());

  auto opened = openSqliteStore(path);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  auto& store = *opened.value();
  EXPECT_EQ(store.schemaVersion(), 5);
  auto turns = store.turns({});
  ASSERT_TRUE(turns.ok());
  ASSERT_EQ(turns->size(), 1U);
  EXPECT_EQ((*turns)[0].answered_at, fromMillis(1717203600000));
  auto cursor = store.cursor("acme-x");
  ASSERT_TRUE(cursor.ok());
  EXPECT_EQ(cursor.value(), std::optional<std::string>("page-7"));

  // The messages kept from version 1 are found by new escalation records.
  WriteBatch b;
  b.escalations = {escalation("e", "a1", 10, 40)};
  auto committed = store.commit(b);
  ASSERT_TRUE(committed.ok()) << committed.error().message;
  ASSERT_EQ(committed->escalations.size(), 1U);
  EXPECT_EQ(committed->escalations[0].record.turn, keyC("q1"));
  opened.value().reset();

  RawDb raw(path);
  EXPECT_EQ(raw.integer("PRAGMA user_version"), 5);
  EXPECT_EQ(raw.integer("SELECT COUNT(*) FROM schema_version"), 5);
  EXPECT_EQ(raw.text("SELECT description FROM schema_version WHERE version = 2"),
            "escalation records of the relay feed, linked to turns");
  EXPECT_EQ(raw.integer("SELECT COUNT(*) FROM messages"), 2);
  EXPECT_EQ(raw.integer("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'turns_by_asked_at'"), 0);
  EXPECT_EQ(raw.integer("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'turns_by_account_asked_at'"), 1);
  // Opening again applies nothing more.
  auto again = openSqliteStore(path);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.value()->schemaVersion(), 5);
  EXPECT_EQ(raw.integer("SELECT COUNT(*) FROM schema_version"), 5);
}

}  // namespace
}  // namespace replywatch::store
