#pragma once
// The twcs export format ("Customer Support on Twitter"): a CSV file with the columns
// tweet_id, author_id, inbound, created_at, text, response_tweet_id,
// in_response_to_tweet_id, optionally preceded by an unnamed index column. This file
// holds the byte-level reader (records end only at a newline outside quotes; a carriage
// return inside an unquoted field is data) and the value parsers. See README.md here.
#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/export/export_format.h"
#include "daemon/core/result.h"
#include "daemon/core/timestamp.h"

namespace replywatch::connectors::twcs {

// The columns replywatch reads, in documentation order.
enum class Column : std::uint8_t { TweetId, AuthorId, Inbound, CreatedAt, Text, InResponseTo };
inline constexpr std::size_t kColumnCount = 6;
std::string_view columnName(Column c);

// "Tue Oct 31 22:10:47 +0000 2017" (any numeric offset), or RFC 3339 as a fallback.
std::optional<Timestamp> parseCreatedAt(std::string_view text);
// "True"/"False" in any case (pandas writes True/False, spreadsheets TRUE/FALSE).
std::optional<bool> parseInbound(std::string_view text);
// A tweet id: decimal digits, possibly written as a float with a zero fraction ("3.0").
// Surrounding spaces are ignored. nullopt for anything else (or zero, or above 2^64).
std::optional<std::uint64_t> parseTweetId(std::string_view text);
// Calls `fn(handle)` for each @handle in `text` (1 to 15 letters, digits or '_', not
// preceded by a letter, digit or '_'), in order, at most `limit` times.
template <typename Fn>
void forEachMention(std::string_view text, std::size_t limit, Fn&& fn);

// Reads a CSV file record by record in chunks (never loaded whole), through the
// export connector's Input.
class CsvReader {
 public:
  enum class Status { Record, End, Failed };

  // An input that starts past the file's first byte starts at a record (no byte order
  // mark is looked for); line numbers count from 1 there.
  explicit CsvReader(exportfmt::Input input)
      : input_(std::move(input)), bom_checked_(input_.consumed() > 0) {}

  // The next record. Record: fields() holds its fields (views valid until the next
  // call), line() the 1-based line where it began, malformed() whether a quoted field
  // was followed by other characters. Failed: failure() says why (I/O error, a quoted
  // field never closed, or a record longer than kMaxRecordBytes).
  Status next();
  const std::vector<std::string_view>& fields() const { return fields_; }
  std::uint64_t line() const { return line_; }
  // The line where the next record begins.
  std::uint64_t nextLine() const { return next_line_; }
  bool malformed() const { return malformed_; }
  const Error& failure() const { return failure_; }
  std::uint64_t bytesDone() const { return input_.consumed(); }
  std::uint64_t bytesTotal() const { return input_.total(); }

  // Records longer than this make the file fail (an unbalanced quote otherwise swallows
  // the rest of the file).
  static constexpr std::size_t kMaxRecordBytes = 8 << 20;

 private:
  // Splits the record at the window start; returns its length (newline included), or 0
  // when it continues past the window.
  std::size_t scan();

  exportfmt::Input input_;
  bool bom_checked_ = false;
  std::uint64_t next_line_ = 1;
  std::uint64_t line_ = 0;
  std::uint64_t record_newlines_ = 0;
  bool malformed_ = false;
  bool open_quote_ = false;  // scan() returned 0 inside a quoted field
  std::vector<std::string_view> fields_;
  std::deque<std::string> scratch_;  // unescaped quoted fields (stable addresses)
  std::size_t scratch_used_ = 0;
  Error failure_;
};

// Where each column is in a file, from its header row.
struct Header {
  std::array<int, kColumnCount> index{};  // -1 when absent
  std::size_t width = 0;                  // number of header cells
  bool operator==(const Header&) const = default;
};
// Maps header cells to columns (names are trimmed and compared case-insensitively;
// unnamed and unknown cells, such as a pandas index or response_tweet_id, are
// ignored). An Error "bad_file" names the missing columns.
Result<Header> parseHeader(const std::vector<std::string_view>& cells);

// ------------------------------------------------------------------------ inline

template <typename Fn>
void forEachMention(std::string_view text, std::size_t limit, Fn&& fn) {
  auto word = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  };
  std::size_t found = 0;
  for (std::size_t i = text.find('@'); i != std::string_view::npos && found < limit;
       i = text.find('@', i + 1)) {
    if (i > 0 && word(text[i - 1])) continue;
    std::size_t j = i + 1;
    while (j < text.size() && word(text[j]) && j - i <= 15) ++j;
    if (j == i + 1 || (j < text.size() && word(text[j]))) continue;
    fn(text.substr(i + 1, j - i - 1));
    ++found;
  }
}

}  // namespace replywatch::connectors::twcs
