// The SQLite implementation of Store.
//
// Schema versioning
//   `PRAGMA user_version` holds the schema version applied to the file (0 = empty file).
//   The `schema_version` table keeps one row per applied migration step
//   (version, description, applied_at_ms) for humans and support.
//   kMigrations below is the ordered list of steps. Each step runs in its own
//   BEGIN IMMEDIATE transaction that executes its SQL, records the row and bumps
//   user_version, so a crash leaves the file at the previous version, never half-way.
//   A file whose user_version is higher than the last known step comes from a newer
//   replywatch: opening it is an Error and nothing is written to it.
//   Steps are append-only: never edit a released step, add a new one.
//
// Tables (version 1)
//   messages  PRIMARY KEY (source, id), WITHOUT ROWID. No message text and no community
//             member ids are stored. role: 0 ignored, 1 question, 2 inbound, 3 brand
//             (enum Role); route: 0 unknown, 1 internal, 2 agency (enum Route).
//             messages_by_conversation (source, conversation_id, created_at_ms, id)
//             serves conversation(), openConversationMessages() and prune().
//   turns     PRIMARY KEY (source, conversation_id, question_id), WITHOUT ROWID.
//             Times in UTC milliseconds; answered_at_ms / breached_at_ms NULL when unset.
//             turns_by_asked_at and turns_by_account_asked_at serve turns(query)
//             (version 4 drops the first, see there);
//             turns_open (partial, answered_at_ms IS NULL) finds conversations with an
//             open turn.
//   cursors   one row per source: the last committed connector cursor.
//
// Tables (version 2)
//   escalations  PRIMARY KEY (source, id), WITHOUT ROWID: the relay feed's records.
//             route: the requesting handler's route (enum Route). The link columns say
//             where question_ref was found: link_kind 0 not found (link_* NULL), 1 as a
//             conversation id, 2 as a message id; link_source/link_conversation_id name
//             the conversation and link_at_ms the instant whose turn is meant (the
//             referenced message's time, or requested_at for a conversation ref).
//             turn_question_id is the linked turn of that conversation (NULL when it has
//             none), recomputed by every commit that changes the conversation's turns.
//             escalations_by_ref (account, question_ref, link_kind) finds the records a
//             new message links; escalations_by_link (link_source, link_conversation_id,
//             turn_question_id) the records of a conversation or a turn;
//             escalations_by_requested_at serves forEachEscalation(query).
//   No foreign keys: every write goes through commit(), which keeps the tables
//   consistent, and enforcing them would cost an index probe per turn.
//
// Tables (version 3)
//   commit_log_applied  one row: the LSN of the last commit-log record applied
//             (commit_log.h), written in the transaction that applies it.
//
// Version 4
//   turns_by_asked_at is dropped: turns_by_account_asked_at, whose entries end with the
//   primary key, yields each account's turns in the order turns() returns them, and a
//   query for every account reads one such range per account (merged up to 64
//   accounts, sorted beyond; see readTurns): one index fewer to write for every turn,
//   and to build at the end of a bulk load.
//
// Connections and locking
//   A write connection (journal_mode=WAL, synchronous=FULL) guarded by write_mutex_,
//   and a read-only connection guarded by read_mutex_. WAL lets readers proceed while a
//   write transaction is open, so an API query never waits for ingestion and the other
//   way round. A store opened with OpenOptions::read_only has only the read connection.
//   A bulk load into an empty store that no other connection has open closes the read
//   connection and runs under a rollback journal (synchronous=EXTRA) until its end,
//   then returns to WAL mode (startBulkTransaction).
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "daemon/core/thread_name.h"
#include "daemon/core/thread_priority.h"
#include "daemon/store/batch_codec.h"
#include "daemon/store/commit_log.h"
#include "daemon/store/sqlite_db.h"
#include "daemon/store/store.h"
#include "daemon/store/wal_checkpointer.h"

