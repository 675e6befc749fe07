// Durability: a process that dies without closing the store (no destructors, no
// checkpoint) must leave every committed batch readable and the file intact.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "daemon/store/store.h"
#include "tests/unit/store/store_test_util.h"

namespace replywatch::store {
namespace {

using testing::answeredTurn;
using testing::message;
using testing::RawDb;
using testing::TempDir;

constexpr int kMessagesPerBatch = 200;

// Batch `n`: kMessagesPerBatch messages in conversations "b<n>-c<k>", one turn per
// conversation, and cursor "<n>".
WriteBatch numberedBatch(int n) {
  WriteBatch batch;
  for (int i = 0; i < kMessagesPerBatch; i += 4) {
    const std::string conversation = testing::numbered("b", n, testing::numbered("-c", i));
    const std::int64_t t = 1'000'000 + n * 10'000 + i;
    batch.messages.push_back(message("s", conversation, conversation, t));
    batch.messages.push_back(message("s", conversation, conversation + "-2", t + 1));
    batch.messages.push_back(message("s", conversation, conversation + "-3", t + 2));
    batch.messages.push_back(message("s", conversation, conversation + "-r", t + 3, Role::Brand));
    batch.upsert_turns.push_back(answeredTurn("s", conversation, conversation, t, t + 3));
  }
  batch.cursors = {{"s", std::to_string(n)}};
  return batch;
}

// Child side: opens the store and commits batches 1..count (count < 0: forever), writing
// each committed batch number to `ack_fd`. Never returns; never closes the store.
// With `options.commit_log`, the batches go through the commit log (require_new_messages
// set, as the pipeline does).
[[noreturn]] void childCommits(const std::filesystem::path& path, int count, int ack_fd,
                               const OpenOptions& options = {}) {
  auto opened = openSqliteStore(path, options);
  if (!opened.ok()) _exit(2);
  Store* store = opened.value().release();  // deliberately leaked: no close, no checkpoint
  for (int n = 1; count < 0 || n <= count; ++n) {
    WriteBatch batch = numberedBatch(n);
    batch.require_new_messages = options.commit_log;
    if (!store->commit(batch).ok()) _exit(3);
    if (ack_fd >= 0 && write(ack_fd, &n, sizeof n) != static_cast<ssize_t>(sizeof n)) _exit(4);
  }
  _exit(0);
}

// Checks batches: every one in 1..committed is whole; any later one is whole or absent.
// Returns the number of whole batches found.
int checkBatches(Store& store, int committed, int upper) {
  int whole = 0;
  for (int n = 1; n <= upper; ++n) {
    const WriteBatch batch = numberedBatch(n);
    std::vector<std::string> ids;
    for (const auto& m : batch.messages) ids.push_back(m.id);
    auto found = store.contains("s", ids);
    EXPECT_TRUE(found.ok());
    if (!found.ok()) return whole;
    std::size_t present = 0;
    for (bool b : found.value()) present += b ? 1 : 0;
    if (n <= committed) {
      EXPECT_EQ(present, ids.size()) << "committed batch " << n << " is incomplete";
    } else {
      EXPECT_TRUE(present == 0 || present == ids.size()) << "batch " << n << " is partial: " << present;
    }
    if (present == ids.size()) ++whole;
  }
  return whole;
}

// Batches 1..count committed by a child process that exits without closing the store.
void commitInChild(const std::filesystem::path& path, int count, const OpenOptions& options = {}) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) childCommits(path, count, -1, options);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
}

// Every one of batches 1..count is whole, with its cursor and turns.
void expectEveryBatch(Store& store, int count) {
  EXPECT_EQ(checkBatches(store, count, count), count);
  EXPECT_EQ(store.cursor("s").value(), std::optional<std::string>(std::to_string(count)));
  auto turns = store.turns({});
  ASSERT_TRUE(turns.ok());
  EXPECT_EQ(turns->size(), static_cast<std::size_t>(count * kMessagesPerBatch / 4));
}

void expectIntact(const std::filesystem::path& path) {
  RawDb raw(path);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw.text("PRAGMA integrity_check"), "ok");
}

TEST(SqliteStoreCrash, ExitWithoutCloseKeepsEveryCommittedBatch) {
  TempDir dir;
  const auto path = dir.file("store.db");
  constexpr int kBatches = 25;
  commitInChild(path, kBatches);

  // The WAL was never checkpointed by a clean close.
  EXPECT_TRUE(std::filesystem::exists(path.string() + "-wal"));
  expectIntact(path);
  auto opened = openSqliteStore(path);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  expectEveryBatch(*opened.value(), kBatches);
}

