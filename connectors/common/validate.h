#pragma once
// Checks shared by every connector before a Message reaches the IngestSink: UTF-8,
// field length (ingest.max_field_bytes) and timestamp sanity (ingest.max_future_skew).
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/config/config.h"
#include "daemon/core/clock.h"
#include "daemon/core/model.h"
#include "daemon/core/source_health.h"
#include "daemon/core/timestamp.h"

namespace replywatch::connectors {

// Why a record was refused: the metric reason and one plain sentence for the log. The
// sentence names fields, never their contents.
struct Rejection {
  ErrorReason reason = ErrorReason::ParseError;
  std::string message;
};

// True when `s` is well-formed UTF-8 (no overlong forms, no surrogates, <= U+10FFFF).
bool isValidUtf8(std::string_view s);

// The earliest accepted message time: 2000-01-01T00:00:00Z.
inline constexpr std::int64_t kEarliestMessageMillis = 946684800000;

class MessageValidator {
 public:
  MessageValidator(std::size_t max_field_bytes, std::chrono::seconds max_future_skew, const Clock& clock)
      : max_field_bytes_(max_field_bytes), max_future_skew_(max_future_skew), clock_(clock) {}
  MessageValidator(const config::IngestConfig& ingest, const Clock& clock)
      : MessageValidator(ingest.max_field_bytes, ingest.max_future_skew, clock) {}

  // Length then UTF-8 of one field.
  std::optional<Rejection> checkField(std::string_view name, std::string_view value) const;
  // Not before 2000-01-01, not later than now + max_future_skew. `now` defaults to the
  // clock; callers checking many records may pass one reading for a whole batch.
  std::optional<Rejection> checkTimestamp(Timestamp t, std::optional<Timestamp> now = std::nullopt) const;
  // Every rule on a built Message: required fields (id, conversation_id, author_id),
  // each field, then the timestamp.
  std::optional<Rejection> check(const Message& m, std::optional<Timestamp> now = std::nullopt) const;

  std::size_t maxFieldBytes() const { return max_field_bytes_; }
  const Clock& clock() const { return clock_; }

 private:
  std::size_t max_field_bytes_;
  std::chrono::seconds max_future_skew_;
  const Clock& clock_;
};

}  // namespace replywatch::connectors