namespace replywatch::store {
namespace {

// Conversations examined per read of the prune scan, and deleted per write transaction.
constexpr std::int64_t kPruneScanChunk = 2000;
constexpr std::size_t kPruneWriteChunk = 256;

struct Migration {
  int version;
  const char* description;
  const char* sql;
};

constexpr Migration kMigrations[] = {
    {1, "messages, turns and cursors", R"sql(
CREATE TABLE schema_version (
  version       INTEGER PRIMARY KEY,
  description   TEXT    NOT NULL,
  applied_at_ms INTEGER NOT NULL
);
CREATE TABLE messages (
  source          TEXT    NOT NULL CHECK (source <> ''),
  id              TEXT    NOT NULL,
  account         TEXT    NOT NULL,
  channel         TEXT    NOT NULL,
  conversation_id TEXT    NOT NULL,
  in_reply_to     TEXT    NOT NULL DEFAULT '',
  created_at_ms   INTEGER NOT NULL,
  role            INTEGER NOT NULL CHECK (role BETWEEN 0 AND 3),
  responder       TEXT    NOT NULL DEFAULT '',
  handler         TEXT    NOT NULL DEFAULT '',
  route           INTEGER NOT NULL CHECK (route BETWEEN 0 AND 2),
  PRIMARY KEY (source, id)
) WITHOUT ROWID;
CREATE INDEX messages_by_conversation ON messages (source, conversation_id, created_at_ms, id);
CREATE TABLE turns (
  source          TEXT    NOT NULL CHECK (source <> ''),
  conversation_id TEXT    NOT NULL,
  question_id     TEXT    NOT NULL,
  account         TEXT    NOT NULL,
  channel         TEXT    NOT NULL,
  asked_at_ms     INTEGER NOT NULL,
  answer_id       TEXT    NOT NULL DEFAULT '',
  answered_at_ms  INTEGER,
  responder       TEXT    NOT NULL DEFAULT '',
  handler         TEXT    NOT NULL DEFAULT '',
  route           INTEGER NOT NULL CHECK (route BETWEEN 0 AND 2),
  breached_at_ms  INTEGER,
  PRIMARY KEY (source, conversation_id, question_id)
) WITHOUT ROWID;
CREATE INDEX turns_by_asked_at ON turns (asked_at_ms);
CREATE INDEX turns_by_account_asked_at ON turns (account, asked_at_ms);
CREATE INDEX turns_open ON turns (source, conversation_id) WHERE answered_at_ms IS NULL;
CREATE TABLE cursors (
  source        TEXT    NOT NULL PRIMARY KEY,
  value         TEXT    NOT NULL,
  updated_at_ms INTEGER NOT NULL
) WITHOUT ROWID;
)sql"},
    {2, "escalation records of the relay feed, linked to turns", R"sql(
CREATE TABLE escalations (
  source               TEXT    NOT NULL CHECK (source <> ''),
  id                   TEXT    NOT NULL,
  account              TEXT    NOT NULL,
  question_ref         TEXT    NOT NULL,
  requested_at_ms      INTEGER NOT NULL,
  answered_at_ms       INTEGER,
  requested_by         TEXT    NOT NULL DEFAULT '',
  relay                TEXT    NOT NULL DEFAULT '',
  route                INTEGER NOT NULL CHECK (route BETWEEN 0 AND 2),
  link_kind            INTEGER NOT NULL DEFAULT 0 CHECK (link_kind BETWEEN 0 AND 2),
  link_source          TEXT,
  link_conversation_id TEXT,
  link_at_ms           INTEGER,
  turn_question_id     TEXT,
  PRIMARY KEY (source, id)
) WITHOUT ROWID;
CREATE INDEX escalations_by_ref ON escalations (account, question_ref, link_kind);
CREATE INDEX escalations_by_link ON escalations (link_source, link_conversation_id, turn_question_id);
CREATE INDEX escalations_by_requested_at ON escalations (requested_at_ms);
)sql"},
    {3, "position of the commit log applied", R"sql(
CREATE TABLE commit_log_applied (
  id  INTEGER PRIMARY KEY CHECK (id = 1),
  lsn INTEGER NOT NULL
);
INSERT INTO commit_log_applied (id, lsn) VALUES (1, 0);
)sql"},
    {4, "turns read per account only: no index by time alone", R"sql(
DROP INDEX IF EXISTS turns_by_asked_at;
)sql"},
    {5, "what pruned turns and records counted", R"sql(
CREATE TABLE retired_counts (
  id   INTEGER PRIMARY KEY CHECK (id = 1),
  data TEXT    NOT NULL
);
)sql"},
};

constexpr int kLatestVersion = kMigrations[std::size(kMigrations) - 1].version;

// --- SQL of the hot paths -----------------------------------------------------------

constexpr const char* kMessageColumns =
    "source, id, account, channel, conversation_id, in_reply_to, created_at_ms, role, responder, handler, "
    "route";

// Rows per multi-row INSERT: one statement execution (cursor opening, VDBE start-up)
// serves many rows. The remainder of a batch goes through the one-row statement.
constexpr std::size_t kRowsPerInsert = 64;
constexpr int kMessageParams = 11;
constexpr int kTurnParams = 12;

// "VALUES (?, ..., ?), ..." for `rows` rows of `params` parameters.
std::string valuesClause(std::size_t rows, int params) {
  std::string out = " VALUES ";
  for (std::size_t r = 0; r < rows; ++r) {
    out.append(r == 0 ? "(" : ", (");
    for (int p = 0; p < params; ++p) out.append(p == 0 ? "?" : ", ?");
    out.append(")");
  }
  return out;
}

// ON CONFLICT DO NOTHING rather than INSERT OR IGNORE: only a duplicate (source, id) is
// skipped; a CHECK or NOT NULL violation still fails the batch.
std::string insertMessagesSql(std::size_t rows) {
  return "INSERT INTO messages (source, id, account, channel, conversation_id, in_reply_to, created_at_ms, "
         "role, "
         "responder, handler, route)" +
         valuesClause(rows, kMessageParams) + " ON CONFLICT (source, id) DO NOTHING";
}

std::string upsertTurnsSql(std::size_t rows) {
  return "INSERT INTO turns (source, conversation_id, question_id, account, channel, asked_at_ms, answer_id, "
         "answered_at_ms, responder, handler, route, breached_at_ms)" +
         valuesClause(rows, kTurnParams) +
         " ON CONFLICT (source, conversation_id, question_id) DO UPDATE SET account = excluded.account, "
         "channel = excluded.channel, asked_at_ms = excluded.asked_at_ms, answer_id = excluded.answer_id, "
         "answered_at_ms = excluded.answered_at_ms, responder = excluded.responder, handler = "
         "excluded.handler, "
         "route = excluded.route, breached_at_ms = excluded.breached_at_ms";
}

std::optional<std::int64_t> optionalMillis(const std::optional<Timestamp>& t) {
  return t ? std::optional<std::int64_t>(toMillis(*t)) : std::nullopt;
}

// Binds one message at parameters base+1 .. base+kMessageParams.
void bindMessage(Statement& s, int base, const MessageRecord& m) {
  s.bind(base + 1, m.source);
  s.bind(base + 2, m.id);
  s.bind(base + 3, m.account);
  s.bind(base + 4, m.channel);
  s.bind(base + 5, m.conversation_id);
  s.bind(base + 6, m.in_reply_to);
  s.bind(base + 7, toMillis(m.created_at));
  s.bind(base + 8, std::int64_t{static_cast<std::uint8_t>(m.role)});
  s.bind(base + 9, m.responder);
  s.bind(base + 10, m.handler);
  s.bind(base + 11, std::int64_t{static_cast<std::uint8_t>(m.route)});
}

// Binds one turn at parameters base+1 .. base+kTurnParams.
void bindTurn(Statement& s, int base, const Turn& t) {
  s.bind(base + 1, t.source);
  s.bind(base + 2, t.conversation_id);
  s.bind(base + 3, t.question_id);
  s.bind(base + 4, t.account);
  s.bind(base + 5, t.channel);
  s.bind(base + 6, toMillis(t.asked_at));
  s.bind(base + 7, t.answer_id);
  s.bind(base + 8, optionalMillis(t.answered_at));
  s.bind(base + 9, t.responder);
  s.bind(base + 10, t.handler);
  s.bind(base + 11, std::int64_t{static_cast<std::uint8_t>(t.route)});
  s.bind(base + 12, optionalMillis(t.breached_at));
}

// The turns' secondary indexes, as migrations 1 and 4 leave them: a bulk load into a store
// without turns drops them and builds them once at its end (in the same transaction).
constexpr const char* kDropTurnIndexes = "DROP INDEX turns_by_account_asked_at; DROP INDEX turns_open;";
constexpr const char* kCreateTurnIndexes =
    "CREATE INDEX turns_by_account_asked_at ON turns (account, asked_at_ms);"
    "CREATE INDEX turns_open ON turns (source, conversation_id) WHERE answered_at_ms IS NULL;";

// The messages' by-conversation index, as migration 1 creates it: a bulk load into a
// store without messages and turns builds it once at its end too.
constexpr const char* kDropConversationIndex = "DROP INDEX messages_by_conversation;";
constexpr const char* kCreateConversationIndex =
    "CREATE INDEX messages_by_conversation ON messages (source, conversation_id, created_at_ms, id);";

constexpr std::string_view kSaveRetiredCounts =
    "INSERT INTO retired_counts (id, data) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET data = "
    "excluded.data";

constexpr std::string_view kDeleteTurn =
    "DELETE FROM turns WHERE source = ?1 AND conversation_id = ?2 AND question_id = ?3";

constexpr std::string_view kUpsertCursor =
    "INSERT INTO cursors (source, value, updated_at_ms) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (source) DO UPDATE SET value = excluded.value, updated_at_ms = excluded.updated_at_ms";

constexpr std::string_view kTurnColumns =
    "source, conversation_id, question_id, account, channel, asked_at_ms, answer_id, answered_at_ms, "
    "responder, "
    "handler, route, breached_at_ms";

std::int64_t nowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Role decodeRole(std::int64_t v) { return v >= 0 && v <= 3 ? static_cast<Role>(v) : Role::Ignored; }
Route decodeRoute(std::int64_t v) { return v >= 0 && v <= 2 ? static_cast<Route>(v) : Route::Unknown; }

// Reads a row selected with kMessageColumns.
void readMessage(const Statement& s, MessageRecord& m) {
  s.columnText(0, m.source);
  s.columnText(1, m.id);
  s.columnText(2, m.account);
  s.columnText(3, m.channel);
  s.columnText(4, m.conversation_id);
  s.columnText(5, m.in_reply_to);
  m.created_at = fromMillis(s.columnInt(6));
  m.role = decodeRole(s.columnInt(7));
  s.columnText(8, m.responder);
  s.columnText(9, m.handler);
  m.route = decodeRoute(s.columnInt(10));
}

std::optional<Timestamp> optionalTimestamp(const Statement& s, int column) {
  const auto ms = s.columnOptionalInt(column);
  return ms ? std::optional<Timestamp>(fromMillis(*ms)) : std::nullopt;
}

// Reads a row selected with kTurnColumns, starting at column `base`.
void readTurn(const Statement& s, Turn& t, int base = 0) {
  s.columnText(base + 0, t.source);
  s.columnText(base + 1, t.conversation_id);
  s.columnText(base + 2, t.question_id);
  s.columnText(base + 3, t.account);
  s.columnText(base + 4, t.channel);
  t.asked_at = fromMillis(s.columnInt(base + 5));
  s.columnText(base + 6, t.answer_id);
  t.answered_at = optionalTimestamp(s, base + 7);
  s.columnText(base + 8, t.responder);
  s.columnText(base + 9, t.handler);
  t.route = decodeRoute(s.columnInt(base + 10));
  t.breached_at = optionalTimestamp(s, base + 11);
}

// --- Escalations ----------------------------------------------------------------------

// Steps `s`, which returns (source, id) rows of escalation records, to its end, appending
// them to `keys`. Returns the last step's code: SQLITE_DONE when every row was read.
int appendEscalationKeys(Statement& s, std::vector<std::pair<std::string, std::string>>& keys) {
  int rc = 0;
  while ((rc = s.step()) == SQLITE_ROW) {
    auto& [source, id] = keys.emplace_back();
    s.columnText(0, source);
    s.columnText(1, id);
  }
  return rc;
}

// What PruneHooks::exclude returns, or no lock without it.
std::unique_lock<std::mutex> excluding(const PruneHooks& hooks) {
  return hooks.exclude ? hooks.exclude() : std::unique_lock<std::mutex>();
}

// Selected as e.<column>: the record, then its link. kEscalationColumnCount columns.
constexpr std::string_view kEscalationColumns =
    "source, id, account, question_ref, requested_at_ms, answered_at_ms, requested_by, relay, route, "
    "link_source, link_conversation_id, turn_question_id";
constexpr int kEscalationColumnCount = 12;

// Reads a row selected with kEscalationColumns; `turn` is set from the link columns.
void readEscalation(const Statement& s, EscalationRecord& r) {
  s.columnText(0, r.source);
  Escalation& e = r.escalation;
  s.columnText(1, e.id);
  s.columnText(2, e.account);
  s.columnText(3, e.question_ref);
  e.requested_at = fromMillis(s.columnInt(4));
  e.answered_at = optionalTimestamp(s, 5);
  s.columnText(6, e.requested_by);
  s.columnText(7, e.relay);
  r.route = decodeRoute(s.columnInt(8));
  if (s.columnIsNull(9) || s.columnIsNull(11)) {
    r.turn.reset();
    return;
  }
  TurnKey key;
  s.columnText(9, key.source);
  s.columnText(10, key.conversation_id);
  s.columnText(11, key.question_id);
  r.turn = std::move(key);
}

// An insert, or an update that changes something: an identical delivery changes no row
// (changes() == 0), which is how duplicates are told apart. A stored answered_at is
// never cleared by a delivery without one.
constexpr std::string_view kUpsertEscalation =
    "INSERT INTO escalations (source, id, account, question_ref, requested_at_ms, answered_at_ms, "
    "requested_by, relay, route) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
    "ON CONFLICT (source, id) DO UPDATE SET account = excluded.account, question_ref = "
    "excluded.question_ref, "
    "requested_at_ms = excluded.requested_at_ms, "
    "answered_at_ms = COALESCE(excluded.answered_at_ms, escalations.answered_at_ms), "
    "requested_by = excluded.requested_by, relay = excluded.relay, route = excluded.route "
    "WHERE escalations.account IS NOT excluded.account OR escalations.question_ref IS NOT "
    "excluded.question_ref "
    "OR escalations.requested_at_ms IS NOT excluded.requested_at_ms "
    "OR (excluded.answered_at_ms IS NOT NULL AND escalations.answered_at_ms IS NOT excluded.answered_at_ms) "
    "OR escalations.requested_by IS NOT excluded.requested_by OR escalations.relay IS NOT excluded.relay "
    "OR escalations.route IS NOT excluded.route";

// The sources present in `messages`, one index probe each (a skip scan of the primary
// key), so that a message id is looked up through the primary key of every source.
#define RW_MESSAGE_SOURCES                                                         \
  "WITH RECURSIVE src(s) AS (SELECT (SELECT MIN(source) FROM messages) UNION ALL " \
  "SELECT (SELECT MIN(source) FROM messages WHERE source > src.s) FROM src WHERE src.s IS NOT NULL) "

// ?1 account, ?2 ref: the message of that account whose id is ref.
constexpr std::string_view kFindRefMessage = RW_MESSAGE_SOURCES
    "SELECT m.source, m.conversation_id, m.created_at_ms FROM src CROSS JOIN messages AS m "
    "ON m.source = src.s AND m.id = ?2 WHERE m.account = ?1 ORDER BY m.source LIMIT 1";
// ?1 account, ?2 ref: a conversation of that account whose id is ref.
constexpr std::string_view kFindRefConversation = RW_MESSAGE_SOURCES
    "SELECT m.source FROM src CROSS JOIN messages AS m "
    "ON m.source = src.s AND m.conversation_id = ?2 WHERE m.account = ?1 ORDER BY m.source LIMIT 1";
#undef RW_MESSAGE_SOURCES

// ?1 source, ?2 id: sets the link of one record (?3 kind, ?4 link source, ?5 link
// conversation, ?6 link instant; NULLs for "not found").
constexpr std::string_view kSetLink =
    "UPDATE escalations SET link_kind = ?3, link_source = ?4, link_conversation_id = ?5, link_at_ms = ?6 "
    "WHERE source = ?1 AND id = ?2";
// A new message (?1 account, ?2 id, ?3 source, ?4 conversation, ?5 created_at) links the
// records that name it, replacing conversation links.
constexpr std::string_view kLinkByMessage =
    "UPDATE escalations SET link_kind = 2, link_source = ?3, link_conversation_id = ?4, link_at_ms = ?5 "
    "WHERE account = ?1 AND question_ref = ?2 AND link_kind < 2 RETURNING source, id";
// A new message's conversation (?1 account, ?2 conversation id, ?3 source) links the
// records that name it and are not linked yet.
constexpr std::string_view kLinkByConversation =
    "UPDATE escalations SET link_kind = 1, link_source = ?3, link_conversation_id = ?2, "
    "link_at_ms = requested_at_ms WHERE account = ?1 AND question_ref = ?2 AND link_kind = 0 "
    "RETURNING source, id";

// The turn containing a record's link instant: the latest turn asked at or before it,
// else the conversation's earliest turn; NULL when unlinked or the conversation has none.
#define RW_LINKED_TURN                                                                                \
  "COALESCE((SELECT t.question_id FROM turns AS t WHERE t.source = escalations.link_source AND "      \
  "t.conversation_id = escalations.link_conversation_id AND t.asked_at_ms <= escalations.link_at_ms " \
  "ORDER BY t.asked_at_ms DESC, t.question_id LIMIT 1), "                                             \
  "(SELECT t.question_id FROM turns AS t WHERE t.source = escalations.link_source AND "               \
  "t.conversation_id = escalations.link_conversation_id ORDER BY t.asked_at_ms, t.question_id LIMIT 1))"
constexpr std::string_view kRelinkRecord =
    "UPDATE escalations SET turn_question_id = " RW_LINKED_TURN " WHERE source = ?1 AND id = ?2";
constexpr std::string_view kRelinkConversation =
    "UPDATE escalations SET turn_question_id = " RW_LINKED_TURN
    " WHERE link_source = ?1 AND link_conversation_id = ?2 RETURNING source, id";
#undef RW_LINKED_TURN

// Error for a failed call on `db`, with SQLite's message for that connection.
Error dbError(Database& db, int rc, std::string_view what) {
  return sqliteError(rc, what, db.path(), db.lastErrorMessage());
}

// Error for a failed call inside a write transaction: captures the message, then rolls
// back so that nothing of the transaction remains.
Error abortTransaction(Database& db, int rc, std::string_view what) {
  Error error = dbError(db, rc, what);
  db.rollbackIfOpen();
  return error;
}

Error versionTooNew(const std::filesystem::path& path, std::int64_t version) {
  return makeError("store", "store " + path.string() + " has schema version " + std::to_string(version) +
                                ", newer than the highest this replywatch knows (" +
                                std::to_string(kLatestVersion) + "); upgrade replywatch to use it");
}

// Applies the pending migration steps to `db` (a read-write connection).
Result<int> migrate(Database& db) {
  std::int64_t version = 0;
  int rc = db.queryInt("PRAGMA user_version", version);
  if (rc != SQLITE_OK) return dbError(db, rc, "cannot read the schema version of store");
  if (version > kLatestVersion) return versionTooNew(db.path(), version);

  for (const Migration& step : kMigrations) {
    if (step.version <= version) continue;
    rc = db.exec("BEGIN IMMEDIATE");
    if (rc != SQLITE_OK) return abortTransaction(db, rc, "cannot migrate store");
    // Another process may have migrated the file since the first read.
    std::int64_t current = 0;
    rc = db.queryInt("PRAGMA user_version", current);
    if (rc != SQLITE_OK) return abortTransaction(db, rc, "cannot read the schema version of store");
    if (current > kLatestVersion) {
      db.rollbackIfOpen();
      return versionTooNew(db.path(), current);
    }
    if (current >= step.version) {
      db.rollbackIfOpen();
      version = current;
      continue;
    }
    rc = db.exec(step.sql);
    if (rc != SQLITE_OK) {
      return abortTransaction(db, rc, "cannot apply migration " + std::to_string(step.version) + " to store");
    }
    Statement* record =
        db.prepare("INSERT INTO schema_version (version, description, applied_at_ms) VALUES (?1, ?2, ?3)");
    if (record == nullptr) return abortTransaction(db, db.lastErrorCode(), "cannot migrate store");
    {
      ResetGuard guard(*record);
      record->bind(1, std::int64_t{step.version});
      record->bind(2, std::string_view(step.description));
      record->bind(3, nowMillis());
      rc = record->step();
    }
    if (rc != SQLITE_DONE) return abortTransaction(db, rc, "cannot migrate store");
    const std::string bump = "PRAGMA user_version = " + std::to_string(step.version);
    rc = db.exec(bump.c_str());
    if (rc == SQLITE_OK) rc = db.exec("COMMIT");
    if (rc != SQLITE_OK) return abortTransaction(db, rc, "cannot migrate store");
    version = step.version;
  }
  return static_cast<int>(version);
}

Result<void> configureReader(Database& db);

class SqliteStore final : public Store {
 public:
  SqliteStore(std::unique_ptr<Database> write, std::unique_ptr<Database> read, int version)
      : write_(std::move(write)), read_(std::move(read)), version_(version) {}
  ~SqliteStore() override { stopApplying(); }
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  // Commits through `log` from now on (OpenOptions::commit_log) and starts the thread
  // applying it. Called once, before the store is shared.
  // Holds the store's lock (commit_log.h) until the store is closed, for a read-write
  // open without the commit log.
  void keepLogLock(CommitLogLock lock) { log_lock_ = std::move(lock); }

  void startCommitLog(std::unique_ptr<CommitLog> log, CommitLogLock lock, std::filesystem::path dir,
                      const OpenOptions& options, bool has_escalations) {
    log_ = std::move(log);
    log_lock_ = std::move(lock);
    log_dir_ = std::move(dir);
    apply_delay_ = options.apply_delay;
    max_unapplied_messages_ = std::max<std::size_t>(1, options.max_unapplied_messages);
    has_escalations_ = has_escalations;
    applied_lsn_ = logged_lsn_ = log_->lastLsn();
    applier_ = std::thread([this] { applyLoop(); });
  }

