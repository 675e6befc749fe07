#include "daemon/store/store_file_builder.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <tuple>

#include "daemon/core/key_sort.h"
#include "daemon/core/thread_name.h"
#include "daemon/core/timestamp.h"
#include "daemon/store/btree_builder.h"
#include "daemon/store/commit_log.h"
#include "daemon/store/file_io.h"
#include "daemon/store/sqlite_db.h"

namespace replywatch::store {
namespace {

using sqlite_file::IndexTreeBuilder;
using sqlite_file::PageFile;
using sqlite_file::RecordWriter;

// The column layout of each tree this builder writes, as PRAGMA index_xinfo gives it
// (name:1 for a key column, name:0 for the others): the records below follow it. A
// migration that changes one of them makes the build fail here instead of writing rows
// SQLite would misread.
struct Layout {
  const char* index;
  const char* columns;
};
constexpr Layout kLayouts[] = {
    {"sqlite_autoindex_messages_1",
     "source:1,id:1,account:0,channel:0,conversation_id:0,in_reply_to:0,created_at_ms:0,role:0,responder:0,"
     "handler:0,route:0"},
    {"messages_by_conversation", "source:1,conversation_id:1,created_at_ms:1,id:1"},
    {"sqlite_autoindex_turns_1",
     "source:1,conversation_id:1,question_id:1,account:0,channel:0,asked_at_ms:0,answer_id:0,answered_at_ms:"
     "0,"
     "responder:0,handler:0,route:0,breached_at_ms:0"},
    {"turns_by_account_asked_at", "account:1,asked_at_ms:1,source:0,conversation_id:0,question_id:0"},
    {"turns_open", "source:1,conversation_id:1,question_id:0"},
};
// Everything the schema holds on the two tables (indexes, triggers), by name: an index a
// migration adds would be left empty by a build that does not know it.
constexpr std::string_view kTableObjects =
    "messages,messages_by_conversation,turns,turns_by_account_asked_at,turns_open";
constexpr std::string_view kOpenTurnsSql =
    "CREATE INDEX turns_open ON turns (source, conversation_id) WHERE answered_at_ms IS NULL";

Error buildError(const std::filesystem::path& path, std::string_view why) {
  std::string message = "cannot build store ";
  message.append(path.string()).append(": ").append(why);
  return makeError("store", std::move(message));
}

Result<void> checkLayout(Database& db, const std::filesystem::path& path) {
  std::string objects;
  if (db.queryText("SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_schema WHERE tbl_name IN "
                   "('messages', 'turns') ORDER BY name)",
                   objects) != SQLITE_OK ||
      objects != kTableObjects) {
    return buildError(path, "the schema holds other objects on messages and turns than this build writes (" +
                                objects + ")");
  }
  for (const Layout& layout : kLayouts) {
    std::string columns;
    std::int64_t other_order = 0;
    const std::string from = std::string(" FROM pragma_index_xinfo('") + layout.index + "')";
    const std::string list = "SELECT group_concat(name || ':' || key, ',')" + from;
    // The key columns' order: ascending, BINARY collation.
    const std::string order = "SELECT count(*)" + from + " WHERE key = 1 AND (desc <> 0 OR coll <> 'BINARY')";
    if (db.queryText(list.c_str(), columns) != SQLITE_OK || columns != layout.columns ||
        db.queryInt(order.c_str(), other_order) != SQLITE_OK || other_order != 0) {
      return buildError(path, std::string("the schema's ") + layout.index +
                                  " is not the layout this build writes (" + columns + ")");
    }
  }
  std::string open_sql;
  if (db.queryText("SELECT sql FROM sqlite_schema WHERE name = 'turns_open'", open_sql) != SQLITE_OK ||
      open_sql != kOpenTurnsSql) {
    return buildError(path, "the schema's turns_open is not the partial index this build writes");
  }
  return {};
}

// What the tables' CHECK constraints refuse, which the SQL path would refuse too.
template <typename Text>
Result<void> checkRows(const std::vector<BasicMessageRecord<Text>>& messages,
                       const std::vector<BasicTurn<Text>>& turns, const std::filesystem::path& path) {
  constexpr std::uint8_t kMaxRole = 3;
  constexpr std::uint8_t kMaxRoute = 2;
  for (const BasicMessageRecord<Text>& m : messages) {
    if (m.source.empty()) return buildError(path, "message " + std::string(m.id) + " has no source");
    if (static_cast<std::uint8_t>(m.role) > kMaxRole || static_cast<std::uint8_t>(m.route) > kMaxRoute) {
      return buildError(path, "message " + std::string(m.id) + " has a role or route out of range");
    }
  }
  for (const BasicTurn<Text>& t : turns) {
    if (t.source.empty()) {
      return buildError(path, "the turn of question " + std::string(t.question_id) + " has no source");
    }
    if (static_cast<std::uint8_t>(t.route) > kMaxRoute) {
      return buildError(path,
                        "the turn of question " + std::string(t.question_id) + " has a route out of range");
    }
  }
  return {};
}

Result<std::uint32_t> rootPage(Database& db, const std::filesystem::path& path, std::string_view name) {
  std::int64_t root = 0;
  const std::string sql = "SELECT rootpage FROM sqlite_schema WHERE name = '" + std::string(name) + "'";
  if (db.queryInt(sql.c_str(), root) != SQLITE_OK || root < 2) {
    return buildError(path, "no root page for " + std::string(name));
  }
  return static_cast<std::uint32_t>(root);
}

// True when `order` holds indexes of `rows`, as many as there are rows, each row before
// the next by `less`: then no row comes twice, and each comes once.
template <typename Row, typename Less>
bool strictlyAscending(const std::vector<std::uint32_t>& order, const std::vector<Row>& rows, Less less) {
  const std::size_t n = rows.size();
  if (order.size() != n) return false;
  for (std::size_t k = 0; k < n; ++k) {
    if (k + kPrefetchDistance < n && order[k + kPrefetchDistance] < n) {
      prefetchRow(rows[order[k + kPrefetchDistance]]);
    }
    if (order[k] >= n || (k > 0 && !less(order[k - 1], order[k]))) return false;
  }
  return true;
}

template <typename Row, typename Encode>
Result<void> writeTree(PageFile& file, std::uint32_t root, const std::vector<Row>& rows,
                       const std::vector<std::uint32_t>& order, Encode encode) {
  IndexTreeBuilder tree(file, root);
  RecordWriter writer;
  for (std::size_t k = 0; k < order.size(); ++k) {
    if (k + kPrefetchDistance < order.size()) prefetchRow(rows[order[k + kPrefetchDistance]]);
    const std::uint32_t i = order[k];
    writer.clear();
    encode(writer, i);
    if (auto added = tree.add(writer); !added) return added;
  }
  return tree.finish();
}

void addOptional(RecordWriter& w, const std::optional<Timestamp>& t) {
  t ? w.addInt(toMillis(*t)) : w.addNull();
}

// Each tree's records: the values the SQL path binds (sqlite_store.cpp, bindMessage and
// bindTurn), in the tree's column order.
template <typename Text>
void encodeMessage(RecordWriter& w, const BasicMessageRecord<Text>& m) {
  w.addText(m.source);
  w.addText(m.id);
  w.addText(m.account);
  w.addText(m.channel);
  w.addText(m.conversation_id);
  w.addText(m.in_reply_to);
  w.addInt(toMillis(m.created_at));
  w.addInt(static_cast<std::uint8_t>(m.role));
  w.addText(m.responder);
  w.addText(m.handler);
  w.addInt(static_cast<std::uint8_t>(m.route));
}

template <typename Text>
void encodeTurn(RecordWriter& w, const BasicTurn<Text>& t) {
  w.addText(t.source);
  w.addText(t.conversation_id);
  w.addText(t.question_id);
  w.addText(t.account);
  w.addText(t.channel);
  w.addInt(toMillis(t.asked_at));
  w.addText(t.answer_id);
  addOptional(w, t.answered_at);
  w.addText(t.responder);
  w.addText(t.handler);
  w.addInt(static_cast<std::uint8_t>(t.route));
  addOptional(w, t.breached_at);
}

struct Roots {
  std::uint32_t messages = 0;
  std::uint32_t by_conversation = 0;
  std::uint32_t turns = 0;
  std::uint32_t by_account = 0;
  std::uint32_t open = 0;
};

// Creates the schema in `file` with SQLite (the migrations, as any new store gets them)
// and returns the root pages of the trees to fill.
Result<Roots> createSchema(const std::filesystem::path& file, const std::filesystem::path& path) {
  auto opened = Database::open(file, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, kBusyTimeoutMs);
  if (!opened) return opened.error();
  Database& db = *opened.value();
  if (auto migrated = migrateSchema(db); !migrated) return migrated.error();
  if (auto checked = checkLayout(db, path); !checked) return checked.error();
  Roots roots;
  const std::pair<std::uint32_t*, std::string_view> wanted[] = {
      {&roots.messages, "messages"},
      {&roots.by_conversation, "messages_by_conversation"},
      {&roots.turns, "turns"},
      {&roots.by_account, "turns_by_account_asked_at"},
      {&roots.open, "turns_open"}};
  for (const auto& [out, name] : wanted) {
    auto root = rootPage(db, path, name);
    if (!root) return root.error();
    *out = root.value();
  }
  return roots;
}

bool present(const std::filesystem::path& path) {
  std::error_code ec;
  const auto status = std::filesystem::symlink_status(path, ec);
  return std::filesystem::exists(status) || (ec && ec != std::errc::no_such_file_or_directory);
}

// Nothing a store of that name left (the file, a journal or write-ahead log SQLite would
// apply to the new file, a commit log an open would apply).
Result<void> noStoreAt(const std::filesystem::path& path) {
  for (const char* suffix : {"", "-wal", "-journal"}) {
    const std::filesystem::path beside(path.string() + suffix);
    if (present(beside)) return buildError(path, beside.string() + " exists; a store is built as a new file");
  }
  if (present(commitLogDirectory(path))) {
    return buildError(path,
                      "the commit log " + commitLogDirectory(path).string() + " of an earlier store exists");
  }
  return {};
}

// Renames `from` to `to` unless `to` exists (renameat2 RENAME_NOREPLACE; where the file
// system lacks it, a check then rename, the store's lock keeping replywatch processes out).
Result<void> renameNew(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return {};
  if (errno == EINVAL || errno == ENOSYS) {
    if (present(to)) return buildError(to, "it was created during the build");
    std::error_code ec;
    std::filesystem::rename(from, to, ec);
    if (!ec) return {};
    return buildError(to, "cannot rename " + from.string() + ": " + ec.message());
  }
  if (errno == EEXIST) return buildError(to, "it was created during the build");
  return buildError(to, "cannot rename " + from.string() + ": " + std::strerror(errno));
}

// Removes a file being built and the rollback journal SQLite may have left beside it.
void removeBuilding(const std::filesystem::path& building) {
  std::error_code ec;
  std::filesystem::remove(building, ec);
  std::filesystem::remove(building.string() + "-journal", ec);
}

// Removes the file being built unless the build went through.
class RemoveUnlessKept {
 public:
  explicit RemoveUnlessKept(std::filesystem::path path) : path_(std::move(path)) {}
  ~RemoveUnlessKept() {
    if (!kept_) removeBuilding(path_);
  }
  RemoveUnlessKept(const RemoveUnlessKept&) = delete;
  RemoveUnlessKept& operator=(const RemoveUnlessKept&) = delete;
  void keep() { kept_ = true; }

