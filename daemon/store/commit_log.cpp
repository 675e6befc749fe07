#include "daemon/store/commit_log.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <system_error>
#include <utility>

#include "daemon/store/file_io.h"

namespace replywatch::store {

namespace {

constexpr std::size_t kHeaderBytes = 16;
constexpr std::uint32_t kMaxPayloadBytes = 256U << 20;
constexpr std::string_view kSuffix = ".log";
// A spare segment: complete (written and synced) once it has its final name.
constexpr std::string_view kSpare = "segment.spare";
constexpr std::string_view kSpareBeingWritten = "segment.spare.tmp";
constexpr std::size_t kZeroChunkBytes = 1U << 20;
// A spare segment is written only when this many segments' worth of space is free: it
// never takes more than half of what is left.
constexpr std::uint64_t kSpareFreeShare = 2;

void putU32(char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
void putU64(char* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
std::uint32_t getU32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}
std::uint64_t getU64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

// CRC-32 of the LSN's 8 bytes followed by the payload.
std::uint32_t checksum(const char* lsn_bytes, std::string_view payload) {
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(lsn_bytes), 8);
  // zlib takes uInt lengths; payloads are at most kMaxPayloadBytes.
  crc = crc32(crc, reinterpret_cast<const Bytef*>(payload.data()), static_cast<uInt>(payload.size()));
  return static_cast<std::uint32_t>(crc);
}

// Whether a whole record whose LSN is between `min_lsn` and `max_lsn` starts at `pos`
// of `bytes`: a payload length that fits, the LSN, and a CRC that matches.
bool recordAt(std::string_view bytes, std::size_t pos, std::uint64_t min_lsn, std::uint64_t max_lsn) {
  if (pos > bytes.size() || bytes.size() - pos < kHeaderBytes) return false;
  const char* h = bytes.data() + pos;
  const std::uint64_t lsn = getU64(h + 8);
  if (lsn < min_lsn || lsn > max_lsn) return false;
  const std::uint32_t length = getU32(h);
  if (length > kMaxPayloadBytes || bytes.size() - pos - kHeaderBytes < length) return false;
  return checksum(h + 8, bytes.substr(pos + kHeaderBytes, length)) == getU32(h + 4);
}

// The offset of the first whole record at or after `from` whose LSN is `min_lsn` or
// later (and no further beyond it than the bytes left could hold), or npos. Records of
// a recycled segment's previous life carry lower LSNs; whole ones are stepped over, so
// that nothing inside their payloads is taken for a record.
std::size_t nextRecord(std::string_view bytes, std::size_t from, std::uint64_t min_lsn) {
  const std::uint64_t max_lsn = min_lsn + bytes.size() / kHeaderBytes;
  for (std::size_t pos = from; pos < bytes.size() && bytes.size() - pos >= kHeaderBytes;) {
    // Most offsets fail on the LSN alone, before any CRC is computed. In a run of zeros
    // (a spare's, or the unwritten end of a segment), no record starts before the
    // offset whose LSN takes in the next byte that is not zero.
    const std::uint64_t lsn = getU64(bytes.data() + pos + 8);
    if (lsn == 0) {
      const std::size_t nonzero = bytes.find_first_not_of('\0', pos + 8);
      if (nonzero == std::string_view::npos) break;
      pos = std::max(pos + 1, nonzero - 15);
      continue;
    }
    if (lsn >= min_lsn && recordAt(bytes, pos, min_lsn, max_lsn)) return pos;
    if (lsn < min_lsn && recordAt(bytes, pos, lsn, lsn)) {
      pos += kHeaderBytes + getU32(bytes.data() + pos);
    } else {
      ++pos;
    }
  }
  return std::string_view::npos;
}

// The segments of `dir` as (first LSN, path), in LSN order; other files are ignored.
Result<std::vector<std::pair<std::uint64_t, std::filesystem::path>>> listSegments(
    const std::filesystem::path& dir) {
  std::vector<std::pair<std::uint64_t, std::filesystem::path>> out;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() != 16 + kSuffix.size() || !name.ends_with(kSuffix)) continue;
    std::uint64_t lsn = 0;
    bool hex = true;
    for (std::size_t i = 0; i < 16 && hex; ++i) {
      const char c = name[i];
      const int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (digit < 0) hex = false;
      lsn = lsn * 16 + static_cast<std::uint64_t>(digit < 0 ? 0 : digit);
    }
    if (hex) out.emplace_back(lsn, it->path());
  }
  if (ec) return makeError("store", fmt::format("cannot list commit log {}: {}", dir.string(), ec.message()));
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::filesystem::path resolvedDatabasePath(const std::filesystem::path& database) {
  std::error_code ec;
  // Resolves the part of the path that exists: a database not created yet is named
  // after its resolved directory.
  std::filesystem::path resolved = std::filesystem::weakly_canonical(database, ec);
  if (ec) resolved = std::filesystem::absolute(database, ec);
  return ec ? database : resolved;
}

std::filesystem::path commitLogDirectory(const std::filesystem::path& database) {
  return {resolvedDatabasePath(database).string() + "-log"};
}

namespace {

std::filesystem::path lockFile(const std::filesystem::path& database) {
  return {resolvedDatabasePath(database).string() + "-log.lock"};
}

}  // namespace

Result<CommitLogLock> CommitLogLock::take(const std::filesystem::path& database, bool exclusive, bool create,
                                          std::string_view owner) {
  const std::filesystem::path path = lockFile(database);
  // flock needs no write access: a reader without it still takes a shared lock.
  const int fd = create ? ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)
                        : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ioError(errno, "cannot open lock file", path);
  while (::flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0) {
    const int err = errno;
    if (err == EINTR) continue;
    ::close(fd);
    if (err == EWOULDBLOCK) return CommitLogLock{};
    return ioError(err, "cannot lock", path);
  }
  // Who holds it, for the error of the next process that wants it. Best effort.
  bool owned = false;
  if (exclusive && create && !owner.empty() && ::ftruncate(fd, 0) == 0) {
    owned = true;
    std::string line(owner);
    line.push_back('\n');
    const ssize_t written = ::pwrite(fd, line.data(), line.size(), 0);
    (void)written;  // an owner that could not be written reads as unknown
  }
  return CommitLogLock{fd, owned};
}

