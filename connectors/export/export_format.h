#pragma once
// The `export` normalized format: one message per JSONL line (or JSON array element) or
// CSV row. See README.md in this directory for the fields and their rules.
//
// Reader streams its Input: a file is read in chunks (never loaded whole), memory is
// parsed in place. Records are turned into validated Messages one at a time; a bad
// record is reported (line, reason) and skipped, the next one is read normally.
#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/common/validate.h"
#include "daemon/core/model.h"
#include "daemon/core/result.h"

namespace replywatch::connectors::exportfmt {

enum class Format { Jsonl, Csv };
std::string_view toString(Format f);
// "jsonl" (also "ndjson", "json") or "csv".
std::optional<Format> parseFormat(std::string_view name);
// By extension: .jsonl/.ndjson/.json -> Jsonl, .csv -> Csv (case-insensitive).
std::optional<Format> formatFromPath(std::string_view path);

// The fields of the format, in documentation order.
enum class Field : std::uint8_t {
  Id,
  ConversationId,
  InReplyTo,
  AuthorId,
  AuthorName,
  AuthorIsBrand,
  CreatedAt,
  Text
};
inline constexpr std::size_t kFieldCount = 8;

// Reason of Reader::failure() for input that cannot be read any further (see next()).
inline constexpr std::string_view kUnreadableReason = "unreadable";

std::string_view fieldName(Field f);
std::optional<Field> fieldByName(std::string_view name);

// Parses an author_is_brand value: true/false, 1/0, yes/no (any case); empty is false.
std::optional<bool> parseBool(std::string_view text);
// Parses a created_at value: RFC 3339 with offset, or integer epoch seconds (or epoch
// milliseconds when the number is above 1e11), optionally with a decimal fraction.
std::optional<Timestamp> parseCreatedAt(std::string_view text);

// Bytes to parse: a file read in chunks, or a block of memory (not copied; must outlive
// the Input).
class Input {
 public:
  // Reads from byte `offset` of the file on (consumed() counts from the file's start).
  static Result<Input> openFile(const std::filesystem::path& path, std::size_t chunk_bytes = 1 << 20,
                                std::uint64_t offset = 0);
  // Reads `length` bytes from byte `offset` of the file (up to its end without a length)
  // at once: no more is read later, and data() stays valid while the Input lives (moved
  // or not). Fewer bytes when the file ends before.
  static Result<Input> readRange(const std::filesystem::path& path, std::uint64_t offset,
                                 std::optional<std::uint64_t> length);
  static Input fromMemory(std::string_view data);

  Input(Input&& other) noexcept;
  Input& operator=(Input&& other) noexcept;
  Input(const Input&) = delete;
  Input& operator=(const Input&) = delete;
  ~Input();

  const char* data() const { return data_ + pos_; }
  std::size_t size() const { return end_ - pos_; }
  bool eof() const { return eof_; }  // nothing beyond data()+size() will come
  void consume(std::size_t n) { pos_ += n; }
  // Reads more bytes after the current window (moving the window to the buffer start;
  // pointers into the old window become invalid). Returns false at end of input.
  Result<bool> fill();
  std::uint64_t consumed() const { return base_ + pos_; }  // bytes consumed so far
  std::uint64_t total() const { return total_; }           // file size (0 when unknown)

 private:
  Input() = default;

  int fd_ = -1;
  std::string path_;
  std::unique_ptr<char[]> buffer_;
  std::size_t capacity_ = 0;
  const char* data_ = nullptr;
  std::size_t pos_ = 0;
  std::size_t end_ = 0;
  std::uint64_t base_ = 0;  // input offset of buffer_[0]
  std::uint64_t total_ = 0;
  bool eof_ = true;
};

// One refused record: where it began and why.
struct RecordProblem {
  std::uint64_t line = 0;  // 1-based line where the record begins
  Rejection rejection;
};

class Reader {
 public:
  enum class Status { Message, Rejected, End, Failed };

  Reader(Input input, Format format, const MessageValidator& validator);
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // Skips a UTF-8 BOM, reads the CSV header / detects a JSON array. An Error with reason
  // "bad_file" when the input cannot be used at all (no or bad header), "io" on a read
  // error.
  Result<void> start();
  // The next record. Message: `out` is filled (validated, conversation_id defaulted).
  // Rejected: problem() says why; the record was skipped. Failed: failure() says why,
  // and the reader has ended: a read error (reason "io"), or input that nothing after
  // can be read from (kUnreadableReason: an unterminated quoted field or JSON array, a
  // syntax error inside a JSON array or data after it, an array element longer than a
  // record may be).
  Status next(Message& out);

  const RecordProblem& problem() const { return problem_; }
  const Error& failure() const { return failure_; }
  std::uint64_t records() const { return records_; }  // records read, good and bad
  std::uint64_t bytesDone() const { return input_.consumed(); }
  std::uint64_t bytesTotal() const { return input_.total(); }
  // The reading of the validator clock used for future-timestamp checks; refreshed
  // every few thousand records.
  void refreshNow();

 private:
  struct Impl;
  Input input_;
  Format format_;
  const MessageValidator& validator_;
  std::unique_ptr<Impl> impl_;
  RecordProblem problem_;
  Error failure_;
  std::uint64_t records_ = 0;
};

}  // namespace replywatch::connectors::exportfmt
