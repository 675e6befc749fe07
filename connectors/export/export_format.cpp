#include "connectors/export/export_format.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <deque>
#include <limits>
#include <system_error>

#include "connectors/common/limits.h"

namespace replywatch::connectors::exportfmt {
namespace {

constexpr std::array<std::string_view, kFieldCount> kFieldNames = {
    "id",          "conversation_id", "in_reply_to", "author_id",
    "author_name", "author_is_brand", "created_at",  "text"};

constexpr std::size_t idx(Field f) { return static_cast<std::size_t>(f); }

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && isSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::uint64_t countNewlines(const char* b, const char* e) {
  std::uint64_t n = 0;
  while (b < e) {
    const void* hit = std::memchr(b, '\n', static_cast<std::size_t>(e - b));
    if (hit == nullptr) break;
    ++n;
    b = static_cast<const char*>(hit) + 1;
  }
  return n;
}

// CSV line breaks in [b, e): \n, \r\n and a lone \r count one line each (a \r ending
// the range counts as lone).
std::uint64_t countCsvLineBreaks(const char* b, const char* e) {
  std::uint64_t n = countNewlines(b, e);
  for (const char* p = b; p < e;) {
    const void* hit = std::memchr(p, '\r', static_cast<std::size_t>(e - p));
    if (hit == nullptr) break;
    const char* r = static_cast<const char*>(hit);
    if (r + 1 == e || r[1] != '\n') ++n;
    p = r + 1;
  }
  return n;
}

// The first CSV line break (\n, \r\n or a lone \r) at or after `from`: `at` is where it
// starts (nullptr: none before `e`), `after` the byte after it (nullptr when a \r ends
// the window and the next byte, not read yet, decides).
struct LineBreak {
  const char* at = nullptr;
  const char* after = nullptr;
};
LineBreak csvLineBreak(const char* from, const char* e, bool eof) {
  for (const char* p = from; p < e; ++p) {
    if (*p == '\n') return {p, p + 1};
    if (*p == '\r') {
      if (p + 1 < e) return {p, p[1] == '\n' ? p + 2 : p + 1};
      return {p, eof ? p + 1 : nullptr};
    }
  }
  return {};
}

// One field value of a record, pointing into the input window or a scratch string.
struct Value {
  enum class Kind : std::uint8_t { String, Number, Bool };
  std::string_view text;
  bool present = false;
  Kind kind = Kind::String;
};
using Values = std::array<Value, kFieldCount>;

enum class StepKind { Record, Skip, NeedMore, Error };

// The outcome of parsing one record (or skippable run of bytes) at the window start.
struct Step {
  StepKind kind = StepKind::NeedMore;
  std::size_t consumed = 0;    // bytes to consume
  std::uint64_t newlines = 0;  // newlines inside the consumed bytes
  std::uint64_t lead = 0;      // newlines before the record itself starts
  bool fatal = false;          // Error: nothing after it can be read
  ErrorReason reason = ErrorReason::ParseError;
  std::string message;
};

Step errorStep(std::size_t consumed, std::uint64_t newlines, std::string message, bool fatal = false) {
  Step s;
  s.kind = StepKind::Error;
  s.consumed = consumed;
  s.newlines = newlines;
  s.message = std::move(message);
  s.fatal = fatal;
  return s;
}

void appendUtf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// A strict JSON scanner for one record. Known fields are captured (strings without
// escapes as views into the input), everything else is checked and skipped. When
// `eof` is false, running into `end` means the record continues beyond the window
// (need_more) rather than an error.
class JsonScanner {
 public:
  JsonScanner(const char* p, const char* end, bool eof, std::array<std::string, kFieldCount>& scratch,
              std::string& discard)
      : p_(p), end_(end), eof_(eof), scratch_(scratch), discard_(discard) {}

  const char* pos() const { return p_; }
  bool needMore() const { return need_more_; }
  const std::string& error() const { return error_; }
  const std::string& fieldError() const { return field_error_; }

  void skipWs() {
    while (p_ < end_ && isSpace(*p_)) ++p_;
  }

  bool parseObject(Values& values) {
    skipWs();
    if (p_ == end_) return hitEnd();
    if (*p_ != '{') return fail("the record is not a JSON object");
    ++p_;
    skipWs();
    if (p_ == end_) return hitEnd();
    if (*p_ == '}') {
      ++p_;
      return true;
    }
    for (;;) {
      if (*p_ != '"') return fail("expected a field name");
      std::string_view key;
      if (!parseString(key, discard_)) return false;
      skipWs();
      if (p_ == end_) return hitEnd();
      if (*p_ != ':') return fail("expected ':' after a field name");
      ++p_;
      skipWs();
      if (p_ == end_) return hitEnd();
      auto field = fieldByName(key);
      if (field) {
        if (!parseFieldValue(*field, values[idx(*field)])) return false;
      } else if (!skipValue(depth_)) {
        return false;
      }
      skipWs();
      if (p_ == end_) return hitEnd();
      if (*p_ == '}') {
        ++p_;
        return true;
      }
      if (*p_ != ',') return fail("expected ',' or '}'");
      ++p_;
      skipWs();
      if (p_ == end_) return hitEnd();
    }
  }

