#pragma once
// The relay feed's record format: escalation records as JSON objects (a webhook body, a
// JSONL line, a JSON array element) or CSV rows with a header. See README.md in this
// directory for the fields and their rules. Parsing is pure: records are checked one by
// one, a bad record is reported (line, reason) and the others are still returned.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/common/validate.h"
#include "daemon/config/config.h"
#include "daemon/core/model.h"
#include "daemon/core/result.h"

namespace replywatch::connectors::relay {

enum class Format { Jsonl, Csv };
// By extension: .csv (any case) -> Csv, anything else -> Jsonl (JSON lines, or one JSON
// array).
Format formatFromPath(std::string_view path);

// The CSV columns / JSON keys, in documentation order. `account` and `answered_at` may
// be absent.
inline constexpr std::string_view kFields[] = {"id",           "account", "question_ref", "requested_at",
                                               "requested_by", "relay",   "answered_at"};

// One record read from the input: an Escalation, or why it was refused.
struct ParsedRecord {
  std::uint64_t line = 0;  // 1-based line (CSV row start, JSONL line; 1 for a webhook body element)
  std::optional<Escalation> escalation;
  Rejection rejection;  // meaningful when !escalation
};

// Checks records against the configuration (account known) and the ingest limits.
class RecordChecker {
 public:
  RecordChecker(const config::Config& config, const config::SourceConfig& source,
                const MessageValidator& validator)
      : config_(config), source_(source), validator_(validator) {}

  // One JSON object. A Standard Webhooks style envelope ({"type", "timestamp", "data":
  // {record}}) is unwrapped. Unknown keys are ignored.
  ParsedRecord fromJson(const nlohmann::json& value, std::uint64_t line) const;
  // One CSV row, `fields` in the order of `columns` (a header already checked).
  ParsedRecord fromCsv(const std::vector<std::string>& columns, const std::vector<std::string>& fields,
                       std::uint64_t line) const;

  // A webhook body: one JSON object or an array of them. Error (bad_request) when the
  // body is not JSON at all, nests deeper than kMaxJsonDepth, or is neither an object nor
  // an array; error (too_many_entries) when the array holds more records than the
  // source's max_delivery_entries.
  Result<std::vector<ParsedRecord>> parseBody(std::string_view body) const;
  // A whole file's content. Error (bad_file) when it cannot be used at all: a CSV
  // without the required columns or with unknown ones, a JSON array that does not parse
  // or nests deeper than kMaxJsonDepth (a JSONL line that does is one rejected record).
  Result<std::vector<ParsedRecord>> parseFile(std::string_view content, Format format) const;

 private:
  struct Fields;
  ParsedRecord check(const Fields& fields, std::uint64_t line) const;

  const config::Config& config_;
  const config::SourceConfig& source_;
  const MessageValidator& validator_;
};

}  // namespace replywatch::connectors::relay
