#pragma once
// The durable store. SQLite in WAL mode (synchronous=FULL): messages (no text), computed
// question turns, escalation records of the relay feed and their links to turns,
// connector cursors. Every write of the ingest path goes through
// commit(), one transaction (or, with OpenOptions::commit_log, one record of the commit
// log applied later); a success means the data is on disk.
//
// Threading: one Store object is shared by the daemon. commit() and the read methods
// may be called from any thread; the store serializes writers internally. Reads use
// their own connection (WAL) and never wait for a write transaction (with a commit
// log, they first wait for the logged batches before them to be applied). That one read
// connection is shared, a query at a time, by API queries and the tracker's
// conversation loads, so a long API query can delay an ingest batch that must load a
// conversation.
// Every method may block on disk I/O. No method throws for I/O failures: they return
// an Error with reason "store" (or "store_full" when the disk is full).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/core/model.h"
#include "daemon/core/result.h"

namespace replywatch::store {

inline constexpr std::string_view kDuplicateMessageReason = "duplicate_message";

// Everything one ingest transaction writes.
struct WriteBatch {
  std::vector<MessageRecord> messages;  // INSERT, ignoring ones already present (source, id)
  std::vector<Turn> upsert_turns;       // insert or replace by (source, conversation_id, question_id)
  std::vector<TurnKey> delete_turns;    // turns that no longer exist after a recomputation
                                        // (applied before upsert_turns: a key in both is kept)
  // (source, cursor value) pairs, written in order: a source named twice keeps the last
  // value. A group commit carries the cursors of every batch it holds.
  std::vector<std::pair<std::string, std::string>> cursors;
  // When set, the whole batch is rolled back with an Error of reason
  // kDuplicateMessageReason if any message is already stored: the caller computed the
  // turns assuming every message is new, so a partial insert would store wrong turns.
  bool require_new_messages = false;
  // Escalation records to insert or update by (source, escalation.id); `route` is
  // stored as given, `turn` is ignored (the store links records itself, see below).
  // An update never clears a stored answered_at: a delivery without one (an older
  // event received late) keeps the answer already known.
  std::vector<EscalationRecord> escalations;
};

// An escalation record with the turn it is linked to, as stored.
struct LinkedEscalation {
  EscalationRecord record;
  std::optional<Turn> turn;  // set exactly when record.turn is set
};

struct CommitOutcome {
  std::size_t messages_inserted = 0;    // new rows in `messages`
  std::size_t escalations_changed = 0;  // escalation records inserted or changed by the batch
  // The new state of every escalation record the batch touched: upserted, linked (its
  // question_ref arrived), relinked (the turns of its conversation were recomputed), or
  // whose linked turn changed (answered, breached). Empty when no escalation is stored.
  std::vector<LinkedEscalation> escalations;
};

// Which escalation records forEachEscalation() visits; every filter is optional.
struct EscalationQuery {
  std::optional<std::string> account;
  std::optional<Timestamp> since;  // requested_at >= since
  std::optional<Timestamp> until;  // requested_at <  until
  bool linked_only = false;        // skip records whose question_ref is not known yet
};

// A turn's place in the order turns() returns: asked_at, then source, conversation and
// question id (the primary key, so no two turns have the same place).
struct TurnPosition {
  Timestamp asked_at{};
  std::string source;
  std::string conversation_id;
  std::string question_id;
};

struct TurnQuery {
  std::optional<std::string> account;
  std::optional<Timestamp> since;  // asked_at >= since
  std::optional<Timestamp> until;  // asked_at <  until
  std::optional<std::size_t> limit;
  // Only the turns placed after this one (a page that follows one ending there); the
  // turn itself need not exist any more.
  std::optional<TurnPosition> after;
};

// Write-ahead log checkpoints, counted since the store was opened (Store::checkpointCounts).
struct CheckpointCounts {
  std::uint64_t checkpoints = 0;  // run, successful or not
  std::uint64_t failures = 0;     // ... that returned an error other than SQLITE_BUSY
};

// The commit log (OpenOptions::commit_log) since the store was opened
// (Store::commitLogCounts).
struct CommitLogCounts {
  std::uint64_t applied_rounds = 0;      // transactions that applied logged batches to SQLite
  std::uint64_t failed_rounds = 0;       // ... that failed (retried until one succeeds)
  std::uint64_t unapplied_messages = 0;  // messages acknowledged through the log, not applied yet
};

// What Store::beginBulkLoad() found when the load's transaction started.
struct BulkLoadStart {
  // The store held no message and no turn, and no other writer can add any until
  // endBulkLoad(): every message the store holds during the load is one committed by
  // the load. Such a load also builds the messages' by-conversation index once at its
  // end, so until then conversation() and openConversationMessages() scan every stored
  // message: a caller that keeps in memory what it committed need not call them.
  bool into_empty_store = false;
};

struct OpenOptions {
  bool read_only = false;  // CLI queries (`replywatch questions`) open read-only
  // Commits through the commit log (commit_log.h): commit() returns once the batch is
  // appended to the log and synced, and a thread of the store applies the logged
  // batches to SQLite in large transactions. What commit() returns is the same, and
  // every read method of this Store sees every commit that returned (a read first waits
  // for the batches before it to be applied, except conversation() and contains(),
  // which only wait when the conversation or id asked about is still being applied; a
  // read that must wait while applying fails returns that Error rather than answer
  // without acknowledged data).
  // Other processes reading the file see a batch once it is applied, at most
  // `apply_delay` plus one apply round later. Batches that may change escalation
  // records (hold some, or hold a message, a conversation or turns a stored record
  // names or is linked to), or that store messages without require_new_messages, are
  // committed directly, after the batches logged before them. Used by `replywatch serve`.
  bool commit_log = false;
  // How long the applying thread gathers logged batches before a round: a larger round
  // dirties each B-tree page once for more batches. The thread runs at a lower priority
  // than the request threads (nice + 10).
  std::chrono::milliseconds apply_delay{50};
  // Messages logged and not yet applied above which commit() waits for the applying
  // thread (at most 5 s) before logging more; when applying keeps failing (a full
  // disk), commit() then fails with the applying error instead.
  std::size_t max_unapplied_messages = 200'000;
  // Size of a commit log segment. The applying thread keeps an applied segment as the
  // next one, or writes the next one ahead as zeros, so that appends to it need no
  // file-system journal commit.
  std::uint64_t log_segment_bytes = 64ULL << 20;
};

// What one deletion transaction of prune() deleted.
struct PruneDeletion {
  std::vector<ConversationKey> conversations;
  // Their turns; read only when PruneHooks::retired_counts or PruneHooks::deleted is set.
  std::vector<Turn> turns;
  // (source, id) of the escalation records linked to them.
  std::vector<std::pair<std::string, std::string>> escalations;
};

// What prune() asks and tells its caller around each of its write transactions; each
// optional, each called on the thread that called prune().
struct PruneHooks {
  // Called before each write transaction (every deletion, and the one deleting unlinked
  // escalation records at the end), before the store takes its own locks: the lock it
  // returns is held until that transaction ended and `deleted` ran. A caller whose
  // writers hold a lock of theirs while they call the store returns that lock, so that
  // nothing it holds in memory changes between a deletion's check and its commit, and
  // `retired_counts` and `deleted` may read and change that memory.
  std::function<std::unique_lock<std::mutex>()> exclude;
  // Called inside each deletion transaction that deletes turns or linked escalation
  // records, before it commits, with what it deletes: returns the text to save as
  // retiredCounts() in that same transaction (what they counted included), so that a
  // crash during a pruning never leaves them deleted without their counts saved. The
  // store's write lock is held: it must not call the store or wait for a thread that
  // may. If the transaction then fails, the text is not saved and `deleted` is not
  // called.
  std::function<std::string(const PruneDeletion& deleting)> retired_counts;
  // Called after each write transaction that deleted something committed, with what it
  // deleted: so also for those that committed before an Error. The one deleting unlinked
  // escalation records names only them. What it throws leaves prune() unhandled.
  std::function<void(const PruneDeletion& deleted)> deleted;
};

class Store {
 public:
  virtual ~Store() = default;