  // What applyRecords() did: records applied, and of them, those whose messages were
  // already stored and kept as such.
  struct Replayed {
    std::size_t applied = 0;
    std::size_t tolerated = 0;
  };
  // Applies logged batches to `db` in one transaction that also records the last LSN,
  // the way they were applied when logged. The caller holds the store's lock
  // exclusively, and the records follow the LSN the database records: a recorded LSN at
  // or beyond the first record is an inconsistency, an Error (with `*ahead` set): another
  // process applied records of another log to the store, and skipping these would lose
  // them. Should one be refused because a message it stores is there already (stored
  // meanwhile by something that does not take the store's lock), the records are applied
  // again one by one and that batch's messages already stored are kept as they are.
  static Result<Replayed> applyRecords(Database& db, const std::vector<LogRecord>& records,
                                       bool* ahead = nullptr) {
    auto attempt = [&db, &records, ahead](bool one_by_one) -> Result<Replayed> {
      constexpr std::string_view kWhat = "cannot apply the commit log to store";
      int rc = db.exec("BEGIN IMMEDIATE");
      if (rc != SQLITE_OK) return abortTransaction(db, rc, kWhat);
      std::int64_t stored_lsn = 0;
      if (rc = db.queryInt("SELECT lsn FROM commit_log_applied", stored_lsn); rc != SQLITE_OK)
        return abortTransaction(db, rc, kWhat);
      const auto applied_before = static_cast<std::uint64_t>(stored_lsn);
      if (applied_before >= records.front().lsn) {
        db.rollbackIfOpen();
        if (ahead != nullptr) *ahead = true;
        return makeError(
            "store",
            fmt::format("store {} records commit log record {} as applied, at or beyond record {} "
                        "of the log of this process, which holds the store's lock: another process "
                        "wrote the store through a log of its own; records {} to {} stay in the log, "
                        "unapplied",
                        db.path().string(), applied_before, records.front().lsn, records.front().lsn,
                        records.back().lsn));
      }
      if (records.front().lsn != applied_before + 1) {
        db.rollbackIfOpen();
        return makeError("store", "commit log record " + std::to_string(applied_before + 1) +
                                      " is missing (next: " + std::to_string(records.front().lsn) + ")");
      }
      std::size_t tolerated = 0;
      for (const LogRecord& record : records) {
        auto batch = decodeBatch(record.payload);
        if (!batch.ok()) {
          db.rollbackIfOpen();
          return makeError("store",
                           "commit log record " + std::to_string(record.lsn) + ": " + batch.error().message);
        }
        if (one_by_one && (rc = db.exec("SAVEPOINT rw_record")) != SQLITE_OK)
          return abortTransaction(db, rc, kWhat);
        auto written = writeBatch(db, batch.value(), /*logged=*/true);
        if (!written.ok() && one_by_one && written.error().reason == kDuplicateMessageReason) {
          (void)db.exec("ROLLBACK TO rw_record");
          batch.value().require_new_messages = false;
          written = writeBatch(db, batch.value(), /*logged=*/true);
          ++tolerated;
        }
        if (!written.ok()) {
          db.rollbackIfOpen();
          return written.error();
        }
        if (one_by_one && (rc = db.exec("RELEASE rw_record")) != SQLITE_OK)
          return abortTransaction(db, rc, kWhat);
      }
      Statement* position = db.prepare("UPDATE commit_log_applied SET lsn = ?1");
      if (position == nullptr) return abortTransaction(db, db.lastErrorCode(), kWhat);
      {
        ResetGuard guard(*position);
        position->bind(1, static_cast<std::int64_t>(records.back().lsn));
        rc = position->step();
      }
      if (rc != SQLITE_DONE) return abortTransaction(db, rc, kWhat);
      rc = db.exec("COMMIT");
      if (rc != SQLITE_OK) return abortTransaction(db, rc, kWhat);
      return Replayed{records.size(), tolerated};
    };
    if (records.empty()) return Replayed{};
    auto applied = attempt(false);
    if (!applied.ok() && applied.error().reason == kDuplicateMessageReason) applied = attempt(true);
    return applied;
  }
  // Checkpoints of the write-ahead log on their own thread, off the commits. Called once,
  // before the store is shared.
  Result<void> startCheckpointer(const std::filesystem::path& path) {
    auto started = WalCheckpointer::start(path, *write_, write_mutex_);
    if (!started.ok()) return started.error();
    checkpointer_ = std::move(started.value());
    return {};
  }

  Result<CommitOutcome> commit(const WriteBatch& batch) override {
    if (!write_) return readOnlyError("cannot commit to");
    if (batch.messages.empty() && batch.upsert_turns.empty() && batch.delete_turns.empty() &&
        batch.escalations.empty() && batch.cursors.empty()) {
      return CommitOutcome{};
    }
    if (log_ && !bulk_) return commitLogged(batch);
    return commitNow(batch);
  }

  Result<BulkLoadStart> beginBulkLoad() override {
    if (!write_) return readOnlyError("cannot load into");
    // Commits of the load bypass the log: the batches logged before come first.
    std::unique_lock<std::mutex> commit_lock;
    if (log_) {
      commit_lock = std::unique_lock(commit_mutex_);
      if (auto drained = drain(); !drained.ok()) return drained.error();
    }
    return beginBulkLoadNow();
  }

 private:
  // One SQLite transaction (or savepoint of the bulk load) for the batch.
  Result<CommitOutcome> commitNow(const WriteBatch& batch) {
    std::lock_guard lock(write_mutex_);
    Database& db = *write_;
    constexpr std::string_view kWhat = "cannot commit to store";
    if (bulk_) {
      // Inside the bulk load's transaction: a savepoint undoes a failed batch alone.
      int rc = db.exec("SAVEPOINT rw_batch");
      if (rc != SQLITE_OK) return dbError(db, rc, kWhat);
      auto written = writeBatch(db, batch);
      if (!written.ok()) {
        (void)db.exec("ROLLBACK TO rw_batch");
        (void)db.exec("RELEASE rw_batch");
        return written;
      }
      rc = db.exec("RELEASE rw_batch");
      if (rc != SQLITE_OK) return dbError(db, rc, kWhat);
      return written;
    }
    int rc = db.exec("BEGIN IMMEDIATE");
    if (rc != SQLITE_OK) return abortTransaction(db, rc, kWhat);
    auto written = writeBatch(db, batch);
    if (!written.ok()) {
      db.rollbackIfOpen();
      return written;
    }
    rc = db.exec("COMMIT");
    if (rc != SQLITE_OK) return abortTransaction(db, rc, kWhat);
    return written;
  }

  Result<BulkLoadStart> beginBulkLoadNow() {
    std::lock_guard lock(write_mutex_);
    if (bulk_) return BulkLoadStart{};
    Database& db = *write_;
    // Reads go to the write connection from now on (they wait for write_mutex_).
    bulk_ = true;
    auto started = startBulkTransaction(db);
    if (!started.ok()) {
      deferred_turn_indexes_ = false;
      deferred_conversation_index_ = false;
      if (rollback_journal_) (void)leaveRollbackJournal(db);
      bulk_ = false;
      return started.error();
    }
    return BulkLoadStart{.into_empty_store = deferred_conversation_index_};
  }

  // --- the commit log ------------------------------------------------------------------

  // A logged batch waiting for the applying thread.
  struct Pending {
    std::uint64_t lsn = 0;
    std::string payload;
    std::size_t messages = 0;
    std::vector<std::string> ids;            // key(source, id) of its messages
    std::vector<std::string> conversations;  // key(source, conversation_id) of its messages
  };

  static std::string key(std::string_view a, std::string_view b) {
    std::string k;
    k.reserve(a.size() + 1 + b.size());
    k.append(a).push_back('\0');
    k.append(b);
    return k;
  }

  Result<CommitOutcome> commitLogged(const WriteBatch& batch) {
    std::lock_guard commit_lock(commit_mutex_);
    {
      // Nothing is acknowledged that no round would apply.
      std::lock_guard lock(pending_mutex_);
      if (applier_done_)
        return apply_error_ ? *apply_error_ : makeError("store", "the store stopped applying its commit log");
    }
    // What the log cannot answer without applying: escalation links (computed from what
    // is stored) and how many messages of a batch that may hold stored ones are new.
    bool direct = !batch.escalations.empty() || (!batch.messages.empty() && !batch.require_new_messages);
    if (!direct && has_escalations_) {
      auto linking = mayChangeEscalations(batch);
      if (!linking.ok()) return linking.error();
      direct = linking.value();
    }
    if (direct) {
      if (auto drained = drain(); !drained.ok()) return drained.error();
      auto committed = commitNow(batch);
      if (committed.ok() && !batch.escalations.empty()) has_escalations_ = true;
      return committed;
    }
    std::vector<std::string> ids;
    ids.reserve(batch.messages.size());
    for (const MessageRecord& m : batch.messages) ids.push_back(key(m.source, m.id));
    if (!ids.empty()) {
      auto fresh = allNew(batch.messages, ids);
      if (!fresh.ok()) return fresh.error();
      if (!fresh.value()) {
        return makeError(std::string(kDuplicateMessageReason),
                         "a message of the batch is already stored (same source and id)");
      }
    }
    if (auto room = waitForRoom(); !room.ok()) return room.error();
    std::string payload;
    encodeBatch(batch, payload);
    auto lsn = log_->append(payload);
    if (!lsn.ok()) return lsn.error();
    {
      std::lock_guard lock(pending_mutex_);
      Pending& p = pending_.emplace_back();
      p.lsn = lsn.value();
      p.payload = std::move(payload);
      p.messages = batch.messages.size();
      for (const std::string& id : ids) pending_ids_.insert(id);
      p.ids = std::move(ids);
      p.conversations.reserve(batch.messages.size());
      for (const MessageRecord& m : batch.messages) {
        std::string conversation = key(m.source, m.conversation_id);
        ++pending_conversations_[conversation];
        p.conversations.push_back(std::move(conversation));
      }
      unapplied_messages_ += p.messages;
      logged_lsn_ = p.lsn;
    }
    pending_cv_.notify_one();
    CommitOutcome outcome;
    outcome.messages_inserted = batch.messages.size();
    return outcome;
  }

  // Whether none of `messages` (keys in `ids`) is there twice, logged or stored:
  // contains() per source for the last two.
  Result<bool> allNew(const std::vector<MessageRecord>& messages, const std::vector<std::string>& ids) {
    std::unordered_set<std::string_view> seen;
    seen.reserve(ids.size());
    for (const std::string& id : ids) {
      if (!seen.insert(id).second) return false;
    }
    std::map<std::string_view, std::vector<std::string>> by_source;
    for (const MessageRecord& m : messages) by_source[m.source].push_back(m.id);
    for (const auto& [source, source_ids] : by_source) {
      auto found = contains(std::string(source), source_ids);
      if (!found.ok()) return found.error();
      if (std::find(found->begin(), found->end(), true) != found->end()) return false;
    }
    return true;
  }

  // Whether committing `batch`, which holds no escalation record, may change a stored
  // one (changesEscalations(), on the read connection). Escalation records only change
  // in direct commits, which apply the log first, under commit_mutex_ (held by the
  // caller): a batch logged because nothing names it changes none when applied.
  Result<bool> mayChangeEscalations(const WriteBatch& batch) {
    if (batch.messages.empty() && batch.upsert_turns.empty() && batch.delete_turns.empty()) return false;
    ReadAccess access = reading();
    Database& db = *access.db;
    if (access.bulk) return changesEscalations(db, batch);
    const int rc = db.exec("BEGIN");  // one read transaction for every look-up
    if (rc != SQLITE_OK) return dbError(db, rc, "cannot read store");
    auto changes = changesEscalations(db, batch);
    db.rollbackIfOpen();
    return changes;
  }

  // Waits while too many logged messages are not applied yet (5 s at most).
  Result<void> waitForRoom() {
    std::unique_lock lock(pending_mutex_);
    auto roomy = [this] { return unapplied_messages_ < max_unapplied_messages_ || applier_done_; };
    if (roomy()) return {};
    drain_requested_ = true;
    spare_interrupted_ = true;
    pending_cv_.notify_one();
    applied_cv_.wait_for(lock, std::chrono::seconds(5), roomy);
    if (unapplied_messages_ < max_unapplied_messages_) return {};
    if (apply_error_) return *apply_error_;
    return makeError("store", "the store is behind: " + std::to_string(unapplied_messages_) +
                                  " logged messages are not applied yet");
  }

  // Returns once every batch logged before the call is applied, or with the error of
  // the applying round that failed meanwhile.
  Result<void> drain() {
    if (!log_) return {};
    std::unique_lock lock(pending_mutex_);
    const std::uint64_t target = logged_lsn_;
    if (applied_lsn_ >= target) return {};
    const std::uint64_t failed_before = failed_rounds_;
    drain_requested_ = true;
    spare_interrupted_ = true;
    pending_cv_.notify_one();
    applied_cv_.wait(
        lock, [&] { return applied_lsn_ >= target || failed_rounds_ != failed_before || applier_done_; });
    if (applied_lsn_ >= target) return {};
    if (apply_error_) return *apply_error_;
    return makeError("store", "the store stopped applying its commit log");
  }

  bool conversationPending(const ConversationKey& k) {
    if (!log_) return false;
    std::lock_guard lock(pending_mutex_);
    return pending_conversations_.contains(key(k.source, k.conversation_id));
  }

  void applyLoop() {
    nameThisThread("store-apply");
    // Applying can wait: acknowledging deliveries comes first when the cores are busy.
    (void)lowerThisThreadPriority(kBackgroundNiceIncrement);
    constexpr auto kFirstBackoff = std::chrono::milliseconds(100);
    auto backoff = kFirstBackoff;
    bool spare_failing = false;  // warned once until a spare is written again
    std::vector<LogRecord> round;
    std::unique_lock lock(pending_mutex_);
    for (;;) {
      pending_cv_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
      if (pending_.empty()) break;  // stopping, everything applied
      if (!stopping_ && !drain_requested_) {
        // Gather: larger rounds dirty each B-tree page once for more batches.
        pending_cv_.wait_for(lock, apply_delay_, [this] {
          return stopping_ || drain_requested_ || unapplied_messages_ >= max_unapplied_messages_ / 2;
        });
      }
      drain_requested_ = false;
      round.clear();
      round.reserve(pending_.size());
      for (const Pending& p : pending_) round.push_back(LogRecord{p.lsn, p.payload});
      lock.unlock();
      Result<Replayed> applied = Replayed{};
      bool ahead = false;
      {
        std::lock_guard write_lock(write_mutex_);
        applied = applyRecords(*write_, round, &ahead);
      }
      lock.lock();
      if (!applied.ok() && ahead) {
        // No later round can apply them: nothing more is acknowledged, and the records
        // stay in the log for an operator.
        apply_error_ = applied.error();
        ++failed_rounds_;
        spdlog::error(
            "the store cannot apply its commit log, no further batch is accepted batches={} error={}",
            round.size(), applied.error().message);
        break;
      }
      if (!applied.ok()) {
        apply_error_ = applied.error();
        ++failed_rounds_;
        applied_cv_.notify_all();
        spdlog::warn("cannot apply the commit log to the store, retrying batches={} error={}", round.size(),
                     applied.error().message);
        if (stopping_) break;  // left in the log for the next open
        pending_cv_.wait_for(lock, backoff, [this] { return stopping_; });
        backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(2));
        continue;
      }
      if (applied.value().tolerated > 0) {
        spdlog::warn("messages already stored by another writer were kept as stored batches={}",
                     applied.value().tolerated);
      }
      backoff = kFirstBackoff;
      apply_error_.reset();
      ++applied_rounds_;
      for (std::size_t i = 0; i < round.size(); ++i) {
        Pending& p = pending_.front();
        for (const std::string& id : p.ids) pending_ids_.erase(id);
        for (const std::string& c : p.conversations) {
          auto it = pending_conversations_.find(c);
          if (it != pending_conversations_.end() && --it->second == 0) pending_conversations_.erase(it);
        }
        unapplied_messages_ -= p.messages;
        pending_.pop_front();
      }
      applied_lsn_ = round.back().lsn;
      applied_cv_.notify_all();
      const std::uint64_t applied_lsn = applied_lsn_;
      spare_interrupted_ = stopping_ || drain_requested_;
      lock.unlock();
      std::vector<std::filesystem::path> applied_segments;
      bool segment_waiting = true;  // a closed segment not applied yet: recycled later
      {
        // The log is the committers'; a segment left now goes at the next round.
        std::unique_lock commit_lock(commit_mutex_, std::try_to_lock);
        if (commit_lock) {
          applied_segments = log_->takeApplied(applied_lsn);
          segment_waiting = log_->segments() > 1;
        }
      }
      // Off the committers' path: the applied segment becomes the next one or, when
      // none is to come, the next segment's zeros are written. A drain or the close
      // does not wait for those: they are dropped and written later.
      log_->recycle(std::move(applied_segments));
      if (auto spare = segment_waiting ? Result<void>{}
                                       : log_->prepareSpare([this] { return spare_interrupted_.load(); });
          !spare.ok()) {
        if (!spare_failing) {
          spdlog::warn("cannot prepare the next commit log segment error={}", spare.error().message);
        }
        spare_failing = true;
      } else {
        spare_failing = false;
      }
      lock.lock();
    }
    applier_done_ = true;
    applied_cv_.notify_all();
  }

