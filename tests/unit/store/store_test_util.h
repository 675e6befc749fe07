#pragma once
// Helpers shared by the store tests: a fresh temporary directory per test, record
// builders, and raw SQLite access to inspect or tamper with a store file.
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>

#include "daemon/core/model.h"
#include "daemon/store/store.h"
#include "tests/unit/captured_log.h"

namespace replywatch::store::testing {

using replywatch::test_support::CapturedLog;

// prefix + n + suffix; built with append (operator+ on literals trips GCC 12's
// -Wrestrict false positive at -O2).
inline std::string numbered(std::string_view prefix, std::int64_t n, std::string_view suffix = {}) {
  std::string out(prefix);
  out.append(std::to_string(n)).append(suffix);
  return out;
}

// A directory under the system temp dir, removed with its content on destruction.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
    std::string name = numbered("replywatch-store-test-", ::getpid());
    name.append(numbered("-", stamp)).append(numbered("-", counter++));
    path_ = std::filesystem::temp_directory_path() / name;
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path file(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Field values shared by the builders (std::string constants: assigning literals trips
// the same GCC 12 false positive once inlined).
inline const std::string kAccount = "acme";
inline const std::string kChannel = "x";
inline const std::string kResponder = "acme_support";
inline const std::string kAgencyHandler = "agency-a";
inline const std::string kInternalHandler = "internal-team";
inline const std::string kAnswerSuffix = "-answer";

inline MessageRecord message(const std::string& source, const std::string& conversation,
                             const std::string& id, std::int64_t created_ms, Role role = Role::Question) {
  MessageRecord m;
  m.source = source;
  m.id = id;
  m.account = kAccount;
  m.channel = kChannel;
  m.conversation_id = conversation;
  if (id != conversation) m.in_reply_to = conversation;
  m.created_at = fromMillis(created_ms);
  m.role = role;
  if (role == Role::Brand) {
    m.responder = kResponder;
    m.handler = kAgencyHandler;
    m.route = Route::Agency;
  }
  return m;
}

inline Turn openTurn(const std::string& source, const std::string& conversation, const std::string& question,
                     std::int64_t asked_ms, const std::string& account = kAccount,
                     const std::string& channel = kChannel) {
  Turn t;
  t.account = account;
  t.channel = channel;
  t.source = source;
  t.conversation_id = conversation;
  t.question_id = question;
  t.asked_at = fromMillis(asked_ms);
  return t;
}

inline Turn answeredTurn(const std::string& source, const std::string& conversation,
                         const std::string& question, std::int64_t asked_ms, std::int64_t answered_ms,
                         const std::string& account = kAccount) {
  Turn t = openTurn(source, conversation, question, asked_ms, account);
  t.answer_id = question;
  t.answer_id.append(kAnswerSuffix);
  t.answered_at = fromMillis(answered_ms);
  t.responder = kResponder;
  t.handler = kInternalHandler;
  t.route = Route::Internal;
  return t;
}

// A raw connection to a store file, for checks the Store interface does not offer.
class RawDb {
 public:
  explicit RawDb(const std::filesystem::path& path, int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) {
    ok_ = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) == SQLITE_OK;
  }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  bool ok() const { return ok_; }
  bool exec(const std::string& sql) {
    return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK;
  }
  // First column of the first row as text ("" when no row or on error).
  std::string text(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    std::string out;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(stmt, 0);
      if (t != nullptr) out = reinterpret_cast<const char*>(t);
    }
    sqlite3_finalize(stmt);
    return out;
  }
  std::int64_t integer(const std::string& sql) {
    const std::string t = text(sql);
    return t.empty() ? -1 : std::stoll(t);
  }

 private:
  sqlite3* db_ = nullptr;
  bool ok_ = false;
};

}  // namespace replywatch::store::testing
