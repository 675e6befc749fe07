#pragma once
// Writes SQLite index b-trees straight into a database file, from entries already in key
// order: what CREATE INDEX does after its sort, without the per-row work of the SQL
// engine. Used to build a new store file from a bulk load (see store_file_builder.h).
//
// The file format is SQLite's (https://www.sqlite.org/fileformat2.html): records of file
// format 4, UTF-8 text, index b-tree pages (flags 0x0A and 0x02) whose interior cells hold
// entries of their own, overflow chains for entries too long for a page. A WITHOUT ROWID
// table is such a tree too, keyed by its primary key columns followed by its other columns
// in their declared order.
//
// Threading: a PageFile may be shared by builders on different threads (allocate() is
// synchronized; write() writes one page with pwrite, and each page is written by the
// builder that allocated it); an IndexTreeBuilder is used by one thread.
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/core/result.h"

namespace replywatch::store::sqlite_file {

// Builds one record (a row of columns) in SQLite's record format.
class RecordWriter {
 public:
  void clear() {
    types_.clear();
    body_.clear();
  }
  void addNull();
  void addInt(std::int64_t value);
  void addText(std::string_view text);
  // Replaces `out` with the record: its header (size and serial types), then the values.
  void finish(std::string& out) const;

 private:
  std::string types_;  // serial types, as varints
  std::string body_;
};

// Appends SQLite's variable-length integer encoding of `value` (1 to 9 bytes).
void appendVarint(std::string& out, std::uint64_t value);

// A database file whose pages are written directly. open() reads the header of a file
// SQLite wrote and closed (no -wal file beside it, no other connection), finish() writes
// the new page count into the header and syncs the file.
class PageFile {
 public:
  // Error (reason "store") when the file cannot be opened or read, or when its header is
  // not one this writer handles (schema format 4, UTF-8, no page reserved bytes, no
  // auto-vacuum and its pointer-map pages, a rollback journal rather than WAL).
  static Result<std::unique_ptr<PageFile>> open(const std::filesystem::path& path);
  ~PageFile();
  PageFile(const PageFile&) = delete;
  PageFile& operator=(const PageFile&) = delete;

  std::uint32_t pageSize() const { return page_size_; }
  // Pages of the file, those allocated so far included. Thread-safe.
  std::uint32_t pageCount();
  // A page number past every page of the file, never the lock-byte page (the page
  // holding byte 2^30 is never used by SQLite). Thread-safe.
  std::uint32_t allocate();
  // Writes `page` (pageSize() bytes) as page `number` (1-based). Thread-safe. Every
  // kWritebackBytes written, asks the kernel to start writing the file's dirty pages to
  // disk (without waiting), so that finish()'s sync finds little left to write.
  Result<void> write(std::uint32_t number, const unsigned char* page);
  static constexpr std::uint64_t kWritebackBytes = 16 << 20;
  // Sets the page count and the change counters in the header, then fsyncs. Call once,
  // after every builder has finished.
  Result<void> finish();

 private:
  PageFile(int fd, std::filesystem::path path, std::uint32_t page_size, std::uint32_t pages);
  Error ioError(std::string_view what) const;

  int fd_;
  std::filesystem::path path_;
  std::uint32_t page_size_;
  std::mutex mu_;
  std::uint32_t pages_;                    // highest page number allocated
  std::atomic<std::uint64_t> written_{0};  // bytes written by write()
};

// Builds one index b-tree whose root page already exists (an empty tree SQLite created):
// the root is rewritten in place, every other page is allocated past the file's end.
class IndexTreeBuilder {
 public:
  IndexTreeBuilder(PageFile& file, std::uint32_t root_page);
  ~IndexTreeBuilder();
  IndexTreeBuilder(const IndexTreeBuilder&) = delete;
  IndexTreeBuilder& operator=(const IndexTreeBuilder&) = delete;

  // Adds one entry (a record from RecordWriter). Entries come in strictly increasing key
  // order, as SQLite compares the records; nothing checks it here (PRAGMA
  // integrity_check does). Error when a page cannot be written.
  Result<void> add(std::string_view record);
  // Writes the pages still held, the root last. Call once.
  Result<void> finish();

 private:
  struct Level;
  Result<void> addToLevel(std::size_t level, std::uint32_t child, std::string_view cell);
  Result<void> finishLevel(std::size_t level, std::uint32_t last_child);
  // Encodes `record` as a cell into cell_, writing its overflow pages if any.
  Result<void> makeCell(std::string_view record);
  Result<std::uint32_t> writePage(Level& level, bool pending, bool root);

  PageFile& file_;
  std::uint32_t root_page_;
  std::uint32_t usable_;
  std::vector<std::unique_ptr<Level>> levels_;  // 0: leaves
  std::vector<unsigned char> page_;             // scratch page
  std::string cell_;                            // scratch cell
};

}  // namespace replywatch::store::sqlite_file
