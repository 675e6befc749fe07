#pragma once
// Health counters of one configured source. Connectors write them (from their own
// threads); the metrics layer reads them at scrape time. All members are thread-safe.
#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string_view>

#include "daemon/core/timestamp.h"

namespace replywatch {

// The fixed list of reasons behind replywatch_source_errors_total{reason}.
// Add to the end only; METRICS.md lists them.
enum class ErrorReason : std::uint8_t {
  ParseError = 0,    // a row/object that cannot be parsed
  MissingField,      // a required field is absent or empty
  InvalidUtf8,       // a field is not valid UTF-8
  InvalidTimestamp,  // a timestamp cannot be parsed
  FutureTimestamp,   // a timestamp further in the future than the allowed skew
  FieldTooLong,      // a field exceeds its length limit
  BadFile,           // a whole file rejected (quarantined)
  Http,              // HTTP failure talking to a remote (status >= 400, transport error)
  RateLimited,       // remote answered 429
  Signature,         // webhook signature missing or wrong
  BadRequest,        // webhook request malformed (bad JSON, wrong method, too large)
  Store,             // the store refused to commit
  Io,                // local I/O failure (spool directory, files)
  Auth,              // the remote refused the credentials (expired or revoked access token)
  ApiError,          // the remote reported errors for part of a response (X "errors"); the rest was used
  TooManyEntries,    // a webhook delivery carries more entries than max_delivery_entries (refused whole)
  kCount
};
inline constexpr std::size_t kErrorReasonCount = static_cast<std::size_t>(ErrorReason::kCount);
std::string_view toString(ErrorReason r);

class SourceHealth {
 public:
  void markSuccess(Timestamp at) {
    up_.store(true);
    last_success_ms_.store(toMillis(at));
  }
  void markDown() { up_.store(false); }
  void addEvents(std::uint64_t n) { events_.fetch_add(n); }
  void addError(ErrorReason r, std::uint64_t n = 1) { errors_[static_cast<std::size_t>(r)].fetch_add(n); }

  bool up() const { return up_.load(); }
  std::optional<Timestamp> lastSuccess() const {
    auto ms = last_success_ms_.load();
    if (ms == 0) return std::nullopt;
    return fromMillis(ms);
  }
  std::uint64_t events() const { return events_.load(); }
  std::uint64_t errors(ErrorReason r) const { return errors_[static_cast<std::size_t>(r)].load(); }

 private:
  std::atomic<bool> up_{true};
  std::atomic<std::int64_t> last_success_ms_{0};
  std::atomic<std::uint64_t> events_{0};
  std::array<std::atomic<std::uint64_t>, kErrorReasonCount> errors_{};
};

}  // namespace replywatch
