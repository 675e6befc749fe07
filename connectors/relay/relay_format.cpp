#include "connectors/relay/relay_format.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "connectors/common/limits.h"
#include "daemon/core/timestamp.h"

namespace replywatch::connectors::relay {
namespace {

constexpr std::size_t kFieldCount = std::size(kFields);

std::optional<std::size_t> fieldIndex(std::string_view name) {
  for (std::size_t i = 0; i < kFieldCount; ++i) {
    if (kFields[i] == name) return i;
  }
  return std::nullopt;
}

bool endsWithCaseInsensitive(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  return std::equal(
      suffix.begin(), suffix.end(), s.end() - static_cast<std::ptrdiff_t>(suffix.size()), [](char a, char b) {
        return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
      });
}

// Without surrounding spaces, tabs and line breaks: every field is an id, a name or a time.
std::string_view trimmed(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

Rejection reject(ErrorReason reason, std::string message) { return Rejection{reason, std::move(message)}; }

// The shared timestamp check names the message field; say which record field it was.
Rejection renamed(Rejection r, std::string_view field) {
  const std::string_view generic = "created_at";
  if (auto pos = r.message.find(generic); pos != std::string::npos)
    r.message.replace(pos, generic.size(), field);
  return r;
}

// Splits CSV (RFC 4180: quoted fields may hold commas, quotes doubled, line breaks) into
// rows. Returns false with `error` set on an unterminated quote.
struct CsvRow {
  std::uint64_t line = 0;
  std::vector<std::string> fields;
};
bool splitCsv(std::string_view text, std::vector<CsvRow>& rows, std::string& error) {
  CsvRow row;
  std::string field;
  bool quoted = false;
  bool field_started = false;
  bool row_quoted = false;  // a field of the row was quoted
  std::uint64_t line = 1;
  row.line = 1;
  auto end_field = [&] {
    row.fields.push_back(std::move(field));
    field.clear();
    field_started = false;
  };
  auto end_row = [&] {
    end_field();
    // An empty line, or one of spaces and tabs only.
    const bool blank = row.fields.size() == 1 && !row_quoted && trimmed(row.fields[0]).empty();
    if (!blank) rows.push_back(std::move(row));
    row = CsvRow{};
    row.line = line;
    row_quoted = false;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field.push_back('"');
          ++i;
        } else {
          quoted = false;
        }
      } else {
        // \n, \r\n and a lone \r each end a line, as outside quotes.
        if (c == '\n' || (c == '\r' && (i + 1 == text.size() || text[i + 1] != '\n'))) ++line;
        field.push_back(c);
      }
      continue;
    }
    if (c == '"' && !field_started) {
      quoted = true;
      field_started = true;
      row_quoted = true;
    } else if (c == ',') {
      end_field();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      ++line;
      end_row();
    } else {
      field.push_back(c);
      field_started = true;
    }
  }
  if (quoted) {
    error = fmt::format("line {}: a quoted field is not closed", row.line);
    return false;
  }
  if (field_started || !field.empty() || !row.fields.empty()) end_row();
  return true;
}

}  // namespace

Format formatFromPath(std::string_view path) {
  return endsWithCaseInsensitive(path, ".csv") ? Format::Csv : Format::Jsonl;
}

// Field values of one record; nullopt when absent (or JSON null).
struct RecordChecker::Fields {
  std::array<std::optional<std::string>, kFieldCount> values;
  std::optional<Rejection> problem;  // a value of the wrong JSON type
};

ParsedRecord RecordChecker::fromJson(const nlohmann::json& value, std::uint64_t line) const {
  const nlohmann::json* object = &value;
  if (value.is_object() && !value.contains("id") && value.contains("data") && value["data"].is_object()) {
    object = &value["data"];
  }
  Fields fields;
  if (!object->is_object()) {
    ParsedRecord r;
    r.line = line;
    r.rejection = reject(ErrorReason::ParseError, "a record must be a JSON object");
    return r;
  }
  for (std::size_t i = 0; i < kFieldCount; ++i) {
    auto it = object->find(std::string(kFields[i]));
    if (it == object->end() || it->is_null()) continue;
    if (it->is_string()) {
      fields.values[i] = std::string(trimmed(it->get_ref<const std::string&>()));
    } else if (it->is_number_integer() && kFields[i] == "id") {
      fields.values[i] = it->dump();
    } else if (!fields.problem) {
      fields.problem = reject(ErrorReason::ParseError, fmt::format("field {} must be a string", kFields[i]));
    }
  }
  return check(fields, line);
}

ParsedRecord RecordChecker::fromCsv(const std::vector<std::string>& columns,
                                    const std::vector<std::string>& values, std::uint64_t line) const {
  Fields fields;
  if (values.size() != columns.size()) {
    ParsedRecord r;
    r.line = line;
    r.rejection = reject(ErrorReason::ParseError,
                         fmt::format("the row has {} fields, the header {}", values.size(), columns.size()));
    return r;
  }
  for (std::size_t c = 0; c < columns.size(); ++c) {
    const std::string_view value = trimmed(values[c]);
    if (auto i = fieldIndex(columns[c]); i && !value.empty()) fields.values[*i] = std::string(value);
  }
  return check(fields, line);
}

