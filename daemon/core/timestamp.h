#pragma once
// Time representation shared by every layer: UTC milliseconds since the epoch.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace replywatch {

using Timestamp = std::chrono::sys_time<std::chrono::milliseconds>;

inline std::int64_t toMillis(Timestamp t) { return t.time_since_epoch().count(); }
inline Timestamp fromMillis(std::int64_t ms) { return Timestamp{std::chrono::milliseconds{ms}}; }
inline double toSeconds(std::chrono::milliseconds d) { return static_cast<double>(d.count()) / 1000.0; }

// Parses RFC 3339 / ISO 8601 date-times with an offset or "Z"
// ("2017-10-31T22:10:47Z", "2024-05-01T10:00:00.123+02:00", "2024-05-01 10:00:00Z").
// Returns nullopt on anything else (never throws).
std::optional<Timestamp> parseRfc3339(std::string_view text);

// Formats as RFC 3339 UTC with second precision: "2017-10-31T22:10:47Z".
std::string formatRfc3339(Timestamp t);
// Formats as RFC 3339 UTC with millisecond precision, the whole instant:
// "2017-10-31T22:10:47.120Z" (parseRfc3339() reads it back exactly).
std::string formatRfc3339Millis(Timestamp t);

// The longest duration parseDuration() accepts: 1,000 years of 366 days.
inline constexpr long long kMaxDurationSeconds = 1000LL * 366 * 86400;

// Parses a duration such as "90s", "15m", "1h", "1h30m", "28d", "2w", or a plain
// number of seconds, up to kMaxDurationSeconds. Returns nullopt on anything else.
std::optional<std::chrono::seconds> parseDuration(std::string_view text);

}  // namespace replywatch
