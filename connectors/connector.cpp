#include "connectors/connector.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "daemon/core/http_fields.h"
#include "daemon/core/log.h"

namespace replywatch::connectors {

std::optional<std::string_view> WebhookRequest::header(std::string_view name) const {
  return findHeader(headers, name);
}

std::optional<std::string> WebhookRequest::queryParam(std::string_view name) const {
  return findQueryParam(query, name);
}

// The defaults below keep the interfaces' by-value parameters, which overrides take over.
// NOLINTBEGIN(performance-unnecessary-value-param)
Result<IngestOutcome> IngestSink::ingestEscalations(const config::SourceConfig& source,
                                                    std::vector<Escalation> escalations,
                                                    std::optional<std::string> cursor) {
  (void)escalations;
  (void)cursor;
  return makeError("unsupported",
                   "escalation records of source \"" + source.name + "\" cannot be stored here");
}

Result<std::vector<std::optional<MessagePlace>>> IngestSink::messagePlaces(
    const std::string& source, const std::vector<std::string>& ids) {
  (void)source;
  return std::vector<std::optional<MessagePlace>>(ids.size());
}

void IngestSink::expectMessages(std::size_t count) { (void)count; }

Result<IngestOutcome> IngestSink::ingestViews(const config::SourceConfig& source,
                                              const std::vector<MessageView>& messages) {
  std::vector<Message> copies;
  copies.reserve(messages.size());
  for (const MessageView& m : messages) copies.push_back(copyOf(m));
  return ingest(source, std::move(copies), std::nullopt);
}

void IngestSink::ingestAsync(const config::SourceConfig& source, std::vector<Message> messages,
                             std::optional<std::string> cursor, IngestCallback done) {
  done(ingest(source, std::move(messages), std::move(cursor)));
}
// NOLINTEND(performance-unnecessary-value-param)

WebhookResponse WebhookResponse::error(int status, std::string_view message) {
  WebhookResponse r;
  r.status = status;
  nlohmann::json j;
  j["status"] = "error";
  j["error"] = std::string(message);
  r.body = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

WebhookResponse WebhookResponse::accepted(const IngestOutcome& outcome) {
  WebhookResponse r;
  r.status = 200;
  nlohmann::json j;
  j["status"] = "ok";
  j["received"] = outcome.received;
  j["stored"] = outcome.stored;
  j["duplicates"] = outcome.duplicates;
  r.body = j.dump();
  return r;
}

bool isSinkBusy(const Error& error) {
  return error.reason == kSinkQueueFullReason || error.reason == kSinkStoppingReason;
}

WebhookResponse sinkRefused(const Error& error, const ConnectorContext& ctx, std::string_view what) {
  if (isSinkBusy(error)) {
    spdlog::debug("webhook delivery refused for load source={} reason={}", logValue(ctx.source.name),
                  logValue(error.reason));
  } else {
    ctx.health.addError(ErrorReason::Store);
    ctx.health.markDown();
    spdlog::error("webhook delivery not stored source={} error={}", logValue(ctx.source.name),
                  logValue(error.message));
  }
  return retryLater(what);
}

WebhookResponse retryLater(std::string_view what) {
  auto r = WebhookResponse::error(503, std::string(what) + " could not be stored, retry later");
  r.headers.emplace_back("Retry-After", "5");
  return r;
}

WebhookResponse methodNotAllowed(std::string_view allowed) {
  auto r = WebhookResponse::error(405, fmt::format("method not allowed: use {}", allowed));
  r.headers.emplace_back("Allow", std::string(allowed));
  return r;
}

WebhookResponse Connector::handleWebhook(const WebhookRequest& request) {
  (void)request;
  return WebhookResponse::error(404, "this source does not accept webhooks");
}

// The interface's by-value parameters, which overrides take over.
// NOLINTNEXTLINE(performance-unnecessary-value-param)
void Connector::handleWebhookAsync(WebhookRequest request, WebhookReply reply) {
  reply(handleWebhook(request));
}

Result<ImportStats> Connector::importFile(const std::filesystem::path& path, const ProgressFn& progress) {
  (void)progress;
  return makeError("unsupported",
                   "this source type does not import files (" + path.filename().string() + ")");
}

}  // namespace replywatch::connectors