  // Applies what is logged, stops the thread and, when nothing is left to apply,
  // removes the log (the next open has nothing to do).
  void stopApplying() {
    if (!applier_.joinable()) return;
    {
      std::lock_guard lock(pending_mutex_);
      stopping_ = true;
      spare_interrupted_ = true;
    }
    pending_cv_.notify_all();
    applier_.join();
    bool all_applied = false;
    {
      std::lock_guard lock(pending_mutex_);
      all_applied = pending_.empty();
    }
    if (all_applied) {
      log_.reset();
      if (auto removed = CommitLog::removeAll(log_dir_); !removed.ok()) {
        spdlog::warn("cannot remove the applied commit log error={}", removed.error().message);
      }
    }
  }

 public:
  Result<void> endBulkLoad() override {
    if (!write_) return readOnlyError("cannot load into");
    std::lock_guard lock(write_mutex_);
    if (!bulk_) return {};
    Database& db = *write_;
    constexpr std::string_view kWhat = "cannot commit the bulk load to store";
    int rc = SQLITE_OK;
    if (deferred_turn_indexes_ || deferred_conversation_index_) {
      // The index builds sort on a second thread too.
      (void)db.exec("PRAGMA threads = 2");
      if (deferred_turn_indexes_) rc = db.exec(kCreateTurnIndexes);
      if (deferred_conversation_index_ && rc == SQLITE_OK) rc = db.exec(kCreateConversationIndex);
      deferred_turn_indexes_ = false;
      deferred_conversation_index_ = false;
      (void)db.exec("PRAGMA threads = 0");
    }
    // synchronous=FULL: the commit syncs the write-ahead log, the whole load with it.
    // In a rollback journal (synchronous=EXTRA), it syncs the database file, then
    // deletes the journal and syncs its directory.
    if (rc == SQLITE_OK) rc = db.exec("COMMIT");
    if (rc != SQLITE_OK) {
      Error error = abortTransaction(db, rc, kWhat);
      if (rollback_journal_) (void)leaveRollbackJournal(db);
      bulk_ = false;
      return error;
    }
    if (rollback_journal_) {
      // Durable already: nothing in a log to copy.
      auto left = leaveRollbackJournal(db);
      bulk_ = false;
      if (!left.ok()) {
        return makeError(left.error().reason, "the load is stored, but " + left.error().message);
      }
      return {};
    }
    bulk_ = false;
    // Copy the load from the log into the database file now, and empty the log. Already
    // durable, so a checkpoint that cannot complete (a reader) is left to a later one.
    std::int64_t busy = 0;
    (void)db.queryInt("PRAGMA wal_checkpoint(TRUNCATE)", busy);
    return {};
  }

  Result<void> abortBulkLoad() override {
    if (!write_) return readOnlyError("cannot load into");
    std::lock_guard lock(write_mutex_);
    if (!bulk_) return {};
    Database& db = *write_;
    // The indexes dropped for the load were dropped in its transaction: they come back.
    db.rollbackIfOpen();
    deferred_turn_indexes_ = false;
    deferred_conversation_index_ = false;
    Result<void> left;
    if (rollback_journal_) left = leaveRollbackJournal(db);
    bulk_ = false;
    return left;
  }

  Result<std::vector<bool>> contains(const std::string& source,
                                     const std::vector<std::string>& ids) override {
    // Logged ids first: one applied in between is then in the file.
    std::vector<bool> logged(ids.size(), false);
    if (log_) {
      std::lock_guard lock(pending_mutex_);
      for (std::size_t i = 0; i < ids.size(); ++i) logged[i] = pending_ids_.contains(key(source, ids[i]));
    }
    auto found = containsStored(source, ids);
    if (!found.ok()) return found;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (logged[i]) found.value()[i] = true;
    }
    return found;
  }

