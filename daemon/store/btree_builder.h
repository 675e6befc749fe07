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
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/core/result.h"

namespace replywatch::store::sqlite_file {

// Writes SQLite's variable-length integer encoding of `value` (1 to 9 bytes) at `out`,
// which has room for 9; returns its length.
std::size_t putVarint(char* out, std::uint64_t value);
// Appends it to `out`.
void appendVarint(std::string& out, std::uint64_t value);
// The length of the encoding of `value`.
inline std::size_t varintLength(std::uint64_t value) {
  std::size_t n = 1;
  while (n < 9 && (value >> (7 * n)) != 0) ++n;
  return n;
}

// Builds one record (a row of columns) in SQLite's record format. Up to kMaxColumns
// columns: more is a programmer error (std::length_error).
class RecordWriter {
 public:
  static constexpr std::size_t kMaxColumns = 32;

  void clear() {
    types_size_ = 0;
    body_.clear();
  }
  void addNull() { addType(0); }
  void addInt(std::int64_t value) {
    if (value == 0 || value == 1) {  // serial types 8 and 9: the value without a body
      addType(static_cast<std::uint64_t>(8 + value));
      return;
    }
    const std::uint64_t magnitude =
        value < 0 ? ~static_cast<std::uint64_t>(value) : static_cast<std::uint64_t>(value);
    std::uint64_t type = 6;
    std::size_t bytes = 8;
    if (magnitude <= 0x7F) {
      type = 1, bytes = 1;
    } else if (magnitude <= 0x7FFF) {
      type = 2, bytes = 2;
    } else if (magnitude <= 0x7FFFFF) {
      type = 3, bytes = 3;
    } else if (magnitude <= 0x7FFFFFFF) {
      type = 4, bytes = 4;
    } else if (magnitude <= 0x7FFFFFFFFFFF) {
      type = 5, bytes = 6;
    }
    addType(type);
    const auto u = static_cast<std::uint64_t>(value);
    char big_endian[8];
    for (std::size_t i = 0; i < bytes; ++i) big_endian[i] = static_cast<char>(u >> (8 * (bytes - 1 - i)));
    body_.append(big_endian, bytes);
  }
  void addText(std::string_view text) {
    addType(2 * static_cast<std::uint64_t>(text.size()) + 13);
    body_.append(text);
  }
  // The record's length: its header (size and serial types), then the values.
  std::size_t size() const;
  // Writes the record (size() bytes) at `out`.
  void writeTo(char* out) const;
  // Replaces `out` with the record.
  void finish(std::string& out) const {
    out.resize(size());
    writeTo(out.data());
  }

 private:
  void addType(std::uint64_t type) {
    if (types_size_ + 9 > types_.size()) throw std::length_error("a record of more than 32 columns");
    if (type <= 0x7F) {
      types_[types_size_++] = static_cast<char>(type);
    } else {
      types_size_ += putVarint(types_.data() + types_size_, type);
    }
  }
  std::size_t headerSize() const;

  std::array<char, 9 * kMaxColumns> types_{};  // serial types, as varints
  std::size_t types_size_ = 0;
  std::string body_;
};

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
  // The same of the record in `record`, without a copy of it first.
  Result<void> add(const RecordWriter& record);
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