  // The record's object is nested in `outer` containers (1 inside a JSON array).
  void nestIn(int outer) { depth_ = outer + 1; }
  // True when the failure was kJsonTooDeepMessage.
  bool tooDeep() const { return too_deep_; }

  // Checks and skips one value held by `depth` enclosing containers; a container deeper
  // than kMaxJsonDepth is refused (the recursion never goes further).
  bool skipValue(int depth) {
    skipWs();
    if (p_ == end_) return hitEnd();
    std::string_view ignored;
    switch (*p_) {
      case '"': return parseString(ignored, discard_);
      case '{':
      case '[': {
        if (depth >= kMaxJsonDepth) {
          too_deep_ = true;
          return fail(kJsonTooDeepMessage);
        }
        const char close = *p_ == '{' ? '}' : ']';
        const bool object = close == '}';
        ++p_;
        skipWs();
        if (p_ == end_) return hitEnd();
        if (*p_ == close) {
          ++p_;
          return true;
        }
        for (;;) {
          if (object) {
            if (*p_ != '"') return fail("expected a field name");
            if (!parseString(ignored, discard_)) return false;
            skipWs();
            if (p_ == end_) return hitEnd();
            if (*p_ != ':') return fail("expected ':' after a field name");
            ++p_;
          }
          if (!skipValue(depth + 1)) return false;
          skipWs();
          if (p_ == end_) return hitEnd();
          if (*p_ == close) {
            ++p_;
            return true;
          }
          if (*p_ != ',') return fail(object ? "expected ',' or '}'" : "expected ',' or ']'");
          ++p_;
          skipWs();
          if (p_ == end_) return hitEnd();
        }
      }
      case 't': return literal("true");
      case 'f': return literal("false");
      case 'n': return literal("null");
      default: return number(ignored);
    }
  }

 private:
  bool hitEnd() {
    if (!eof_) {
      need_more_ = true;
    } else {
      error_ = "unexpected end of the record";
    }
    return false;
  }
  bool fail(std::string_view message) {
    error_ = std::string(message);
    return false;
  }

  bool parseFieldValue(Field field, Value& value) {
    const char c = *p_;
    if (c == '"') {
      if (!parseString(value.text, scratch_[idx(field)])) return false;
      value.present = true;
      value.kind = Value::Kind::String;
      return true;
    }
    if (c == 't' || c == 'f') {
      const bool truth = c == 't';
      if (!literal(truth ? "true" : "false")) return false;
      if (field != Field::AuthorIsBrand) return typeError(field);
      value = Value{truth ? "true" : "false", true, Value::Kind::Bool};
      return true;
    }
    if (c == 'n') {
      if (!literal("null")) return false;
      value = Value{};  // null: as if absent
      return true;
    }
    if (c == '{' || c == '[') {
      if (!skipValue(depth_)) return false;
      return typeError(field);
    }
    std::string_view digits;
    if (!number(digits)) return false;
    value = Value{digits, true, Value::Kind::Number};
    return true;
  }

  bool typeError(Field field) {
    if (field_error_.empty()) {
      field_error_ = field == Field::AuthorIsBrand
                         ? std::string("field author_is_brand must be a boolean, a number or a string")
                         : fmt::format("field {} must be a string or a number", fieldName(field));
    }
    return true;
  }

  bool literal(std::string_view word) {
    const auto avail = static_cast<std::size_t>(end_ - p_);
    if (avail < word.size()) {
      if (std::string_view(p_, avail) == word.substr(0, avail)) return hitEnd();
      return fail("invalid literal");
    }
    if (std::string_view(p_, word.size()) != word) return fail("invalid literal");
    p_ += word.size();
    return true;
  }

  bool number(std::string_view& out) {
    const char* start = p_;
    const char* q = p_;
    while (q < end_ &&
           ((*q >= '0' && *q <= '9') || *q == '-' || *q == '+' || *q == '.' || *q == 'e' || *q == 'E'))
      ++q;
    if (q == end_ && !eof_) return hitEnd();
    // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
    const char* r = start;
    auto digit = [&](const char* x) { return x < q && *x >= '0' && *x <= '9'; };
    if (r < q && *r == '-') ++r;
    if (!digit(r)) return fail(q == start ? "unexpected character" : "invalid number");
    if (*r == '0') {
      ++r;
    } else {
      while (digit(r)) ++r;
    }
    if (r < q && *r == '.') {
      ++r;
      if (!digit(r)) return fail("invalid number");
      while (digit(r)) ++r;
    }
    if (r < q && (*r == 'e' || *r == 'E')) {
      ++r;
      if (r < q && (*r == '+' || *r == '-')) ++r;
      if (!digit(r)) return fail("invalid number");
      while (digit(r)) ++r;
    }
    if (r != q) return fail("invalid number");
    out = std::string_view(start, static_cast<std::size_t>(q - start));
    p_ = q;
    return true;
  }

