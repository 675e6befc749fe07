// The commit log when the disk refuses a write or a sync part way through an append.
//
// This file defines `pwrite` and `fdatasync` for the whole test_store executable: the
// store library is linked statically, so its calls resolve here, while SQLite (a shared
// library) keeps the C library's. Both pass through to the system calls unless a test
// arms a fault, which then applies to the calls that follow, once.
#include <gtest/gtest.h>
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

}  // namespace

extern "C" ssize_t pwrite(int fd, const void* buf, size_t count, off_t offset) {
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

}  // namespace
}  // namespace replywatch::store
