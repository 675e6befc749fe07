#pragma once
// The store's commit log: batches acknowledged before SQLite holds them.
//
// With OpenOptions::commit_log, a commit is durable once its encoded batch
// (batch_codec.h) is appended here and the file synced (one fdatasync of a few hundred
// bytes per group commit, instead of every B-tree page the batch dirties); a thread of
// the store then applies the logged batches to SQLite in large transactions, recording
// in the same transaction the sequence number (LSN) of the last batch applied. A segment
// whose every record is applied becomes the next spare segment, or is deleted. When the
// store is next opened read-write, the records after the recorded LSN are applied
// before anything else.
//
// Files: a directory beside the database (`<database>-log/`) holding segments named by
// the LSN of their first record (16 hex digits, `.log`). A record is a little-endian
// header — payload length (u32), CRC-32 of the LSN and payload (u32), LSN (u64) — then
// the payload. Reading a segment stops at the first record that is incomplete, fails
// its CRC or does not carry the next LSN: the tail of a write a crash interrupted, which
// was never acknowledged (one append at a time: only the last record can be torn), or
// the zeros and older records of a reused segment (lower LSNs). A whole record with the
// expected LSN or a later one after that point means the bytes before it are damaged
// (a bad sector, a bit flip): the records after them were acknowledged, and reading
// fails rather than leave them out.
//
// Threading: append(), takeApplied() and segments() are called with the store's commit
// mutex held (one caller at a time); prepareSpare() and recycle() from the thread
// applying the log, without it; readRecords() and removeAll() before the log is in use.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/core/result.h"

namespace replywatch::store {

struct LogRecord {
  std::uint64_t lsn = 0;
  std::string payload;
};

// The path the commit log and its lock of the database at `database` are named after:
// `database` made absolute with every symbolic link resolved, as SQLite resolves them
// for its -wal and -shm files. Every spelling of the path of one database file (a
// symbolic link to it or to a directory above it, `..`) leads to the same log and the
// same lock, beside those files. A hard link is another file name that SQLite does not
// resolve either: the store refuses to be written through one (openSqliteStore).
std::filesystem::path resolvedDatabasePath(const std::filesystem::path& database);

// The directory of the commit log of the database at `database`: beside the file it
// resolves to (resolvedDatabasePath()), named after it with `-log`.
std::filesystem::path commitLogDirectory(const std::filesystem::path& database);

// A lock on the commit log of one database (an flock on `<database>-log.lock`, beside
// the file `database` resolves to): every read-write open of the store (serve, import)
// holds it exclusively for as long as the store is open, and writes in the lock file
// who it is (owner()); a read-only command takes it shared for a moment to look at a log
// a crash left, and leaves the log alone when a process holds it. (Not an flock on the
// database file itself: closing a descriptor of that file would release the POSIX
// locks SQLite holds on it in the same process.)
class CommitLogLock {
 public:
  // Takes the lock without waiting: a lock with held() false when another process
  // holds it in a conflicting mode; an Error when the lock file cannot be opened (or,
  // without `create`, does not exist). An exclusive lock taken writes `owner` (one
  // line, such as "pid 42, replywatch serve") in the lock file until it is released.
  static Result<CommitLogLock> take(const std::filesystem::path& database, bool exclusive, bool create = true,
                                    std::string_view owner = {});
  // What the process holding the lock of `database` exclusively wrote in the lock file;
  // empty when nothing is there or it cannot be read.
  static std::string owner(const std::filesystem::path& database);
  CommitLogLock() = default;
  ~CommitLogLock();
  CommitLogLock(CommitLogLock&& other) noexcept;
  CommitLogLock& operator=(CommitLogLock&& other) noexcept;
  CommitLogLock(const CommitLogLock&) = delete;
  CommitLogLock& operator=(const CommitLogLock&) = delete;

  bool held() const { return fd_ >= 0; }

 private:
  CommitLogLock(int fd, bool owned) : fd_(fd), owned_(owned) {}
  void release();
  int fd_ = -1;
  bool owned_ = false;  // the lock file holds our owner line: emptied on release
};

class CommitLog {
 public:
  // Every readable record of the log in `dir` with an LSN greater than `after`, in LSN
  // order. No directory: no record. An Error when a segment cannot be read, the LSNs
  // after `after` have a gap (a segment missing, or the end of one damaged) or a record
  // after `after` is damaged with whole records after it (the Error names the segment
  // file and the offset): applying what follows would skip acknowledged batches.
  // Damage to records at or below `after` (applied already) is stepped over.
  static Result<std::vector<LogRecord>> readRecords(const std::filesystem::path& dir, std::uint64_t after);