  bool hex4(std::uint32_t& out) {
    if (end_ - p_ < 4) {
      if (!eof_) return hitEnd();
      return fail("invalid \\u escape");
    }
    out = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = p_[i];
      std::uint32_t d = 0;
      if (c >= '0' && c <= '9') {
        d = static_cast<std::uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        d = static_cast<std::uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        d = static_cast<std::uint32_t>(c - 'A' + 10);
      } else {
        return fail("invalid \\u escape");
      }
      out = out * 16 + d;
    }
    p_ += 4;
    return true;
  }

  // At an opening quote. Strings without escapes are returned as views into the input;
  // others are decoded into `scratch`.
  bool parseString(std::string_view& out, std::string& scratch) {
    ++p_;
    const char* start = p_;
    for (;;) {
      if (p_ == end_) return hitEnd();
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        out = std::string_view(start, static_cast<std::size_t>(p_ - start));
        ++p_;
        return true;
      }
      if (c == '\\') break;
      if (c < 0x20) return fail("control character inside a string");
      ++p_;
    }
    scratch.assign(start, p_);
    for (;;) {
      if (p_ == end_) return hitEnd();
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        ++p_;
        out = scratch;
        return true;
      }
      if (c < 0x20) return fail("control character inside a string");
      if (c != '\\') {
        scratch.push_back(static_cast<char>(c));
        ++p_;
        continue;
      }
      ++p_;
      if (p_ == end_) return hitEnd();
      const char e = *p_++;
      switch (e) {
        case '"': scratch.push_back('"'); break;
        case '\\': scratch.push_back('\\'); break;
        case '/': scratch.push_back('/'); break;
        case 'b': scratch.push_back('\b'); break;
        case 'f': scratch.push_back('\f'); break;
        case 'n': scratch.push_back('\n'); break;
        case 'r': scratch.push_back('\r'); break;
        case 't': scratch.push_back('\t'); break;
        case 'u': {
          std::uint32_t cp = 0;
          if (!hex4(cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (end_ - p_ < 2) {
              if (!eof_) return hitEnd();
              return fail("invalid \\u escape (lone surrogate)");
            }
            if (p_[0] != '\\' || p_[1] != 'u') return fail("invalid \\u escape (lone surrogate)");
            p_ += 2;
            std::uint32_t low = 0;
            if (!hex4(low)) return false;
            if (low < 0xDC00 || low > 0xDFFF) return fail("invalid \\u escape (lone surrogate)");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return fail("invalid \\u escape (lone surrogate)");
          }
          appendUtf8(scratch, cp);
          break;
        }
        default: return fail("invalid escape in a string");
      }
    }
  }

  const char* p_;
  const char* end_;
  bool eof_;
  std::array<std::string, kFieldCount>& scratch_;
  std::string& discard_;
  bool need_more_ = false;
  bool too_deep_ = false;
  int depth_ = 1;  // containers around the record's field values
  std::string error_;
  std::string field_error_;
};

constexpr std::int64_t kLatestMillis = 253402300799999;  // 9999-12-31T23:59:59.999Z

}  // namespace

std::string_view toString(Format f) { return f == Format::Csv ? "csv" : "jsonl"; }

std::optional<Format> parseFormat(std::string_view name) {
  if (equalsIgnoreCase(name, "jsonl") || equalsIgnoreCase(name, "ndjson") || equalsIgnoreCase(name, "json"))
    return Format::Jsonl;
  if (equalsIgnoreCase(name, "csv")) return Format::Csv;
  return std::nullopt;
}

std::optional<Format> formatFromPath(std::string_view path) {
  auto slash = path.find_last_of('/');
  auto name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  auto dot = name.rfind('.');
  if (dot == std::string_view::npos) return std::nullopt;
  auto ext = name.substr(dot + 1);
  if (equalsIgnoreCase(ext, "jsonl") || equalsIgnoreCase(ext, "ndjson") || equalsIgnoreCase(ext, "json"))
    return Format::Jsonl;
  if (equalsIgnoreCase(ext, "csv")) return Format::Csv;
  return std::nullopt;
}

std::string_view fieldName(Field f) { return kFieldNames[idx(f)]; }

std::optional<Field> fieldByName(std::string_view name) {
  for (std::size_t i = 0; i < kFieldCount; ++i) {
    if (kFieldNames[i] == name) return static_cast<Field>(i);
  }
  return std::nullopt;
}

std::optional<bool> parseBool(std::string_view text) {
  text = trim(text);
  if (text.empty()) return false;
  switch (text.size()) {
    case 1:
      if (text[0] == '1') return true;
      if (text[0] == '0') return false;
      break;
    case 2:
      if (equalsIgnoreCase(text, "no")) return false;
      break;
    case 3:
      if (equalsIgnoreCase(text, "yes")) return true;
      break;
    case 4:
      if (equalsIgnoreCase(text, "true")) return true;
      break;
    case 5:
      if (equalsIgnoreCase(text, "false")) return false;
      break;
    default: break;
  }
  return std::nullopt;
}

