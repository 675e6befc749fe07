// The commit log when the disk refuses a write or a sync part way through an append,
// or is nearly full when the next segment is to be written ahead.
//
// This file defines `pwrite`, `fdatasync`, `fallocate` and `statvfs` for the whole
// test_store executable: the store library is linked statically, so its calls resolve
// here, while SQLite (a shared library) keeps the C library's. They pass through to the
// system calls unless a test arms a fault, which then applies to the calls that follow
// (once, for pwrite and fdatasync).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <string>
#include <vector>

#include "daemon/store/commit_log.h"
#include "tests/unit/store/store_test_util.h"

namespace {

// pwrite: writes this many bytes of the next call, then fails the call after it.
std::atomic<long> g_short_write_bytes{-1};
std::atomic<bool> g_fail_next_write{false};
// fdatasync: fails the next call.
std::atomic<bool> g_fail_next_sync{false};
// pwrite: calls made (counted always).
std::atomic<long> g_writes{0};
// statvfs: reports this many bytes available when >= 0.
std::atomic<long long> g_free_bytes{-1};
// fallocate: fails with ENOSPC while set; calls made (counted always).
std::atomic<bool> g_allocation_fails{false};
std::atomic<long> g_allocations{0};

}  // namespace

extern "C" ssize_t pwrite(int fd, const void* buf, size_t count, off_t offset) {
  ++g_writes;
  if (g_fail_next_write.exchange(false)) {
    errno = ENOSPC;
    return -1;
  }
  const long short_bytes = g_short_write_bytes.exchange(-1);
  if (short_bytes >= 0 && static_cast<size_t>(short_bytes) < count) {
    count = static_cast<size_t>(short_bytes);
    g_fail_next_write = true;
  }
  return static_cast<ssize_t>(syscall(SYS_pwrite64, fd, buf, count, offset));
}

extern "C" int fdatasync(int fd) {
  if (g_fail_next_sync.exchange(false)) {
    errno = EIO;
    return -1;
  }
  return static_cast<int>(syscall(SYS_fdatasync, fd));
}

extern "C" int fallocate(int fd, int mode, off_t offset, off_t len) {
  ++g_allocations;
  if (g_allocation_fails) {
    errno = ENOSPC;
    return -1;
  }
  return static_cast<int>(syscall(SYS_fallocate, fd, mode, offset, len));
}

extern "C" int statvfs(const char* path, struct statvfs* buf) noexcept {
  struct statfs fs {};
  if (syscall(SYS_statfs, path, &fs) != 0) return -1;
  *buf = {};
  buf->f_bsize = static_cast<unsigned long>(fs.f_bsize);
  buf->f_frsize = static_cast<unsigned long>(fs.f_frsize != 0 ? fs.f_frsize : fs.f_bsize);
  buf->f_blocks = fs.f_blocks;
  buf->f_bfree = fs.f_bfree;
  buf->f_bavail = fs.f_bavail;
  buf->f_files = fs.f_files;
  buf->f_ffree = fs.f_ffree;
  buf->f_favail = fs.f_ffree;
  buf->f_namemax = static_cast<unsigned long>(fs.f_namelen);
  if (const long long free_bytes = g_free_bytes; free_bytes >= 0) {
    buf->f_frsize = 4096;
    buf->f_bavail = static_cast<fsblkcnt_t>(free_bytes / 4096);
  }
  return 0;
}

namespace replywatch::store {
namespace {

using testing::TempDir;

std::vector<std::string> payloads(const std::filesystem::path& dir) {
  auto records = CommitLog::readRecords(dir, 0);
  EXPECT_TRUE(records.ok()) << records.error().message;
  std::vector<std::string> out;
  if (!records.ok()) return out;
  for (const auto& r : records.value()) out.push_back(r.payload);
  return out;
}

// The log file is left as the process leaves it: what readRecords() finds is what a
// restart after a crash at that point would apply.
TEST(CommitLogFaults, ARecordWhoseSyncFailedDoesNotComeBack) {
  TempDir tmp;
  const auto dir = tmp.file("log");
  auto log = CommitLog::create(dir, 1);
  ASSERT_TRUE(log.ok()) << log.error().message;
  ASSERT_TRUE(log.value()->append("kept").ok());

  g_fail_next_sync = true;
  auto failed = log.value()->append("reported as failed");
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.error().message.find("cannot sync"), std::string::npos) << failed.error().message;
  EXPECT_EQ(log.value()->lastLsn(), 1U);
  // Every byte of the record reached the file; its zeroed header hides it.
  EXPECT_EQ(payloads(dir), (std::vector<std::string>{"kept"}));

  // The next append takes the same LSN and place.
  auto next = log.value()->append("next");
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(next.value(), 2U);
  EXPECT_EQ(payloads(dir), (std::vector<std::string>{"kept", "next"}));
}

TEST(CommitLogFaults, ARecordWrittenPartWayDoesNotComeBack) {
  TempDir tmp;
  const auto dir = tmp.file("log");
  auto log = CommitLog::create(dir, 1);
  ASSERT_TRUE(log.ok()) << log.error().message;
  ASSERT_TRUE(log.value()->append("kept").ok());

  // The header and part of the payload reach the file, then the disk is full. (The
  // record's checksum would hide this one too; the zeroed header covers a sync failing
  // after a complete write, above.)
  g_short_write_bytes = 20;
  auto failed = log.value()->append(std::string(100, 'x'));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().reason, "store_full") << failed.error().message;
  EXPECT_EQ(payloads(dir), (std::vector<std::string>{"kept"}));

