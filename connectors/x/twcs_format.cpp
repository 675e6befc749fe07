#include "connectors/x/twcs_format.h"

#include <fmt/format.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <limits>

#include "daemon/core/http_fields.h"

namespace replywatch::connectors::twcs {
namespace {

constexpr std::array<std::string_view, kColumnCount> kColumnNames = {
    "tweet_id", "author_id", "inbound", "created_at", "text", "in_response_to_tweet_id"};

std::string_view trim(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// Where the unquoted field at d[from] ends: the first ',' or '\n' of d[from, n), or n.
std::size_t fieldEnd(const char* d, std::size_t from, std::size_t n) {
  std::size_t j = from;
#if defined(__SSE2__)
  // 16 bytes at a time.
  const __m128i comma = _mm_set1_epi8(',');
  const __m128i newline = _mm_set1_epi8('\n');
  for (; j + 16 <= n; j += 16) {
    const __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(d + j));
    const int hits =
        _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(block, comma), _mm_cmpeq_epi8(block, newline)));
    if (hits != 0) return j + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(hits)));
  }
#endif
  while (j < n && d[j] != ',' && d[j] != '\n') ++j;
  return j;
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

// Three characters as one integer, to compare a name in one step.
constexpr std::uint32_t packed3(std::string_view s) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(s[0])) << 16) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(s[1])) << 8) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[2]));
}

constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 7> kDays = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};

// The position of the three-letter `name` in `names` (as X writes them first, then in
// any case), or -1.
template <std::size_t N>
int indexOfName(std::string_view name, const std::array<std::string_view, N>& names) {
  if (name.size() != 3) return -1;
  const std::uint32_t key = packed3(name);
  for (std::size_t i = 0; i < N; ++i) {
    if (packed3(names[i]) == key) return static_cast<int>(i);
  }
  for (std::size_t i = 0; i < N; ++i) {
    if (equalsIgnoreCase(name, names[i])) return static_cast<int>(i);
  }
  return -1;
}

int monthOf(std::string_view m) { return indexOfName(m, kMonths) + 1; }

// Days in `month` (1-12) of the proleptic Gregorian `year`.
int daysInMonth(int year, int month) {
  constexpr std::array<int, 12> kDaysIn = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
  return kDaysIn[static_cast<std::size_t>(month - 1)] + (month == 2 && leap ? 1 : 0);
}

// Days from 1970-01-01 to the date (H. Hinnant's days_from_civil), for years 0-9999.
std::int64_t daysFromCivil(int year, int month, int day) {
  const int y = year - (month <= 2 ? 1 : 0);
  const int era = (y >= 0 ? y : y - 399) / 400;
  const int yoe = y - era * 400;                                             // [0, 399]
  const int doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;  // [0, 365]
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;                     // [0, 146096]
  return std::int64_t{era} * 146097 + doe - 719468;
}

bool isWeekday(std::string_view d) { return indexOfName(d, kDays) >= 0; }

}  // namespace

std::string_view columnName(Column c) { return kColumnNames[static_cast<std::size_t>(c)]; }

