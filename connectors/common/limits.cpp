#include "connectors/common/limits.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <string>
#include <utility>

#include "daemon/core/log.h"

namespace replywatch::connectors {

namespace {

// Whether some container of `text` lies more than kMaxJsonDepth containers deep, the
// outermost being at depth 1; brackets inside strings do not count. One pass, whatever
// the text holds (valid JSON or not).
bool nestsTooDeep(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character, a quote included
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '[':
      case '{':
        if (++depth > kMaxJsonDepth) return true;
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default: break;
    }
  }
  return false;
}

}  // namespace

Result<nlohmann::json> parseJson(std::string_view text, std::string_view reason,
                                 std::string_view invalid_message) {
  // The depth is checked by a pass of its own rather than by a parser callback: with a
  // callback, nlohmann::json scans the enclosing container again after each object it
  // closes, which makes an array of many small objects quadratic (a 1 MiB body of `{}`
  // took half a minute). The parser keeps its own nesting on the heap.
  if (nestsTooDeep(text)) return makeError(std::string(reason), std::string(kJsonTooDeepMessage));
  nlohmann::json doc = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (doc.is_discarded()) return makeError(std::string(reason), std::string(invalid_message));
  return doc;
}

nlohmann::json parseJsonOrNull(std::string_view text) {
  auto doc = parseJson(text, "parse_error");
  if (!doc) return nullptr;
  return std::move(*doc);
}

std::size_t maxDeliveryEntries(const config::Config& config, const config::SourceConfig& source) {
  return source.max_delivery_entries.value_or(config.ingest.max_delivery_entries);
}

Error tooManyEntries(std::size_t limit, std::string_view what) {
  return Error{std::string(kTooManyEntriesReason),
               fmt::format("the delivery holds more than {} {} (max_delivery_entries); send them in smaller "
                           "deliveries",
                           limit, what)};
}

WebhookResponse refuseDelivery(const Error& error, const config::SourceConfig& source, SourceHealth& health,
                               std::string_view remote, ErrorReason otherwise) {
  const bool too_many = error.reason == kTooManyEntriesReason;
  health.addError(too_many ? ErrorReason::TooManyEntries : otherwise);
  spdlog::warn("webhook body rejected source={} remote={} reason={} error={}", logValue(source.name),
               logValue(remote), too_many ? toString(ErrorReason::TooManyEntries) : toString(otherwise),
               logValue(error.message));
  return WebhookResponse::error(too_many ? 413 : 400, error.message);
}

}  // namespace replywatch::connectors
