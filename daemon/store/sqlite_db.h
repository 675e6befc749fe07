#pragma once
// Thin RAII layer over the SQLite C API used by the store: a connection owning its
// prepared statements, and a statement wrapper whose binds never copy (SQLITE_STATIC).
//
// Nothing here is thread-safe: every Database is used under a mutex held by its owner.
// Connections are opened with SQLITE_OPEN_NOMUTEX for that reason.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "daemon/core/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace replywatch::store {

// Builds the store Error for a failed SQLite call: reason "store_full" when the
// (extended) result code is SQLITE_FULL, "store" otherwise; message
// "<what> <path>: <sqlite message>".
Error sqliteError(int code, std::string_view what, const std::filesystem::path& path,
                  std::string_view detail);

// A prepared statement. Binds keep pointers to the caller's data (SQLITE_STATIC): the
// bound strings must stay alive and unchanged until reset(). Owned by its Database.
class Statement {
 public:
  Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}  // NOLINT(google-explicit-constructor)
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // 1-based parameter index. Return the SQLite result code (SQLITE_OK on success).
  int bind(int index, std::string_view text);
  int bind(int index, std::int64_t value);
  int bindNull(int index);
  int bind(int index, const std::optional<std::int64_t>& value);
  // Index of a named parameter (":name"), 0 when the statement has none of that name.
  int parameterIndex(const char* name) const;

  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step();
  // Makes the statement reusable and releases its read snapshot; clears no bindings.
  void reset();

  std::int64_t columnInt(int column) const;
  bool columnIsNull(int column) const;
  std::optional<std::int64_t> columnOptionalInt(int column) const;
  // Copies column text into `out`, reusing its capacity.
  void columnText(int column, std::string& out) const;

 private:
  sqlite3_stmt* stmt_;
};

// Resets a statement when leaving a scope, whatever the path.
class ResetGuard {
 public:
  explicit ResetGuard(Statement& stmt) : stmt_(stmt) {}
  ~ResetGuard() { stmt_.reset(); }
  ResetGuard(const ResetGuard&) = delete;
  ResetGuard& operator=(const ResetGuard&) = delete;

 private:
  Statement& stmt_;
};

// How long every connection of the store waits for a lock another connection (or
// process) holds before a statement fails with SQLITE_BUSY.
inline constexpr int kBusyTimeoutMs = 5000;

// One sqlite3 connection and its cache of prepared statements (keyed by SQL text).
class Database {
 public:
  // Opens `path` with the given sqlite3_open_v2 flags (SQLITE_OPEN_NOMUTEX is added)
  // and sets the busy timeout. With SQLITE_OPEN_CREATE, a file that does not exist is
  // created 0600 whatever the umask (its -wal and -shm files follow its mode). On
  // failure the Error says "cannot open store <path>: ...".
  static Result<std::unique_ptr<Database>> open(const std::filesystem::path& path, int flags,
                                                int busy_timeout_ms);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs one or more SQL statements that return no rows of interest. SQLite result code.
  int exec(const char* sql);
  // Runs a query returning a single integer (e.g. "PRAGMA user_version"). Fails with
  // the SQLite result code; a query returning no row yields SQLITE_DONE.
  int queryInt(const char* sql, std::int64_t& out);
  // Same, for a single text value.
  int queryText(const char* sql, std::string& out);

  // The cached statement for `sql`, preparing it on first use (nullptr on failure:
  // lastErrorCode()/lastErrorMessage() explain why).
  Statement* prepare(std::string_view sql);

  // Rolls back the open transaction, if any. Never fails visibly.
  void rollbackIfOpen();

  int changes() const;
  int lastErrorCode() const;
  std::string lastErrorMessage() const;
  const std::filesystem::path& path() const { return path_; }
  sqlite3* handle() const { return db_; }

 private:
  Database(sqlite3* db, std::filesystem::path path) : db_(db), path_(std::move(path)) {}

  sqlite3* db_;
  std::filesystem::path path_;
  struct SqlHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::unique_ptr<Statement>, SqlHash, std::equal_to<>> statements_;
};

// Process-wide SQLite settings, applied once before the library initializes (no memory
// statistics). Called before any connection of the store is opened.
void configureSqliteOnce();

// Applies the store's pending schema migrations to `db` (a read-write connection);
// returns the schema version the file has afterwards. Defined with the migrations
// (sqlite_store.cpp).
Result<int> migrateSchema(Database& db);

}  // namespace replywatch::store