std::optional<Timestamp> parseCreatedAt(std::string_view text) {
  text = trim(text);
  if (text.empty()) return std::nullopt;
  if (text[0] >= '0' && text[0] <= '9') {
    auto dot = text.find('.');
    auto whole = text.substr(0, dot);
    auto frac = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
    auto all_digits = [](std::string_view s) {
      return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    if (all_digits(whole) && all_digits(frac) && (dot == std::string_view::npos || !frac.empty())) {
      std::int64_t value = 0;
      auto [p, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), value);
      if (ec != std::errc{} || p != whole.data() + whole.size()) return std::nullopt;
      std::int64_t millis = 0;
      if (value > 100'000'000'000LL) {
        millis = value;
      } else {
        std::int64_t sub = 0;
        for (std::size_t i = 0; i < 3; ++i) sub = sub * 10 + (i < frac.size() ? frac[i] - '0' : 0);
        millis = value * 1000 + sub;
      }
      if (millis > kLatestMillis) return std::nullopt;
      return fromMillis(millis);
    }
  }
  auto t = parseRfc3339(text);
  if (t && (toMillis(*t) > kLatestMillis || toMillis(*t) < -kLatestMillis)) return std::nullopt;
  return t;
}

// ---------------------------------------------------------------------------- Input

Result<Input> Input::openFile(const std::filesystem::path& path, std::size_t chunk_bytes,
                              std::uint64_t offset) {
  Input in;
  in.path_ = path.string();
  in.fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (in.fd_ < 0) {
    return makeError("io", fmt::format("cannot open {}: {}", path.string(), std::strerror(errno)));
  }
  struct stat st {};
  if (::fstat(in.fd_, &st) != 0) {
    return makeError("io", fmt::format("cannot stat {}: {}", path.string(), std::strerror(errno)));
  }
  if (S_ISDIR(st.st_mode)) return makeError("io", fmt::format("{} is a directory", path.string()));
  in.total_ = S_ISREG(st.st_mode) ? static_cast<std::uint64_t>(st.st_size) : 0;
  if (offset > 0) {
    if (::lseek(in.fd_, static_cast<off_t>(offset), SEEK_SET) < 0) {
      return makeError("io", fmt::format("cannot seek in {}: {}", path.string(), std::strerror(errno)));
    }
    in.base_ = offset;
  }
#ifdef POSIX_FADV_SEQUENTIAL
  (void)::posix_fadvise(in.fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
  in.capacity_ = std::max<std::size_t>(chunk_bytes, 4096);
  in.buffer_ = std::make_unique<char[]>(in.capacity_);
  in.data_ = in.buffer_.get();
  in.eof_ = false;
  return in;
}

Result<Input> Input::readRange(const std::filesystem::path& path, std::uint64_t offset,
                               std::optional<std::uint64_t> length) {
  auto opened = openFile(path, 4096, offset);
  if (!opened) return opened.error();
  Input& in = *opened;
  const std::uint64_t size = in.total_ > offset ? in.total_ - offset : 0;
  const std::uint64_t wanted = length.value_or(size);
  if (wanted >= std::numeric_limits<std::size_t>::max() / 2) {
    return makeError("io", fmt::format("cannot read {} bytes of {} at once", wanted, path.string()));
  }
  in.capacity_ = std::max<std::size_t>(static_cast<std::size_t>(wanted), 1);
  in.buffer_ = std::make_unique_for_overwrite<char[]>(in.capacity_);
  in.data_ = in.buffer_.get();
  while (in.end_ < wanted) {
    const ssize_t n = ::read(in.fd_, in.buffer_.get() + in.end_, static_cast<std::size_t>(wanted) - in.end_);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return makeError("io", fmt::format("cannot read {}: {}", path.string(), std::strerror(errno)));
    if (n == 0) break;  // the file ends before
    in.end_ += static_cast<std::size_t>(n);
  }
  ::close(in.fd_);
  in.fd_ = -1;
  in.eof_ = true;
  return opened;
}

Input Input::fromMemory(std::string_view data) {
  Input in;
  in.data_ = data.data();
  in.end_ = data.size();
  in.total_ = data.size();
  in.eof_ = true;
  return in;
}

Input::Input(Input&& other) noexcept { *this = std::move(other); }

Input& Input::operator=(Input&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    buffer_ = std::move(other.buffer_);
    capacity_ = other.capacity_;
    data_ = other.data_;
    pos_ = other.pos_;
    end_ = other.end_;
    base_ = other.base_;
    total_ = other.total_;
    eof_ = other.eof_;
  }
  return *this;
}

Input::~Input() {
  if (fd_ >= 0) ::close(fd_);
}

