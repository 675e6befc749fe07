// Parsing throughput, run on demand (build in Release first):
//   test_connectors --gtest_also_run_disabled_tests --gtest_filter='*Throughput*'
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

#include "connectors/export/export_format.h"
#include "tests/unit/connectors/test_support.h"

namespace replywatch::connectors::exportfmt {
namespace {

constexpr int kRows = 1'000'000;

void writeFeed(const std::filesystem::path& path, Format format) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  if (format == Format::Csv)
    std::fputs("id,conversation_id,in_reply_to,author_id,author_name,author_is_brand,created_at,text\n", f);
  const long long base = 1715594400;
  for (int i = 0; i < kRows; ++i) {
    const bool brand = i % 3 == 2;
    const int conv = i - i % 3;
    if (format == Format::Csv) {
      std::fprintf(f, "%d,%d,%s,%s,%s,%s,%lld,\"%s\"\n", 1000000 + i, 1000000 + conv, brand ? "1" : "",
                   brand ? "maisonlumiere" : "u-12345", brand ? "Maison Lumière" : "Client",
                   brand ? "true" : "false", base + i,
                   brand ? "Bonjour, nous regardons cela, merci de votre patience. -AB"
                         : "Bonjour, ma commande n'est pas arrivée, pouvez-vous m'aider ?");
    } else {
      std::fprintf(f,
                   "{\"id\":\"%d\",\"conversation_id\":\"%d\",\"author_id\":\"%s\",\"author_name\":\"%s\","
                   "\"author_is_brand\":%s,\"created_at\":\"2024-05-13T09:12:00+02:00\",\"text\":\"%s\"}\n",
                   1000000 + i, 1000000 + conv, brand ? "maisonlumiere" : "u-12345",
                   brand ? "Maison Lumière" : "Client", brand ? "true" : "false",
                   brand ? "Bonjour, nous regardons cela, merci de votre patience. -AB"
                         : "Bonjour, ma commande n'est pas arriv\\u00e9e, pouvez-vous m'aider ?");
    }
  }
  std::fclose(f);
}

void measure(Format format, const char* name) {
  testing::TempDir dir;
  auto path = dir.path() / name;
  writeFeed(path, format);
  ManualClock clock(testing::at("2024-06-01T00:00:00Z"));
  MessageValidator validator(64 * 1024, std::chrono::seconds{300}, clock);
  auto start = std::chrono::steady_clock::now();
  auto input = Input::openFile(path);
  ASSERT_TRUE(input.ok());
  Reader reader(std::move(*input), format, validator);
  ASSERT_TRUE(reader.start().ok());
  std::vector<Message> batch;
  batch.reserve(5000);
  Message m;
  std::uint64_t good = 0;
  for (;;) {
    auto s = reader.next(m);
    if (s == Reader::Status::End) break;
    ASSERT_EQ(s, Reader::Status::Message) << reader.problem().rejection.message;
    batch.push_back(std::move(m));
    m = Message{};
    if (batch.size() == 5000) {
      good += batch.size();
      batch.clear();
    }
  }
  good += batch.size();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(good, static_cast<std::uint64_t>(kRows));
  std::printf("%s: %d rows, %.1f MB in %.3f s: %.2f M rows/s, %.0f MB/s\n", name, kRows,
              static_cast<double>(std::filesystem::file_size(path)) / 1e6, secs, kRows / secs / 1e6,
              static_cast<double>(std::filesystem::file_size(path)) / 1e6 / secs);
}

TEST(ExportThroughput, DISABLED_Csv) { measure(Format::Csv, "feed.csv"); }
TEST(ExportThroughput, DISABLED_Jsonl) { measure(Format::Jsonl, "feed.jsonl"); }

}  // namespace
}  // namespace replywatch::connectors::exportfmt