std::string CommitLogLock::owner(const std::filesystem::path& database) {
  const int fd = ::open(lockFile(database).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::array<char, 256> buffer{};
  const ssize_t n = ::pread(fd, buffer.data(), buffer.size(), 0);
  ::close(fd);
  if (n <= 0) return {};
  std::string line(buffer.data(), static_cast<std::size_t>(n));
  line.resize(std::min(line.find('\n'), line.size()));
  const bool printable = std::all_of(line.begin(), line.end(), [](char c) { return c >= ' ' && c <= '~'; });
  return printable ? line : std::string();
}

void CommitLogLock::release() {
  if (fd_ < 0) return;
  if (owned_) (void)::ftruncate(fd_, 0);
  ::close(fd_);
  fd_ = -1;
  owned_ = false;
}

CommitLogLock::~CommitLogLock() { release(); }

CommitLogLock::CommitLogLock(CommitLogLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), owned_(std::exchange(other.owned_, false)) {}

CommitLogLock& CommitLogLock::operator=(CommitLogLock&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = std::exchange(other.fd_, -1);
    owned_ = std::exchange(other.owned_, false);
  }
  return *this;
}

Result<std::vector<LogRecord>> CommitLog::readRecords(const std::filesystem::path& dir, std::uint64_t after) {
  std::vector<LogRecord> records;
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return records;
  auto segments = listSegments(dir);
  if (!segments.ok()) return segments.error();
  for (const auto& [first, path] : segments.value()) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return makeError("store", fmt::format("cannot read commit log segment {}", path.string()));
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::uint64_t expected = first;
    std::size_t pos = 0;
    for (;;) {
      if (recordAt(bytes, pos, expected, expected)) {
        const std::string_view payload(bytes.data() + pos + kHeaderBytes, getU32(bytes.data() + pos));
        if (expected > after) {
          if (!records.empty() ? expected != records.back().lsn + 1 : expected != after + 1) {
            return makeError(
                "store", fmt::format("commit log {} has no record {} (next found: {} in {}); a segment is "
                                     "missing or the end of the one before is damaged, the store cannot "
                                     "be brought up to date",
                                     dir.string(), records.empty() ? after + 1 : records.back().lsn + 1,
                                     expected, path.string()));
          }
          records.push_back(LogRecord{expected, std::string(payload)});
        }
        ++expected;
        pos += kHeaderBytes + payload.size();
        continue;
      }
      // No record `expected` here: the end of what the segment holds (zeros, records of
      // its previous life, a record cut short by a crash: only ever the last one), unless
      // a whole record carrying `expected` or a later LSN follows. Then the bytes at `pos`
      // are damaged, and what follows them was acknowledged.
      const std::size_t next = nextRecord(bytes, pos + 1, expected);
      if (next == std::string_view::npos) break;
      const std::uint64_t found = getU64(bytes.data() + next + 8);
      if (found > after + 1) {
        return makeError(
            "store", fmt::format("commit log segment {} is damaged at offset {}: record {} cannot be read, "
                                 "and acknowledged records from {} on follow it (offset {}); the store is "
                                 "not brought up to date without them",
                                 path.string(), pos, expected, found, next));
      }
      // Records applied already are damaged: what follows them is read on.
      expected = found;
      pos = next;
    }
  }
  return records;
}