  // Deletes the directory `dir` and its segments (once every record is applied).
  static Result<void> removeAll(const std::filesystem::path& dir);

  // Starts a log in `dir` (created if needed) whose first record will carry `next_lsn`;
  // a segment is closed and a new one started once it holds `segment_bytes`.
  static Result<std::unique_ptr<CommitLog>> create(const std::filesystem::path& dir, std::uint64_t next_lsn,
                                                   std::uint64_t segment_bytes = 64ULL << 20);
  ~CommitLog();
  CommitLog(const CommitLog&) = delete;
  CommitLog& operator=(const CommitLog&) = delete;

  // Appends one record and syncs it (fdatasync). Returns its LSN; an Error (reason
  // "store_full" when the disk is full, "store" otherwise) leaves the log as it was:
  // the header of whatever part of the record reached the file is zeroed when the disk
  // still takes that write, so that a crash does not bring back a record reported as
  // failed, and the next append overwrites it. Blocks.
  Result<std::uint64_t> append(std::string_view payload);

  // Takes off the log the segments whose every record has an LSN at most `applied`
  // (never the segment being written) and returns their files, for recycle().
  std::vector<std::filesystem::path> takeApplied(std::uint64_t applied);

  // Makes the first of `segments` (files takeApplied() returned) the spare when none is
  // ready or being written, and deletes the others. A recycled segment keeps its old
  // records, which read as no record in its next life (their LSNs are below its new
  // first one), and its blocks, so that neither its deletion (freeing 64 MiB of extents
  // in the file-system journal) nor the zeros of a new spare weigh on the appends'
  // syncs. A file that cannot be deleted stays (its records are applied: a later open
  // skips them, a clean close removes the directory). Called without the commit mutex
  // (spare state has a lock of its own); blocks for a rename or unlink.
  void recycle(std::vector<std::filesystem::path> segments);

  // Writes a spare segment file of `segment_bytes` zeros and syncs it, unless one is
  // ready or being written (the first spare; later ones are mostly recycled segments);
  // the next segment started takes it over (a rename). Appends into a file whose blocks
  // are written already change neither its size nor its block map, so their fdatasync
  // writes the record and flushes the disk cache without a file-system journal commit
  // (which would also carry the metadata of every other file written meanwhile, the
  // database growing for one). Zeros read as no record. Called from another thread than
  // append()'s (it has a lock of its own); blocks while it writes about `segment_bytes`.
  // Only written while the file system has twice `segment_bytes` free (statvfs), so
  // that it never takes more than half of what is left: otherwise an Error (reason
  // "store_full") and nothing is written. The blocks are allocated first (fallocate:
  // no space, no write), then written with zeros. After a failure for want of space,
  // no file is written again until a segment of the log is recycled or a segment's
  // worth more is free. A failure leaves no spare: the next segment then grows with
  // its appends, as the first one does. `interrupted`, when given, is asked between
  // writes of 1 MiB; once it answers true the spare is dropped (no Error): the next
  // call starts again.
  Result<void> prepareSpare(const std::function<bool()>& interrupted = {});

  std::uint64_t lastLsn() const { return next_lsn_ - 1; }
  // Segment files written by this log and not yet released.
  std::size_t segments() const { return segments_.size(); }

 private:
  struct Segment {
    std::uint64_t first_lsn;
    std::uint64_t last_lsn;  // first_lsn - 1 while empty
    std::filesystem::path path;
  };
  CommitLog(std::filesystem::path dir, std::uint64_t next_lsn, std::uint64_t segment_bytes);
  Result<void> startSegment();

  std::filesystem::path dir_;
  std::uint64_t next_lsn_;
  std::uint64_t segment_bytes_;
  int fd_ = -1;
  std::uint64_t offset_ = 0;
  std::vector<Segment> segments_;  // the last one is being written
  std::string buffer_;
  enum class Spare { None, Writing, Ready };
  std::mutex spare_mutex_;
  Spare spare_ = Spare::None;            // guarded by spare_mutex_
  std::uint64_t spare_free_before_ = 0;  // guarded by spare_mutex_: free bytes when the spare began
  std::uint64_t spare_needs_free_ = 0;   // guarded by spare_mutex_: free bytes the next spare waits for
};

}  // namespace replywatch::store
