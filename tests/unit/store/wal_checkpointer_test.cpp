// The write-ahead log is checkpointed on the checkpoint thread, not by the commits; the
// backstop bounds the log while the thread is paused; pausing lets the writer leave WAL
// mode; the store goes on committing durably throughout.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "daemon/store/sqlite_db.h"
#include "daemon/store/wal_checkpointer.h"
#include "store_test_util.h"

namespace replywatch::store {
namespace {

using testing::TempDir;

std::unique_ptr<Database> openWriter(const std::filesystem::path& path) {
  auto db = Database::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 5000);
  EXPECT_TRUE(db.ok());
  std::string mode;
  EXPECT_EQ(db.value()->queryText("PRAGMA journal_mode = WAL", mode), SQLITE_OK);
  EXPECT_EQ(mode, "wal");
  EXPECT_EQ(db.value()->exec("PRAGMA synchronous = FULL;"
                             "CREATE TABLE t (id INTEGER PRIMARY KEY, payload TEXT NOT NULL);"),
            SQLITE_OK);
  return std::move(db.value());
}

// Held around every use of the write connection, as the store does.
std::timed_mutex g_writer_mutex;

// One transaction of `rows` rows of about 1 KiB: each dirties about a quarter page.
void commitRows(Database& db, int rows) {
  std::lock_guard lock(g_writer_mutex);
  ASSERT_EQ(db.exec("BEGIN IMMEDIATE"), SQLITE_OK);
  Statement* insert = db.prepare("INSERT INTO t (payload) VALUES (?1)");
  ASSERT_NE(insert, nullptr);
  const std::string payload(1000, 'x');
  for (int i = 0; i < rows; ++i) {
    insert->bind(1, std::string_view(payload));
    ASSERT_EQ(insert->step(), SQLITE_DONE);
    insert->reset();
  }
  ASSERT_EQ(db.exec("COMMIT"), SQLITE_OK);
}

std::int64_t rowCount(Database& db) {
  std::int64_t rows = -1;
  EXPECT_EQ(db.queryInt("SELECT COUNT(*) FROM t", rows), SQLITE_OK);
  return rows;
}

bool waitFor(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return condition();
}

std::uintmax_t walBytes(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path.string() + "-wal", ec);
  return ec ? 0 : size;
}

// A fresh WAL-mode file with its write connection, per test.
class WalCheckpointerTest : public ::testing::Test {
 protected:
  // Starts a checkpointer on the test's file; fails the test when it cannot.
  std::unique_ptr<WalCheckpointer> start(CheckpointOptions options = {}) {
    auto started = WalCheckpointer::start(path_, *writer_, g_writer_mutex, options);
    EXPECT_TRUE(started.ok()) << (started.ok() ? "" : started.error().message);
    return started.ok() ? std::move(started.value()) : nullptr;
  }

  TempDir dir_;
  std::filesystem::path path_ = dir_.file("wal.db");
  std::unique_ptr<Database> writer_ = openWriter(path_);
};

TEST_F(WalCheckpointerTest, CheckpointsOnItsThreadAndTheLogIsReused) {
  auto checkpointer = start({.wake_pages = 50, .backstop_pages = 100000});
  ASSERT_NE(checkpointer, nullptr);

  // 200 commits of 50 rows: about 2,500 pages (10 MB) through the log. The writer has
  // no automatic checkpoint: only the checkpoint thread copies them into the file.
  for (int i = 0; i < 200; ++i) commitRows(*writer_, 50);
  ASSERT_TRUE(waitFor([&] { return std::filesystem::file_size(path_) > 5U * 1024 * 1024; }))
      << "database file " << std::filesystem::file_size(path_) << " bytes";
  const CheckpointStats stats = checkpointer->stats();
  EXPECT_GT(stats.background, 0U);
  EXPECT_EQ(stats.by_commit, 0U);
  EXPECT_EQ(stats.failed, 0U);
  EXPECT_EQ(rowCount(*writer_), 200 * 50);
}