Result<bool> Input::fill() {
  if (eof_ || fd_ < 0) {
    eof_ = true;
    return false;
  }
  // Move the unconsumed bytes to the front; grow when they fill the buffer.
  const std::size_t keep = end_ - pos_;
  if (pos_ > 0) {
    std::memmove(buffer_.get(), buffer_.get() + pos_, keep);
    base_ += pos_;
    pos_ = 0;
    end_ = keep;
  }
  if (end_ == capacity_) {
    auto bigger = std::make_unique<char[]>(capacity_ * 2);
    std::memcpy(bigger.get(), buffer_.get(), end_);
    buffer_ = std::move(bigger);
    capacity_ *= 2;
  }
  data_ = buffer_.get();
  for (;;) {
    ssize_t n = ::read(fd_, buffer_.get() + end_, capacity_ - end_);
    if (n < 0) {
      if (errno == EINTR) continue;
      return makeError("io", fmt::format("cannot read {}: {}", path_, std::strerror(errno)));
    }
    if (n == 0) {
      eof_ = true;
      return false;
    }
    end_ += static_cast<std::size_t>(n);
    return true;
  }
}

// ---------------------------------------------------------------------------- Reader

struct Reader::Impl {
  enum class ArrayState { None, BeforeFirst, AfterElement, Closed };

  Values values{};
  std::array<std::string, kFieldCount> scratch;
  std::string discard;
  // CSV
  std::vector<std::string_view> fields;
  std::deque<std::string> csv_scratch;  // grows without moving earlier strings (views point into them)
  std::vector<int> column_field;        // column index -> Field index, or -1
  std::size_t columns = 0;
  // JSON
  ArrayState array = ArrayState::None;

  std::uint64_t line = 1;  // line of the next byte in the window
  bool done = false;
  bool skipping = false;  // discarding up to the next newline after an oversized record
  std::size_t max_record = 0;
  Timestamp now{};
  std::uint64_t since_refresh = 0;

  // CSV: one record at b. Fields go to `fields` (views into the window or csv_scratch).
  Step csvStep(const char* b, const char* e, bool eof) {
    fields.clear();
    const char* p = b;
    Step s;
    std::uint64_t newlines = 0;
    std::size_t column = 0;
    auto finish = [&](const char* after) {
      s.kind = StepKind::Record;
      s.consumed = static_cast<std::size_t>(after - b);
      s.newlines = newlines;
      return s;
    };
    auto skip_line = [&](const char* from, std::string message) {
      const LineBreak line_break = csvLineBreak(from, e, eof);
      if (line_break.after == nullptr && !eof) {
        Step more;
        more.kind = StepKind::NeedMore;
        return more;
      }
      const char* after = line_break.after == nullptr ? e : line_break.after;
      return errorStep(static_cast<std::size_t>(after - b), countCsvLineBreaks(b, after), std::move(message));
    };
    for (;; ++column) {
      if (p == e) {
        if (!eof) return Step{};
        fields.emplace_back();  // after a trailing comma at end of input
        return finish(p);
      }
      if (*p == '"') {
        const char* start = p + 1;
        const char* q = start;
        bool escaped = false;
        const char* close = nullptr;
        while (close == nullptr) {
          const void* hit = std::memchr(q, '"', static_cast<std::size_t>(e - q));
          if (hit == nullptr) {
            if (!eof) return Step{};
            return errorStep(static_cast<std::size_t>(e - b), countNewlines(b, e),
                             "unterminated quoted field", true);
          }
          const char* r = static_cast<const char*>(hit);
          if (r + 1 == e && !eof) return Step{};
          if (r + 1 < e && r[1] == '"') {
            escaped = true;
            q = r + 2;
            continue;
          }
          close = r;
        }
        newlines += countCsvLineBreaks(start, close);
        if (escaped) {
          if (csv_scratch.size() <= column) csv_scratch.resize(column + 1);
          std::string& out = csv_scratch[column];
          out.clear();
          for (const char* x = start; x < close; ++x) {
            out.push_back(*x);
            if (*x == '"') ++x;  // the second quote of a doubled pair
          }
          fields.emplace_back(out);
        } else {
          fields.emplace_back(start, static_cast<std::size_t>(close - start));
        }
        p = close + 1;
        if (p == e) return finish(p);  // eof here (otherwise NeedMore above)
        if (*p == ',') {
          ++p;
          continue;
        }
        if (*p == '\n') {
          ++newlines;
          return finish(p + 1);
        }
        if (*p == '\r') {
          if (p + 1 == e && !eof) return Step{};
          ++newlines;  // \r\n, or a lone \r (classic Mac OS line ends)
          return finish(p + 1 < e && p[1] == '\n' ? p + 2 : p + 1);
        }
        return skip_line(p, "unexpected character after a closing quote");
      }
      const char* q = p;
      while (q < e && *q != ',' && *q != '\n' && *q != '\r') ++q;
      if (q == e) {
        if (!eof) return Step{};
        fields.emplace_back(p, static_cast<std::size_t>(q - p));
        return finish(q);
      }
      fields.emplace_back(p, static_cast<std::size_t>(q - p));
      if (*q == ',') {
        p = q + 1;
        continue;
      }
      if (*q == '\n') {
        ++newlines;
        return finish(q + 1);
      }
      // '\r'
      if (q + 1 == e && !eof) return Step{};
      ++newlines;  // \r\n, or a lone \r
      return finish(q + 1 < e && q[1] == '\n' ? q + 2 : q + 1);
    }
  }