ParsedRecord RecordChecker::check(const Fields& fields, std::uint64_t line) const {
  ParsedRecord r;
  r.line = line;
  if (fields.problem) {
    r.rejection = *fields.problem;
    return r;
  }
  auto value = [&fields](std::string_view name) -> const std::optional<std::string>& {
    return fields.values[*fieldIndex(name)];
  };
  for (std::string_view required : {"id", "question_ref", "requested_at", "requested_by", "relay"}) {
    if (!value(required) || value(required)->empty()) {
      r.rejection = reject(ErrorReason::MissingField, fmt::format("field {} is missing or empty", required));
      return r;
    }
  }
  for (std::size_t i = 0; i < kFieldCount; ++i) {
    if (!fields.values[i]) continue;
    if (auto bad = validator_.checkField(kFields[i], *fields.values[i])) {
      r.rejection = *bad;
      return r;
    }
  }
  Escalation e;
  e.id = *value("id");
  e.account = value("account").value_or(source_.account);
  if (e.account.empty()) e.account = source_.account;
  if (config_.account(e.account) == nullptr) {
    r.rejection = reject(ErrorReason::ParseError, "field account names an account that is not configured");
    return r;
  }
  e.question_ref = *value("question_ref");
  e.requested_by = *value("requested_by");
  e.relay = *value("relay");
  auto requested = parseRfc3339(*value("requested_at"));
  if (!requested) {
    r.rejection = reject(ErrorReason::InvalidTimestamp, "field requested_at is not an RFC 3339 time");
    return r;
  }
  if (auto bad = validator_.checkTimestamp(*requested)) {
    r.rejection = renamed(*bad, "requested_at");
    return r;
  }
  e.requested_at = *requested;
  if (const auto& answered_text = value("answered_at"); answered_text && !answered_text->empty()) {
    auto answered = parseRfc3339(*answered_text);
    if (!answered) {
      r.rejection = reject(ErrorReason::InvalidTimestamp, "field answered_at is not an RFC 3339 time");
      return r;
    }
    if (auto bad = validator_.checkTimestamp(*answered)) {
      r.rejection = renamed(*bad, "answered_at");
      return r;
    }
    if (*answered < *requested) {
      r.rejection = reject(ErrorReason::InvalidTimestamp, "field answered_at is before requested_at");
      return r;
    }
    e.answered_at = *answered;
  }
  r.escalation = std::move(e);
  return r;
}

Result<std::vector<ParsedRecord>> RecordChecker::parseBody(std::string_view body) const {
  auto parsed = parseJson(body, "bad_request");
  if (!parsed) return parsed.error();
  const nlohmann::json& doc = *parsed;
  std::vector<ParsedRecord> out;
  if (doc.is_object()) {
    out.push_back(fromJson(doc, 1));
  } else if (doc.is_array()) {
    const std::size_t limit = maxDeliveryEntries(config_, source_);
    if (doc.size() > limit) return tooManyEntries(limit, "records");
    out.reserve(doc.size());
    for (const auto& element : doc) out.push_back(fromJson(element, 1));
  } else {
    return makeError("bad_request", "the body must be a JSON object or an array of objects");
  }
  return out;
}

Result<std::vector<ParsedRecord>> RecordChecker::parseFile(std::string_view content, Format format) const {
  if (content.substr(0, 3) == "\xEF\xBB\xBF") content.remove_prefix(3);
  std::vector<ParsedRecord> out;
  if (format == Format::Csv) {
    std::vector<CsvRow> rows;
    std::string error;
    if (!splitCsv(content, rows, error)) return makeError("bad_file", error);
    if (rows.empty()) return makeError("bad_file", "the file has no header row");
    std::vector<std::string> columns;
    for (const auto& name : rows.front().fields) columns.emplace_back(trimmed(name));
    for (const auto& column : columns) {
      if (!fieldIndex(column)) return makeError("bad_file", fmt::format("unknown column \"{}\"", column));
    }
    for (std::string_view required : {"id", "question_ref", "requested_at", "requested_by", "relay"}) {
      if (std::find(columns.begin(), columns.end(), required) == columns.end()) {
        return makeError("bad_file", fmt::format("the header has no {} column", required));
      }
    }
    out.reserve(rows.size() - 1);
    for (std::size_t i = 1; i < rows.size(); ++i)
      out.push_back(fromCsv(columns, rows[i].fields, rows[i].line));
    return out;
  }
  // A JSON array, or one object per line.
  const auto first = content.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && content[first] == '[') {
    auto doc = parseJson(content, "bad_file", "the JSON array does not parse");
    if (!doc) return doc.error();
    if (!doc->is_array()) return makeError("bad_file", "the JSON array does not parse");
    for (const auto& element : *doc) out.push_back(fromJson(element, 1));
    return out;
  }
  std::uint64_t line = 0;
  std::size_t start = 0;
  while (start < content.size()) {
    std::size_t end = content.find('\n', start);
    if (end == std::string_view::npos) end = content.size();
    std::string_view text = content.substr(start, end - start);
    start = end + 1;
    ++line;
    if (text.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    auto doc = parseJson(text, "parse_error", "the line is not valid JSON");
    if (!doc) {
      ParsedRecord r;
      r.line = line;
      r.rejection = reject(ErrorReason::ParseError, doc.error().message);
      out.push_back(std::move(r));
      continue;
    }
    out.push_back(fromJson(*doc, line));
  }
  return out;
}

}  // namespace replywatch::connectors::relay
