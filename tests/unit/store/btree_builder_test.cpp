#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "daemon/store/btree_builder.h"
#include "tests/unit/store/store_test_util.h"

namespace replywatch::store::sqlite_file {
namespace {

using namespace std::string_literals;
using testing::RawDb;
using testing::TempDir;

// A row of the test table: t (a TEXT, b INTEGER, c TEXT NULL), primary key (a, b),
// WITHOUT ROWID, and an index on (c, b).
using Row = std::tuple<std::string, std::int64_t, std::optional<std::string>>;

constexpr const char* kSchema =
    "CREATE TABLE t (a TEXT NOT NULL, b INTEGER NOT NULL, c TEXT, PRIMARY KEY (a, b)) WITHOUT ROWID;"
    "CREATE INDEX t_by_c ON t (c, b);";

std::string recordOf(const std::string& a, std::int64_t b, const std::optional<std::string>& c,
                     bool index_order) {
  RecordWriter w;
  if (index_order) {  // index entry: c, b, then the primary key column not indexed: a
    c ? w.addText(*c) : w.addNull();
    w.addInt(b);
    w.addText(a);
  } else {  // table entry: the primary key (a, b), then c
    w.addText(a);
    w.addInt(b);
    c ? w.addText(*c) : w.addNull();
  }
  std::string out;
  w.finish(out);
  return out;
}

std::int64_t rootOf(const std::filesystem::path& path, const std::string& name) {
  RawDb db(path);
  return db.integer("SELECT rootpage FROM sqlite_schema WHERE name = '" + name + "'");
}

std::vector<Row> readRows(const std::filesystem::path& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::vector<Row> rows;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "cannot open " << path;
    sqlite3_close(db);
    return rows;
  }
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  while (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
    auto text = [&](int i) {
      return std::string(reinterpret_cast<const char*>(sqlite3_column_blob(stmt, i)),
                         static_cast<std::size_t>(sqlite3_column_bytes(stmt, i)));
    };
    std::optional<std::string> c;
    if (sqlite3_column_type(stmt, 2) != SQLITE_NULL) c = text(2);
    rows.emplace_back(text(0), sqlite3_column_int64(stmt, 1), c);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return rows;
}

// Random rows: texts of 0 to `max_text` bytes (some beyond a page, so with overflow
// chains; some bytes above 0x7F, compared unsigned), integers of every width and sign.
std::vector<Row> randomRows(std::size_t count, std::size_t max_text, std::uint32_t seed) {
  std::mt19937_64 rng(seed);
  const std::string alphabet = "ab\xc3\xa9z09 _";
  auto text = [&](std::size_t max) {
    std::string s(std::uniform_int_distribution<std::size_t>(0, max)(rng), 'a');
    for (char& ch : s) ch = alphabet[rng() % alphabet.size()];
    return s;
  };
  const std::int64_t widths[] = {0,
                                 1,
                                 2,
                                 0x7F,
                                 0x80,
                                 0x7FFF,
                                 0x800000,
                                 0x7FFFFFFF,
                                 0x80000000LL,
                                 0x7FFFFFFFFFFFLL,
                                 0x800000000000LL,
                                 INT64_MAX,
                                 INT64_MIN};
  std::vector<Row> rows;
  for (std::size_t i = 0; i < count; ++i) {
    std::int64_t b = widths[rng() % std::size(widths)];
    if (rng() % 2 == 0 && b != INT64_MIN) b = -b;
    if (rng() % 3 == 0) b = static_cast<std::int64_t>(rng());
    std::optional<std::string> c;
    if (rng() % 5 != 0) c = text(rng() % 10 == 0 ? max_text : 24);
    rows.emplace_back(text(rng() % 10 == 0 ? max_text : 16), b, c);
  }
  std::sort(rows.begin(), rows.end(), [](const Row& x, const Row& y) {
    return std::tie(std::get<0>(x), std::get<1>(x)) < std::tie(std::get<0>(y), std::get<1>(y));
  });
  rows.erase(std::unique(rows.begin(), rows.end(),
                         [](const Row& x, const Row& y) {
                           return std::get<0>(x) == std::get<0>(y) && std::get<1>(x) == std::get<1>(y);
                         }),
             rows.end());
  return rows;
}

// Creates the test schema in `path` with SQLite (page size `page_size`), then writes
// `rows` into its two trees with the builder.
void build(const std::filesystem::path& path, const std::vector<Row>& rows, int page_size) {
  {
    RawDb db(path);
    ASSERT_TRUE(db.exec("PRAGMA page_size = " + std::to_string(page_size) + ";" + kSchema));
  }
  auto file = PageFile::open(path);
  ASSERT_TRUE(file.ok()) << file.error().message;
  IndexTreeBuilder table(*file.value(), static_cast<std::uint32_t>(rootOf(path, "t")));
  for (const Row& r : rows) {
    ASSERT_TRUE(table.add(recordOf(std::get<0>(r), std::get<1>(r), std::get<2>(r), false)).ok());
  }
  ASSERT_TRUE(table.finish().ok());

  std::vector<Row> by_c = rows;
  std::sort(by_c.begin(), by_c.end(), [](const Row& x, const Row& y) {
    return std::tie(std::get<2>(x), std::get<1>(x), std::get<0>(x)) <
           std::tie(std::get<2>(y), std::get<1>(y), std::get<0>(y));
  });
  IndexTreeBuilder index(*file.value(), static_cast<std::uint32_t>(rootOf(path, "t_by_c")));
  for (const Row& r : by_c) {
    ASSERT_TRUE(index.add(recordOf(std::get<0>(r), std::get<1>(r), std::get<2>(r), true)).ok());
  }
  ASSERT_TRUE(index.finish().ok());
  ASSERT_TRUE(file.value()->finish().ok());
}

struct Case {
  std::size_t rows;
  std::size_t max_text;
  int page_size;
};

class IndexTreeBuilderTest : public ::testing::TestWithParam<Case> {};

TEST_P(IndexTreeBuilderTest, SqliteReadsBackEveryRowThroughTheTableAndTheIndex) {
  const Case c = GetParam();
  TempDir dir;
  const auto path = dir.file("built.db");
  const std::vector<Row> rows =
      randomRows(c.rows, c.max_text, static_cast<std::uint32_t>(c.rows * 31 + c.max_text));
  build(path, rows, c.page_size);
  if (HasFatalFailure()) return;

  RawDb db(path);
  EXPECT_EQ(db.text("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(readRows(path, "SELECT a, b, c FROM t ORDER BY a, b"), rows);
  // Through the index alone: every entry, in its order, and a range search.
  std::vector<Row> by_c = rows;
  std::stable_sort(by_c.begin(), by_c.end(), [](const Row& x, const Row& y) {
    return std::tie(std::get<2>(x), std::get<1>(x), std::get<0>(x)) <
           std::tie(std::get<2>(y), std::get<1>(y), std::get<0>(y));
  });
  EXPECT_EQ(
      readRows(path,
               "SELECT a, b, c FROM t INDEXED BY t_by_c WHERE c IS NULL OR c IS NOT NULL ORDER BY c, b"),
      by_c);
  // Every row found by its key (a seek through the interior pages), and SQLite can go on
  // writing to the file (splitting the full pages).
  std::int64_t found = 0;
  std::int64_t sought = 0;
  for (std::size_t i = 0; i < rows.size(); i += 1 + rows.size() / 50, ++sought) {
    const auto& [a, b, text] = rows[i];
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(raw, "SELECT count(*) FROM t WHERE a = ?1 AND b = ?2", -1, &stmt, nullptr),
              SQLITE_OK);
    sqlite3_bind_text(stmt, 1, a.data(), static_cast<int>(a.size()), SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, b);
    if (sqlite3_step(stmt) == SQLITE_ROW) found += sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(raw);
    (void)text;
  }
  EXPECT_EQ(found, sought);
  ASSERT_TRUE(db.exec("INSERT INTO t (a, b, c) SELECT a || 'x', b, c FROM t"));
  EXPECT_EQ(db.integer("SELECT count(*) FROM t"), static_cast<std::int64_t>(2 * rows.size()));
  EXPECT_EQ(db.text("PRAGMA integrity_check"), "ok");
}

INSTANTIATE_TEST_SUITE_P(Sizes, IndexTreeBuilderTest,
                         ::testing::Values(Case{0, 16, 4096}, Case{1, 16, 4096}, Case{2, 16, 4096},
                                           Case{5, 3000, 4096}, Case{300, 5000, 512}, Case{3000, 20, 4096},
                                           Case{5000, 9000, 4096}, Case{20000, 40, 512},
                                           Case{1000, 200000, 65536}));

// Entries of one size on small pages: four to a leaf, four cells to an interior page.
// Every count up to 170 ends the load at every position of a page, at every level of a
// four-level tree, the last entry starting a page of its own included.
TEST(IndexTreeBuilder, EveryCountEndsItsLastPagesRight) {
  TempDir dir;
  for (std::size_t n = 0; n <= 170; ++n) {
    const auto path = dir.file(testing::numbered("count-", static_cast<std::int64_t>(n), ".db"));
    std::vector<Row> rows;
    for (std::size_t i = 0; i < n; ++i) {
      std::string key = testing::numbered("k", static_cast<std::int64_t>(1000 + i));
      key.resize(100, '.');
      rows.emplace_back(key, static_cast<std::int64_t>(i), std::nullopt);
    }
    build(path, rows, 512);
    if (HasFatalFailure()) return;
    RawDb db(path);
    ASSERT_EQ(db.text("PRAGMA integrity_check"), "ok") << n << " entries";
    ASSERT_EQ(readRows(path, "SELECT a, b, c FROM t ORDER BY a, b"), rows) << n << " entries";
  }
}

TEST(RecordWriter, EncodesAsSqliteDoes) {
  // The record SQLite itself stores for the same values (read back with its own record
  // decoder through the table).
  TempDir dir;
  const auto path = dir.file("values.db");
  {
    RawDb db(path);
    ASSERT_TRUE(db.exec("CREATE TABLE v (k INTEGER NOT NULL, x, PRIMARY KEY (k)) WITHOUT ROWID;"));
  }
  const std::vector<std::int64_t> ints = {0,
                                          1,
                                          -1,
                                          2,
                                          127,
                                          128,
                                          -128,
                                          -129,
                                          32767,
                                          32768,
                                          8388607,
                                          8388608,
                                          2147483647,
                                          2147483648LL,
                                          140737488355327LL,
                                          140737488355328LL,
                                          INT64_MAX,
                                          INT64_MIN};
  auto file = PageFile::open(path);
  ASSERT_TRUE(file.ok()) << file.error().message;
  IndexTreeBuilder tree(*file.value(), static_cast<std::uint32_t>(rootOf(path, "v")));
  std::vector<std::int64_t> keys = ints;
  std::sort(keys.begin(), keys.end());
  std::string record;
  for (std::int64_t k : keys) {
    RecordWriter w;
    w.addInt(k);
    if (k % 2 == 0) {
      w.addText(std::string(static_cast<std::size_t>(k & 0xFF), 'q'));
    } else {
      w.addNull();
    }
    w.finish(record);
    ASSERT_TRUE(tree.add(record).ok());
  }
  ASSERT_TRUE(tree.finish().ok());
  ASSERT_TRUE(file.value()->finish().ok());
  RawDb db(path);
  EXPECT_EQ(db.text("PRAGMA integrity_check"), "ok");
  for (std::int64_t k : keys) {
    const std::string where = " FROM v WHERE k = " + std::to_string(k);
    EXPECT_EQ(db.integer("SELECT count(*)" + where), 1) << k;
    EXPECT_EQ(db.text("SELECT typeof(x)" + where), k % 2 == 0 ? "text" : "null") << k;
    if (k % 2 == 0) {
      EXPECT_EQ(db.integer("SELECT length(x)" + where), k & 0xFF) << k;
    }
  }
}

TEST(Varint, MatchesTheFileFormat) {
  auto encode = [](std::uint64_t v) {
    std::string out;
    appendVarint(out, v);
    return out;
  };
  EXPECT_EQ(encode(0), std::string(1, '\0'));
  EXPECT_EQ(encode(0x7F), "\x7F");
  EXPECT_EQ(encode(0x80), "\x81\x00"s);
  EXPECT_EQ(encode(0x3FFF), "\xFF\x7F");
  EXPECT_EQ(encode(0x4000), "\x81\x80\x00"s);
  EXPECT_EQ(encode(0x00FFFFFFFFFFFFFFULL).size(), 8U);
  EXPECT_EQ(encode(0x0100000000000000ULL).size(), 9U);
  EXPECT_EQ(encode(UINT64_MAX), std::string(9, '\xFF'));
}

TEST(PageFile, NeverAllocatesTheLockBytePage) {
  TempDir dir;
  const auto path = dir.file("big.db");
  {
    RawDb db(path);
    ASSERT_TRUE(db.exec("PRAGMA page_size = 65536; CREATE TABLE x (y);"));
  }
  auto file = PageFile::open(path);
  ASSERT_TRUE(file.ok()) << file.error().message;
  const std::uint32_t lock_page = 0x40000000 / 65536 + 1;
  std::uint32_t last = 0;
  while (last < lock_page + 2) {
    const std::uint32_t next = file.value()->allocate();
    EXPECT_NE(next, lock_page);
    EXPECT_GT(next, last);
    last = next;
  }
}

TEST(PageFile, RefusesFilesItCannotWriteInto) {
  TempDir dir;
  const auto text = dir.file("not-a-database");
  std::ofstream(text) << std::string(4096, 'x');
  auto refused = PageFile::open(text);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("not an SQLite database file"), std::string::npos)
      << refused.error().message;

  const auto utf16 = dir.file("utf16.db");
  {
    RawDb db(utf16);
    ASSERT_TRUE(db.exec("PRAGMA encoding = 'UTF-16le'; CREATE TABLE x (y);"));
  }
  refused = PageFile::open(utf16);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("UTF-8"), std::string::npos) << refused.error().message;

  // Pointer-map pages would have to list every page written; a WAL file may hold pages
  // newer than the file's.
  const auto vacuum = dir.file("vacuum.db");
  {
    RawDb db(vacuum);
    ASSERT_TRUE(db.exec("PRAGMA auto_vacuum = FULL; CREATE TABLE x (y);"));
  }
  refused = PageFile::open(vacuum);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("auto-vacuum"), std::string::npos) << refused.error().message;
  const auto wal = dir.file("wal.db");
  {
    RawDb db(wal);
    ASSERT_TRUE(db.exec("PRAGMA journal_mode = WAL; CREATE TABLE x (y);"));
  }
  refused = PageFile::open(wal);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("rollback journal"), std::string::npos) << refused.error().message;

  refused = PageFile::open(dir.file("missing.db"));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("cannot open"), std::string::npos) << refused.error().message;
}

}  // namespace
}  // namespace replywatch::store::sqlite_file