  // An empty line, or one of spaces and tabs only (not a quoted field).
  static bool blankCsvRecord(const std::vector<std::string_view>& f, const char* b) {
    return f.size() == 1 && trim(f[0]).empty() && *b != '"';
  }

  // A CSV data row: records become Values, blank lines are skipped.
  Step csvRow(const char* b, const char* e, bool eof) {
    Step s = csvStep(b, e, eof);
    if (s.kind != StepKind::Record) return s;
    if (blankCsvRecord(fields, b)) {
      s.kind = StepKind::Skip;
      return s;
    }
    if (fields.size() != columns) {
      s.kind = StepKind::Error;
      s.message = fmt::format("the row has {} fields, the header has {}", fields.size(), columns);
      return s;
    }
    values = Values{};
    for (std::size_t i = 0; i < columns; ++i) {
      const int f = column_field[i];
      if (f >= 0) values[static_cast<std::size_t>(f)] = Value{fields[i], true, Value::Kind::String};
    }
    return s;
  }

  Step jsonlStep(const char* b, const char* e, bool eof) {
    const void* nl = std::memchr(b, '\n', static_cast<std::size_t>(e - b));
    if (nl == nullptr && !eof) return Step{};
    const char* line_end = nl == nullptr ? e : static_cast<const char*>(nl);
    Step s;
    s.consumed = static_cast<std::size_t>(line_end - b) + (nl == nullptr ? 0 : 1);
    s.newlines = nl == nullptr ? 0 : 1;
    const char* first = b;
    while (first < line_end && isSpace(*first)) ++first;
    if (first == line_end) {
      s.kind = StepKind::Skip;
      return s;
    }
    values = Values{};
    JsonScanner scan(b, line_end, true, scratch, discard);
    bool ok = scan.parseObject(values);
    if (ok) {
      scan.skipWs();
      if (scan.pos() != line_end) {
        s.kind = StepKind::Error;
        s.message = "invalid JSON: unexpected data after the object";
        return s;
      }
    }
    if (!ok) {
      s.kind = StepKind::Error;
      s.message = scan.tooDeep() ? scan.error() : "invalid JSON: " + scan.error();
      return s;
    }
    if (!scan.fieldError().empty()) {
      s.kind = StepKind::Error;
      s.message = scan.fieldError();
      return s;
    }
    s.kind = StepKind::Record;
    return s;
  }

  // A JSON array of objects: one element (with the separator before it) per step.
  Step arrayStep(const char* b, const char* e, bool eof) {
    JsonScanner scan(b, e, eof, scratch, discard);
    scan.skipWs();
    const char* p = scan.pos();
    auto consumed_to = [&](const char* x, StepKind kind) {
      Step s;
      s.kind = kind;
      s.consumed = static_cast<std::size_t>(x - b);
      s.newlines = countNewlines(b, x);
      return s;
    };
    // Nothing after `at` can be read: the error is reported on its line.
    auto unreadable_at = [&](const char* at, std::string message) {
      Step s = errorStep(static_cast<std::size_t>(e - b), countNewlines(b, e), std::move(message), true);
      s.lead = countNewlines(b, at);
      return s;
    };
    if (array == ArrayState::Closed) {
      if (p == e) return consumed_to(p, StepKind::Skip);
      return unreadable_at(p, "unexpected data after the JSON array");
    }
    if (p == e) {
      if (!eof) return Step{};
      return unreadable_at(p, "unterminated JSON array");
    }
    if (*p == ']' && array == ArrayState::BeforeFirst) {
      array = ArrayState::Closed;
      return consumed_to(p + 1, StepKind::Skip);
    }
    if (array == ArrayState::AfterElement) {
      if (*p == ']') {
        array = ArrayState::Closed;
        return consumed_to(p + 1, StepKind::Skip);
      }
      if (*p != ',') return unreadable_at(p, "invalid JSON: expected ',' or ']' between array elements");
      JsonScanner after(p + 1, e, eof, scratch, discard);
      after.skipWs();
      p = after.pos();
      if (p == e) {
        if (!eof) return Step{};
        return unreadable_at(p, "unterminated JSON array");
      }
    }
    const std::uint64_t lead = countNewlines(b, p);
    values = Values{};
    JsonScanner element(p, e, eof, scratch, discard);
    element.nestIn(1);
    const auto invalid = [&element] {
      return element.tooDeep() ? element.error() : "invalid JSON: " + element.error();
    };
    if (*p != '{') {
      if (!element.skipValue(1)) {
        if (element.needMore()) return Step{};
        return errorStep(static_cast<std::size_t>(e - b), countNewlines(b, e), invalid(), true);
      }
      array = ArrayState::AfterElement;
      Step s = consumed_to(element.pos(), StepKind::Error);
      s.lead = lead;
      s.message = "the array element is not a JSON object";
      return s;
    }
    if (!element.parseObject(values)) {
      if (element.needMore()) return Step{};
      Step s = errorStep(static_cast<std::size_t>(e - b), countNewlines(b, e), invalid(), true);
      s.lead = lead;
      return s;
    }
    array = ArrayState::AfterElement;
    Step s = consumed_to(element.pos(), element.fieldError().empty() ? StepKind::Record : StepKind::Error);
    s.lead = lead;
    s.message = element.fieldError();
    return s;
  }