Result<void> CommitLog::removeAll(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (ec)
    return makeError("store", fmt::format("cannot remove commit log {}: {}", dir.string(), ec.message()));
  if (const int err = syncDirectory(dir.parent_path()); err != 0) {
    return ioError(err, "cannot sync directory of", dir);
  }
  return {};
}

CommitLog::CommitLog(std::filesystem::path dir, std::uint64_t next_lsn, std::uint64_t segment_bytes)
    : dir_(std::move(dir)), next_lsn_(next_lsn), segment_bytes_(segment_bytes) {}

CommitLog::~CommitLog() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<CommitLog>> CommitLog::create(const std::filesystem::path& dir, std::uint64_t next_lsn,
                                                     std::uint64_t segment_bytes) {
  // Readable by its owner only, as its segments and the database are.
  if (::mkdir(dir.c_str(), 0700) == 0) {
    if (const int err = syncDirectory(dir.parent_path()); err != 0) {
      return ioError(err, "cannot sync directory of", dir);
    }
  } else if (errno != EEXIST) {
    return ioError(errno, "cannot create commit log", dir);
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return makeError(
        "store", fmt::format("cannot create commit log {}: a file of that name is in the way", dir.string()));
  }
  // A spare being written when the last process stopped may be incomplete.
  std::filesystem::remove(dir / kSpareBeingWritten, ec);
  std::unique_ptr<CommitLog> log(new CommitLog(dir, next_lsn, std::max<std::uint64_t>(segment_bytes, 1)));
  if (std::filesystem::exists(dir / kSpare, ec)) log->spare_ = Spare::Ready;
  if (auto started = log->startSegment(); !started.ok()) return started.error();
  return log;
}

