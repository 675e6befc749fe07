#include "connectors/common/limits.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <string>
#include <utility>

#include "daemon/core/log.h"

namespace replywatch::connectors {

Result<nlohmann::json> parseJson(std::string_view text, std::string_view reason,
                                 std::string_view invalid_message) {
  bool too_deep = false;
  // `depth` is the number of containers around the one starting: 0 for the outermost.
  // A container refused here is skipped by the parser without being built, and so is
  // everything inside it; the parser itself keeps its nesting on the heap.
  const nlohmann::json::parser_callback_t limit = [&too_deep](int depth, nlohmann::json::parse_event_t event,
                                                              nlohmann::json& /*parsed*/) {
    if ((event == nlohmann::json::parse_event_t::object_start ||
         event == nlohmann::json::parse_event_t::array_start) &&
        depth >= kMaxJsonDepth) {
      too_deep = true;
      return false;
    }
    return true;
  };
  nlohmann::json doc = nlohmann::json::parse(text.begin(), text.end(), limit, false);
  if (too_deep) return makeError(std::string(reason), std::string(kJsonTooDeepMessage));
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
