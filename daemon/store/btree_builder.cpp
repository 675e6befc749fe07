#include "daemon/store/btree_builder.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include "daemon/store/file_io.h"

namespace replywatch::store::sqlite_file {
namespace {

// Header fields of the database file (offsets of the file format's first 100 bytes).
constexpr std::size_t kHeaderSize = 100;
constexpr std::size_t kPageSizeOffset = 16;
constexpr std::size_t kWriteVersionOffset = 18;  // 2 in WAL mode
constexpr std::size_t kReservedOffset = 20;
constexpr std::size_t kChangeCounterOffset = 24;
constexpr std::size_t kPageCountOffset = 28;
constexpr std::size_t kSchemaFormatOffset = 44;
constexpr std::size_t kAutoVacuumOffset = 52;
constexpr std::size_t kTextEncodingOffset = 56;
constexpr std::size_t kIncrementalVacuumOffset = 64;
constexpr std::size_t kVersionValidForOffset = 92;
constexpr std::uint32_t kLockByteOffset = 0x40000000;

// Index b-tree page flags and header sizes.
constexpr unsigned char kIndexLeaf = 0x0A;
constexpr unsigned char kIndexInterior = 0x02;
constexpr std::size_t kLeafHeader = 8;
constexpr std::size_t kInteriorHeader = 12;
constexpr std::size_t kChildPointer = 4;
constexpr std::size_t kCellPointer = 2;
constexpr std::size_t kMinCellSize = 4;  // SQLite never gives a cell fewer bytes

std::uint32_t readBig32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

void putBig16(unsigned char* p, std::uint32_t v) {
  p[0] = static_cast<unsigned char>(v >> 8);
  p[1] = static_cast<unsigned char>(v);
}

void putBig32(unsigned char* p, std::uint32_t v) {
  p[0] = static_cast<unsigned char>(v >> 24);
  p[1] = static_cast<unsigned char>(v >> 16);
  p[2] = static_cast<unsigned char>(v >> 8);
  p[3] = static_cast<unsigned char>(v);
}

void appendBig32(std::string& out, std::uint32_t v) {
  unsigned char bytes[4];
  putBig32(bytes, v);
  out.append(reinterpret_cast<const char*>(bytes), sizeof bytes);
}


}  // namespace

std::size_t putVarint(char* out, std::uint64_t value) {
  if (value <= 0x7F) {
    out[0] = static_cast<char>(value);
    return 1;
  }
  if ((value >> 56) != 0) {  // nine bytes: eight of seven bits, the last of eight
    out[8] = static_cast<char>(value & 0xFF);
    value >>= 8;
    for (int i = 7; i >= 0; --i) {
      out[i] = static_cast<char>((value & 0x7F) | 0x80);
      value >>= 7;
    }
    return 9;
  }
  const std::size_t n = varintLength(value);
  for (std::size_t i = n; i > 0; --i) {  // the least significant group last, ending it
    out[i - 1] = static_cast<char>((value & 0x7F) | (i == n ? 0 : 0x80));
    value >>= 7;
  }
  return n;
}

void appendVarint(std::string& out, std::uint64_t value) {
  std::array<char, 9> bytes{};
  out.append(bytes.data(), putVarint(bytes.data(), value));
}

// --- RecordWriter ----------------------------------------------------------------------

std::size_t RecordWriter::headerSize() const {
  // The header's size counts its own varint.
  std::size_t header = types_size_ + 1;
  while (types_size_ + varintLength(header) != header) header = types_size_ + varintLength(header);
  return header;
}

std::size_t RecordWriter::size() const { return headerSize() + body_.size(); }

void RecordWriter::writeTo(char* out) const {
  const std::size_t header = headerSize();
  out += putVarint(out, header);
  std::memcpy(out, types_.data(), types_size_);
  std::memcpy(out + types_size_, body_.data(), body_.size());
}

// --- PageFile --------------------------------------------------------------------------

PageFile::PageFile(int fd, std::filesystem::path path, std::uint32_t page_size, std::uint32_t pages)
    : fd_(fd), path_(std::move(path)), page_size_(page_size), pages_(pages) {}

PageFile::~PageFile() { ::close(fd_); }

Error PageFile::ioError(std::string_view what) const { return store::ioError(errno, what, path_); }

Result<std::unique_ptr<PageFile>> PageFile::open(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    return makeError("store", "cannot open " + path.string() + ": " + std::strerror(errno));
  }
  auto refuse = [&](const std::string& why) -> Error {
    ::close(fd);
    return makeError("store", "cannot write pages into " + path.string() + ": " + why);
  };
  std::array<unsigned char, kHeaderSize> header{};
  struct stat st {};
  if (::pread(fd, header.data(), header.size(), 0) != static_cast<ssize_t>(header.size()) ||
      ::fstat(fd, &st) != 0) {
    return refuse("cannot read its header");
  }
  std::uint32_t page_size = (std::uint32_t{header[kPageSizeOffset]} << 8) | header[kPageSizeOffset + 1];
  if (page_size == 1) page_size = 65536;
  if (page_size < 512 || (page_size & (page_size - 1)) != 0) return refuse("not an SQLite database file");
  if (header[kReservedOffset] != 0) return refuse("its pages reserve bytes");
  if (readBig32(&header[kSchemaFormatOffset]) != 4) return refuse("its schema format is not 4");
  if (readBig32(&header[kTextEncodingOffset]) != 1) return refuse("its text encoding is not UTF-8");
  if (readBig32(&header[kAutoVacuumOffset]) != 0 || readBig32(&header[kIncrementalVacuumOffset]) != 0) {
    return refuse("it has auto-vacuum pointer-map pages");
  }
  if (header[kWriteVersionOffset] != 1) return refuse("it is not in rollback journal mode");
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size % page_size != 0) return refuse("its size is not a whole number of pages");
  const auto pages = static_cast<std::uint32_t>(size / page_size);
  return std::unique_ptr<PageFile>(new PageFile(fd, path, page_size, pages));
}

