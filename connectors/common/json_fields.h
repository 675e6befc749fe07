#pragma once
// Small helpers shared by the connectors that read platform JSON (Mastodon, Discourse):
// ids given as strings or integers, timestamps with any offset, and the mapping of a
// parse Error's reason back to the fixed ErrorReason list. Pure functions, any thread.
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "daemon/core/result.h"
#include "daemon/core/source_health.h"
#include "daemon/core/timestamp.h"

namespace replywatch::connectors {

// `object[key]` as an id: a non-empty string, or an integer written in decimal. nullopt
// when absent, null, empty or of another type.
std::optional<std::string> jsonId(const nlohmann::json& object, std::string_view key);
// `object[key]` as a string; "" when absent, null or not a string.
std::string jsonString(const nlohmann::json& object, std::string_view key);
// `object[key]` as a boolean; false when absent, null or not a boolean.
bool jsonBool(const nlohmann::json& object, std::string_view key);
// `object[key]` as an integer (a number, or a string of digits); nullopt otherwise.
std::optional<long long> jsonInteger(const nlohmann::json& object, std::string_view key);

// Reads the RFC 3339 timestamp `object[key]` (any offset, e.g. "-05:00").
// Errors: "missing_field" when absent or empty, "invalid_timestamp" when unreadable.
Result<Timestamp> jsonTimestamp(const nlohmann::json& object, std::string_view key, std::string_view what);

// The ErrorReason whose toString() is `error.reason`; ParseError for any other reason.
ErrorReason reasonOf(const Error& error);

// Compares two decimal id strings (Mastodon snowflakes, Discourse post ids) as numbers:
// a shorter string of digits is smaller. Ids with leading zeros are not expected.
bool idLess(std::string_view a, std::string_view b);

}  // namespace replywatch::connectors
