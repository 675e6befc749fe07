#include "daemon/store/sqlite_db.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <limits>

namespace replywatch::store {

Error sqliteError(int code, std::string_view what, const std::filesystem::path& path,
                  std::string_view detail) {
  std::string message;
  message.reserve(what.size() + detail.size() + 64);
  message.append(what).append(" ").append(path.string()).append(": ").append(detail);
  const bool full = (code & 0xff) == SQLITE_FULL;
  return makeError(full ? "store_full" : "store", std::move(message));
}

// --- Statement ----------------------------------------------------------------------

Statement::~Statement() { sqlite3_finalize(stmt_); }

int Statement::bind(int index, std::string_view text) {
  // A string_view over an empty string may have a null data(); SQLite would store NULL.
  const char* data = text.data() != nullptr ? text.data() : "";
  if (text.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) return SQLITE_TOOBIG;
  return sqlite3_bind_text(stmt_, index, data, static_cast<int>(text.size()), SQLITE_STATIC);
}

int Statement::bind(int index, std::int64_t value) { return sqlite3_bind_int64(stmt_, index, value); }

int Statement::bindNull(int index) { return sqlite3_bind_null(stmt_, index); }

int Statement::bind(int index, const std::optional<std::int64_t>& value) {
  return value ? bind(index, *value) : bindNull(index);
}

int Statement::parameterIndex(const char* name) const { return sqlite3_bind_parameter_index(stmt_, name); }

int Statement::step() { return sqlite3_step(stmt_); }

void Statement::reset() { sqlite3_reset(stmt_); }

std::int64_t Statement::columnInt(int column) const { return sqlite3_column_int64(stmt_, column); }

bool Statement::columnIsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

std::optional<std::int64_t> Statement::columnOptionalInt(int column) const {
  if (columnIsNull(column)) return std::nullopt;
  return columnInt(column);
}

void Statement::columnText(int column, std::string& out) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  const int size = sqlite3_column_bytes(stmt_, column);
  if (text == nullptr || size <= 0) {
    out.clear();
    return;
  }
  out.assign(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
}

// --- Database -----------------------------------------------------------------------

Result<std::unique_ptr<Database>> Database::open(const std::filesystem::path& path, int flags,
                                                 int busy_timeout_ms) {
  if ((flags & SQLITE_OPEN_CREATE) != 0) {
    // A new database is readable by its owner only, whatever the umask: it names
    // responders, handlers and conversations. SQLite gives its -wal, -shm and journal
    // files the database file's mode. Only a file this call creates is opened here:
    // closing a descriptor of a file SQLite has open in this process would drop the
    // POSIX locks SQLite holds on it. Failures are left to sqlite3_open_v2 to report.
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) ::close(fd);
  }
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    // Even on failure SQLite usually hands back a handle carrying the message.
    std::string detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return sqliteError(rc, "cannot open store", path, detail);
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, busy_timeout_ms);
  return std::unique_ptr<Database>(new Database(db, path));
}

Database::~Database() {
  statements_.clear();  // finalize every statement before closing
  sqlite3_close(db_);
}

int Database::exec(const char* sql) { return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr); }

int Database::queryInt(const char* sql, std::int64_t& out) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql, -1, &raw, nullptr);
  if (rc != SQLITE_OK) return rc;
  Statement stmt(raw);
  rc = stmt.step();
  if (rc != SQLITE_ROW) return rc;
  out = stmt.columnInt(0);
  return SQLITE_OK;
}

int Database::queryText(const char* sql, std::string& out) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql, -1, &raw, nullptr);
  if (rc != SQLITE_OK) return rc;
  Statement stmt(raw);
  rc = stmt.step();
  if (rc != SQLITE_ROW) return rc;
  stmt.columnText(0, out);
  return SQLITE_OK;
}

Statement* Database::prepare(std::string_view sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) return it->second.get();
  std::string key(sql);
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v3(db_, key.c_str(), static_cast<int>(key.size()), SQLITE_PREPARE_PERSISTENT,
                                    &raw, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(raw);
    return nullptr;
  }
  auto [pos, inserted] = statements_.emplace(std::move(key), std::make_unique<Statement>(raw));
  (void)inserted;
  return pos->second.get();
}

void Database::rollbackIfOpen() {
  if (sqlite3_get_autocommit(db_) == 0) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

int Database::changes() const { return sqlite3_changes(db_); }

int Database::lastErrorCode() const { return sqlite3_extended_errcode(db_); }

std::string Database::lastErrorMessage() const { return sqlite3_errmsg(db_); }

}  // namespace replywatch::store