  std::optional<Rejection> build(const MessageValidator& validator, Message& m) const {
    // Every field but text is read without surrounding whitespace, in both formats: " "
    // is an empty value, and " 4002" the id 4002.
    auto text = [&](Field f) {
      const Value& v = values[idx(f)];
      if (!v.present) return std::string_view{};
      return f == Field::Text ? v.text : trim(v.text);
    };
    for (Field f : {Field::Id, Field::AuthorId, Field::CreatedAt}) {
      if (text(f).empty()) {
        return Rejection{ErrorReason::MissingField,
                         fmt::format("field {} is missing or empty", fieldName(f))};
      }
    }
    for (Field f : {Field::Id, Field::ConversationId, Field::InReplyTo, Field::AuthorId, Field::AuthorName,
                    Field::Text}) {
      if (values[idx(f)].present) {
        if (auto r = validator.checkField(fieldName(f), text(f))) return r;
      }
    }
    auto brand = parseBool(text(Field::AuthorIsBrand));
    if (!brand)
      return Rejection{ErrorReason::ParseError, "field author_is_brand must be true/false, 1/0 or yes/no"};
    auto created = parseCreatedAt(text(Field::CreatedAt));
    if (!created) {
      return Rejection{
          ErrorReason::InvalidTimestamp,
          "field created_at is neither an RFC 3339 date-time with offset nor epoch seconds/milliseconds"};
    }
    if (auto r = validator.checkTimestamp(*created, now)) return r;

    const auto id = text(Field::Id);
    const auto conversation = text(Field::ConversationId);
    const auto parent = text(Field::InReplyTo);
    m.id.assign(id);
    m.conversation_id.assign(!conversation.empty() ? conversation : !parent.empty() ? parent : id);
    m.in_reply_to.assign(parent);
    m.author_id.assign(text(Field::AuthorId));
    m.author_name.assign(text(Field::AuthorName));
    m.author_is_brand = *brand;
    m.created_at = *created;
    m.text.assign(text(Field::Text));
    return std::nullopt;
  }
};

Reader::Reader(Input input, Format format, const MessageValidator& validator)
    : input_(std::move(input)), format_(format), validator_(validator), impl_(std::make_unique<Impl>()) {
  impl_->max_record = std::max<std::size_t>(std::size_t{4} << 20, 16 * validator.maxFieldBytes());
  impl_->now = validator.clock().now();
}

Reader::~Reader() = default;

void Reader::refreshNow() { impl_->now = validator_.clock().now(); }

Result<void> Reader::start() {
  Impl& im = *impl_;
  // Enough bytes to see a BOM and the first non-blank character.
  while (input_.size() < 3 && !input_.eof()) {
    auto r = input_.fill();
    if (!r) return r.error();
  }
  if (input_.size() >= 3 && std::memcmp(input_.data(), "\xEF\xBB\xBF", 3) == 0) input_.consume(3);

  if (format_ == Format::Jsonl) {
    for (;;) {
      const char* b = input_.data();
      const char* e = b + input_.size();
      const char* p = b;
      while (p < e && isSpace(*p)) ++p;
      im.line += countNewlines(b, p);
      input_.consume(static_cast<std::size_t>(p - b));
      if (p < e) {
        if (*p == '[') {
          im.array = Impl::ArrayState::BeforeFirst;
          input_.consume(1);
        }
        return {};
      }
      if (input_.eof()) return {};
      auto r = input_.fill();
      if (!r) return r.error();
    }
  }

  // CSV: the header row, after any blank lines.
  for (;;) {
    const char* b = input_.data();
    const char* e = b + input_.size();
    if (b == e && input_.eof()) return makeError("bad_file", "the file is empty: a header row is required");
    Step s = b == e ? Step{} : im.csvStep(b, e, input_.eof());
    if (s.kind == StepKind::NeedMore) {
      if (input_.size() >= im.max_record) return makeError("bad_file", "the header row is too long");
      auto r = input_.fill();
      if (!r) return r.error();
      continue;
    }
    if (s.kind == StepKind::Error) {
      return makeError("bad_file",
                       fmt::format("line {}: cannot read the header row: {}", im.line, s.message));
    }
    if (Impl::blankCsvRecord(im.fields, b)) {
      im.line += s.newlines;
      input_.consume(s.consumed);
      continue;
    }
    im.columns = im.fields.size();
    im.column_field.assign(im.columns, -1);
    std::array<bool, kFieldCount> seen{};
    for (std::size_t i = 0; i < im.columns; ++i) {
      std::string name(trim(im.fields[i]));
      for (char& c : name) c = lower(c);
      auto f = fieldByName(name);
      if (!f) continue;
      if (seen[idx(*f)]) {
        return makeError("bad_file", fmt::format("line {}: the header names column {} twice", im.line, name));
      }
      seen[idx(*f)] = true;
      im.column_field[i] = static_cast<int>(idx(*f));
    }
    std::string missing;
    for (Field f : {Field::Id, Field::AuthorId, Field::CreatedAt}) {
      if (!seen[idx(f)]) missing += (missing.empty() ? "" : ", ") + std::string(fieldName(f));
    }
    if (!missing.empty()) {
      return makeError("bad_file",
                       fmt::format("line {}: the header row lacks required column(s) {}", im.line, missing));
    }
    im.line += s.newlines;
    input_.consume(s.consumed);
    return {};
  }
}