Result<void> CommitLog::startSegment() {
  const std::filesystem::path path = dir_ / fmt::format("{:016x}{}", next_lsn_, kSuffix);
  // A file of that name holds nothing applied-later: records from next_lsn_ on were
  // never acknowledged (or were applied and replaced). Start it empty: the spare's zeros,
  // or a new file.
  bool spare = false;
  {
    std::lock_guard lock(spare_mutex_);
    if (spare_ == Spare::Ready) {
      spare_ = Spare::None;
      spare = ::rename((dir_ / kSpare).c_str(), path.c_str()) == 0;
    }
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | (spare ? 0 : O_TRUNC) | O_CLOEXEC, 0600);
  if (fd < 0) return ioError(errno, "cannot create commit log segment", path);
  if (const int err = syncDirectory(dir_); err != 0) {
    ::close(fd);
    return ioError(err, "cannot sync commit log directory", dir_);
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  offset_ = 0;
  segments_.push_back(Segment{next_lsn_, next_lsn_ - 1, path});
  return {};
}

Result<std::uint64_t> CommitLog::append(std::string_view payload) {
  if (payload.size() > kMaxPayloadBytes) {
    return makeError("store", fmt::format("a batch of {} bytes is larger than a commit log record may be",
                                          payload.size()));
  }
  const std::uint64_t lsn = next_lsn_;
  buffer_.resize(kHeaderBytes);
  putU32(buffer_.data(), static_cast<std::uint32_t>(payload.size()));
  putU64(buffer_.data() + 8, lsn);
  putU32(buffer_.data() + 4, checksum(buffer_.data() + 8, payload));
  buffer_.append(payload);
  const Segment& segment = segments_.back();
  // A record that failed must not come back: whatever part of it reached the file gets
  // its header zeroed (read as no record), as far as the disk still takes writes. The
  // next append overwrites it anyway; this covers a crash before that.
  auto unwritten = [&](const char* what) {
    const int err = errno;
    const std::array<char, kHeaderBytes> zeros{};
    if (::pwrite(fd_, zeros.data(), zeros.size(), static_cast<off_t>(offset_)) ==
        static_cast<ssize_t>(zeros.size())) {
      (void)::fdatasync(fd_);
    }
    return ioError(err, what, segment.path);
  };
  std::size_t done = 0;
  while (done < buffer_.size()) {
    const ssize_t n =
        ::pwrite(fd_, buffer_.data() + done, buffer_.size() - done, static_cast<off_t>(offset_ + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return unwritten("cannot write commit log segment");
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fdatasync(fd_) != 0) return unwritten("cannot sync commit log segment");
  offset_ += buffer_.size();
  segments_.back().last_lsn = lsn;
  ++next_lsn_;
  if (offset_ >= segment_bytes_) {
    // The record is durable already; a segment that cannot be started now is retried
    // by the next append, which goes on writing this one meanwhile.
    (void)startSegment();
  }
  return lsn;
}

Result<void> CommitLog::prepareSpare(const std::function<bool()>& interrupted) {
  {
    std::lock_guard lock(spare_mutex_);
    if (spare_ != Spare::None) return {};
    // Free space first: a spare written into a nearly full disk would fill it while it
    // is written, failing the appends and SQLite's writes meanwhile, and gain nothing.
    struct statvfs fs {};
    if (::statvfs(dir_.c_str(), &fs) != 0) return ioError(errno, "cannot read the free space of", dir_);
    const std::uint64_t free_bytes = static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
    const std::uint64_t needed = std::max(kSpareFreeShare * segment_bytes_, spare_needs_free_);
    if (free_bytes < needed) {
      return makeError("store_full",
                       fmt::format("not enough free space for the next commit log segment in {}: {} bytes "
                                   "free, {} needed (the segment takes at most half of what is free)",
                                   dir_.string(), free_bytes, needed));
    }
    spare_free_before_ = free_bytes;
    spare_ = Spare::Writing;
  }
  const std::filesystem::path tmp = dir_ / kSpareBeingWritten;
  bool dropped = false;
  auto written = [&]() -> Result<void> {
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return ioError(errno, "cannot create spare commit log segment", tmp);
    // The blocks first, in one call that fails at once without writing anything when
    // they are not there; the zeros then make them written blocks (fallocate's are
    // "unwritten", and an append into one would change the block map: a journal
    // commit). A file system without fallocate gets the zeros alone.
    if (::fallocate(fd, 0, 0, static_cast<off_t>(segment_bytes_)) != 0 && errno != EOPNOTSUPP &&
        errno != ENOSYS) {
      const int err = errno;
      ::close(fd);
      return ioError(err, "cannot allocate spare commit log segment", tmp);
    }
    const std::string zeros(kZeroChunkBytes, '\0');
    for (std::uint64_t offset = 0; offset < segment_bytes_;) {
      if (interrupted && interrupted()) {
        ::close(fd);
        dropped = true;
        return {};
      }
      const std::size_t chunk =
          static_cast<std::size_t>(std::min<std::uint64_t>(zeros.size(), segment_bytes_ - offset));
      const ssize_t n = ::pwrite(fd, zeros.data(), chunk, static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const int err = errno;
        ::close(fd);
        return ioError(err, "cannot write spare commit log segment", tmp);
      }
      // Each chunk reaches the disk before the next is written: a few requests at a
      // time, not the whole segment queued in front of the appends' syncs. Waiting on
      // the writes also takes their error, which the fsync below would no longer see.
      if (::sync_file_range(
              fd, static_cast<off_t>(offset), n,
              SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) != 0) {
        const int err = errno;
        ::close(fd);
        return ioError(err, "cannot write spare commit log segment", tmp);
      }
      offset += static_cast<std::uint64_t>(n);
    }
    const int synced = ::fsync(fd) == 0 ? 0 : errno;
    ::close(fd);
    if (synced != 0) return ioError(synced, "cannot sync spare commit log segment", tmp);
    if (::rename(tmp.c_str(), (dir_ / kSpare).c_str()) != 0) {
      return ioError(errno, "cannot rename spare commit log segment", tmp);
    }
    return {};
  }();
  std::lock_guard lock(spare_mutex_);
  spare_ = written.ok() && !dropped ? Spare::Ready : Spare::None;
  if (spare_ == Spare::None) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
  }
  // The disk was fuller than it said (reserved blocks, a quota, another writer): no new
  // attempt until a segment of the log is freed or a segment's worth more is free.
  if (!written.ok() && written.error().reason == "store_full") {
    spare_needs_free_ = spare_free_before_ + segment_bytes_;
  } else if (written.ok()) {
    spare_needs_free_ = 0;
  }
  return written;
}

std::vector<std::filesystem::path> CommitLog::takeApplied(std::uint64_t applied) {
  std::vector<std::filesystem::path> taken;
  while (segments_.size() > 1 && segments_.front().last_lsn <= applied) {
    taken.push_back(std::move(segments_.front().path));
    segments_.erase(segments_.begin());
  }
  return taken;
}

void CommitLog::recycle(std::vector<std::filesystem::path> segments) {
  std::size_t first_to_delete = 0;
  if (!segments.empty()) {
    std::lock_guard lock(spare_mutex_);
    spare_needs_free_ = 0;  // a segment becomes the spare, or frees its space
    if (spare_ == Spare::None && ::rename(segments.front().c_str(), (dir_ / kSpare).c_str()) == 0) {
      spare_ = Spare::Ready;
      first_to_delete = 1;
    }
  }
  for (std::size_t i = first_to_delete; i < segments.size(); ++i) {
    std::error_code ec;
    std::filesystem::remove(segments[i], ec);
  }
}

}  // namespace replywatch::store