  // Writes the batch in one transaction. Thread-safe; blocks until durable.
  virtual Result<CommitOutcome> commit(const WriteBatch& batch) = 0;

  // Which of these (source, id) pairs are already stored. Thread-safe; blocks.
  virtual Result<std::vector<bool>> contains(const std::string& source,
                                             const std::vector<std::string>& ids) = 0;

  // For each id, where the message (source, id) is stored, or nullopt when it is not.
  // Sees every commit that returned before the call. Thread-safe; blocks.
  virtual Result<std::vector<std::optional<MessagePlace>>> messagePlaces(
      const std::string& source, const std::vector<std::string>& ids) = 0;

  // All stored messages of one conversation in (created_at, id) order.
  virtual Result<std::vector<MessageRecord>> conversation(const ConversationKey& key) = 0;

  // The stored turns of one conversation, by asked_at (what the tracker reads back with
  // its messages: the breaches tick() recorded). Same consistency as conversation().
  virtual Result<std::vector<Turn>> conversationTurns(const ConversationKey& key) = 0;

  // All stored messages of the conversations that have an open turn, grouped by
  // conversation, each in (created_at, id) order: what the tracker reloads on start.
  virtual Result<std::vector<MessageRecord>> openConversationMessages() = 0;

  // Turns matching the query, ordered by (asked_at, source, conversation_id, question_id)
  // (TurnPosition), at most `limit`, from the first placed after `after`.
  virtual Result<std::vector<Turn>> turns(const TurnQuery& query) = 0;