TEST_F(WalCheckpointerTest, TheLogStartsOverUnderASteadyStreamOfCommits) {
  auto checkpointer = start({.wake_pages = 100, .backstop_pages = 100000});
  ASSERT_NE(checkpointer, nullptr);
  // Commits back to back (at most about 250 MB through the log): without the catch-up
  // under the writer's mutex the background copy trails the commits and the log never
  // starts over.
  int commits = 0;
  CheckpointStats stats;
  for (; commits < 5000; ++commits) {
    commitRows(*writer_, 50);
    stats = checkpointer->stats();
    if (stats.restarts >= 3 && stats.catch_ups >= 3) break;
  }
  EXPECT_GE(stats.restarts, 3U) << commits << " commits, " << stats.background << " checkpoints, "
                                << stats.catch_ups << " catch-ups";
  EXPECT_GE(stats.catch_ups, 3U);
  EXPECT_EQ(stats.by_commit, 0U);
  EXPECT_EQ(stats.failed, 0U);
  EXPECT_EQ(rowCount(*writer_), static_cast<std::int64_t>(std::min(commits + 1, 5000)) * 50);
}

TEST_F(WalCheckpointerTest, CommitsCheckpointThemselvesWhilePaused) {
  auto checkpointer = start({.wake_pages = 20, .backstop_pages = 200});
  ASSERT_NE(checkpointer, nullptr);
  checkpointer->pause();
  const std::uint64_t before = checkpointer->stats().background;
  for (int i = 0; i < 200; ++i) commitRows(*writer_, 50);
  const CheckpointStats paused = checkpointer->stats();
  EXPECT_EQ(paused.background, before);  // wake-ups are ignored while paused
  EXPECT_GT(paused.by_commit, 0U);       // the backstop kept the log bounded
  EXPECT_EQ(paused.failed, 0U);
  EXPECT_LT(walBytes(path_), 4U * 1024 * 1024);

  ASSERT_TRUE(checkpointer->resume().ok());
  for (int i = 0; i < 20; ++i) commitRows(*writer_, 50);
  EXPECT_TRUE(waitFor([&] { return checkpointer->stats().background > before; }));
  EXPECT_EQ(rowCount(*writer_), 220 * 50);
}

TEST_F(WalCheckpointerTest, PausedTheWriterCanLeaveWalMode) {
  auto checkpointer = start();
  ASSERT_NE(checkpointer, nullptr);
  commitRows(*writer_, 10);
  // With the checkpoint connection open, the file cannot leave WAL mode.
  sqlite3_busy_timeout(writer_->handle(), 0);
  std::string mode;
  const int refused = writer_->queryText("PRAGMA journal_mode = DELETE", mode);
  EXPECT_TRUE(refused != SQLITE_OK || mode == "wal") << "journal mode became " << mode;
  checkpointer->pause();
  ASSERT_EQ(writer_->queryText("PRAGMA journal_mode = DELETE", mode), SQLITE_OK);
  EXPECT_EQ(mode, "delete");
  ASSERT_EQ(writer_->queryText("PRAGMA journal_mode = WAL", mode), SQLITE_OK);
  EXPECT_EQ(mode, "wal");
  ASSERT_TRUE(checkpointer->resume().ok());
  commitRows(*writer_, 10);
  EXPECT_EQ(rowCount(*writer_), 20);
}

TEST_F(WalCheckpointerTest, StoppingPutsSqlitesAutomaticCheckpointBack) {
  {
    auto checkpointer = start({.wake_pages = 1000000, .backstop_pages = 1000000});
    ASSERT_NE(checkpointer, nullptr);
  }
  // SQLite's own checkpoint at 1,000 pages runs again: 5,000 pages written, a small log.
  for (int i = 0; i < 100; ++i) commitRows(*writer_, 200);
  EXPECT_LT(walBytes(path_), 8U * 1024 * 1024);
  EXPECT_EQ(rowCount(*writer_), 100 * 200);
}

TEST(WalCheckpointer, UnopenableFileIsAnError) {
  TempDir dir;
  const auto path = dir.file("wal.db");
  auto writer = openWriter(path);
  auto started = WalCheckpointer::start(dir.file("missing/nowhere.db"), *writer, g_writer_mutex);
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.error().message.find("cannot open store"), std::string::npos) << started.error().message;
}

}  // namespace
}  // namespace replywatch::store