std::optional<Timestamp> parseCreatedAt(std::string_view text) {
  text = trim(text);
  // "Tue Oct 31 22:10:47 +0000 2017": weekday month day HH:MM:SS offset year.
  if (text.size() == 30 && text[3] == ' ' && text[7] == ' ' && text[10] == ' ' && text[13] == ':' &&
      text[16] == ':' && text[19] == ' ' && text[25] == ' ') {
    const char* p = text.data();
    // Two digits at p[at], or -1.
    auto two = [p](std::size_t at) {
      const unsigned tens = static_cast<unsigned char>(p[at]) - '0';
      const unsigned ones = static_cast<unsigned char>(p[at + 1]) - '0';
      return tens <= 9 && ones <= 9 ? static_cast<int>(tens * 10 + ones) : -1;
    };
    const int month = monthOf(text.substr(4, 3));
    const int day = two(8);
    const int hh = two(11);
    const int mm = two(14);
    const int ss = two(17);
    const char sign = text[20];
    const int off_h = two(21);
    const int off_m = two(23);
    const int century = two(26);
    const int years = two(28);
    if (!isWeekday(text.substr(0, 3)) || month == 0 || day < 1 || hh < 0 || hh > 23 || mm < 0 || mm > 59 ||
        ss < 0 || ss > 60 || (sign != '+' && sign != '-') || off_h < 0 || off_h > 23 || off_m < 0 ||
        off_m > 59 || century < 0 || years < 0) {
      return std::nullopt;
    }
    const int year = century * 100 + years;
    if (day > daysInMonth(year, month)) return std::nullopt;
    const std::int64_t offset = (off_h * 60 + off_m) * 60;
    const std::int64_t seconds =
        daysFromCivil(year, month, day) * 86400 + (hh * 60 + mm) * 60 + ss + (sign == '+' ? -offset : offset);
    return Timestamp{std::chrono::milliseconds{seconds * 1000}};
  }
  return parseRfc3339(text);
}

std::optional<bool> parseInbound(std::string_view text) {
  text = trim(text);
  if (text == "True") return true;  // as pandas writes them
  if (text == "False") return false;
  if (equalsIgnoreCase(text, "true")) return true;
  if (equalsIgnoreCase(text, "false")) return false;
  return std::nullopt;
}

std::optional<std::uint64_t> parseTweetId(std::string_view text) {
  text = trim(text);
  if (auto dot = text.find('.'); dot != std::string_view::npos) {
    std::string_view fraction = text.substr(dot + 1);
    if (fraction.empty() || fraction.find_first_not_of('0') != std::string_view::npos) return std::nullopt;
    text = text.substr(0, dot);
  }
  if (text.empty()) return std::nullopt;
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t v = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (v > (kMax - digit) / 10) return std::nullopt;  // above 2^64 - 1
    v = v * 10 + digit;
  }
  if (v == 0) return std::nullopt;
  return v;
}

// ------------------------------------------------------------------------- CsvReader

std::size_t CsvReader::scan() {
  const char* d = input_.data();
  const std::size_t n = input_.size();
  const bool eof = input_.eof();
  fields_.clear();
  scratch_used_ = 0;
  malformed_ = false;
  open_quote_ = false;
  record_newlines_ = 0;
  std::size_t i = 0;
  auto unquoted = [&](std::size_t from, std::size_t& end) -> bool {  // false: needs more data
    end = fieldEnd(d, from, n);
    return end < n || eof;
  };
  for (;;) {
    if (i < n && d[i] == '"') {
      std::size_t j = i + 1;
      bool escaped = false;
      for (;;) {
        const void* hit = std::memchr(d + j, '"', n - j);
        if (hit == nullptr) {  // the quoted field continues (or never closes: see next())
          open_quote_ = true;
          return 0;
        }
        const auto k = static_cast<std::size_t>(static_cast<const char*>(hit) - d);
        if (k + 1 < n && d[k + 1] == '"') {
          escaped = true;
          j = k + 2;
          continue;
        }
        if (k + 1 >= n && !eof) {
          open_quote_ = true;
          return 0;
        }
        j = k + 1;
        break;
      }
      record_newlines_ += countNewlines(d + i + 1, d + j - 1);
      std::string_view content(d + i + 1, j - 2 - i);
      if (escaped) {
        if (scratch_used_ == scratch_.size()) scratch_.emplace_back();
        std::string& s = scratch_[scratch_used_++];
        s.clear();
        for (std::size_t k = 0; k < content.size(); ++k) {
          s.push_back(content[k]);
          if (content[k] == '"') ++k;  // "" -> "
        }
        content = s;
      }
      fields_.push_back(content);
      i = j;
      if (i >= n) return i;  // eof: the last record has no newline
      if (d[i] == ',') {
        ++i;
        continue;
      }
      if (d[i] == '\n') {
        ++record_newlines_;
        return i + 1;
      }
      if (d[i] == '\r' && i + 1 < n && d[i + 1] == '\n') {
        ++record_newlines_;
        return i + 2;
      }
      if (d[i] == '\r' && i + 1 == n && eof) return n;  // CR ending the last record
      // Characters after the closing quote: the row is malformed; skip to the field's end.
      malformed_ = true;
      std::size_t end = 0;
      if (!unquoted(i, end)) return 0;
      i = end;
      if (i >= n) return i;
      if (d[i] == ',') {
        ++i;
        continue;
      }
      ++record_newlines_;
      return i + 1;
    }
    std::size_t end = 0;
    if (!unquoted(i, end)) return 0;
    std::string_view v(d + i, end - i);
    // A CR ending the record (CRLF line end, or the file's end) is no data; elsewhere it is.
    if (!v.empty() && v.back() == '\r' && ((end < n && d[end] == '\n') || end >= n)) v.remove_suffix(1);
    fields_.push_back(v);
    if (end >= n) return end;
    if (d[end] == ',') {
      i = end + 1;
      continue;
    }
    ++record_newlines_;
    return end + 1;
  }
}