  // Calls `fn` for every stored turn without materializing them all (startup rebuild).
  // `fn` runs while the store's read connection is held: it must not call this Store's
  // read methods (commit() is fine).
  virtual Result<void> forEachTurn(const std::function<void(const Turn&)>& fn) = 0;

  // Calls `fn` for every conversation that has stored messages (every commit that
  // returned before the call included), in no particular order; `fn` must not call the
  // store. May be called from any thread; blocks on disk for as long as the scan takes,
  // which does not hold up the other threads' reads (the SQLite store scans on a
  // connection of its own outside a bulk load).
  virtual Result<void> forEachConversation(const std::function<void(const ConversationKey&)>& fn) = 0;

  // Escalation linking. A record's question_ref is looked up among the messages of its
  // account (any source): first as a message id, then as a conversation id. A message
  // ref links the record to the turn containing that message; a conversation ref to the
  // turn of that conversation under way at requested_at. "Containing" means the latest
  // turn asked at or before that instant, or the conversation's first turn when every
  // turn is later. A ref not found is kept unlinked and linked by the commit that stores
  // a matching message; a message-id match replaces an earlier conversation match, so the
  // link depends only on what is stored, never on arrival order. Links follow every
  // recomputation of the conversation's turns, in the same transaction.

  // The escalation records linked to each of `turns`: one vector per key, in the order
  // of `turns`, each in (requested_at, source, id) order (empty for a turn without any).
  // This is how the per-turn relay legs are read (questions listing, verdict): one index
  // probe per key, in one read transaction. Thread-safe; blocks on disk; uses the read
  // connection, so it does not wait for writers.
  virtual Result<std::vector<std::vector<EscalationRecord>>> escalationsFor(
      const std::vector<TurnKey>& turns) = 0;

  // Calls `fn` for every escalation record matching `query`, in (requested_at, source,
  // id) order, with its linked turn when it has one. `fn` runs while the read connection
  // is held: it must not call this Store's read methods. Thread-safe; blocks on disk.
  virtual Result<void> forEachEscalation(const EscalationQuery& query,
                                         const std::function<void(const LinkedEscalation&)>& fn) = 0;

  // Last committed cursor of a source.
  virtual Result<std::optional<std::string>> cursor(const std::string& source) = 0;

  // Deletes messages and turns whose conversation saw no message after `cutoff` (open
  // questions included), with the escalation records linked to them, and unlinked
  // escalation records requested before `cutoff`. Returns the number of messages deleted.
  // Works in several transactions; see PruneHooks for what the caller learns of each.
  virtual Result<std::uint64_t> prune(Timestamp cutoff, const PruneHooks& hooks) = 0;