  Result<std::vector<bool>> containsStored(const std::string& source, const std::vector<std::string>& ids) {
    ReadAccess access = reading();
    Database& db = *access.db;
    constexpr std::string_view kWhat = "cannot read store";
    Statement* s = db.prepare("SELECT 1 FROM messages WHERE source = ?1 AND id = ?2");
    if (s == nullptr) return dbError(db, db.lastErrorCode(), kWhat);
    // One read transaction for the whole lookup: one snapshot, one lock acquisition.
    int rc = access.bulk ? SQLITE_OK : db.exec("BEGIN");
    if (rc != SQLITE_OK) return dbError(db, rc, kWhat);
    std::vector<bool> found(ids.size(), false);
    ResetGuard guard(*s);
    s->bind(1, source);
    for (std::size_t i = 0; i < ids.size(); ++i) {
      s->bind(2, ids[i]);
      rc = s->step();
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        Error error = dbError(db, rc, kWhat);
        s->reset();
        if (!access.bulk) db.rollbackIfOpen();
        return error;
      }
      found[i] = rc == SQLITE_ROW;
      s->reset();
    }
    if (!access.bulk) db.rollbackIfOpen();  // ends the read transaction
    return found;
  }

  Result<std::vector<std::optional<MessagePlace>>> messagePlaces(
      const std::string& source, const std::vector<std::string>& ids) override {
    if (auto caught_up = catchUp(); !caught_up.ok()) return caught_up.error();
    ReadAccess access = reading();
    Database& db = *access.db;
    constexpr std::string_view kWhat = "cannot read store";
    std::vector<std::optional<MessagePlace>> places(ids.size());
    if (ids.empty()) return places;
    Statement* any = db.prepare("SELECT 1 FROM messages WHERE source = ?1 LIMIT 1");
    Statement* s = db.prepare("SELECT conversation_id, account FROM messages WHERE source = ?1 AND id = ?2");
    if (any == nullptr || s == nullptr) return dbError(db, db.lastErrorCode(), kWhat);
    // One read transaction for the whole lookup: one snapshot, one lock acquisition.
    int rc = access.bulk ? SQLITE_OK : db.exec("BEGIN");
    if (rc != SQLITE_OK) return dbError(db, rc, kWhat);
    auto fail = [&](int code) {
      Error error = dbError(db, code, kWhat);
      if (!access.bulk) db.rollbackIfOpen();
      return error;
    };
    {
      // No message of the source (a first import): nothing to look up one by one.
      ResetGuard guard(*any);
      any->bind(1, source);
      rc = any->step();
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fail(rc);
    }
    if (rc == SQLITE_ROW) {
      ResetGuard guard(*s);
      s->bind(1, source);
      for (std::size_t i = 0; i < ids.size(); ++i) {
        s->bind(2, ids[i]);
        rc = s->step();
        if (rc == SQLITE_ROW) {
          MessagePlace& place = places[i].emplace();
          s->columnText(0, place.conversation_id);
          s->columnText(1, place.account);
        } else if (rc != SQLITE_DONE) {
          s->reset();
          return fail(rc);
        }
        s->reset();
      }
    }
    if (!access.bulk) db.rollbackIfOpen();  // ends the read transaction
    return places;
  }

  Result<std::vector<MessageRecord>> conversation(const ConversationKey& key) override {
    static const std::string sql = std::string("SELECT ") + kMessageColumns +
                                   " FROM messages WHERE source = ?1 AND conversation_id = ?2"
                                   " ORDER BY created_at_ms, id";
    return readConversation(key, sql, [](Database& db, Statement& s) { return collectMessages(db, s); });
  }

  Result<std::vector<Turn>> conversationTurns(const ConversationKey& key) override {
    static const std::string sql = std::string("SELECT ") + std::string(kTurnColumns) +
                                   " FROM turns WHERE source = ?1 AND conversation_id = ?2"
                                   " ORDER BY asked_at_ms, question_id";
    return readConversation(key, sql, [](Database& db, Statement& s) -> Result<std::vector<Turn>> {
      std::vector<Turn> out;
      int rc;
      while ((rc = s.step()) == SQLITE_ROW) readTurn(s, out.emplace_back());
      if (rc != SQLITE_DONE) return dbError(db, rc, "cannot read store");
      return out;
    });
  }

  // Runs `sql`, with the conversation's source and id as ?1 and ?2, and returns what
  // `collect(db, statement)` reads of it. The tracker's loads wait for the log only when
  // this conversation is in it.
  template <typename Collect>
  auto readConversation(const ConversationKey& key, const std::string& sql, Collect collect)
      -> decltype(collect(std::declval<Database&>(), std::declval<Statement&>())) {
    if (conversationPending(key)) {
      if (auto caught_up = catchUp(); !caught_up.ok()) return caught_up.error();
    }
    ReadAccess access = reading();
    Database& db = *access.db;
    Statement* s = db.prepare(sql);
    if (s == nullptr) return dbError(db, db.lastErrorCode(), "cannot read store");
    ResetGuard guard(*s);
    s->bind(1, key.source);
    s->bind(2, key.conversation_id);
    return collect(db, *s);
  }

  Result<std::vector<MessageRecord>> openConversationMessages() override {
    static const std::string sql =
        std::string("SELECT ") + prefixed("m.", kMessageColumns) +
        " FROM (SELECT DISTINCT source, conversation_id FROM turns WHERE answered_at_ms IS NULL) AS o"
        // CROSS JOIN keeps the open conversations as the outer loop: an index probe per
        // open conversation instead of a scan of every stored message.
        " CROSS JOIN messages AS m ON m.source = o.source AND m.conversation_id = o.conversation_id"
        " ORDER BY m.source, m.conversation_id, m.created_at_ms, m.id";
    if (auto caught_up = catchUp(); !caught_up.ok()) return caught_up.error();
    ReadAccess access = reading();
    Database& db = *access.db;
    Statement* s = db.prepare(sql);
    if (s == nullptr) return dbError(db, db.lastErrorCode(), "cannot read store");
    ResetGuard guard(*s);
    return collectMessages(db, *s);
  }

  Result<std::vector<Turn>> turns(const TurnQuery& query) override {
    if (auto caught_up = catchUp(); !caught_up.ok()) return caught_up.error();
    ReadAccess access = reading();
    Database& db = *access.db;
    if (query.account) return readTurns(db, query, {*query.account});
    // Every account: the accounts first, then their turns, in one read transaction.
    if (!access.bulk) {
      const int rc = db.exec("BEGIN");
      if (rc != SQLITE_OK) return dbError(db, rc, "cannot read store");
    }
    auto accounts = turnAccounts(db);
    auto out =
        accounts.ok() ? readTurns(db, query, accounts.value()) : Result<std::vector<Turn>>(accounts.error());
    if (!access.bulk) db.rollbackIfOpen();
    return out;
  }

  // Every account that has a turn, in order: one index probe per account.
  static Result<std::vector<std::string>> turnAccounts(Database& db) {
    Statement* s = db.prepare(
        "WITH RECURSIVE a(account) AS ("
        "SELECT (SELECT min(account) FROM turns) UNION ALL "
        "SELECT (SELECT min(account) FROM turns WHERE account > a.account) FROM a "
        "WHERE a.account IS NOT NULL) "
        "SELECT account FROM a WHERE account IS NOT NULL");
    if (s == nullptr) return dbError(db, db.lastErrorCode(), "cannot read store");
    ResetGuard guard(*s);
    std::vector<std::string> out;
    int rc;
    while ((rc = s->step()) == SQLITE_ROW) s->columnText(0, out.emplace_back());
    if (rc != SQLITE_DONE) return dbError(db, rc, "cannot read store");
    return out;
  }

  // The turns of `accounts` matching the query's window and limit, in turns() order.
  // Each account's range of turns_by_account_asked_at is already in that order (its
  // entries end with the primary key), so a few accounts are read as one UNION ALL,
  // which SQLite merges range by range and stops at the limit; more accounts than
  // kMaxMergedAccounts are read with one IN list and sorted (the limit bounds the sort).
  static Result<std::vector<Turn>> readTurns(Database& db, const TurnQuery& query,
                                             const std::vector<std::string>& accounts) {
    constexpr std::size_t kMaxMergedAccounts = 64;
    if (accounts.empty()) return std::vector<Turn>{};
    // Parameters: ?1..?n the accounts, then the window's bounds, the limit and the
    // position to start after.
    const int since = static_cast<int>(accounts.size()) + 1;
    const int until = since + 1;
    const int limit = since + 2;
    const int after = since + 3;  // asked_at; source, conversation and question id follow
    std::string window;
    if (query.since) window.append(" AND asked_at_ms >= ?").append(std::to_string(since));
    if (query.until) window.append(" AND asked_at_ms < ?").append(std::to_string(until));
    if (query.after) {
      // The first comparison alone bounds the index range; the row value then skips the
      // turns of the same instant up to the position.
      const auto p = [&](int i) { return "?" + std::to_string(after + i); };
      window.append(" AND asked_at_ms >= ").append(p(0));
      window.append(" AND (asked_at_ms, source, conversation_id, question_id) > (")
          .append(p(0) + ", " + p(1) + ", " + p(2) + ", " + p(3) + ")");
    }
    std::string sql;
    const bool merged = accounts.size() <= kMaxMergedAccounts;
    for (std::size_t i = 0; i < (merged ? accounts.size() : 1); ++i) {
      if (i > 0) sql.append(" UNION ALL ");
      sql.append("SELECT ").append(kTurnColumns).append(" FROM turns WHERE account ");
      if (merged) {
        sql.append("= ?").append(std::to_string(i + 1));
      } else {
        sql.append("IN (");
        for (std::size_t j = 0; j < accounts.size(); ++j)
          sql.append(j == 0 ? "?" : ", ?").append(std::to_string(j + 1));
        sql.append(")");
      }
      sql.append(window);
    }
    sql.append(" ORDER BY asked_at_ms, source, conversation_id, question_id LIMIT ?")
        .append(std::to_string(limit));

    Statement* s = db.prepare(sql);
    if (s == nullptr) return dbError(db, db.lastErrorCode(), "cannot read store");
    ResetGuard guard(*s);
    for (std::size_t i = 0; i < accounts.size(); ++i) s->bind(static_cast<int>(i + 1), accounts[i]);
    if (query.since) s->bind(since, toMillis(*query.since));
    if (query.until) s->bind(until, toMillis(*query.until));
    if (query.after) {
      s->bind(after, toMillis(query.after->asked_at));
      s->bind(after + 1, query.after->source);
      s->bind(after + 2, query.after->conversation_id);
      s->bind(after + 3, query.after->question_id);
    }
    s->bind(limit,
            query.limit && *query.limit <= static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())
                ? static_cast<std::int64_t>(*query.limit)
                : std::int64_t{-1});

    std::vector<Turn> out;
    if (query.limit) out.reserve(std::min<std::size_t>(*query.limit, 4096));
    int rc;
    while ((rc = s->step()) == SQLITE_ROW) {
      readTurn(*s, out.emplace_back());
    }
    if (rc != SQLITE_DONE) return dbError(db, rc, "cannot read store");
    return out;
  }

  Result<void> forEachTurn(const std::function<void(const Turn&)>& fn) override {
    static const std::string sql = std::string("SELECT ") + std::string(kTurnColumns) + " FROM turns";
    if (auto caught_up = catchUp(); !caught_up.ok()) return caught_up.error();
    ReadAccess access = reading();
    Database& db = *access.db;
    Statement* s = db.prepare(sql);
    if (s == nullptr) return dbError(db, db.lastErrorCode(), "cannot read store");
    ResetGuard guard(*s);
    Turn turn;
    int rc;
    while ((rc = s->step()) == SQLITE_ROW) {
      readTurn(*s, turn);
      fn(turn);
    }
    if (rc != SQLITE_DONE) return dbError(db, rc, "cannot read store");
    return {};
  }

  Result<void> forEachConversation(const std::function<void(const ConversationKey&)>& fn) override {
    // A scan of every conversation takes long on a large store: outside a bulk load it
    // runs on a connection of its own, so the other threads' reads go on meanwhile.
    if (log_) {
      if (auto drained = drain(); !drained.ok()) return drained.error();
    }
    if (auto own = scanConnection()) return scanConversations(*own, fn);
    ReadAccess access = reading();
    return scanConversations(*access.db, fn);
  }

  // A read-only connection of its own for a scan of the whole store, or null during a
  // bulk load (whose pages only its transaction sees) or when it cannot be opened. A
  // small page cache: the scan reads each page once, and the memory it took would stay
  // with the process after the connection closes.
  std::unique_ptr<Database> scanConnection() {
    std::filesystem::path path;
    {
      std::lock_guard lock(write_mutex_);
      if (bulk_ || !write_) return nullptr;
      path = write_->path();
    }
    auto own = Database::open(path, SQLITE_OPEN_READONLY, kBusyTimeoutMs);
    if (!own.ok() || own.value()->exec("PRAGMA cache_size = -512") != SQLITE_OK) return nullptr;
    return std::move(own).value();
  }

  static Result<void> scanConversations(Database& db, const std::function<void(const ConversationKey&)>& fn) {
    Statement* s = db.prepare("SELECT DISTINCT source, conversation_id FROM messages");
    if (s == nullptr) return dbError(db, db.lastErrorCode(), "cannot read store");
    ResetGuard guard(*s);
    ConversationKey key;
    int rc;
    while ((rc = s->step()) == SQLITE_ROW) {
      s->columnText(0, key.source);
      s->columnText(1, key.conversation_id);
      fn(key);
    }
    if (rc != SQLITE_DONE) return dbError(db, rc, "cannot read store");
    return {};
  }

  Result<std::vector<std::vector<EscalationRecord>>> escalationsFor(
      const std::vector<TurnKey>& turns) override {
    static const std::string sql = "SELECT " + prefixed("", kEscalationColumns) +
                                   " FROM escalations WHERE link_source = ?1 AND link_conversation_id = ?2"
                                   " AND turn_question_id = ?3 ORDER BY requested_at_ms, source, id";
    constexpr std::string_view kWhat = "cannot read store";
    if (auto caught_up = catchUp(); !caught_up.ok()) return caught_up.error();
    ReadAccess access = reading();
    Database& db = *access.db;
    Statement* s = db.prepare(sql);
    if (s == nullptr) return dbError(db, db.lastErrorCode(), kWhat);
    std::vector<std::vector<EscalationRecord>> out(turns.size());
    if (turns.empty()) return out;
    // One read transaction: one snapshot for every key.
    int rc = access.bulk ? SQLITE_OK : db.exec("BEGIN");
    if (rc != SQLITE_OK) return dbError(db, rc, kWhat);
    ResetGuard guard(*s);
    for (std::size_t i = 0; i < turns.size(); ++i) {
      s->bind(1, turns[i].source);
      s->bind(2, turns[i].conversation_id);
      s->bind(3, turns[i].question_id);
      while ((rc = s->step()) == SQLITE_ROW) readEscalation(*s, out[i].emplace_back());
      s->reset();
      if (rc != SQLITE_DONE) {
        Error error = dbError(db, rc, kWhat);
        if (!access.bulk) db.rollbackIfOpen();
        return error;
      }
    }
    if (!access.bulk) db.rollbackIfOpen();  // ends the read transaction
    return out;
  }

  Result<void> forEachEscalation(const EscalationQuery& query,
                                 const std::function<void(const LinkedEscalation&)>& fn) override {
    std::string sql = linkedEscalationSelect();
    const char* glue = " WHERE ";
    auto where = [&sql, &glue](std::string_view condition) {
      sql.append(glue).append(condition);
      glue = " AND ";
    };
    if (query.account) where("e.account = :account");
    if (query.since) where("e.requested_at_ms >= :since");
    if (query.until) where("e.requested_at_ms < :until");
    if (query.linked_only) where("e.turn_question_id IS NOT NULL");
    sql.append(" ORDER BY e.requested_at_ms, e.source, e.id");

    if (auto caught_up = catchUp(); !caught_up.ok()) return caught_up.error();
    ReadAccess access = reading();
    Database& db = *access.db;
    Statement* s = db.prepare(sql);
    if (s == nullptr) return dbError(db, db.lastErrorCode(), "cannot read store");
    ResetGuard guard(*s);
    if (query.account) s->bind(s->parameterIndex(":account"), *query.account);
    if (query.since) s->bind(s->parameterIndex(":since"), toMillis(*query.since));
    if (query.until) s->bind(s->parameterIndex(":until"), toMillis(*query.until));
    LinkedEscalation linked;
    int rc;
    while ((rc = s->step()) == SQLITE_ROW) {
      readLinked(*s, linked);
      fn(linked);
    }
    if (rc != SQLITE_DONE) return dbError(db, rc, "cannot read store");
    return {};
  }

  Result<std::optional<std::string>> cursor(const std::string& source) override {
    if (auto caught_up = catchUp(); !caught_up.ok()) return caught_up.error();
    ReadAccess access = reading();
    Database& db = *access.db;
    Statement* s = db.prepare("SELECT value FROM cursors WHERE source = ?1");
    if (s == nullptr) return dbError(db, db.lastErrorCode(), "cannot read store");
    ResetGuard guard(*s);
    s->bind(1, source);
    const int rc = s->step();
    if (rc == SQLITE_DONE) return std::optional<std::string>();
    if (rc != SQLITE_ROW) return dbError(db, rc, "cannot read store");
    std::string value;
    s->columnText(0, value);
    return std::optional<std::string>(std::move(value));
  }

  Result<std::uint64_t> prune(Timestamp cutoff, const PruneHooks& hooks) override {
    if (!write_) return readOnlyError("cannot prune");
    if (auto drained = drain(); !drained.ok()) return drained.error();
    const std::int64_t cutoff_ms = toMillis(cutoff);
    std::uint64_t deleted = 0;
    std::optional<ConversationKey> after;
    std::vector<ConversationKey> stale;
    // The scan goes over every conversation: on a connection of its own, so that the
    // writer's look-ups on the read connection do not wait behind it, and without
    // waiting for the log again (deleteStale checks each conversation once more).
    const std::unique_ptr<Database> own = scanConnection();
    for (;;) {
      // Scan the next chunk of conversations (no write lock).
      stale.clear();
      bool more = false;
      auto scanned = [&] {
        if (own) return scanStale(*own, after, cutoff_ms, stale, more);
        ReadAccess access = reading();
        return scanStale(*access.db, after, cutoff_ms, stale, more);
      }();
      if (!scanned.ok()) return scanned.error();
      for (std::size_t i = 0; i < stale.size(); i += kPruneWriteChunk) {
        const std::size_t end = std::min(stale.size(), i + kPruneWriteChunk);
        const std::unique_lock<std::mutex> excluded = excluding(hooks);
        PruneDeletion deletion;
        auto removed = deleteStale(stale, i, end, cutoff_ms, hooks, deletion);
        if (!removed.ok()) return removed.error();
        deleted += removed.value();
        if (hooks.deleted && !deletion.conversations.empty()) hooks.deleted(deletion);
      }
      if (!more) break;
    }
    // Records whose question never arrived are kept as long as a conversation would be.
    {
      const std::unique_lock<std::mutex> excluded = excluding(hooks);
      PruneDeletion deletion;
      {
        std::lock_guard lock(write_mutex_);
        Database& db = *write_;
        Statement* del = db.prepare(
            "DELETE FROM escalations WHERE link_kind = 0 AND requested_at_ms < ?1 RETURNING source, id");
        if (del == nullptr) return dbError(db, db.lastErrorCode(), "cannot prune store");
        ResetGuard guard(*del);
        del->bind(1, cutoff_ms);
        const int rc = appendEscalationKeys(*del, deletion.escalations);
        if (rc != SQLITE_DONE) return dbError(db, rc, "cannot prune store");
      }
      if (hooks.deleted && !deletion.escalations.empty()) hooks.deleted(deletion);
    }
    releaseCaches();
    return deleted;
  }

  Result<std::optional<std::string>> retiredCounts() override {
    ReadAccess access = reading();
    Database& db = *access.db;
    Statement* s = db.prepare("SELECT data FROM retired_counts WHERE id = 1");
    if (s == nullptr) return dbError(db, db.lastErrorCode(), "cannot read store");
    ResetGuard guard(*s);
    const int rc = s->step();
    if (rc == SQLITE_DONE) return std::optional<std::string>{};
    if (rc != SQLITE_ROW) return dbError(db, rc, "cannot read store");
    std::string data;
    s->columnText(0, data);
    return std::optional<std::string>(std::move(data));
  }

  int schemaVersion() const override { return version_; }

  // Drops the pages the connections' caches hold and no statement uses. After a pruning
  // most of them are pages of what was deleted (now on the free list); without this each
  // cache keeps every page it ever read up to its configured size, so it follows the
  // file's high-water mark rather than what is read between two prunings. The pages are
  // read again from the file (usually in the OS page cache) when needed.
  void releaseCaches() {
    if (write_) {
      std::lock_guard lock(write_mutex_);
      if (!bulk_) sqlite3_db_release_memory(write_->handle());
    }
    std::lock_guard lock(read_mutex_);
    sqlite3_db_release_memory(read_->handle());
  }

  CheckpointCounts checkpointCounts() override {
    if (!checkpointer_) return {};
    const CheckpointStats stats = checkpointer_->stats();
    return CheckpointCounts{stats.background + stats.by_commit, stats.failed};
  }

  CommitLogCounts commitLogCounts() override {
    std::lock_guard lock(pending_mutex_);
    return CommitLogCounts{applied_rounds_, failed_rounds_, unapplied_messages_};
  }

  std::size_t pageCacheBytes() override {
    auto used = [](Database& db) {
      int current = 0;
      int highwater = 0;
      if (sqlite3_db_status(db.handle(), SQLITE_DBSTATUS_CACHE_USED, &current, &highwater, 0) != SQLITE_OK)
        return 0;
      return std::max(current, 0);
    };
    std::size_t bytes = 0;
    if (write_) {
      std::lock_guard lock(write_mutex_);
      bytes += static_cast<std::size_t>(used(*write_));
    }
    std::lock_guard lock(read_mutex_);
    return bytes + static_cast<std::size_t>(used(*read_));
  }

 private:
  // The connection a read uses, locked: the read connection, or during a bulk load the
  // write connection, whose open transaction holds the batches committed so far. With a
  // commit log, the batches logged before the read are applied first unless
  // `after_logged` is false (a read after a failed applying round sees the store as
  // applied so far).
  struct ReadAccess {
    std::unique_lock<std::timed_mutex> lock;
    Database* db;
    bool bulk;  // reading inside the bulk load's transaction: no BEGIN/ROLLBACK of its own
  };
  // What a read that must see every acknowledged commit runs first (store.h): waits for
  // the logged batches to be applied. An Error when they cannot be (applying fails, a
  // full disk): the read would miss acknowledged data, so it fails rather than answer
  // from an incomplete store.
  Result<void> catchUp() {
    if (!log_) return {};
    auto drained = drain();
    if (!drained.ok()) {
      return makeError(
          drained.error().reason,
          "cannot read store: acknowledged batches are not applied yet (" + drained.error().message + ")");
    }
    return {};
  }

  // The connection a read uses (reads that must see the logged batches call catchUp()
  // first).
  ReadAccess reading() {
    if (bulk_) {
      std::unique_lock lock(write_mutex_);
      if (bulk_) return ReadAccess{std::move(lock), write_.get(), true};
    }
    {
      std::unique_lock lock(read_mutex_);
      if (read_) return ReadAccess{std::move(lock), read_.get(), false};
    }
    // No read connection: a bulk load into an empty store closed it (the load's reads
    // are served above once it has started), or it could not be reopened after one.
    // The write connection serves the read, in a read transaction of its own outside
    // a load.
    std::unique_lock lock(write_mutex_);
    const bool bulk = bulk_;
    return ReadAccess{std::move(lock), write_.get(), bulk};
  }

  // Opens the bulk load's transaction on `db` (write_mutex_ held, bulk_ set); on
  // failure no transaction is left open.
  //
  // A load into a store without messages and turns that no other connection has open
  // (the first import) leaves the write-ahead log for a rollback journal until its end:
  // the pages of the load are then written once, into the database file, instead of
  // into the log and again by a checkpoint. The journal only keeps the few pages the
  // empty store had: a crash or a rollback restores them and truncates the file back to
  // its size before the load, and other connections see the store as it was until the
  // commit (rollback-journal locking). The turns' secondary indexes are dropped and
  // built once at the end when the store holds no turn.
  Result<void> startBulkTransaction(Database& db) {
    constexpr std::string_view kWhat = "cannot start a bulk load of store";
    std::int64_t empty = 0;
    int rc =
        db.queryInt("SELECT NOT EXISTS (SELECT 1 FROM messages) AND NOT EXISTS (SELECT 1 FROM turns)", empty);
    if (rc != SQLITE_OK) return dbError(db, rc, kWhat);
    if (empty != 0) {
      if (auto entered = enterRollbackJournal(db); !entered.ok()) return entered.error();
    }
    rc = db.exec("BEGIN IMMEDIATE");
    if (rc != SQLITE_OK) return abortTransaction(db, rc, kWhat);
    std::int64_t any_turn = 0;
    rc = db.queryInt("SELECT EXISTS (SELECT 1 FROM turns)", any_turn);
    if (rc != SQLITE_OK) return abortTransaction(db, rc, kWhat);
    // Without any turn yet, the turns' secondary indexes are built in one pass at the
    // end, in the same transaction (a crash leaves them as they were); without any
    // message either, the messages' by-conversation index too. The transaction keeps
    // other writers out until the end, so the store stays as found here.
    if (any_turn == 0) {
      rc = db.exec(kDropTurnIndexes);
      if (rc != SQLITE_OK) return abortTransaction(db, rc, kWhat);
      deferred_turn_indexes_ = true;
      std::int64_t any_message = 0;
      rc = db.queryInt("SELECT EXISTS (SELECT 1 FROM messages)", any_message);
      if (rc != SQLITE_OK) return abortTransaction(db, rc, kWhat);
      if (any_message == 0) {
        rc = db.exec(kDropConversationIndex);
        if (rc != SQLITE_OK) return abortTransaction(db, rc, kWhat);
        deferred_conversation_index_ = true;
      }
    }
    return {};
  }

  // Switches `db` from the write-ahead log to a rollback journal, which needs every
  // other connection to the file closed: the store's read connection is closed first
  // (bulk_ is set: reads use `db`). When another connection (another process) has the
  // file open, the store stays in WAL mode and the read connection is reopened. An
  // Error only when the read connection cannot be reopened.
  Result<void> enterRollbackJournal(Database& db) {
    {
      std::lock_guard read_lock(read_mutex_);
      read_.reset();
    }
    if (checkpointer_) checkpointer_->pause();
    sqlite3_busy_timeout(db.handle(), 0);  // another connection: give up at once
    std::string mode;
    const int rc = db.queryText("PRAGMA journal_mode = DELETE", mode);
    sqlite3_busy_timeout(db.handle(), kBusyTimeoutMs);
    if (rc == SQLITE_OK && mode == "delete") {
      rollback_journal_ = true;
      // EXTRA: the commit's deletion of the journal is synced too (its directory).
      const int sync_rc = db.exec("PRAGMA synchronous = EXTRA");
      if (sync_rc == SQLITE_OK) return {};
      Error error = dbError(db, sync_rc, "cannot configure store");
      (void)leaveRollbackJournal(db);
      return error;
    }
    if (checkpointer_) (void)checkpointer_->resume();  // the backstop checkpoints otherwise
    return reopenReader(db.path());
  }

  // Back to the write-ahead log (synchronous=FULL) after a load in a rollback journal,
  // outside any transaction, and reopens the read connection. A store that cannot go
  // back to WAL mode now (a reader of another process holds it) keeps its rollback
  // journal, every commit still durable (synchronous=EXTRA), until it is next opened.
  Result<void> leaveRollbackJournal(Database& db) {
    rollback_journal_ = false;
    std::string mode;
    if (db.queryText("PRAGMA journal_mode = WAL", mode) == SQLITE_OK && mode == "wal") {
      (void)db.exec("PRAGMA synchronous = FULL");
      if (checkpointer_) (void)checkpointer_->resume();  // the backstop checkpoints otherwise
    }
    return reopenReader(db.path());
  }

  Result<void> reopenReader(const std::filesystem::path& path) {
    auto reader = Database::open(path, SQLITE_OPEN_READONLY, kBusyTimeoutMs);
    if (!reader.ok()) return reader.error();
    if (auto configured = configureReader(*reader.value()); !configured.ok()) return configured.error();
    std::lock_guard read_lock(read_mutex_);
    read_ = std::move(reader.value());
    return {};
  }

  // The writes of commit(), inside the caller's transaction or savepoint, which the
  // caller undoes on failure; `logged` for a batch of the commit log (writeEscalations).
  static Result<CommitOutcome> writeBatch(Database& db, const WriteBatch& batch, bool logged = false) {
    constexpr std::string_view kWhat = "cannot commit to store";
    CommitOutcome outcome;
    if (!batch.messages.empty()) {
      static const std::string kMany = insertMessagesSql(kRowsPerInsert);
      static const std::string kOne = insertMessagesSql(1);
      auto written = writeRows(db, batch.messages, kMany, kOne, kMessageParams, bindMessage);
      if (!written.ok()) return written.error();
      outcome.messages_inserted = written.value();
      if (batch.require_new_messages && outcome.messages_inserted != batch.messages.size()) {
        return makeError(std::string(kDuplicateMessageReason),
                         "a message of the batch is already stored (same source and id)");
      }
    }

    // Deletes first: a key both deleted and upserted in one batch ends up upserted.
    if (!batch.delete_turns.empty()) {
      Statement* del = db.prepare(kDeleteTurn);
      if (del == nullptr) return dbError(db, db.lastErrorCode(), kWhat);
      ResetGuard guard(*del);
      for (const TurnKey& k : batch.delete_turns) {
        del->bind(1, k.source);
        del->bind(2, k.conversation_id);
        del->bind(3, k.question_id);
        const int rc = del->step();
        if (rc != SQLITE_DONE) return dbError(db, rc, kWhat);
        del->reset();
      }
    }

    if (!batch.upsert_turns.empty()) {
      static const std::string kMany = upsertTurnsSql(kRowsPerInsert);
      static const std::string kOne = upsertTurnsSql(1);
      auto written = writeRows(db, batch.upsert_turns, kMany, kOne, kTurnParams, bindTurn);
      if (!written.ok()) return written.error();
    }

    if (!batch.escalations.empty() || !batch.messages.empty() || !batch.upsert_turns.empty() ||
        !batch.delete_turns.empty()) {
      if (auto linked = writeEscalations(db, batch, outcome, logged); !linked.ok()) return linked.error();
    }

    if (!batch.cursors.empty()) {
      Statement* cursor = db.prepare(kUpsertCursor);
      if (cursor == nullptr) return dbError(db, db.lastErrorCode(), kWhat);
      ResetGuard guard(*cursor);
      const std::int64_t now = nowMillis();
      for (const auto& [source, value] : batch.cursors) {
        cursor->bind(1, source);
        cursor->bind(2, value);
        cursor->bind(3, now);
        const int rc = cursor->step();
        if (rc != SQLITE_DONE) return dbError(db, rc, kWhat);
        cursor->reset();
      }
    }

    return outcome;
  }

  // Executes the multi-row statement `many_sql` (kRowsPerInsert rows) over the rows,
  // then `one_sql` for the remainder. Returns the number of rows changed. On failure the
  // Error carries SQLite's message; the caller rolls the transaction back.
  template <typename Row, typename Bind>
  static Result<std::size_t> writeRows(Database& db, const std::vector<Row>& rows,
                                       const std::string& many_sql, const std::string& one_sql, int params,
                                       Bind bind) {
    constexpr std::string_view kWhat = "cannot commit to store";
    std::size_t changed = 0;
    std::size_t i = 0;
    if (rows.size() >= kRowsPerInsert) {
      Statement* many = db.prepare(many_sql);
      if (many == nullptr) return dbError(db, db.lastErrorCode(), kWhat);
      ResetGuard guard(*many);
      for (; i + kRowsPerInsert <= rows.size(); i += kRowsPerInsert) {
        for (std::size_t r = 0; r < kRowsPerInsert; ++r)
          bind(*many, static_cast<int>(r) * params, rows[i + r]);
        const int rc = many->step();
        if (rc != SQLITE_DONE) return dbError(db, rc, kWhat);
        changed += static_cast<std::size_t>(db.changes());
        many->reset();
      }
    }
    if (i < rows.size()) {
      Statement* one = db.prepare(one_sql);
      if (one == nullptr) return dbError(db, db.lastErrorCode(), kWhat);
      ResetGuard guard(*one);
      for (; i < rows.size(); ++i) {
        bind(*one, 0, rows[i]);
        const int rc = one->step();
        if (rc != SQLITE_DONE) return dbError(db, rc, kWhat);
        changed += static_cast<std::size_t>(db.changes());
        one->reset();
      }
    }
    return changed;
  }

  // SELECT of escalation records joined with their linked turn (readLinked reads it).
  static std::string linkedEscalationSelect() {
    return "SELECT " + prefixed("e.", kEscalationColumns) + ", " + prefixed("t.", kTurnColumns) +
           " FROM escalations AS e LEFT JOIN turns AS t ON t.source = e.link_source"
           " AND t.conversation_id = e.link_conversation_id AND t.question_id = e.turn_question_id";
  }

  static void readLinked(const Statement& s, LinkedEscalation& out) {
    readEscalation(s, out.record);
    if (out.record.turn && !s.columnIsNull(kEscalationColumnCount)) {
      if (!out.turn) out.turn.emplace();
      readTurn(s, *out.turn, kEscalationColumnCount);
    } else {
      out.record.turn.reset();
      out.turn.reset();
    }
  }

  using RecordKey = std::pair<std::string, std::string>;  // (source, id) of an escalation

  // Collects the (source, id) pairs a RETURNING statement yields; the statement is reset.
  static Result<void> collectKeys(Database& db, Statement& s, std::set<RecordKey>& keys) {
    int rc;
    RecordKey key;
    while ((rc = s.step()) == SQLITE_ROW) {
      s.columnText(0, key.first);
      s.columnText(1, key.second);
      keys.insert(key);
    }
    s.reset();
    if (rc != SQLITE_DONE) return dbError(db, rc, "cannot commit to store");
    return {};
  }

  // Finds where an upserted record's question_ref points and stores the link.
  static Result<void> resolveLink(Database& db, const EscalationRecord& r) {
    constexpr std::string_view kWhat = "cannot commit to store";
    Statement* by_message = db.prepare(kFindRefMessage);
    Statement* by_conversation = db.prepare(kFindRefConversation);
    Statement* set = db.prepare(kSetLink);
    if (by_message == nullptr || by_conversation == nullptr || set == nullptr) {
      return dbError(db, db.lastErrorCode(), kWhat);
    }
    const Escalation& e = r.escalation;
    std::int64_t kind = 0;
    std::string link_source, link_conversation;
    std::int64_t link_at = 0;
    {
      ResetGuard guard(*by_message);
      by_message->bind(1, e.account);
      by_message->bind(2, e.question_ref);
      const int rc = by_message->step();
      if (rc == SQLITE_ROW) {
        kind = 2;
        by_message->columnText(0, link_source);
        by_message->columnText(1, link_conversation);
        link_at = by_message->columnInt(2);
      } else if (rc != SQLITE_DONE) {
        return dbError(db, rc, kWhat);
      }
    }
    if (kind == 0) {
      ResetGuard guard(*by_conversation);
      by_conversation->bind(1, e.account);
      by_conversation->bind(2, e.question_ref);
      const int rc = by_conversation->step();
      if (rc == SQLITE_ROW) {
        kind = 1;
        by_conversation->columnText(0, link_source);
        link_conversation = e.question_ref;
        link_at = toMillis(e.requested_at);
      } else if (rc != SQLITE_DONE) {
        return dbError(db, rc, kWhat);
      }
    }
    ResetGuard guard(*set);
    set->bind(1, r.source);
    set->bind(2, e.id);
    set->bind(3, kind);
    if (kind == 0) {
      set->bindNull(4);
      set->bindNull(5);
      set->bindNull(6);
    } else {
      set->bind(4, link_source);
      set->bind(5, link_conversation);
      set->bind(6, link_at);
    }
    const int rc = set->step();
    if (rc != SQLITE_DONE) return dbError(db, rc, kWhat);
    return {};
  }

  // Whether writeEscalations() would change a stored escalation record for `batch`
  // (which holds none), read in the caller's transaction on `db`: a record names one of
  // its messages (and is not linked to a message yet) or one of its conversations (and
  // is not linked at all), or is linked to a conversation whose turns it changes. A few
  // indexed look-ups, where writeEscalations() runs an UPDATE per message.
  static Result<bool> changesEscalations(Database& db, const WriteBatch& batch) {
    constexpr std::string_view kWhat = "cannot read store";
    // ?3: 2 for a message id (records not linked to a message), 1 for a conversation id
    // (records not linked at all).
    Statement* by_ref = db.prepare(
        "SELECT 1 FROM escalations WHERE account = ?1 AND question_ref = ?2 AND link_kind < ?3 LIMIT 1");
    Statement* by_link =
        db.prepare("SELECT 1 FROM escalations WHERE link_source = ?1 AND link_conversation_id = ?2 LIMIT 1");
    if (by_ref == nullptr || by_link == nullptr) return dbError(db, db.lastErrorCode(), kWhat);
    auto found = [&db, kWhat](Statement& s) -> Result<bool> {
      ResetGuard guard(s);
      const int step = s.step();
      if (step != SQLITE_ROW && step != SQLITE_DONE) return dbError(db, step, kWhat);
      return step == SQLITE_ROW;
    };
    auto named = [&](const std::string& account, const std::string& ref, std::int64_t below) -> Result<bool> {
      by_ref->bind(1, account);
      by_ref->bind(2, ref);
      by_ref->bind(3, below);
      return found(*by_ref);
    };
    std::set<std::pair<std::string_view, std::string_view>> conversations;
    for (const MessageRecord& m : batch.messages) {
      auto by_message = named(m.account, m.id, 2);
      if (!by_message.ok() || by_message.value()) return by_message;
      if (!conversations.emplace(m.account, m.conversation_id).second) continue;
      auto by_conversation = named(m.account, m.conversation_id, 1);
      if (!by_conversation.ok() || by_conversation.value()) return by_conversation;
    }
    std::set<std::pair<std::string_view, std::string_view>> changed;
    for (const Turn& t : batch.upsert_turns) changed.emplace(t.source, t.conversation_id);
    for (const TurnKey& k : batch.delete_turns) changed.emplace(k.source, k.conversation_id);
    for (const auto& [source, conversation] : changed) {
      by_link->bind(1, source);
      by_link->bind(2, conversation);
      auto linked = found(*by_link);
      if (!linked.ok() || linked.value()) return linked;
    }
    return false;
  }

  // The escalation part of commit(), inside its transaction: upserts the batch's records,
  // links records to the batch's new messages, follows the recomputed turns, and reports
  // the new state of every record touched in outcome.escalations.
  //
  // A batch of the commit log (`logged`) was logged because no record was affected by
  // it; it is looked up again with changesEscalations() (a few SELECTs instead of an
  // UPDATE per message), in case another process stored records since.
  static Result<void> writeEscalations(Database& db, const WriteBatch& batch, CommitOutcome& outcome,
                                       bool logged) {
    constexpr std::string_view kWhat = "cannot commit to store";
    if (batch.escalations.empty()) {
      // Most batches: no record can be affected when none is stored.
      // A cached statement: this runs in every commit.
      Statement* exists = db.prepare("SELECT EXISTS (SELECT 1 FROM escalations)");
      if (exists == nullptr) return dbError(db, db.lastErrorCode(), kWhat);
      const ResetGuard reset_exists(*exists);
      const int rc = exists->step();
      if (rc != SQLITE_ROW) return dbError(db, rc, kWhat);
      if (exists->columnInt(0) == 0) return {};
      if (logged) {
        auto changes = changesEscalations(db, batch);
        if (!changes.ok()) return changes.error();
        if (!changes.value()) return {};
      }
    }
    std::set<RecordKey> keys;  // records whose link must be recomputed and reported

    if (!batch.escalations.empty()) {
      Statement* upsert = db.prepare(kUpsertEscalation);
      if (upsert == nullptr) return dbError(db, db.lastErrorCode(), kWhat);
      for (const EscalationRecord& r : batch.escalations) {
        const Escalation& e = r.escalation;
        const std::optional<std::int64_t> answered = optionalMillis(e.answered_at);
        int rc;
        {
          ResetGuard guard(*upsert);
          upsert->bind(1, r.source);
          upsert->bind(2, e.id);
          upsert->bind(3, e.account);
          upsert->bind(4, e.question_ref);
          upsert->bind(5, toMillis(e.requested_at));
          upsert->bind(6, answered);
          upsert->bind(7, e.requested_by);
          upsert->bind(8, e.relay);
          upsert->bind(9, std::int64_t{static_cast<std::uint8_t>(r.route)});
          rc = upsert->step();
        }
        if (rc != SQLITE_DONE) return dbError(db, rc, kWhat);
        if (db.changes() == 0) continue;  // identical to the stored record
        ++outcome.escalations_changed;
        if (auto linked = resolveLink(db, r); !linked.ok()) return linked.error();
        keys.emplace(r.source, e.id);
      }
    }

    if (!batch.messages.empty()) {
      Statement* by_message = db.prepare(kLinkByMessage);
      Statement* by_conversation = db.prepare(kLinkByConversation);
      if (by_message == nullptr || by_conversation == nullptr) return dbError(db, db.lastErrorCode(), kWhat);
      std::set<std::pair<std::string_view, std::string_view>> conversations_seen;
      for (const MessageRecord& m : batch.messages) {
        by_message->bind(1, m.account);
        by_message->bind(2, m.id);
        by_message->bind(3, m.source);
        by_message->bind(4, m.conversation_id);
        by_message->bind(5, toMillis(m.created_at));
        if (auto collected = collectKeys(db, *by_message, keys); !collected.ok()) return collected.error();
      }
      for (const MessageRecord& m : batch.messages) {
        if (!conversations_seen.emplace(m.account, m.conversation_id).second) continue;
        by_conversation->bind(1, m.account);
        by_conversation->bind(2, m.conversation_id);
        by_conversation->bind(3, m.source);
        if (auto collected = collectKeys(db, *by_conversation, keys); !collected.ok())
          return collected.error();
      }
    }

    // Records whose own link changed: their turn from scratch.
    if (!keys.empty()) {
      Statement* relink = db.prepare(kRelinkRecord);
      if (relink == nullptr) return dbError(db, db.lastErrorCode(), kWhat);
      for (const RecordKey& key : keys) {
        ResetGuard guard(*relink);
        relink->bind(1, key.first);
        relink->bind(2, key.second);
        const int rc = relink->step();
        if (rc != SQLITE_DONE) return dbError(db, rc, kWhat);
      }
    }

    // Conversations whose turns changed: every record linked to them.
    std::set<ConversationKey> conversations;
    for (const Turn& t : batch.upsert_turns) conversations.insert({t.source, t.conversation_id});
    for (const TurnKey& k : batch.delete_turns) conversations.insert({k.source, k.conversation_id});
    if (!conversations.empty()) {
      Statement* relink = db.prepare(kRelinkConversation);
      if (relink == nullptr) return dbError(db, db.lastErrorCode(), kWhat);
      for (const ConversationKey& c : conversations) {
        relink->bind(1, c.source);
        relink->bind(2, c.conversation_id);
        if (auto collected = collectKeys(db, *relink, keys); !collected.ok()) return collected.error();
      }
    }

    if (keys.empty()) return {};
    static const std::string kSelect = linkedEscalationSelect() + " WHERE e.source = ?1 AND e.id = ?2";
    Statement* select = db.prepare(kSelect);
    if (select == nullptr) return dbError(db, db.lastErrorCode(), kWhat);
    outcome.escalations.reserve(keys.size());
    for (const RecordKey& key : keys) {
      ResetGuard guard(*select);
      select->bind(1, key.first);
      select->bind(2, key.second);
      const int rc = select->step();
      if (rc == SQLITE_DONE) continue;
      if (rc != SQLITE_ROW) return dbError(db, rc, kWhat);
      readLinked(*select, outcome.escalations.emplace_back());
    }
    return {};
  }

  static std::string prefixed(std::string_view prefix, std::string_view columns) {
    std::string out;
    std::size_t start = 0;
    while (start <= columns.size()) {
      std::size_t comma = columns.find(',', start);
      if (comma == std::string_view::npos) comma = columns.size();
      std::string_view name = columns.substr(start, comma - start);
      while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
      if (!out.empty()) out.append(", ");
      out.append(prefix).append(name);
      start = comma + 1;
    }
    return out;
  }

  Error readOnlyError(std::string_view what) const {
    return makeError("store",
                     std::string(what) + " store " + read_->path().string() + ": it is open read-only");
  }

  static Result<std::vector<MessageRecord>> collectMessages(Database& db, Statement& s) {
    std::vector<MessageRecord> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) readMessage(s, out.emplace_back());
    if (rc != SQLITE_DONE) return dbError(db, rc, "cannot read store");
    return out;
  }

  // Appends to `stale` the conversations after `after` (in key order, at most
  // kPruneScanChunk examined) whose newest message is older than the cutoff. Advances
  // `after`; sets `more` when the scan has not reached the end.
  static Result<void> scanStale(Database& db, std::optional<ConversationKey>& after, std::int64_t cutoff_ms,
                                std::vector<ConversationKey>& stale, bool& more) {
    static const std::string kFirst =
        "SELECT source, conversation_id, MAX(created_at_ms) FROM messages"
        " GROUP BY source, conversation_id ORDER BY source, conversation_id LIMIT ?3";
    static const std::string kNext =
        "SELECT source, conversation_id, MAX(created_at_ms) FROM messages"
        " WHERE (source, conversation_id) > (?1, ?2)"
        " GROUP BY source, conversation_id ORDER BY source, conversation_id LIMIT ?3";
    Statement* s = db.prepare(after ? kNext : kFirst);
    if (s == nullptr) return dbError(db, db.lastErrorCode(), "cannot prune store");
    ResetGuard guard(*s);
    ConversationKey last;
    if (after) {
      last = *after;  // binds point into `last`, which outlives the statement use
      s->bind(1, last.source);
      s->bind(2, last.conversation_id);
    }
    s->bind(3, kPruneScanChunk);
    std::int64_t rows = 0;
    ConversationKey key;
    int rc;
    while ((rc = s->step()) == SQLITE_ROW) {
      ++rows;
      s->columnText(0, key.source);
      s->columnText(1, key.conversation_id);
      if (s->columnInt(2) < cutoff_ms) stale.push_back(key);
    }
    if (rc != SQLITE_DONE) return dbError(db, rc, "cannot prune store");
    more = rows == kPruneScanChunk;
    if (rows > 0) after = std::move(key);
    return {};
  }

  // Deletes the conversations of stale[begin, end) still stale (each checked again under
  // the write lock: a message may have arrived since the scan), in one transaction, with
  // the text of hooks.retired_counts when it deletes turns or linked escalation records;
  // `deletion` holds what it deleted once it committed.
  Result<std::uint64_t> deleteStale(const std::vector<ConversationKey>& stale, std::size_t begin,
                                    std::size_t end, std::int64_t cutoff_ms, const PruneHooks& hooks,
                                    PruneDeletion& deletion) {
    const bool read_turns = hooks.deleted || hooks.retired_counts;
    // With a commit log, no batch is logged meanwhile, and a conversation with a logged
    // batch not applied yet is not stale (its new message is not in the file yet).
    std::unique_lock<std::mutex> commit_lock;
    if (log_) commit_lock = std::unique_lock(commit_mutex_);
    std::lock_guard lock(write_mutex_);
    Database& db = *write_;
    constexpr std::string_view kWhat = "cannot prune store";
    // Retention applies to open questions too: one left unanswered for longer than the
    // retention goes with its conversation.
    Statement* newest =
        db.prepare("SELECT MAX(created_at_ms) FROM messages WHERE source = ?1 AND conversation_id = ?2");
    Statement* del_messages = db.prepare("DELETE FROM messages WHERE source = ?1 AND conversation_id = ?2");
    Statement* del_turns = db.prepare("DELETE FROM turns WHERE source = ?1 AND conversation_id = ?2");
    Statement* del_escalations = db.prepare(
        "DELETE FROM escalations WHERE link_source = ?1 AND link_conversation_id = ?2 RETURNING source, id");
    static const std::string kSelectTurns = std::string("SELECT ") + std::string(kTurnColumns) +
                                            " FROM turns WHERE source = ?1 AND conversation_id = ?2";
    Statement* sel_turns = db.prepare(kSelectTurns);
    if (newest == nullptr || del_messages == nullptr || del_turns == nullptr || del_escalations == nullptr ||
        sel_turns == nullptr) {
      return dbError(db, db.lastErrorCode(), kWhat);
    }
    int rc = db.exec("BEGIN IMMEDIATE");
    if (rc != SQLITE_OK) return abortTransaction(db, rc, kWhat);
    ResetGuard g1(*newest), g2(*del_messages), g3(*del_turns), g4(*del_escalations), g5(*sel_turns);
    std::uint64_t deleted = 0;
    PruneDeletion gone;
    for (std::size_t i = begin; i < end; ++i) {
      const ConversationKey& key = stale[i];
      if (conversationPending(key)) continue;
      newest->bind(1, key.source);
      newest->bind(2, key.conversation_id);
      rc = newest->step();
      if (rc != SQLITE_ROW) return abortTransaction(db, rc, kWhat);
      const bool still_stale = !newest->columnIsNull(0) && newest->columnInt(0) < cutoff_ms;
      newest->reset();
      if (!still_stale) continue;
      del_messages->bind(1, key.source);
      del_messages->bind(2, key.conversation_id);
      rc = del_messages->step();
      if (rc != SQLITE_DONE) return abortTransaction(db, rc, kWhat);
      deleted += static_cast<std::uint64_t>(db.changes());
      del_messages->reset();
      gone.conversations.push_back(key);
      if (read_turns) {
        sel_turns->bind(1, key.source);
        sel_turns->bind(2, key.conversation_id);
        while ((rc = sel_turns->step()) == SQLITE_ROW) readTurn(*sel_turns, gone.turns.emplace_back());
        if (rc != SQLITE_DONE) return abortTransaction(db, rc, kWhat);
        sel_turns->reset();
      }
      del_turns->bind(1, key.source);
      del_turns->bind(2, key.conversation_id);
      rc = del_turns->step();
      if (rc != SQLITE_DONE) return abortTransaction(db, rc, kWhat);
      del_turns->reset();
      del_escalations->bind(1, key.source);
      del_escalations->bind(2, key.conversation_id);
      rc = appendEscalationKeys(*del_escalations, gone.escalations);
      if (rc != SQLITE_DONE) return abortTransaction(db, rc, kWhat);
      del_escalations->reset();
    }
    if (hooks.retired_counts && (!gone.turns.empty() || !gone.escalations.empty())) {
      Statement* save = db.prepare(kSaveRetiredCounts);
      if (save == nullptr) return abortTransaction(db, db.lastErrorCode(), kWhat);
      ResetGuard g7(*save);
      std::string text;
      try {
        text = hooks.retired_counts(gone);
      } catch (const std::exception& e) {
        (void)db.exec("ROLLBACK");
        return makeError("store", fmt::format("{}: the counts of the deleted turns: {}", kWhat, e.what()));
      }
      save->bind(1, text);
      rc = save->step();
      if (rc != SQLITE_DONE) return abortTransaction(db, rc, kWhat);
    }
    rc = db.exec("COMMIT");
    if (rc != SQLITE_OK) return abortTransaction(db, rc, kWhat);
    deletion = std::move(gone);
    return deleted;
  }

  std::unique_ptr<Database> write_;  // null when opened read-only
  std::unique_ptr<Database> read_;
  std::timed_mutex write_mutex_;  // timed: the checkpoint thread gives up waiting for it
  std::timed_mutex read_mutex_;   // timed like write_mutex_: ReadAccess holds either
  int version_;
  // Declared after write_: stopped before the write connection closes. Null read-only.
  std::unique_ptr<WalCheckpointer> checkpointer_;
  std::atomic<bool> bulk_{false};             // a bulk load's transaction is open on write_
  bool deferred_turn_indexes_ = false;        // ... and it dropped the turns' secondary indexes
  bool deferred_conversation_index_ = false;  // ... and messages_by_conversation
  bool rollback_journal_ = false;             // ... in a rollback journal, read_ closed

  // The commit log (OpenOptions::commit_log); null otherwise.
  std::unique_ptr<CommitLog> log_;
  CommitLogLock log_lock_;  // held exclusively while the store is open read-write
  std::filesystem::path log_dir_;
  std::chrono::milliseconds apply_delay_{0};
  std::size_t max_unapplied_messages_ = 1;
  std::mutex commit_mutex_;             // commits through the log, one at a time (log order = apply order)
  bool has_escalations_ = false;        // under commit_mutex_
  std::mutex pending_mutex_;            // guards what follows
  std::condition_variable pending_cv_;  // wakes the applying thread
  std::condition_variable applied_cv_;  // a round ended
  std::deque<Pending> pending_;
  std::unordered_set<std::string> pending_ids_;
  std::unordered_map<std::string, std::size_t> pending_conversations_;
  std::size_t unapplied_messages_ = 0;
  std::uint64_t logged_lsn_ = 0;
  std::uint64_t applied_lsn_ = 0;
  std::uint64_t applied_rounds_ = 0;
  std::uint64_t failed_rounds_ = 0;
  std::optional<Error> apply_error_;
  bool drain_requested_ = false;
  bool stopping_ = false;
  std::atomic<bool> spare_interrupted_{false};  // set under pending_mutex_, read without
  bool applier_done_ = false;
  std::thread applier_;  // last: joined by the destructor before the rest goes
};

