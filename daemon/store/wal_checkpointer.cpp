#include "daemon/store/wal_checkpointer.h"

#include <sqlite3.h>

#include <chrono>
#include <utility>

#include "daemon/core/thread_name.h"
#include "daemon/core/thread_priority.h"
#include "daemon/store/sqlite_db.h"

namespace replywatch::store {
namespace {

// SQLite's own automatic checkpoint threshold, put back when the checkpointer goes.
constexpr int kSqliteDefaultAutocheckpoint = 1000;
// How long the checkpoint thread waits for the writer's mutex to copy the remainder.
constexpr auto kCatchUpWait = std::chrono::milliseconds(50);

Result<std::unique_ptr<Database>> openConnection(const std::filesystem::path& path) {
  // PASSIVE checkpoints never call the busy handler; the timeout only matters to the
  // pragma below.
  auto db = Database::open(path, SQLITE_OPEN_READWRITE, kBusyTimeoutMs);
  if (!db.ok()) return db.error();
  // synchronous=FULL: a checkpoint syncs the log before copying it, and the database
  // file before the log may be reused. Reading the schema version joins the connection
  // to the log at once: from then on it holds the file in WAL mode, like the store's
  // other connections (see pause()).
  std::int64_t version = 0;
  int rc = db.value()->exec("PRAGMA synchronous = FULL");
  if (rc == SQLITE_OK) rc = db.value()->queryInt("PRAGMA user_version", version);
  if (rc != SQLITE_OK) {
    return sqliteError(rc, "cannot configure the checkpoint connection of store", path,
                       db.value()->lastErrorMessage());
  }
  return db;
}

}  // namespace

Result<std::unique_ptr<WalCheckpointer>> WalCheckpointer::start(const std::filesystem::path& path,
                                                                Database& writer,
                                                                std::timed_mutex& writer_mutex,
                                                                CheckpointOptions options) {
  auto connection = openConnection(path);
  if (!connection.ok()) return connection.error();
  std::unique_ptr<WalCheckpointer> self(
      new WalCheckpointer(path, writer, writer_mutex, options, std::move(connection.value())));
  sqlite3_wal_hook(writer.handle(), &WalCheckpointer::onCommit, self.get());
  self->thread_ = std::thread([raw = self.get()] { raw->run(); });
  return self;
}

WalCheckpointer::WalCheckpointer(std::filesystem::path path, Database& writer, std::timed_mutex& writer_mutex,
                                 CheckpointOptions options, std::unique_ptr<Database> connection)
    : path_(std::move(path)),
      writer_(writer),
      writer_mutex_(writer_mutex),
      options_(options),
      connection_(std::move(connection)) {}

WalCheckpointer::~WalCheckpointer() {
  // Back to SQLite's automatic checkpoint (which also removes the hook).
  sqlite3_wal_autocheckpoint(writer_.handle(), kSqliteDefaultAutocheckpoint);
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  connection_.reset();
}

int WalCheckpointer::onCommit(void* self_ptr, sqlite3* db, const char* schema, int log_pages) {
  auto* self = static_cast<WalCheckpointer*>(self_ptr);
  if (log_pages < self->last_log_pages_) {
    std::lock_guard lock(self->mu_);
    ++self->stats_.restarts;
  }
  self->last_log_pages_ = log_pages;
  if (log_pages < self->options_.wake_pages) return SQLITE_OK;
  if (log_pages >= self->options_.backstop_pages) {
    // The thread is behind or paused: checkpoint here, as SQLite's default would.
    const int rc = sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    std::lock_guard lock(self->mu_);
    ++self->stats_.by_commit;
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) ++self->stats_.failed;
    return SQLITE_OK;
  }
  {
    std::lock_guard lock(self->mu_);
    if (self->wanted_) return SQLITE_OK;
    self->wanted_ = true;
  }
  self->cv_.notify_all();
  return SQLITE_OK;
}

void WalCheckpointer::run() {
  nameThisThread("wal-checkpoint");
  (void)lowerThisThreadPriority(kBackgroundNiceIncrement);
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || (wanted_ && connection_ != nullptr); });
    if (stopping_) return;
    wanted_ = false;
    running_ = true;
    sqlite3* db = connection_->handle();
    lock.unlock();
    // PASSIVE: copies what no reader still needs, without waiting for the writer or any
    // reader; the writer goes on appending meanwhile.
    int log_frames = 0;
    int copied_frames = 0;
    int rc = sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &copied_frames);
    bool caught_up = false;
    if (rc == SQLITE_OK && copied_frames == log_frames) {
      // Frames the writer committed meanwhile, if any: copied while it waits, so that its
      // next transaction finds the whole log copied and starts it over.
      std::unique_lock writer_lock(writer_mutex_, std::defer_lock);
      if (writer_lock.try_lock_for(kCatchUpWait)) {
        rc = sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        caught_up = true;
      }
    }
    lock.lock();
    running_ = false;
    ++stats_.background;
    if (caught_up) ++stats_.catch_ups;
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) ++stats_.failed;
    cv_.notify_all();
  }
}

void WalCheckpointer::pause() {
  std::unique_ptr<Database> closing;
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return !running_; });
    closing = std::move(connection_);
  }
  closing.reset();
}

Result<void> WalCheckpointer::resume() {
  {
    std::lock_guard lock(mu_);
    if (connection_ != nullptr) return {};
  }
  auto connection = openConnection(path_);
  if (!connection.ok()) return connection.error();
  {
    std::lock_guard lock(mu_);
    connection_ = std::move(connection.value());
  }
  cv_.notify_all();
  return {};
}

CheckpointStats WalCheckpointer::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace replywatch::store