  // The text PruneHooks::retired_counts last returned in a committed deletion, nullopt
  // before any. The store keeps it for its user: what pruned data counted, which a
  // restart cannot count again.
  virtual Result<std::optional<std::string>> retiredCounts() = 0;

  // Schema version currently applied (see migrations in sqlite_store.cpp).
  virtual int schemaVersion() const = 0;

  // Heap memory the store's page caches hold now, in bytes, all connections together;
  // each cache is bounded by its configured size (see sqlite_store.cpp). Thread-safe; may
  // wait for a commit in progress. The default: 0 (nothing cached).
  virtual std::size_t pageCacheBytes() { return 0; }

  // Checkpoints of the write-ahead log since the store was opened: those run (on the
  // checkpoint thread or, as a backstop, by a commit) and those that failed with an error
  // other than "busy" (an I/O error or a full disk: the log then keeps growing until one
  // succeeds). Thread-safe, never blocks on disk. The default: none.
  virtual CheckpointCounts checkpointCounts() { return {}; }
  // The commit log's rounds and backlog. Thread-safe, never blocks on disk. The default
  // (a store without a commit log): zeros.
  virtual CommitLogCounts commitLogCounts() { return {}; }

  // Bulk loading, for `replywatch import`. Between beginBulkLoad() and endBulkLoad(),
  // commit() keeps its transactions and its results (what it returns, what the read
  // methods see) but does not wait for the disk: a batch is durable only once
  // endBulkLoad() has succeeded, which writes everything to disk and restores the
  // normal commits; a crash or a failed endBulkLoad() leaves nothing of the load. In a
  // store that holds no turn yet, the turns' secondary indexes are built once by
  // endBulkLoad() rather than row by row, and in a store without messages and turns
  // (BulkLoadStart::into_empty_store) the messages' by-conversation index too. A load
  // into an empty store that no other connection has open is written once, into the
  // database file under a rollback journal, rather than into the write-ahead log and
  // again by a checkpoint; readers of other processes then wait for the load's end
  // instead of seeing the empty store. The stored data is the same as with normal
  // commits. Call both from the thread that commits, with no other writer; the default
  // does nothing (every commit is durable anyway). During a bulk load the reads use the
  // write connection, so the callbacks of forEachTurn(), forEachConversation() and
  // forEachEscalation() must not call commit(). Blocks on disk.
  virtual Result<BulkLoadStart> beginBulkLoad() { return BulkLoadStart{}; }
  virtual Result<void> endBulkLoad() { return {}; }
  // Gives a bulk load up: every batch committed since beginBulkLoad() is rolled back and
  // the normal commits are restored, as after a failed endBulkLoad(). For a load that
  // cannot be stored whole. Call from the thread that commits; blocks on disk. The
  // default returns an Error: its commits are durable already and cannot be undone.
  virtual Result<void> abortBulkLoad() {
    return makeError("store", "this store cannot give up a load: its batches are stored already");
  }
};

// Opens (creating if needed) the SQLite store at `path` and applies pending migrations.
// A file from a newer replywatch (unknown schema version) is an Error, never altered.
// A read-write open first applies what the commit log beside the file holds beyond the
// last batch applied (a process that stopped before applying every batch it
// acknowledged), then removes that log; a read-only open reads the file as it is. The
// log and its lock are named after the file `path` resolves to (symbolic links
// followed: resolvedDatabasePath() in commit_log.h). A read-write open holds the store's
// lock exclusively until the store is closed: while another process holds it (beyond a
// read-only command's look at the log, waited for up to 2 s), the open is an Error
// naming that process; opens through different paths to one file exclude each other,
// and a file with a second hard link is not opened read-write (an Error). Read-only
// opens take no lock and read alongside a writer.
Result<std::unique_ptr<Store>> openSqliteStore(const std::filesystem::path& path,
                                               const OpenOptions& options = {});

}  // namespace replywatch::store
