#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "daemon/store/commit_log.h"
#include "tests/unit/store/store_test_util.h"

namespace replywatch::store {
namespace {

using testing::TempDir;

std::vector<std::filesystem::path> segmentFiles(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) out.push_back(entry.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::uint64_t> lsns(const std::vector<LogRecord>& records) {
  std::vector<std::uint64_t> out;
  out.reserve(records.size());
  for (const auto& r : records) out.push_back(r.lsn);
  return out;
}

TEST(CommitLog, ReadsBackWhatWasAppendedAfterAGivenLsn) {
  TempDir tmp;
  const auto dir = commitLogDirectory(tmp.file("store.db"));
  EXPECT_EQ(dir, tmp.file("store.db-log"));
  {
    auto log = CommitLog::create(dir, 5);
    ASSERT_TRUE(log.ok()) << log.error().message;
    for (const char* payload : {"first", "", "third"}) {
      auto lsn = log.value()->append(payload);
      ASSERT_TRUE(lsn.ok()) << lsn.error().message;
    }
    EXPECT_EQ(log.value()->lastLsn(), 7U);
  }
  auto all = CommitLog::readRecords(dir, 4);
  ASSERT_TRUE(all.ok()) << all.error().message;
  EXPECT_EQ(lsns(all.value()), (std::vector<std::uint64_t>{5, 6, 7}));
  EXPECT_EQ(all.value()[0].payload, "first");
  EXPECT_EQ(all.value()[1].payload, "");
  EXPECT_EQ(all.value()[2].payload, "third");
  auto later = CommitLog::readRecords(dir, 6);
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(lsns(later.value()), (std::vector<std::uint64_t>{7}));
  auto none = CommitLog::readRecords(tmp.file("absent-log"), 0);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(CommitLog, StopsAtATornOrCorruptRecord) {
  TempDir tmp;
  const auto dir = tmp.file("log");
  {
    auto log = CommitLog::create(dir, 1);
    ASSERT_TRUE(log.ok());
    for (int i = 0; i < 3; ++i)
      ASSERT_TRUE(log.value()->append(std::string(100, static_cast<char>('a' + i))).ok());
  }
  const auto segment = segmentFiles(dir).at(0);
  const auto size = std::filesystem::file_size(segment);
  ASSERT_EQ(size, 3U * (16 + 100));

  // The last record cut short (a write the crash interrupted): the first two remain.
  std::filesystem::resize_file(segment, size - 1);
  auto torn = CommitLog::readRecords(dir, 0);
  ASSERT_TRUE(torn.ok()) << torn.error().message;
  EXPECT_EQ(lsns(torn.value()), (std::vector<std::uint64_t>{1, 2}));

  // A byte of the second record's payload changed: its CRC no longer matches.
  {
    std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(116 + 16 + 50);
    f.put('X');
  }
  auto corrupt = CommitLog::readRecords(dir, 0);
  ASSERT_TRUE(corrupt.ok());
  EXPECT_EQ(lsns(corrupt.value()), (std::vector<std::uint64_t>{1}));
}

// Only the last record can be cut short by a crash (one append at a time): a damaged
// record with whole ones after it is damage, and what follows it was acknowledged.
TEST(CommitLog, ADamagedRecordFollowedByWholeOnesIsAnError) {
  TempDir tmp;
  const auto dir = tmp.file("log");
  {
    auto log = CommitLog::create(dir, 1);
    ASSERT_TRUE(log.ok());
    for (int i = 0; i < 5; ++i)
      ASSERT_TRUE(log.value()->append(std::string(100, static_cast<char>('a' + i))).ok());
  }
  const auto segment = segmentFiles(dir).at(0);
  {
    // A byte of the second record's payload changed: its CRC no longer matches.
    std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(116 + 16 + 50);
    f.put('X');
  }
  auto read = CommitLog::readRecords(dir, 0);
  ASSERT_FALSE(read.ok());
  const std::string& message = read.error().message;
  EXPECT_NE(message.find(segment.string() + " is damaged at offset 116: record 2 cannot be read"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("records from 3 on follow it (offset 232)"), std::string::npos) << message;
  // Once the damaged record is applied, what follows it is read.
  auto after = CommitLog::readRecords(dir, 2);
  ASSERT_TRUE(after.ok()) << after.error().message;
  EXPECT_EQ(lsns(after.value()), (std::vector<std::uint64_t>{3, 4, 5}));
  EXPECT_EQ(after.value()[0].payload, std::string(100, 'c'));
  // A record only one later than the damaged one is applied still counts.
  EXPECT_FALSE(CommitLog::readRecords(dir, 1).ok());

  // A damaged length (the fourth record's) hides where the next record starts: it is
  // found all the same.
  {
    std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(3 * 116 + 1);
    f.put('\x7f');
  }
  read = CommitLog::readRecords(dir, 3);
  ASSERT_FALSE(read.ok());
  EXPECT_NE(read.error().message.find("damaged at offset 348: record 4 cannot be read, and acknowledged "
                                      "records from 5 on"),
            std::string::npos)
      << read.error().message;
}

TEST(CommitLog, ADamagedLastRecordOfAClosedSegmentIsAnError) {
  TempDir tmp;
  const auto dir = tmp.file("log");
  {
    auto log = CommitLog::create(dir, 1, 250);  // records 1-3, then 4-6
    ASSERT_TRUE(log.ok());
    for (int i = 0; i < 6; ++i) ASSERT_TRUE(log.value()->append(std::string(100, 'p')).ok());
  }
  std::filesystem::resize_file(dir / "0000000000000001.log", 3 * 116 - 1);
  auto read = CommitLog::readRecords(dir, 0);
  ASSERT_FALSE(read.ok());
  EXPECT_NE(read.error().message.find("has no record 3"), std::string::npos) << read.error().message;
  auto after = CommitLog::readRecords(dir, 3);
  ASSERT_TRUE(after.ok()) << after.error().message;
  EXPECT_EQ(lsns(after.value()), (std::vector<std::uint64_t>{4, 5, 6}));
}

TEST(CommitLog, StartsSegmentsAndRecyclesTheAppliedOnes) {
  TempDir tmp;
  const auto dir = tmp.file("log");
  auto created = CommitLog::create(dir, 1, 250);  // two 116-byte records per segment
  ASSERT_TRUE(created.ok());
  CommitLog& log = *created.value();
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(log.append(std::string(100, 'p')).ok());
  // A segment is closed once it holds 250 bytes: records 1-3, 4-6, then 7.
  EXPECT_EQ(segmentFiles(dir).size(), 3U);
  EXPECT_EQ(segmentFiles(dir)[0].filename(), "0000000000000001.log");
  EXPECT_EQ(segmentFiles(dir)[1].filename(), "0000000000000004.log");
  EXPECT_EQ(segmentFiles(dir)[2].filename(), "0000000000000007.log");
  auto all = CommitLog::readRecords(dir, 0);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(lsns(all.value()), (std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6, 7}));

  auto taken = log.takeApplied(4);  // the second segment still holds 5 and 6
  ASSERT_EQ(taken.size(), 1U);
  EXPECT_EQ(taken[0], dir / "0000000000000001.log");
  EXPECT_EQ(log.segments(), 2U);
  log.recycle(taken);  // no spare yet: the applied segment becomes it
  EXPECT_EQ(segmentFiles(dir),
            (std::vector<std::filesystem::path>{dir / "0000000000000004.log", dir / "0000000000000007.log",
                                                dir / "segment.spare"}));
  taken = log.takeApplied(7);  // never the segment being written
  ASSERT_EQ(taken.size(), 1U);
  log.recycle(taken);  // a spare is ready: deleted
  EXPECT_EQ(segmentFiles(dir),
            (std::vector<std::filesystem::path>{dir / "0000000000000007.log", dir / "segment.spare"}));
  auto rest = CommitLog::readRecords(dir, 6);
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(lsns(rest.value()), (std::vector<std::uint64_t>{7}));
}

TEST(CommitLog, ARecycledSegmentsOldRecordsReadAsNoRecord) {
  TempDir tmp;
  const auto dir = tmp.file("log");
  auto created = CommitLog::create(dir, 1, 250);
  ASSERT_TRUE(created.ok());
  CommitLog& log = *created.value();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(log.append(std::string(100, 'o')).ok());
  log.recycle(log.takeApplied(3));  // records 1-3 stay in the spare's bytes
  ASSERT_TRUE(std::filesystem::exists(dir / "segment.spare"));
  // Records 5-7 fill segment 4; the spare becomes segment 8, and records of other
  // sizes than the old ones go on top of them.
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(log.append(std::string(30, 'n')).ok());
  ASSERT_TRUE(log.append(std::string(100, 'm')).ok());
  EXPECT_FALSE(std::filesystem::exists(dir / "segment.spare"));
  EXPECT_EQ(std::filesystem::file_size(dir / "0000000000000008.log"), 348U);  // the old file
  // Record 8 ends where old record 2 starts, whole and with a valid CRC: its LSN stops
  // the reading.
  ASSERT_TRUE(log.append(std::string(100, 'x')).ok());
  auto read = CommitLog::readRecords(dir, 3);
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(lsns(read.value()), (std::vector<std::uint64_t>{4, 5, 6, 7, 8}));
  ASSERT_TRUE(log.append(std::string(30, 'l')).ok());  // 9, over the start of old record 2
  ASSERT_TRUE(log.append(std::string(70, 'k')).ok());  // 10
  read = CommitLog::readRecords(dir, 7);
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(lsns(read.value()), (std::vector<std::uint64_t>{8, 9, 10}));
  EXPECT_EQ(read.value()[2].payload, std::string(70, 'k'));
}

TEST(CommitLog, AMissingSegmentIsAnError) {
  TempDir tmp;
  const auto dir = tmp.file("log");
  {
    auto log = CommitLog::create(dir, 1, 250);
    ASSERT_TRUE(log.ok());
    for (int i = 0; i < 7; ++i) ASSERT_TRUE(log.value()->append(std::string(100, 'p')).ok());
  }
  std::filesystem::remove(dir / "0000000000000004.log");
  auto read = CommitLog::readRecords(dir, 0);
  ASSERT_FALSE(read.ok());
  EXPECT_NE(read.error().message.find("has no record 4"), std::string::npos) << read.error().message;
  // Records already applied do not matter.
  auto after = CommitLog::readRecords(dir, 6);
  ASSERT_TRUE(after.ok()) << after.error().message;
  EXPECT_EQ(lsns(after.value()), (std::vector<std::uint64_t>{7}));

  ASSERT_TRUE(CommitLog::removeAll(dir).ok());
  EXPECT_FALSE(std::filesystem::exists(dir));
}

TEST(CommitLog, TakesOverAPreparedSpareAsItsNextSegment) {
  TempDir tmp;
  const auto dir = tmp.file("log");
  auto created = CommitLog::create(dir, 1, 250);  // two 116-byte records per segment
  ASSERT_TRUE(created.ok());
  CommitLog& log = *created.value();
  ASSERT_TRUE(log.append(std::string(100, 'a')).ok());
  ASSERT_TRUE(log.prepareSpare().ok());
  ASSERT_TRUE(std::filesystem::exists(dir / "segment.spare"));
  EXPECT_EQ(std::filesystem::file_size(dir / "segment.spare"), 250U);
  ASSERT_TRUE(log.prepareSpare().ok());  // one spare at a time
  EXPECT_EQ(segmentFiles(dir).size(), 2U);

  // The third record closes the first segment; the spare becomes the second one.
  for (char c : {'b', 'c', 'd'}) ASSERT_TRUE(log.append(std::string(100, c)).ok());
  ASSERT_EQ(segmentFiles(dir).size(), 2U);
  EXPECT_EQ(segmentFiles(dir)[1].filename(), "0000000000000004.log");
  EXPECT_FALSE(std::filesystem::exists(dir / "segment.spare"));
  // The record went in at the start of the zeros: the file kept its size.
  EXPECT_EQ(std::filesystem::file_size(dir / "0000000000000004.log"), 250U);
  auto all = CommitLog::readRecords(dir, 0);
  ASSERT_TRUE(all.ok()) << all.error().message;
  EXPECT_EQ(lsns(all.value()), (std::vector<std::uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(all.value()[3].payload, std::string(100, 'd'));

  // A record of that segment cut short by a crash (its end never written: zeros) is
  // not read, nor anything after it.
  ASSERT_TRUE(log.append(std::string(100, 'e')).ok());
  {
    std::fstream f(dir / "0000000000000004.log", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(116 + 16 + 90);
    f.write(std::string(10, '\0').data(), 10);
  }
  auto torn = CommitLog::readRecords(dir, 0);
  ASSERT_TRUE(torn.ok()) << torn.error().message;
  EXPECT_EQ(lsns(torn.value()), (std::vector<std::uint64_t>{1, 2, 3, 4}));
}

TEST(CommitLog, WithoutASpareTheNextSegmentIsANewFile) {
  TempDir tmp;
  const auto dir = tmp.file("log");
  auto created = CommitLog::create(dir, 1, 250);
  ASSERT_TRUE(created.ok());
  CommitLog& log = *created.value();
  // The spare cannot be written (its temporary name is taken by a directory).
  std::filesystem::create_directories(dir / "segment.spare.tmp" / "blocked");
  auto failed = log.prepareSpare();
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.error().message.find("segment.spare.tmp"), std::string::npos) << failed.error().message;
  EXPECT_FALSE(std::filesystem::exists(dir / "segment.spare"));
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(log.append(std::string(100, 'p')).ok());
  EXPECT_EQ(std::filesystem::file_size(dir / "0000000000000004.log"), 116U);

  // Once it can be written, the following segment takes it.
  std::filesystem::remove_all(dir / "segment.spare.tmp");
  ASSERT_TRUE(log.prepareSpare().ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(log.append(std::string(100, 'q')).ok());
  EXPECT_EQ(std::filesystem::file_size(dir / "0000000000000007.log"), 250U);
  auto all = CommitLog::readRecords(dir, 0);
  ASSERT_TRUE(all.ok()) << all.error().message;
  EXPECT_EQ(lsns(all.value()), (std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6, 7}));
}

TEST(CommitLog, AnInterruptedSpareIsDropped) {
  TempDir tmp;
  const auto dir = tmp.file("log");
  auto created = CommitLog::create(dir, 1, 3U << 20);
  ASSERT_TRUE(created.ok());
  int asked = 0;
  ASSERT_TRUE(created.value()->prepareSpare([&] { return ++asked == 2; }).ok());
  EXPECT_EQ(asked, 2);  // after the first MiB
  EXPECT_FALSE(std::filesystem::exists(dir / "segment.spare"));
  EXPECT_FALSE(std::filesystem::exists(dir / "segment.spare.tmp"));
  ASSERT_TRUE(created.value()->prepareSpare().ok());  // the next call writes it
  EXPECT_EQ(std::filesystem::file_size(dir / "segment.spare"), 3U << 20);
}

TEST(CommitLog, ANewLogKeepsAFinishedSpareAndDropsAnUnfinishedOne) {
  TempDir tmp;
  const auto dir = tmp.file("log");
  std::filesystem::create_directories(dir);
  // What a process stopped while writing its spare leaves: neither is a segment.
  std::ofstream(dir / "segment.spare.tmp") << "partial";
  std::ofstream(dir / "segment.spare") << std::string(300, '\0');
  {
    auto log = CommitLog::create(dir, 9, 250);
    ASSERT_TRUE(log.ok()) << log.error().message;
    EXPECT_FALSE(std::filesystem::exists(dir / "segment.spare.tmp"));
    // The first segment is the finished spare.
    EXPECT_FALSE(std::filesystem::exists(dir / "segment.spare"));
    EXPECT_EQ(std::filesystem::file_size(dir / "0000000000000009.log"), 300U);
    ASSERT_TRUE(log.value()->append("ninth").ok());
  }
  auto all = CommitLog::readRecords(dir, 8);
  ASSERT_TRUE(all.ok()) << all.error().message;
  ASSERT_EQ(lsns(all.value()), (std::vector<std::uint64_t>{9}));
  EXPECT_EQ(all.value()[0].payload, "ninth");
}

}  // namespace
}  // namespace replywatch::store