// Sets the per-connection pragmas of the write connection.
Result<void> configureWriter(Database& db) {
  std::string mode;
  int rc = db.queryText("PRAGMA journal_mode = WAL", mode);
  if (rc != SQLITE_OK) return dbError(db, rc, "cannot switch to WAL mode store");
  if (mode != "wal") {
    return makeError(
        "store", "cannot switch to WAL mode store " + db.path().string() + ": journal mode stays " + mode);
  }
  rc = db.exec(
      "PRAGMA synchronous = FULL;"
      "PRAGMA foreign_keys = OFF;"
      "PRAGMA temp_store = MEMORY;"
      "PRAGMA cache_size = -65536;"            // 64 MiB of page cache for large imports
      "PRAGMA journal_size_limit = 67108864;"  // truncate the WAL back to 64 MiB after checkpoints
  );
  if (rc != SQLITE_OK) return dbError(db, rc, "cannot configure store");
  return {};
}

Result<void> configureReader(Database& db) {
  const int rc = db.exec(
      "PRAGMA temp_store = MEMORY;"
      "PRAGMA cache_size = -32768;");
  if (rc != SQLITE_OK) return dbError(db, rc, "cannot configure store");
  return {};
}

// A read-only open reads the file as it is. When the commit log beside it holds batches
// not applied yet and no process is serving the store (which would apply them soon),
// those acknowledged batches are missing from what is read until the store is next
// opened read-write: says so. Best effort: any failure to look is silent.
void warnAboutUnappliedLog(Database& db, const std::filesystem::path& path) {
  const std::filesystem::path log_dir = commitLogDirectory(path);
  if (std::error_code ec; !std::filesystem::exists(log_dir, ec)) return;
  auto lock = CommitLogLock::take(path, false, /*create=*/false);
  if (!lock.ok() || !lock->held()) return;  // served right now, or no lock file to take
  std::int64_t applied = 0;
  if (db.queryInt("SELECT lsn FROM commit_log_applied", applied) != SQLITE_OK) return;
  auto records = CommitLog::readRecords(log_dir, static_cast<std::uint64_t>(applied));
  if (!records.ok()) {
    spdlog::warn(
        "store {} has a commit log that cannot be read: acknowledged batches are missing from what is read "
        "here, and the store cannot be opened read-write until the log is moved aside error={}",
        path.string(), records.error().message);
    return;
  }
  if (records->empty()) return;
  spdlog::warn(
      "store {} has {} acknowledged batches in its commit log not applied yet (the process serving it "
      "stopped "
      "first); they are missing from what is read here until the store is opened read-write (replywatch "
      "serve "
      "or import), which applies them",
      path.string(), records->size());
}

