#pragma once
// Copies the write-ahead log back into the database file on a thread of its own, so that
// the store's commits never run a checkpoint themselves.
//
// SQLite's default runs a checkpoint inside the commit that takes the log over 1,000
// pages: the writer then copies every page of the log into the database file and syncs
// it, while the deliveries of the next group commit wait. Here a WAL hook on the write
// connection (which replaces that automatic checkpoint) only wakes this thread, which
// runs a PASSIVE checkpoint on its own connection while the writer goes on appending to
// the log. The log only starts over from its beginning (and stops growing) when a write
// transaction begins with every page of it copied; under a steady stream of commits the
// background copy never quite catches up, so once it is done the thread takes the
// writer's mutex (waiting for the commit in progress, at most 50 ms, then giving up
// until the next wake-up) and copies the few pages committed meanwhile: the writer waits
// for that short remainder only. Should the thread fall behind anyway (the log reaches
// `backstop_pages`, e.g. while it is paused), the commit that crosses the mark
// checkpoints itself, as SQLite's default would: the log stays bounded whatever happens.
//
// Threading: the hook runs on the thread committing on the write connection, which holds
// `writer_mutex` for every use of that connection; pause() may be called with
// `writer_mutex` held (it then waits for at most one checkpoint and 50 ms); resume() and
// stats() may be called from any thread; the destructor stops and joins the
// thread and puts SQLite's automatic checkpoint back on the write connection, so it must
// run while that connection is open and no commit is in progress.
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

#include "daemon/core/result.h"

struct sqlite3;

namespace replywatch::store {

class Database;

struct CheckpointOptions {
  int wake_pages = 1000;       // a commit leaving at least this many pages in the log wakes the thread
  int backstop_pages = 16000;  // ... at least this many checkpoints on the committing thread
};

struct CheckpointStats {
  std::uint64_t background = 0;  // checkpoints run on the checkpoint thread
  std::uint64_t catch_ups = 0;   // ... of them, remainders copied holding the writer's mutex
  std::uint64_t restarts = 0;    // commits that started the log over from its beginning
  std::uint64_t by_commit = 0;   // checkpoints run by a commit (the backstop)
  std::uint64_t failed = 0;      // checkpoints that returned an error other than SQLITE_BUSY
};

class WalCheckpointer {
 public:
  // Opens the checkpoint connection to `path`, installs the hook on `writer` and starts
  // the thread. An Error when the connection cannot be opened (nothing installed then).
  static Result<std::unique_ptr<WalCheckpointer>> start(const std::filesystem::path& path, Database& writer,
                                                        std::timed_mutex& writer_mutex,
                                                        CheckpointOptions options = {});
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Closes the checkpoint connection after the checkpoint in progress, if any, so that
  // the writer can take the file for itself (leaving WAL mode needs every other
  // connection closed). Until resume(), wake-ups are ignored and only the backstop
  // checkpoints. Blocks for at most one checkpoint.
  void pause();
  // Reopens the checkpoint connection. An Error when it cannot be opened: the store goes
  // on with the backstop alone.
  Result<void> resume();

  CheckpointStats stats() const;

 private:
  WalCheckpointer(std::filesystem::path path, Database& writer, std::timed_mutex& writer_mutex,
                  CheckpointOptions options, std::unique_ptr<Database> connection);
  static int onCommit(void* self, sqlite3* db, const char* schema, int log_pages);
  void run();

  const std::filesystem::path path_;
  Database& writer_;
  std::timed_mutex& writer_mutex_;
  const CheckpointOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unique_ptr<Database> connection_;  // null while paused
  bool wanted_ = false;                   // a wake-up not yet served
  bool running_ = false;                  // the thread is checkpointing on connection_
  bool stopping_ = false;
  int last_log_pages_ = 0;  // the writer's thread only (the hook)
  CheckpointStats stats_;
  std::thread thread_;
};

}  // namespace replywatch::store
