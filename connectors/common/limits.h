#pragma once
// Input limits every connector applies to untrusted payloads: how deeply a JSON document
// may nest (one constant, one parse function every JSON-reading connector calls) and how
// many entries one webhook delivery may carry (the source's `max_delivery_entries`, else
// `ingest.max_delivery_entries`). Pure functions, callable from any thread.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <string_view>

#include "connectors/connector.h"
#include "daemon/core/result.h"
#include "daemon/core/source_health.h"

namespace replywatch::connectors {

// JSON containers ({} or []) nested deeper than this are refused; the outermost
// container is level 1.
inline constexpr int kMaxJsonDepth = 64;
// The message of that refusal.
inline constexpr std::string_view kJsonTooDeepMessage = "JSON nested deeper than 64 levels";

// The Error reason of a delivery refused for its number of entries; it maps to
// ErrorReason::TooManyEntries.
inline constexpr std::string_view kTooManyEntriesReason = "too_many_entries";

// Parses `text` as one JSON document. Containers deeper than kMaxJsonDepth are refused
// while parsing: neither the parser nor the document ever holds more levels, so a body of
// 100,000 '[' costs no stack and little memory. Errors carry `reason`, with the message
// kJsonTooDeepMessage, or `invalid_message` when the text is not one valid JSON document.
Result<nlohmann::json> parseJson(std::string_view text, std::string_view reason,
                                 std::string_view invalid_message = "the body is not valid JSON");

// The same for lenient reads (stored cursors, optional fields of an answer): the
// document, or null when `text` is not valid JSON or nests deeper than kMaxJsonDepth.
nlohmann::json parseJsonOrNull(std::string_view text);

// The number of entries a webhook delivery of `source` may carry.
std::size_t maxDeliveryEntries(const config::Config& config, const config::SourceConfig& source);

// The refusal of a delivery holding more than `limit` entries (`what`: "changes",
// "records"): reason kTooManyEntriesReason and a sentence naming the limit.
Error tooManyEntries(std::size_t limit, std::string_view what);

// The answer to a webhook body refused before anything was stored: 413 for
// kTooManyEntriesReason (counted as TooManyEntries), 400 for anything else (counted as
// `otherwise`). Logs the refusal at warn level with the source name.
WebhookResponse refuseDelivery(const Error& error, const config::SourceConfig& source, SourceHealth& health,
                               std::string_view remote, ErrorReason otherwise = ErrorReason::BadRequest);

}  // namespace replywatch::connectors