// A store is written through one name: SQLite keeps its write-ahead log beside the name
// the file is opened by (symbolic links resolved), and the store its commit log and
// lock. Through two hard links, two processes would each take a lock of their own.
Result<void> checkOneName(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || st.st_nlink <= 1) return {};
  return makeError(
      "store",
      fmt::format("store {} has {} names (hard links): SQLite keeps the write-ahead log, and replywatch "
                  "the commit log and its lock, beside the name the file is opened by, so two "
                  "processes writing it by two names would not see each other; remove the other "
                  "links (find / -xdev -samefile {}) and open the store by one name",
                  path.string(), st.st_nlink, path.string()));
}

// A commit log named after another spelling of the store's path (a symbolic link) than
// the file it resolves to, as earlier versions named it, holds batches this open would
// not apply: says where it has to go.
Result<void> checkNoLogUnderOtherName(const std::filesystem::path& path,
                                      const std::filesystem::path& log_dir) {
  const std::filesystem::path spelled(path.string() + "-log");
  std::error_code ec;
  if (!std::filesystem::exists(spelled, ec)) return {};
  if (std::filesystem::exists(log_dir, ec) && std::filesystem::equivalent(spelled, log_dir, ec)) return {};
  if (ec) return {};
  return makeError("store",
                   fmt::format("store {} is the file {}, whose commit log is {}, but a commit log was "
                               "kept at {} (named after the path the store was opened by): with no "
                               "replywatch process running on the store and no {}, move it there "
                               "(mv {} {}) and open the store again",
                               path.string(), resolvedDatabasePath(path).string(), log_dir.string(),
                               spelled.string(), log_dir.string(), spelled.string(), log_dir.string()));
}

}  // namespace