CsvReader::Status CsvReader::next() {
  for (;;) {
    if (!bom_checked_) {
      if (input_.size() < 3 && !input_.eof()) {
        auto more = input_.fill();
        if (!more && !input_.eof()) {
          failure_ = more.error();
          return Status::Failed;
        }
        continue;
      }
      if (input_.size() >= 3 && std::string_view(input_.data(), 3) == "\xEF\xBB\xBF") input_.consume(3);
      bom_checked_ = true;
    }
    if (input_.size() == 0) {
      if (input_.eof()) return Status::End;
      auto more = input_.fill();
      if (!more) {
        if (!input_.eof()) {
          failure_ = more.error();
          return Status::Failed;
        }
        return Status::End;
      }
      continue;
    }
    const std::size_t length = scan();
    // A record too long, found whole or not; or a quote still open at the limit or the end.
    const bool too_long = length > kMaxRecordBytes || (length == 0 && input_.size() > kMaxRecordBytes);
    if (too_long || (length == 0 && input_.eof())) {
      const std::string limit = fmt::format("the record is longer than {} MiB", kMaxRecordBytes >> 20);
      std::string what = "a quoted field is never closed";
      if (length > 0 || !open_quote_) {
        what = limit;
      } else if (!input_.eof()) {
        what += " (or " + limit + ")";
      }
      failure_ = makeError("bad_file", fmt::format("line {}: {}", next_line_, what));
      return Status::Failed;
    }
    if (length == 0) {
      auto more = input_.fill();
      if (!more && !input_.eof()) {
        failure_ = more.error();
        return Status::Failed;
      }
      continue;
    }
    // Views point into the window: consume() only moves the window start, the bytes stay.
    input_.consume(length);
    line_ = next_line_;
    next_line_ += record_newlines_;
    return Status::Record;
  }
}

Result<Header> parseHeader(const std::vector<std::string_view>& cells) {
  Header h;
  h.index.fill(-1);
  h.width = cells.size();
  for (std::size_t i = 0; i < cells.size(); ++i) {
    const std::string_view name = trim(cells[i]);
    for (std::size_t c = 0; c < kColumnCount; ++c) {
      if (equalsIgnoreCase(name, kColumnNames[c]) && h.index[c] < 0) h.index[c] = static_cast<int>(i);
    }
  }
  std::string missing;
  for (std::size_t c = 0; c < kColumnCount; ++c) {
    if (h.index[c] >= 0) continue;
    if (!missing.empty()) missing += ", ";
    missing += kColumnNames[c];
  }
  if (!missing.empty()) {
    return makeError("bad_file", fmt::format("the header row lacks the column(s) {}", missing));
  }
  return h;
}

}  // namespace replywatch::connectors::twcs