 private:
  std::filesystem::path path_;
  bool kept_ = false;
};

template <typename Text>
Result<BuiltStore> buildStore(const std::filesystem::path& path,
                              const std::vector<BasicMessageRecord<Text>>& messages,
                              const std::vector<BasicTurn<Text>>& turns, const MessageOrders& given) {
  using MessageRecord = BasicMessageRecord<Text>;
  using Turn = BasicTurn<Text>;
  if (messages.size() > UINT32_MAX || turns.size() > UINT32_MAX) return buildError(path, "too many rows");
  configureSqliteOnce();
  if (auto checked = checkRows(messages, turns, path); !checked) return checked.error();
  if (auto clear = noStoreAt(path); !clear) return clear.error();
  auto lock = CommitLogLock::take(path, /*exclusive=*/true, /*create=*/true,
                                  "pid " + std::to_string(::getpid()) + ", replywatch import");
  if (!lock) return lock.error();
  if (!lock->held()) return buildError(path, "another replywatch process holds the store's lock");
  // Again under the lock: a process that opened the store meanwhile created its file.
  if (auto clear = noStoreAt(path); !clear) return clear.error();

  const std::filesystem::path building(path.string() + ".building");
  removeBuilding(building);  // left by an earlier build
  RemoveUnlessKept cleanup(building);
  auto roots = createSchema(building, path);
  if (!roots) return roots.error();
  auto opened = PageFile::open(building);
  if (!opened) return opened.error();
  PageFile& file = *opened.value();

  // Each thread ranks the columns it sorts by itself: a pass over millions of rows each.
  auto message_sources = [&] {
    return Ranks(messages, [](const MessageRecord& m) -> std::string_view { return m.source; });
  };
  auto turn_sources = [&] {
    return Ranks(turns, [](const Turn& t) -> std::string_view { return t.source; });
  };

  // Two threads: the messages' table and the turns' table and open index here, the two
  // other indexes there.
  Result<void> other_side;
  std::thread side([&] {
    nameThisThread("store-build");
    try {
      auto less = [&](std::uint32_t a, std::uint32_t b) {
        const MessageRecord& x = messages[a];
        const MessageRecord& y = messages[b];
        return std::tie(x.source, x.conversation_id, x.created_at, x.id) <
               std::tie(y.source, y.conversation_id, y.created_at, y.id);
      };
      std::vector<std::uint32_t> sorted;
      if (given.by_conversation.empty()) {
        const Ranks source_ranks = message_sources();
        RankLookup sources(source_ranks);
        sorted = sortedOrder(
                     messages.size(),
                     [&](std::uint32_t i) {
                       const MessageRecord& m = messages[i];
                       return textThenKey(sources(m.source), m.conversation_id,
                                          ordered(toMillis(m.created_at)), i);
                     },
                     less, false)
                     .order;
      } else if (!strictlyAscending(given.by_conversation, messages, less)) {
        other_side = buildError(path, "the messages' order by conversation given is not theirs");
        return;
      }
      const std::vector<std::uint32_t>& by_conversation =
          given.by_conversation.empty() ? sorted : given.by_conversation;
      other_side = writeTree(file, roots->by_conversation, messages, by_conversation,
                             [&](RecordWriter& w, std::uint32_t i) {
                               const MessageRecord& m = messages[i];
                               w.addText(m.source);
                               w.addText(m.conversation_id);
                               w.addInt(toMillis(m.created_at));
                               w.addText(m.id);
                             });
      if (!other_side) return;
      const Ranks turn_source_ranks = turn_sources();
      RankLookup sources_of_turns(turn_source_ranks);
      const Ranks account_ranks(turns, [](const Turn& t) -> std::string_view { return t.account; });
      RankLookup accounts(account_ranks);
      const std::vector<std::uint32_t> by_account =
          sortedOrder(
              turns.size(),
              [&](std::uint32_t i) {
                const Turn& t = turns[i];
                return SortKey{ordered(toMillis(t.asked_at)), sources_of_turns(t.source), accounts(t.account),
                               i};
              },
              [&](std::uint32_t a, std::uint32_t b) {
                return std::tie(turns[a].conversation_id, turns[a].question_id) <
                       std::tie(turns[b].conversation_id, turns[b].question_id);
              },
              false)
              .order;
      other_side =
          writeTree(file, roots->by_account, turns, by_account, [&](RecordWriter& w, std::uint32_t i) {
            const Turn& t = turns[i];
            w.addText(t.account);
            w.addInt(toMillis(t.asked_at));
            w.addText(t.source);
            w.addText(t.conversation_id);
            w.addText(t.question_id);
          });
    } catch (const std::exception& e) {
      other_side = buildError(path, e.what());
    }
  });
  // Joined on every way out, an exception from this thread included.
  struct Joiner {
    std::thread& thread;
    ~Joiner() {
      if (thread.joinable()) thread.join();
    }
  } joiner{side};
  auto here = [&]() -> Result<void> {
    // Message keys sorted, duplicates refused.
    auto less = [&](std::uint32_t a, std::uint32_t b) {
      return std::tie(messages[a].source, messages[a].id) < std::tie(messages[b].source, messages[b].id);
    };
    SortedRows message_sort;
    if (given.by_key.empty()) {
      const Ranks source_ranks = message_sources();
      RankLookup sources(source_ranks);
      message_sort = sortedOrder(
          messages.size(),
          [&](std::uint32_t i) { return textKey(sources(messages[i].source), messages[i].id, i); }, less,
          true);
    } else if (!strictlyAscending(given.by_key, messages, less)) {
      // Strictly ascending: no key twice either.
      return buildError(path, "the messages' order by key given is not theirs (or a message comes twice)");
    }
    const std::vector<std::uint32_t>& message_order =
        given.by_key.empty() ? message_sort.order : given.by_key;
    for (const std::size_t i : message_sort.ties) {
      const MessageRecord& x = messages[message_order[i - 1]];
      const MessageRecord& y = messages[message_order[i]];
      if (x.source == y.source && x.id == y.id) {
        return buildError(path, "message " + std::string(y.id) + " comes twice");
      }
    }

    if (auto written = writeTree(file, roots->messages, messages, message_order,
                                 [&](RecordWriter& w, std::uint32_t i) { encodeMessage(w, messages[i]); });
        !written) {
      return written;
    }
    const Ranks turn_source_ranks = turn_sources();
    RankLookup sources_of_turns(turn_source_ranks);
    SortedRows turn_sort = sortedOrder(
        turns.size(),
        [&](std::uint32_t i) {
          const Turn& t = turns[i];
          return textThenKey(sources_of_turns(t.source), t.conversation_id, shortKeyOf(t.question_id), i);
        },
        [&](std::uint32_t a, std::uint32_t b) {
          return std::tie(turns[a].conversation_id, turns[a].question_id) <
                 std::tie(turns[b].conversation_id, turns[b].question_id);
        },
        true);
    std::vector<std::uint32_t>& turn_order = turn_sort.order;
    for (const std::size_t i : turn_sort.ties) {
      const Turn& x = turns[turn_order[i - 1]];
      const Turn& y = turns[turn_order[i]];
      if (x.source == y.source && x.conversation_id == y.conversation_id && x.question_id == y.question_id) {
        return buildError(path, "the turn of question " + std::string(y.question_id) + " comes twice");
      }
    }
    if (auto written = writeTree(file, roots->turns, turns, turn_order,
                                 [&](RecordWriter& w, std::uint32_t i) { encodeTurn(w, turns[i]); });
        !written) {
      return written;
    }
    std::erase_if(turn_order, [&](std::uint32_t i) { return turns[i].answered_at.has_value(); });
    return writeTree(file, roots->open, turns, turn_order, [&](RecordWriter& w, std::uint32_t i) {
      const Turn& t = turns[i];
      w.addText(t.source);
      w.addText(t.conversation_id);
      w.addText(t.question_id);
    });
  }();
  side.join();
  if (!here) return here.error();
  if (!other_side) return other_side.error();
  if (auto finished = file.finish(); !finished) return finished.error();
  BuiltStore built{messages.size(), turns.size(), file.pageCount()};
  opened.value().reset();  // closes the file

  if (auto renamed = renameNew(building, path); !renamed) return renamed.error();
  cleanup.keep();
  if (const int err = syncDirectory(path.parent_path()); err != 0) {
    // Not known to survive a crash: not a store to go on with (best effort).
    std::error_code ec;
    std::filesystem::remove(path, ec);
    return ioError(err, "cannot sync the directory of", path);
  }
  return built;
}

}  // namespace

Result<void> storePathFree(const std::filesystem::path& path) { return noStoreAt(path); }

Result<BuiltStore> buildSqliteStore(const std::filesystem::path& path,
                                    const std::vector<MessageRecord>& messages,
                                    const std::vector<Turn>& turns, const MessageOrders& given) {
  return buildStore(path, messages, turns, given);
}

Result<BuiltStore> buildSqliteStore(const std::filesystem::path& path,
                                    const std::vector<CompactMessageRecord>& messages,
                                    const std::vector<CompactTurn>& turns, const MessageOrders& given) {
  return buildStore(path, messages, turns, given);
}

}  // namespace replywatch::store