  auto next = log.value()->append("next");
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(next.value(), 2U);
  EXPECT_EQ(payloads(dir), (std::vector<std::string>{"kept", "next"}));
}

// Sets how much space statvfs reports free for as long as it lives.
class FreeSpace {
 public:
  explicit FreeSpace(long long bytes) { g_free_bytes = bytes; }
  ~FreeSpace() {
    g_free_bytes = -1;
    g_allocation_fails = false;
  }
  FreeSpace(const FreeSpace&) = delete;
  FreeSpace& operator=(const FreeSpace&) = delete;
  void set(long long bytes) { g_free_bytes = bytes; }
};

// Writing the next segment ahead on a nearly full disk would fill it while it is written
// (the appends and SQLite's writes failing meanwhile): nothing is written unless twice
// the segment is free.
TEST(CommitLogFaults, NoSpareIsWrittenIntoANearlyFullDisk) {
  TempDir tmp;
  const auto dir = tmp.file("log");
  constexpr long long kSegment = 1 << 20;
  auto log = CommitLog::create(dir, 1, kSegment);
  ASSERT_TRUE(log.ok()) << log.error().message;
  FreeSpace free_space(kSegment * 3 / 2);
  const long writes = g_writes;
  const long allocations = g_allocations;
  auto refused = log.value()->prepareSpare();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().reason, "store_full");
  EXPECT_NE(refused.error().message.find("not enough free space for the next commit log segment"),
            std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find(std::to_string(2 * kSegment) + " needed"), std::string::npos)
      << refused.error().message;
  EXPECT_EQ(g_writes, writes);
  EXPECT_EQ(g_allocations, allocations);
  EXPECT_FALSE(std::filesystem::exists(dir / "segment.spare.tmp"));
  EXPECT_FALSE(std::filesystem::exists(dir / "segment.spare"));
  // Appends go on into the segment as it grows.
  ASSERT_TRUE(log.value()->append("kept").ok());

  free_space.set(2 * kSegment);
  ASSERT_TRUE(log.value()->prepareSpare().ok());
  EXPECT_EQ(std::filesystem::file_size(dir / "segment.spare"), static_cast<std::uintmax_t>(kSegment));
}

// A disk fuller than it says (reserved blocks, a quota) refuses the blocks at once,
// before any zero is written; the spare is not tried again every round, only once a
// segment's worth more is free.
TEST(CommitLogFaults, AfterTheDiskRefusedASpareItWaitsForMoreSpace) {
  TempDir tmp;
  const auto dir = tmp.file("log");
  constexpr long long kSegment = 1 << 20;
  auto log = CommitLog::create(dir, 1, kSegment);
  ASSERT_TRUE(log.ok()) << log.error().message;
  FreeSpace free_space(10 * kSegment);
  g_allocation_fails = true;
  const long writes = g_writes;
  auto failed = log.value()->prepareSpare();
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().reason, "store_full") << failed.error().message;
  EXPECT_NE(failed.error().message.find("cannot allocate spare commit log segment"), std::string::npos)
      << failed.error().message;
  EXPECT_EQ(g_writes, writes);  // not one zero
  EXPECT_FALSE(std::filesystem::exists(dir / "segment.spare.tmp"));
  g_allocation_fails = false;

  const long allocations = g_allocations;
  auto waiting = log.value()->prepareSpare();
  ASSERT_FALSE(waiting.ok());
  EXPECT_NE(waiting.error().message.find(std::to_string(11 * kSegment) + " needed"), std::string::npos)
      << waiting.error().message;
  EXPECT_EQ(g_allocations, allocations);
  EXPECT_EQ(g_writes, writes);

  free_space.set(11 * kSegment);
  ASSERT_TRUE(log.value()->prepareSpare().ok());
  EXPECT_TRUE(std::filesystem::exists(dir / "segment.spare"));
}

// A segment of the log recycled frees space (or becomes the spare): the wait ends.
TEST(CommitLogFaults, ARecycledSegmentEndsTheWaitForSpace) {
  TempDir tmp;
  const auto dir = tmp.file("log");
  auto created = CommitLog::create(dir, 1, 250);  // two 116-byte records per segment
  ASSERT_TRUE(created.ok()) << created.error().message;
  CommitLog& log = *created.value();
  FreeSpace free_space(1 << 20);
  g_allocation_fails = true;
  ASSERT_FALSE(log.prepareSpare().ok());
  g_allocation_fails = false;
  ASSERT_FALSE(log.prepareSpare().ok());  // waits for 250 bytes more
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(log.append(std::string(100, 'p')).ok());
  std::vector<std::filesystem::path> taken = log.takeApplied(3);
  ASSERT_EQ(taken.size(), 1U);
  std::filesystem::copy_file(taken[0], dir / "copy");  // the spare, and one to delete
  taken.push_back(dir / "copy");
  log.recycle(taken);
  EXPECT_TRUE(std::filesystem::exists(dir / "segment.spare"));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(log.append(std::string(100, 'q')).ok());  // takes the spare
  EXPECT_FALSE(std::filesystem::exists(dir / "segment.spare"));
  EXPECT_TRUE(log.prepareSpare().ok());
  EXPECT_TRUE(std::filesystem::exists(dir / "segment.spare"));
}

}  // namespace
}  // namespace replywatch::store