// Process-wide SQLite settings, applied once before the library initializes: no memory
// statistics (they take a global mutex on every allocation). The store is the only
// SQLite user in replywatch; if SQLite is already initialized the call is a no-op.
void configureSqliteOnce() {
  static std::once_flag once;
  std::call_once(once, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
}

Result<int> migrateSchema(Database& db) { return migrate(db); }

Result<std::unique_ptr<Store>> openSqliteStore(const std::filesystem::path& path,
                                               const OpenOptions& options) {
  configureSqliteOnce();
  if (options.read_only) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      return makeError("store", "cannot open store " + path.string() + ": no such file");
    }
    auto db = Database::open(path, SQLITE_OPEN_READONLY, kBusyTimeoutMs);
    if (!db.ok()) return db.error();
    std::int64_t version = 0;
    const int rc = db.value()->queryInt("PRAGMA user_version", version);
    if (rc == SQLITE_READONLY_ROLLBACK) {
      // A bulk load into an empty store was interrupted (its journal is still there).
      return makeError("store", "store " + path.string() +
                                    " holds an interrupted import; open it once read-write (replywatch serve "
                                    "or import) to undo it");
    }
    if (rc != SQLITE_OK) return dbError(*db.value(), rc, "cannot open store");
    if (version > kLatestVersion) return versionTooNew(path, version);
    if (version < kLatestVersion) {
      return makeError("store", "store " + path.string() + " has schema version " + std::to_string(version) +
                                    ", expected " + std::to_string(kLatestVersion) +
                                    "; open it once read-write (replywatch serve or import) to migrate it");
    }
    if (auto configured = configureReader(*db.value()); !configured.ok()) return configured.error();
    warnAboutUnappliedLog(*db.value(), path);
    return std::unique_ptr<Store>(new SqliteStore(nullptr, std::move(db.value()), static_cast<int>(version)));
  }

  auto writer = Database::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, kBusyTimeoutMs);
  if (!writer.ok()) return writer.error();
  Database& w = *writer.value();
  // The file exists now: the lock and the log are named after the file it is, however
  // its path is spelled.
  if (auto single = checkOneName(path); !single.ok()) return single.error();
  // One process writes the store at a time, and holds its lock exclusively while it is
  // open: a second one would write behind the first one's back (the tracker and metrics
  // of a serving process, what an import planned from the store) and apply or remove
  // the commit log the first one writes.
  const std::string owner =
      fmt::format("pid {}, replywatch {}", ::getpid(), options.commit_log ? "serve" : "import");
  auto log_lock = CommitLogLock::take(path, /*exclusive=*/true, /*create=*/true, owner);
  // A read-only command holds the lock shared while it reads the log, a moment: an open
  // waits up to 2 s for it before concluding that another process writes the store.
  for (int tries = 0; log_lock.ok() && !log_lock->held() && tries < 20; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    log_lock = CommitLogLock::take(path, /*exclusive=*/true, /*create=*/true, owner);
  }
  if (!log_lock.ok()) return log_lock.error();
  if (!log_lock->held()) {
    const std::string holder = CommitLogLock::owner(path);
    return makeError("store",
                     fmt::format("the store {} is open for writing by another replywatch process ({}): "
                                 "wait for it to finish or stop it; to add data while replywatch "
                                 "serve runs, send it to the daemon (webhooks or its spool directory)",
                                 path.string(), holder.empty() ? "pid unknown" : holder));
  }
  const std::filesystem::path log_dir = commitLogDirectory(path);
  if (auto found = checkNoLogUnderOtherName(path, log_dir); !found.ok()) return found.error();

  // Check the version before any pragma that writes to the file.
  std::int64_t version = 0;
  const int rc = w.queryInt("PRAGMA user_version", version);
  if (rc != SQLITE_OK) return dbError(w, rc, "cannot open store");
  if (version > kLatestVersion) return versionTooNew(path, version);
  if (auto configured = configureWriter(w); !configured.ok()) return configured.error();
  auto migrated = migrate(w);
  if (!migrated.ok()) return migrated.error();

  std::int64_t applied = 0;
  if (const int applied_rc = w.queryInt("SELECT lsn FROM commit_log_applied", applied);
      applied_rc != SQLITE_OK) {
    return dbError(w, applied_rc, "cannot open store");
  }
  auto records = CommitLog::readRecords(log_dir, static_cast<std::uint64_t>(applied));
  if (!records.ok()) {
    // Left as it is: what it holds was acknowledged, and only an operator can tell
    // whether the store may go on without it.
    return makeError(
        records.error().reason,
        fmt::format("cannot open store {}: {}. The commit log is left in place; to open the "
                    "store without the acknowledged batches it holds after record {}, keep a "
                    "copy of it and move it aside (mv {} {}.damaged)",
                    path.string(), records.error().message, applied, log_dir.string(), log_dir.string()));
  }
  auto last_lsn = static_cast<std::uint64_t>(applied);
  if (!records->empty()) {
    auto replayed = SqliteStore::applyRecords(w, records.value());
    if (!replayed.ok()) {
      return makeError(replayed.error().reason, "cannot apply commit log " + log_dir.string() + " to store " +
                                                    path.string() + ": " + replayed.error().message);
    }
    last_lsn = records->back().lsn;
    if (replayed->applied > 0) {
      spdlog::info("commit log applied path={} batches={} last_lsn={}", log_dir.string(), replayed->applied,
                   last_lsn);
    }
  }
  if (std::error_code ec; std::filesystem::exists(log_dir, ec)) {
    if (auto removed = CommitLog::removeAll(log_dir); !removed.ok()) return removed.error();
  }

  auto reader = Database::open(path, SQLITE_OPEN_READONLY, kBusyTimeoutMs);
  if (!reader.ok()) return reader.error();
  if (auto configured = configureReader(*reader.value()); !configured.ok()) return configured.error();
  auto store =
      std::make_unique<SqliteStore>(std::move(writer.value()), std::move(reader.value()), migrated.value());
  if (auto started = store->startCheckpointer(path); !started.ok()) return started.error();
  if (options.commit_log) {
    std::int64_t any_escalation = 0;
    if (const int esc_rc = w.queryInt("SELECT EXISTS (SELECT 1 FROM escalations)", any_escalation);
        esc_rc != SQLITE_OK) {
      return dbError(w, esc_rc, "cannot open store");
    }
    auto log = CommitLog::create(log_dir, last_lsn + 1, options.log_segment_bytes);
    if (!log.ok()) return log.error();
    store->startCommitLog(std::move(log.value()), std::move(log_lock.value()), log_dir, options,
                          any_escalation != 0);
  } else {
    // Held for as long as the store is open: no other process writes it meanwhile.
    store->keepLogLock(std::move(log_lock.value()));
  }
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace replywatch::store