TEST(SqliteStoreCrash, CommitLogKeepsWhatWasAcknowledgedBeforeAnyApply) {
  TempDir dir;
  const auto path = dir.file("store.db");
  constexpr int kBatches = 12;
  // The applying thread waits an hour to gather: the process ends with nothing applied.
  commitInChild(path, kBatches, OpenOptions{.commit_log = true, .apply_delay = std::chrono::hours(1)});
  {
    RawDb raw(path);
    ASSERT_TRUE(raw.ok());
    EXPECT_EQ(raw.integer("SELECT COUNT(*) FROM messages"), 0);
    EXPECT_EQ(raw.integer("SELECT lsn FROM commit_log_applied"), 0);
  }
  const auto log_dir = path.string() + "-log";
  EXPECT_TRUE(std::filesystem::exists(log_dir));

  // A read-only open reads the file as it is, and says what it lacks.
  {
    testing::CapturedLog log;
    auto reader = openSqliteStore(path, OpenOptions{.read_only = true});
    ASSERT_TRUE(reader.ok()) << reader.error().message;
    auto stale = reader.value()->turns({});
    ASSERT_TRUE(stale.ok());
    EXPECT_TRUE(stale->empty());
    EXPECT_NE(log.text().find("has 12 acknowledged batches in its commit log not applied yet"),
              std::string::npos)
        << log.text();
  }

  // A read-write open applies the log, then removes it.
  auto opened = openSqliteStore(path);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  expectEveryBatch(*opened.value(), kBatches);
  EXPECT_FALSE(std::filesystem::exists(log_dir));
  RawDb raw(path);
  EXPECT_EQ(raw.integer("SELECT lsn FROM commit_log_applied"), kBatches);
  expectIntact(path);
}

// A record of the log damaged on disk, with acknowledged records after it: a read-only
// open says so, a read-write open fails naming the file and the offset, and the log
// stays as it is until it is moved aside.
TEST(SqliteStoreCrash, ADamagedCommitLogRecordFailsTheOpenAndStays) {
  TempDir dir;
  const auto path = dir.file("store.db");
  constexpr int kBatches = 6;
  commitInChild(path, kBatches, OpenOptions{.commit_log = true, .apply_delay = std::chrono::hours(1)});
  const std::filesystem::path log_dir = path.string() + "-log";
  const std::filesystem::path segment = log_dir / "0000000000000001.log";
  std::string bytes;
  {
    std::ifstream in(segment, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  // Record 3 starts after two records (a 16-byte header and the payload each); one
  // byte of its payload changes.
  std::size_t offset = 0;
  for (int i = 0; i < 2; ++i) {
    ASSERT_LE(offset + 16, bytes.size());
    std::uint32_t length = 0;
    for (int b = 0; b < 4; ++b)
      length |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[offset + b])) << (8 * b);
    offset += 16 + length;
  }
  ASSERT_LT(offset + 40, bytes.size());
  bytes[offset + 30] = static_cast<char>(bytes[offset + 30] ^ 0x5a);
  {
    std::ofstream out(segment, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  const std::string damage = segment.string() + " is damaged at offset " + std::to_string(offset);
  {
    testing::CapturedLog log;
    auto reader = openSqliteStore(path, OpenOptions{.read_only = true});
    ASSERT_TRUE(reader.ok()) << reader.error().message;
    EXPECT_NE(log.text().find("has a commit log that cannot be read"), std::string::npos) << log.text();
    EXPECT_NE(log.text().find(damage), std::string::npos) << log.text();
  }
  for (const OpenOptions& options : {OpenOptions{}, OpenOptions{.commit_log = true}}) {
    auto opened = openSqliteStore(path, options);
    ASSERT_FALSE(opened.ok());
    EXPECT_NE(opened.error().message.find(damage), std::string::npos) << opened.error().message;
    EXPECT_NE(opened.error().message.find("acknowledged records from 4 on follow it"), std::string::npos)
        << opened.error().message;
    EXPECT_NE(opened.error().message.find("mv " + log_dir.string()), std::string::npos)
        << opened.error().message;
  }
  // Nothing applied, nothing removed.
  {
    std::ifstream in(segment, std::ios::binary);
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()), bytes);
    RawDb raw(path);
    EXPECT_EQ(raw.integer("SELECT COUNT(*) FROM messages"), 0);
  }
  // Moved aside, the store opens without what it held.
  std::filesystem::rename(log_dir, log_dir.string() + ".damaged");
  auto opened = openSqliteStore(path);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_TRUE(std::filesystem::exists(log_dir.string() + ".damaged"));
}