Reader::Status Reader::next(Message& out) {
  Impl& im = *impl_;
  // Reads more input; on failure records it and ends the reader.
  auto refill = [&] {
    auto r = input_.fill();
    if (r) return true;
    failure_ = r.error();
    im.done = true;
    return false;
  };
  // Input that cannot be read past `line`: the reader ends, nothing after it is a record.
  auto unreadable = [&](std::uint64_t line, std::string_view what) {
    failure_ = makeError(std::string(kUnreadableReason),
                         fmt::format("line {}: {} (nothing after it can be read)", line, what));
    im.done = true;
    return Status::Failed;
  };
  for (;;) {
    if (im.done) return Status::End;
    const char* b = input_.data();
    const char* e = b + input_.size();
    const bool eof = input_.eof();

    if (im.skipping) {
      // CSV lines also end at a lone \r; JSON lines only at \n.
      LineBreak line_break;
      if (format_ == Format::Csv) {
        line_break = csvLineBreak(b, e, eof);
      } else if (const void* nl = std::memchr(b, '\n', input_.size()); nl != nullptr) {
        line_break.at = static_cast<const char*>(nl);
        line_break.after = line_break.at + 1;
      }
      if (line_break.after != nullptr) {
        input_.consume(static_cast<std::size_t>(line_break.after - b));
        ++im.line;
        im.skipping = false;
        continue;
      }
      // A \r ending the window stays: the next byte tells \r\n from a lone \r.
      input_.consume(static_cast<std::size_t>((line_break.at != nullptr ? line_break.at : e) - b));
      if (eof) {
        im.done = true;
        return Status::End;
      }
      if (!refill()) return Status::Failed;
      continue;
    }

    if (b == e) {
      if (!eof) {
        if (!refill()) return Status::Failed;
        continue;
      }
      if (im.array == Impl::ArrayState::BeforeFirst || im.array == Impl::ArrayState::AfterElement) {
        return unreadable(im.line, "unterminated JSON array");
      }
      return Status::End;
    }

    Step s;
    if (format_ == Format::Csv) {
      s = im.csvRow(b, e, eof);
    } else if (im.array != Impl::ArrayState::None) {
      s = im.arrayStep(b, e, eof);
    } else {
      s = im.jsonlStep(b, e, eof);
    }

    switch (s.kind) {
      case StepKind::NeedMore: {
        if (input_.size() >= im.max_record) {
          ++records_;
          problem_ = RecordProblem{
              im.line, Rejection{ErrorReason::FieldTooLong,
                                 fmt::format("the record is longer than {} bytes (skipped to the next line)",
                                             im.max_record)}};
          if (im.array != Impl::ArrayState::None) {
            return unreadable(im.line,
                              fmt::format("the array element is longer than {} bytes", im.max_record));
          }
          im.skipping = true;
          return Status::Rejected;
        }
        if (!refill()) return Status::Failed;
        continue;
      }
      case StepKind::Skip:
        input_.consume(s.consumed);
        im.line += s.newlines;
        continue;
      case StepKind::Error:
        if (s.fatal) return unreadable(im.line + s.lead, s.message);
        ++records_;
        problem_ = RecordProblem{im.line + s.lead, Rejection{s.reason, std::move(s.message)}};
        input_.consume(s.consumed);
        im.line += s.newlines;
        return Status::Rejected;
      case StepKind::Record: {
        ++records_;
        const std::uint64_t record_line = im.line + s.lead;
        if (++im.since_refresh >= 4096) {
          im.since_refresh = 0;
          im.now = validator_.clock().now();
        }
        auto rejection = im.build(validator_, out);
        input_.consume(s.consumed);
        im.line += s.newlines;
        if (rejection) {
          problem_ = RecordProblem{record_line, std::move(*rejection)};
          return Status::Rejected;
        }
        return Status::Message;
      }
    }
  }
}

}  // namespace replywatch::connectors::exportfmt