std::uint32_t PageFile::pageCount() {
  std::lock_guard lock(mu_);
  return pages_;
}

std::uint32_t PageFile::allocate() {
  std::lock_guard lock(mu_);
  ++pages_;
  if (pages_ == kLockByteOffset / page_size_ + 1) ++pages_;
  return pages_;
}

Result<void> PageFile::write(std::uint32_t number, const unsigned char* page) {
  auto offset = static_cast<off_t>(number - 1) * static_cast<off_t>(page_size_);
  std::size_t left = page_size_;
  while (left > 0) {
    const ssize_t n = ::pwrite(fd_, page, left, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) errno = EIO;
    if (n <= 0) return ioError("cannot write a page of");
    page += n;
    offset += n;
    left -= static_cast<std::size_t>(n);
  }
  const std::uint64_t before = written_.fetch_add(page_size_);
  if ((before + page_size_) / kWritebackBytes != before / kWritebackBytes) {
#ifdef SYNC_FILE_RANGE_WRITE
    // Whole file (0, 0); a hint: an error here is the sync's to report.
    (void)::sync_file_range(fd_, 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
  }
  return {};
}

Result<void> PageFile::finish() {
  std::array<unsigned char, kHeaderSize> header{};
  errno = EIO;  // what a short read or write below reports
  if (::pread(fd_, header.data(), header.size(), 0) != static_cast<ssize_t>(header.size())) {
    return ioError("cannot read the header of");
  }
  // A new change counter, and the page count valid for it (SQLite trusts the header's
  // page count only when both agree).
  const std::uint32_t counter = readBig32(&header[kChangeCounterOffset]) + 1;
  putBig32(&header[kChangeCounterOffset], counter);
  putBig32(&header[kVersionValidForOffset], counter);
  putBig32(&header[kPageCountOffset], pages_);
  if (::pwrite(fd_, header.data(), header.size(), 0) != static_cast<ssize_t>(header.size())) {
    return ioError("cannot write the header of");
  }
  if (::ftruncate(fd_, static_cast<off_t>(pages_) * static_cast<off_t>(page_size_)) != 0) {
    return ioError("cannot set the size of");
  }
  if (::fsync(fd_) != 0) return ioError("cannot sync");
  return {};
}

// --- IndexTreeBuilder ------------------------------------------------------------------

namespace {

// The cells of one page being filled, back to back (an interior cell without its child
// pointer, which `children` holds).
struct PageCells {
  std::string data;
  std::vector<std::uint32_t> ends;
  std::vector<std::uint32_t> children;  // interior pages: each cell's left child
  std::uint32_t right = 0;              // interior pages: the right-most child
  std::size_t used = 0;                 // bytes the cells take on the page

  std::size_t count() const { return ends.size(); }
  std::string_view cell(std::size_t i) const {
    const std::size_t begin = i == 0 ? 0 : ends[i - 1];
    return std::string_view(data).substr(begin, ends[i] - begin);
  }
  void push(std::string_view cell, std::uint32_t child, std::size_t size) {
    data.append(cell);
    ends.push_back(static_cast<std::uint32_t>(data.size()));
    children.push_back(child);
    used += size;
  }
  void clear() {
    data.clear();
    ends.clear();
    children.clear();
    right = 0;
    used = 0;
  }
};

}  // namespace

struct IndexTreeBuilder::Level {
  bool leaf = true;
  PageCells current;
  // A full page kept back until the next entry shows that a page follows it at this
  // level: the last page of a level must not be left empty, and finishing can still
  // move a cell out of the pending page.
  PageCells pending;
  bool has_pending = false;
  std::string divider;  // the cell between the pending page and the current one

  std::size_t headerSize() const { return leaf ? kLeafHeader : kInteriorHeader; }
  // Bytes a cell takes on a page of this level.
  std::size_t cellSize(std::string_view cell) const {
    return leaf ? std::max(cell.size(), kMinCellSize) : kChildPointer + cell.size();
  }
};

IndexTreeBuilder::IndexTreeBuilder(PageFile& file, std::uint32_t root_page)
    : file_(file), root_page_(root_page), usable_(file.pageSize()), page_(file.pageSize()) {
  levels_.push_back(std::make_unique<Level>());
}

IndexTreeBuilder::~IndexTreeBuilder() = default;

Result<void> IndexTreeBuilder::makeCell(std::string_view record) {
  // How much of a payload stays on an index page (the file format's X, M and K).
  const std::size_t max_local = (usable_ - 12) * 64 / 255 - 23;
  const std::size_t min_local = (usable_ - 12) * 32 / 255 - 23;
  const std::size_t payload = record.size();
  std::size_t local = payload;
  if (payload > max_local) {
    const std::size_t surplus = min_local + (payload - min_local) % (usable_ - 4);
    local = surplus <= max_local ? surplus : min_local;
  }
  std::string& cell = cell_;
  cell.clear();
  appendVarint(cell, payload);
  cell.append(record.substr(0, local));
  if (local == payload) return {};

  // The rest goes to a chain of overflow pages: next page number, then content.
  const std::size_t per_page = usable_ - 4;
  std::string_view rest = record.substr(local);
  std::vector<std::uint32_t> chain((rest.size() + per_page - 1) / per_page);
  for (auto& number : chain) number = file_.allocate();
  appendBig32(cell, chain.front());
  for (std::size_t i = 0; i < chain.size(); ++i) {
    std::fill(page_.begin(), page_.end(), 0);
    putBig32(page_.data(), i + 1 < chain.size() ? chain[i + 1] : 0);
    const std::string_view part = rest.substr(i * per_page, per_page);
    std::memcpy(page_.data() + 4, part.data(), part.size());
    if (auto written = file_.write(chain[i], page_.data()); !written) return written.error();
  }
  return {};
}

Result<std::uint32_t> IndexTreeBuilder::writePage(Level& level, bool pending, bool root) {
  const PageCells& cells = pending ? level.pending : level.current;
  std::fill(page_.begin(), page_.end(), 0);
  const std::size_t header = level.headerSize();
  std::size_t content = usable_;
  for (std::size_t i = 0; i < cells.count(); ++i) {
    const std::string_view cell = cells.cell(i);
    content -= level.cellSize(cell);
    unsigned char* at = page_.data() + content;
    if (!level.leaf) {
      putBig32(at, cells.children[i]);
      at += kChildPointer;
    }
    std::memcpy(at, cell.data(), cell.size());
    putBig16(page_.data() + header + kCellPointer * i, static_cast<std::uint32_t>(content));
  }
  page_[0] = level.leaf ? kIndexLeaf : kIndexInterior;
  putBig16(&page_[3], static_cast<std::uint32_t>(cells.count()));
  putBig16(&page_[5], static_cast<std::uint32_t>(content == 65536 ? 0 : content));
  if (!level.leaf) putBig32(&page_[8], cells.right);
  const std::uint32_t number = root ? root_page_ : file_.allocate();
  if (auto written = file_.write(number, page_.data()); !written) return written.error();
  return number;
}

Result<void> IndexTreeBuilder::add(const RecordWriter& record) {
  const std::size_t payload = record.size();
  if (payload > (usable_ - 12) * 64 / 255 - 23) {  // past max_local: overflow pages
    std::string whole;
    record.finish(whole);
    return add(whole);
  }
  cell_.resize(varintLength(payload) + payload);
  record.writeTo(cell_.data() + putVarint(cell_.data(), payload));
  return addToLevel(0, 0, cell_);
}

Result<void> IndexTreeBuilder::add(std::string_view record) {
  if (auto made = makeCell(record); !made) return made;
  return addToLevel(0, 0, cell_);
}

// `cell` may be a view of a level's divider or of cell_: neither changes before it is
// copied (a divider is only replaced at its own level, after the call up has returned).
Result<void> IndexTreeBuilder::addToLevel(std::size_t index, std::uint32_t child, std::string_view cell) {
  if (index == levels_.size()) {
    levels_.push_back(std::make_unique<Level>());
    levels_.back()->leaf = false;
  }
  Level& level = *levels_[index];
  if (level.has_pending) {  // a page follows the pending one: it can go
    auto written = writePage(level, true, false);
    if (!written) return written.error();
    level.has_pending = false;
    level.pending.clear();
    if (auto up = addToLevel(index + 1, written.value(), level.divider); !up) return up;
  }
  Level& same = *levels_[index];  // addToLevel may have grown levels_
  const std::size_t size = same.cellSize(cell);
  if (same.headerSize() + kCellPointer * (same.current.count() + 1) + same.current.used + size <= usable_) {
    same.current.push(cell, child, size);
    return {};
  }
  // The page is full: `cell` separates it from the next one.
  std::swap(same.pending, same.current);
  same.pending.right = child;
  same.divider.assign(cell);
  same.has_pending = true;
  return {};
}

Result<void> IndexTreeBuilder::finishLevel(std::size_t index, std::uint32_t last_child) {
  Level& level = *levels_[index];
  if (level.has_pending) {
    // Nothing came after the pending page: its last cell becomes the divider, and the
    // divider held back becomes the only cell of the last page.
    PageCells& pending = level.pending;
    const std::size_t last = pending.count() - 1;
    std::string moved(pending.cell(last));
    const std::uint32_t moved_child = pending.children[last];
    pending.used -= level.cellSize(moved);
    pending.data.resize(last == 0 ? 0 : pending.ends[last - 1]);
    pending.ends.pop_back();
    pending.children.pop_back();
    level.current.push(level.divider, pending.right, level.cellSize(level.divider));
    pending.right = moved_child;
    auto written = writePage(level, true, false);
    if (!written) return written.error();
    level.has_pending = false;
    if (auto up = addToLevel(index + 1, written.value(), moved); !up) return up;
  }
  Level& same = *levels_[index];
  same.current.right = last_child;
  const bool root = index + 1 == levels_.size();
  auto written = writePage(same, false, root);
  if (!written) return written.error();
  if (root) return {};
  return finishLevel(index + 1, written.value());
}

Result<void> IndexTreeBuilder::finish() { return finishLevel(0, 0); }

}  // namespace replywatch::store::sqlite_file