// Two opens of the store read-write after a crash (two imports, say): one applies the
// log while the other is refused, and the store then holds every batch once.
TEST(SqliteStoreCrash, TwoOpensAfterACrashApplyTheLogOnce) {
  TempDir dir;
  const auto path = dir.file("store.db");
  constexpr int kBatches = 12;
  commitInChild(path, kBatches, OpenOptions{.commit_log = true, .apply_delay = std::chrono::hours(1)});
  testing::CapturedLog log;
  std::vector<std::unique_ptr<Store>> opened(2);
  std::vector<std::string> errors(2);
  std::vector<std::thread> openers;
  for (std::size_t i = 0; i < 2; ++i) {
    openers.emplace_back([&, i] {
      auto store = openSqliteStore(path);
      if (store.ok()) {
        opened[i] = std::move(store).value();
      } else {
        errors[i] = store.error().message;
      }
    });
  }
  for (auto& t : openers) t.join();
  ASSERT_NE(opened[0] == nullptr, opened[1] == nullptr) << errors[0] << " / " << errors[1];
  const std::string& refused = errors[opened[0] ? 1 : 0];
  EXPECT_NE(refused.find("is open for writing by another replywatch process"), std::string::npos) << refused;
  const std::string text = log.text();
  EXPECT_NE(text.find("commit log applied"), std::string::npos) << text;
  EXPECT_EQ(text.find("commit log applied"), text.rfind("commit log applied")) << text;
  EXPECT_EQ(text.find("messages already stored"), std::string::npos) << text;
  Store& store = opened[0] ? *opened[0] : *opened[1];
  expectEveryBatch(store, kBatches);
  opened[0].reset();
  opened[1].reset();
  auto again = openSqliteStore(path);
  ASSERT_TRUE(again.ok()) << again.error().message;
  expectEveryBatch(*again.value(), kBatches);
  again.value().reset();
  RawDb raw(path);
  EXPECT_EQ(raw.integer("SELECT lsn FROM commit_log_applied"), kBatches);
  expectIntact(path);
}

// Kills a child committing batches 1, 2, ... once it acknowledged 30, then checks that
// every acknowledged batch is whole after reopening and the store keeps working.
void sigkillMidStream(const OpenOptions& options) {
  TempDir dir;
  const auto path = dir.file("store.db");
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(fds[0]);
    childCommits(path, -1, fds[1], options);
  }
  close(fds[1]);
  // Wait until the child acknowledged 30 commits, then kill it while it keeps writing.
  int acked = 0;
  while (acked < 30) {
    int n = 0;
    ASSERT_EQ(read(fds[0], &n, sizeof n), static_cast<ssize_t>(sizeof n));
    acked = n;
  }
  ASSERT_EQ(kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));
  // Drain acknowledgements written before the kill.
  int n = 0;
  while (read(fds[0], &n, sizeof n) == static_cast<ssize_t>(sizeof n)) acked = n;
  close(fds[0]);

  expectIntact(path);
  auto opened = openSqliteStore(path);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  Store& store = *opened.value();
  const int whole = checkBatches(store, acked, acked + 5);
  EXPECT_GE(whole, acked);
  // The cursor is the one of the last whole batch: stored atomically with its messages.
  EXPECT_EQ(store.cursor("s").value(), std::optional<std::string>(std::to_string(whole)));
  expectIntact(path);

  // The store keeps working after recovery.
  auto more = store.commit(numberedBatch(1000));
  ASSERT_TRUE(more.ok()) << more.error().message;
  EXPECT_EQ(more->messages_inserted, static_cast<std::size_t>(kMessagesPerBatch));
}

TEST(SqliteStoreCrash, SigkillMidStreamLosesNothingAcknowledged) { sigkillMidStream({}); }

TEST(SqliteStoreCrash, SigkillMidStreamLosesNothingAcknowledgedThroughTheCommitLog) {
  sigkillMidStream(OpenOptions{.commit_log = true});
}

}  // namespace
}  // namespace replywatch::store
