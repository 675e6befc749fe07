#pragma once
// A bulk load written as a new store file: the messages and turns of a load into a store
// that does not exist yet, sorted and written as SQLite b-tree pages (btree_builder.h)
// instead of inserted row by row. The file is the one openSqliteStore() creates and a
// bulk load through commit() fills: the same schema, the same rows, every index.
//
// Threading: one call at a time per path; the call uses two threads of its own. Blocks on
// disk I/O.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <vector>

#include "daemon/core/model.h"
#include "daemon/core/result.h"

namespace replywatch::store {

struct BuiltStore {
  std::size_t messages = 0;
  std::size_t turns = 0;
  std::size_t pages = 0;  // pages of the file
};

// Nothing of a store is at `path`: no file, journal or write-ahead log of that name, and
// no commit log. Otherwise an Error naming what is there. What buildSqliteStore() checks
// first (and again under the store's lock).
Result<void> storePathFree(const std::filesystem::path& path);

// Writes `messages` and `turns` as the store file `path`, which must not exist. Each
// message key (source, id) and each turn key (source, conversation_id, question_id)
// comes once; the turns are those the tracker computes from the messages (nothing here
// checks that). The file is built under another name and renamed to `path` once synced:
// a crash or an Error leaves no file at `path`. The store's lock is held meanwhile, so
// no other process opens the store while it is built.
// The file is built as `path`.building (one left by an earlier build is replaced).
// Errors: reason "store" when `path` exists (or a journal, write-ahead log or commit log
// of that name), a key comes twice, a row breaks the tables' CHECK constraints (an empty
// source), the schema holds objects on the tables this build does not write, the store's
// lock is held by another process or the file cannot be written ("store_full" on a full
// disk).
// Orders of the messages the caller sorted already, each empty when not: checked (one
// comparison per message; an Error when one is not that order of every message) rather
// than sorted again.
struct MessageOrders {
  std::vector<std::uint32_t> by_key;           // by (source, id)
  std::vector<std::uint32_t> by_conversation;  // by (source, conversation_id, created_at, id)
};
Result<BuiltStore> buildSqliteStore(const std::filesystem::path& path,
                                    const std::vector<MessageRecord>& messages,
                                    const std::vector<Turn>& turns, const MessageOrders& given = {});
// The same of compact records.
Result<BuiltStore> buildSqliteStore(const std::filesystem::path& path,
                                    const std::vector<CompactMessageRecord>& messages,
                                    const std::vector<CompactTurn>& turns, const MessageOrders& given = {});

}  // namespace replywatch::store
