#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "connectors/export/export_connector.h"
#include "tests/unit/connectors/test_support.h"

namespace replywatch::connectors::exportfmt {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

ExportConnector& exportOf(testing::Harness& h) { return dynamic_cast<ExportConnector&>(*h.connector); }

class ExportSpool : public ::testing::Test {
 protected:
  void SetUp() override {
    spool_ = dir_.path() / "spool";
    fs::create_directories(spool_);
  }
  std::string yaml(const std::string& extra = "") const {
    return "name: acme-spool\ntype: export\naccount: acme\nspool_dir: " + spool_.string() + "\n" + extra;
  }

  testing::TempDir dir_;
  fs::path spool_;
};

TEST_F(ExportSpool, ImportsMovesAndIgnoresUnfinishedFiles) {
  fs::copy_file(testing::fixture("sample.csv"), spool_ / "2024-05-20.csv");
  testing::writeAll(spool_ / "2024-05-21.jsonl.tmp", "{\"id\":\"t\"");
  testing::writeAll(spool_ / "2024-05-21.csv.part", "id,author_id");
  testing::writeAll(spool_ / ".2024-05-21.jsonl", "");
  fs::create_directories(spool_ / "subdir.csv");

  testing::Harness h(yaml());
  auto scan = exportOf(h).scanSpool();
  EXPECT_TRUE(scan.ok);
  EXPECT_EQ(scan.imported, 1u);
  EXPECT_EQ(scan.quarantined, 0u);
  EXPECT_EQ(h.sink.stored.size(), 8u);
  EXPECT_TRUE(fs::exists(spool_ / "processed" / "2024-05-20.csv"));
  EXPECT_FALSE(fs::exists(spool_ / "2024-05-20.csv"));
  EXPECT_TRUE(fs::exists(spool_ / "2024-05-21.jsonl.tmp"));
  EXPECT_TRUE(fs::exists(spool_ / "2024-05-21.csv.part"));
  EXPECT_TRUE(fs::exists(spool_ / ".2024-05-21.jsonl"));
  EXPECT_TRUE(h.health.up());
  EXPECT_TRUE(h.health.lastSuccess().has_value());

  // The writer renames its temporary file: picked up on the next scan.
  fs::copy_file(testing::fixture("sample.jsonl"), spool_ / "2024-05-21.jsonl.tmp",
                fs::copy_options::overwrite_existing);
  fs::rename(spool_ / "2024-05-21.jsonl.tmp", spool_ / "2024-05-21.jsonl");
  scan = exportOf(h).scanSpool();
  EXPECT_EQ(scan.imported, 1u);
  EXPECT_EQ(h.sink.stored.size(), 20u);

  // A file with a name already in processed/ gets a suffix.
  fs::copy_file(testing::fixture("sample.csv"), spool_ / "2024-05-20.csv");
  scan = exportOf(h).scanSpool();
  EXPECT_EQ(scan.imported, 1u);
  EXPECT_TRUE(fs::exists(spool_ / "processed" / "2024-05-20.1.csv"));
  EXPECT_EQ(h.sink.stored.size(), 20u);  // all duplicates

  EXPECT_EQ(exportOf(h).scanSpool().imported, 0u);
}

TEST_F(ExportSpool, BadFilesAreQuarantined) {
  testing::writeAll(spool_ / "no-id-column.csv", "author_id,created_at,text\nu,2024-05-01T10:00:00Z,hi\n");
  testing::writeAll(spool_ / "empty.csv", "");
  fs::copy_file(testing::fixture("sample.jsonl"), spool_ / "good.jsonl");
  testing::Harness h(yaml());
  auto scan = exportOf(h).scanSpool();
  EXPECT_TRUE(scan.ok);
  EXPECT_EQ(scan.imported, 1u);
  EXPECT_EQ(scan.quarantined, 2u);
  EXPECT_TRUE(fs::exists(spool_ / "quarantine" / "no-id-column.csv"));
  EXPECT_TRUE(fs::exists(spool_ / "quarantine" / "empty.csv"));
  EXPECT_TRUE(fs::exists(spool_ / "processed" / "good.jsonl"));
  EXPECT_EQ(h.health.errors(ErrorReason::BadFile), 2u);
  EXPECT_EQ(h.sink.stored.size(), 12u);
  EXPECT_TRUE(h.health.up());
}

// A daemon stopping in the middle of a file refuses its batches: the file is kept for
// the next start, never quarantined.
// A file that cannot be read to its end (here an unterminated quote, which would swallow
// every row after it) is quarantined rather than counted as imported.
TEST_F(ExportSpool, AFileUnreadablePastALineIsQuarantined) {
  testing::writeAll(spool_ / "cut.csv",
                    "id,author_id,created_at,text\n"
                    "a,u,2024-05-01T10:00:00Z,fine\n"
                    "b,u,2024-05-01T10:01:00Z,\"open\n"
                    "c,u,2024-05-01T10:02:00Z,after\n");
  testing::Harness h(yaml());
  auto scan = exportOf(h).scanSpool();
  EXPECT_EQ(scan.imported, 0u);
  EXPECT_EQ(scan.quarantined, 1u);
  EXPECT_TRUE(fs::exists(spool_ / "quarantine" / "cut.csv"));
  EXPECT_EQ(h.health.errors(ErrorReason::BadFile), 1u);
}

// More rows than one batch before the unreadable line: the file is still refused whole,
// nothing of it stored, and taken whole once corrected.
TEST_F(ExportSpool, AFileUnreadablePastALineStoresNothingOfIt) {
  std::string rows = "id,author_id,created_at,text\n";
  for (std::size_t i = 0; i < kBatchSize + 1000; ++i) {
    rows += "m" + std::to_string(i) + ",u" + std::to_string(i) + ",2024-05-01T10:00:00Z,hello?\n";
  }
  testing::writeAll(spool_ / "big.csv", rows + "late,u,2024-05-01T11:00:00Z,\"never closed\n");
  testing::Harness h(yaml());
  auto scan = exportOf(h).scanSpool();
  EXPECT_EQ(scan.imported, 0u);
  EXPECT_EQ(scan.quarantined, 1u);
  EXPECT_TRUE(fs::exists(spool_ / "quarantine" / "big.csv"));
  EXPECT_EQ(h.sink.calls, 0);
  EXPECT_EQ(h.sink.stored.size(), 0u);
  EXPECT_EQ(h.health.events(), 0u);
  EXPECT_EQ(h.health.errors(ErrorReason::BadFile), 1u);

  testing::writeAll(spool_ / "big.csv", rows + "late,u,2024-05-01T11:00:00Z,\"closed\"\n");
  scan = exportOf(h).scanSpool();
  EXPECT_EQ(scan.imported, 1u);
  EXPECT_EQ(h.sink.stored.size(), kBatchSize + 1001);
}

TEST_F(ExportSpool, RefusalWhileStoppingKeepsTheFile) {
  fs::copy_file(testing::fixture("sample.csv"), spool_ / "a.csv");
  testing::Harness h(yaml());
  h.sink.fail = true;
  h.sink.fail_reason = std::string(kSinkStoppingReason);
  auto scan = exportOf(h).scanSpool();
  EXPECT_EQ(scan.retried, 1u);
  EXPECT_TRUE(fs::exists(spool_ / "a.csv"));
  EXPECT_EQ(scan.quarantined, 0u);
}

TEST_F(ExportSpool, StoreFailureLeavesTheFileForTheNextScan) {
  fs::copy_file(testing::fixture("sample.csv"), spool_ / "a.csv");
  testing::Harness h(yaml());
  h.sink.fail = true;
  auto scan = exportOf(h).scanSpool();
  EXPECT_FALSE(scan.ok);
  EXPECT_EQ(scan.retried, 1u);
  EXPECT_TRUE(fs::exists(spool_ / "a.csv"));
  EXPECT_FALSE(h.health.up());
  EXPECT_EQ(h.health.errors(ErrorReason::Store), 1u);

  h.sink.fail = false;
  scan = exportOf(h).scanSpool();
  EXPECT_TRUE(scan.ok);
  EXPECT_EQ(scan.imported, 1u);
  EXPECT_TRUE(fs::exists(spool_ / "processed" / "a.csv"));
  EXPECT_TRUE(h.health.up());
}

TEST_F(ExportSpool, CustomDirectories) {
  const fs::path done = dir_.path() / "done";
  const fs::path bad = dir_.path() / "bad";
  fs::copy_file(testing::fixture("sample.csv"), spool_ / "a.csv");
  testing::writeAll(spool_ / "b.csv", "nothing useful\n");
  testing::Harness h(yaml("processed_dir: " + done.string() + "\nquarantine_dir: " + bad.string() + "\n"));
  auto scan = exportOf(h).scanSpool();
  EXPECT_EQ(scan.imported, 1u);
  EXPECT_EQ(scan.quarantined, 1u);
  EXPECT_TRUE(fs::exists(done / "a.csv"));
  EXPECT_TRUE(fs::exists(bad / "b.csv"));
}

TEST_F(ExportSpool, MissingSpoolDirectoryIsCreated) {
  fs::remove_all(spool_);
  testing::Harness h(yaml());
  auto scan = exportOf(h).scanSpool();
  EXPECT_TRUE(scan.ok);
  EXPECT_TRUE(fs::is_directory(spool_));
}

TEST_F(ExportSpool, UnusableSpoolDirectoryMarksDown) {
  fs::remove_all(spool_);
  testing::writeAll(spool_, "a file where the directory should be");
  testing::Harness h(yaml());
  auto scan = exportOf(h).scanSpool();
  EXPECT_FALSE(scan.ok);
  EXPECT_FALSE(h.health.up());
  EXPECT_EQ(h.health.errors(ErrorReason::Io), 1u);
}

TEST_F(ExportSpool, RunPicksUpFilesAndStopsPromptly) {
  testing::Harness h(yaml("poll_interval: 1s\n"));
  ASSERT_TRUE(h.connector->polls());
  std::jthread runner([&](std::stop_token stop) { h.connector->run(stop); });
  std::this_thread::sleep_for(50ms);
  fs::copy_file(testing::fixture("sample.csv"), spool_ / "late.csv.part");
  fs::rename(spool_ / "late.csv.part", spool_ / "late.csv");
  for (int i = 0; i < 300 && !fs::exists(spool_ / "processed" / "late.csv"); ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(fs::exists(spool_ / "processed" / "late.csv"));
  EXPECT_EQ(h.sink.storedCount(), 8u);
  auto start = std::chrono::steady_clock::now();
  runner.request_stop();
  runner.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

}  // namespace
}  // namespace replywatch::connectors::exportfmt
