#pragma once
// The durable store. SQLite in WAL mode (synchronous=FULL): messages (no text), computed
// question turns, connector cursors. Every write of the ingest path goes through
// commit(), one transaction; a success means the data is on disk.
//
// Threading: one Store object is shared by the daemon. commit() and the read methods
// may be called from any thread; the store serializes writers internally. Reads use
// their own connection (WAL) and never wait for a write transaction. That one read
// connection is shared, a query at a time, by API queries and the tracker's
// conversation loads, so a long API query can delay an ingest batch that must load a
// conversation.
// Every method may block on disk I/O. No method throws for I/O failures: they return
// an Error with reason "store" (or "store_full" when the disk is full).
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
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
  std::optional<std::pair<std::string, std::string>> cursor;  // (source, cursor value)
  // When set, the whole batch is rolled back with an Error of reason
  // kDuplicateMessageReason if any message is already stored: the caller computed the
  // turns assuming every message is new, so a partial insert would store wrong turns.
  bool require_new_messages = false;
};

struct CommitOutcome {
  std::size_t messages_inserted = 0;  // new rows in `messages`
};

struct TurnQuery {
  std::optional<std::string> account;
  std::optional<Timestamp> since;  // asked_at >= since
  std::optional<Timestamp> until;  // asked_at <  until
  std::optional<std::size_t> limit;
};

struct OpenOptions {
  bool read_only = false;  // CLI queries (`replywatch questions`) open read-only
};

class Store {
 public:
  virtual ~Store() = default;

  // Writes the batch in one transaction. Thread-safe; blocks until durable.
  virtual Result<CommitOutcome> commit(const WriteBatch& batch) = 0;

  // Which of these (source, id) pairs are already stored. Thread-safe; blocks.
  virtual Result<std::vector<bool>> contains(const std::string& source,
                                             const std::vector<std::string>& ids) = 0;

  // All stored messages of one conversation in (created_at, id) order.
  virtual Result<std::vector<MessageRecord>> conversation(const ConversationKey& key) = 0;

  // All stored messages of the conversations that have an open turn, grouped by
  // conversation, each in (created_at, id) order: what the tracker reloads on start.
  virtual Result<std::vector<MessageRecord>> openConversationMessages() = 0;

  // Turns matching the query, ordered by (asked_at, source, conversation_id, question_id).
  virtual Result<std::vector<Turn>> turns(const TurnQuery& query) = 0;

  // Calls `fn` for every stored turn without materializing them all (startup rebuild).
  // `fn` runs while the store's read connection is held: it must not call this Store's
  // read methods (commit() is fine).
  virtual Result<void> forEachTurn(const std::function<void(const Turn&)>& fn) = 0;

  // Calls `fn` for every conversation that has stored messages, in no particular order,
  // with the read connection held (`fn` must not call the store).
  virtual Result<void> forEachConversation(const std::function<void(const ConversationKey&)>& fn) = 0;

  // Last committed cursor of a source.
  virtual Result<std::optional<std::string>> cursor(const std::string& source) = 0;

  // Deletes messages and turns whose conversation saw no message after `cutoff`.
  // Returns the number of messages deleted.
  virtual Result<std::uint64_t> prune(Timestamp cutoff) = 0;

  // Schema version currently applied (see migrations in sqlite_store.cpp).
  virtual int schemaVersion() const = 0;
};

// Opens (creating if needed) the SQLite store at `path` and applies pending migrations.
// A file from a newer replywatch (unknown schema version) is an Error, never altered.
Result<std::unique_ptr<Store>> openSqliteStore(const std::filesystem::path& path,
                                               const OpenOptions& options = {});

}  // namespace replywatch::store
