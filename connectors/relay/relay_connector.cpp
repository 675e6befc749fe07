#include "connectors/relay/relay_connector.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <fstream>
#include <sstream>

#include "connectors/common/hmac.h"
#include "connectors/common/limits.h"
#include "daemon/core/log.h"

namespace replywatch::connectors::relay {

const std::vector<std::string>& allowedKeys() {
  static const std::vector<std::string> kKeys = [] {
    std::vector<std::string> keys = config::kCommonSourceKeys;
    for (const char* k :
         {"webhook_secret", "webhook_secret_file", "signature_header", "standard_webhooks_secret",
          "standard_webhooks_secret_file", "standard_webhooks_tolerance"}) {
      keys.emplace_back(k);
    }
    return keys;
  }();
  return kKeys;
}

Settings parseSettings(const config::SourceConfig& source, std::vector<config::Problem>& problems) {
  Settings s;
  const YAML::Node map = source.settings;
  if (!map || !map.IsMap()) return s;
  const std::string& file = source.file;
  const std::string where = fmt::format("source \"{}\"", source.name);
  const auto base = source.base_dir.empty() ? std::filesystem::path(file).parent_path() : source.base_dir;
  auto problem = [&](const char* key, std::string message) {
    const YAML::Node n = map[key];
    const int line = n.IsDefined() ? config::lineOf(n) : 0;
    problems.push_back(config::Problem{file, line != 0 ? line : source.line, std::move(message)});
  };

  config::checkKeys(map, allowedKeys(), file, where, problems);
  s.webhook_secret = config::readSecret(map, "webhook_secret", file, base, problems);
  if (map["signature_header"].IsDefined()) {
    s.signature_header = config::readString(map, "signature_header", file, where, problems);
    if (s.signature_header.empty())
      problem("signature_header", fmt::format("signature_header in {} is empty", where));
  }
  s.standard_webhooks_secret = config::readSecret(map, "standard_webhooks_secret", file, base, problems);
  if (!s.standard_webhooks_secret.empty()) {
    auto key = standardWebhooksKey(s.standard_webhooks_secret.reveal());
    if (!key) {
      const char* key_name = map["standard_webhooks_secret_file"].IsDefined()
                                 ? "standard_webhooks_secret_file"
                                 : "standard_webhooks_secret";
      problem(key_name,
              fmt::format("standard_webhooks_secret in {} must be \"whsec_\" followed by base64", where));
    } else {
      s.standard_webhooks_key = std::move(*key);
    }
  }
  if (auto d = config::readDuration(map, "standard_webhooks_tolerance", file, where, problems)) {
    if (d->count() <= 0) {
      problem("standard_webhooks_tolerance",
              fmt::format("standard_webhooks_tolerance in {} must be longer than zero", where));
    } else {
      s.standard_webhooks_tolerance = *d;
    }
  }
  return s;
}

void validate(const config::SourceConfig& source, std::vector<config::Problem>& problems) {
  (void)parseSettings(source, problems);
}

std::unique_ptr<Connector> create(const ConnectorContext& context) {
  std::vector<config::Problem> ignored;  // reported by validate() at load time
  return std::make_unique<RelayConnector>(context, parseSettings(context.source, ignored));
}

RelayConnector::RelayConnector(const ConnectorContext& context, Settings settings)
    : ctx_(context),
      settings_(std::move(settings)),
      validator_(context.config.ingest, context.clock),
      checker_(context.config, context.source, validator_),
      replays_(settings_.standard_webhooks_tolerance) {}

WebhookResponse RelayConnector::refuseSignature(const WebhookRequest& request, std::string_view why) {
  ctx_.health.addError(ErrorReason::Signature);
  spdlog::warn("webhook signature rejected source={} remote={} reason={}", logValue(ctx_.source.name),
               logValue(request.remote), logValue(why));
  return WebhookResponse::error(401, why);
}

WebhookResponse RelayConnector::handleWebhook(const WebhookRequest& request) {
  if (request.method != "POST") return methodNotAllowed("POST");
  const bool standard = !settings_.standard_webhooks_key.empty();
  const bool hmac = !settings_.webhook_secret.empty();
  if (!standard && !hmac) {
    return WebhookResponse::error(
        404,
        "webhooks are disabled for this source (no webhook_secret or standard_webhooks_secret configured)");
  }

  // The signature covers the raw bytes and is checked before anything is parsed.
  std::optional<std::string> delivery_id;
  Timestamp signed_at{};
  const Timestamp now = ctx_.clock.now();
  if (standard && (request.header("webhook-signature") || !hmac)) {
    const auto id = request.header("webhook-id");
    const auto timestamp = request.header("webhook-timestamp");
    const auto check = verifyStandardWebhooks(settings_.standard_webhooks_key, id, timestamp,
                                              request.header("webhook-signature"), request.body, now,
                                              settings_.standard_webhooks_tolerance);
    if (check != SignatureCheck::Ok) return refuseSignature(request, describe(check));
    delivery_id = std::string(*id);
    std::int64_t seconds = 0;
    std::from_chars(timestamp->data(), timestamp->data() + timestamp->size(), seconds);
    signed_at = fromMillis(seconds * 1000);
    // The webhook-id is the delivery's idempotency key. A copy of a stored delivery (a
    // retry whose first response was lost, or a replay of the signed request) is
    // answered as stored and stores nothing again; a copy arriving while the first is
    // being stored is asked to come back, so that the delivery is stored once.
    switch (replays_.claim(*delivery_id, signed_at, now)) {
      case ReplayGuard::Claim::New: break;
      case ReplayGuard::Claim::Stored: {
        spdlog::info("webhook delivery already stored source={} webhook_id={} remote={}",
                     logValue(ctx_.source.name), logValue(*delivery_id), logValue(request.remote));
        WebhookResponse r;
        r.status = 200;
        r.body = nlohmann::json{{"status", "ok"}, {"duplicate", true}, {"stored", 0}}.dump();
        return r;
      }
      case ReplayGuard::Claim::InProgress: {
        spdlog::info(
            "webhook delivery arrived while its copy is being stored source={} webhook_id={} remote={}",
            logValue(ctx_.source.name), logValue(*delivery_id), logValue(request.remote));
        auto r = WebhookResponse::error(409, "a delivery with this webhook-id is being stored, retry later");
        r.headers.emplace_back("Retry-After", "1");
        return r;
      }
    }
  } else {
    auto signature = request.header(settings_.signature_header);
    if (!signature) return refuseSignature(request, "missing signature");
    if (!verifySha256Signature(settings_.webhook_secret.reveal(), request.body, *signature)) {
      return refuseSignature(request, "invalid signature");
    }
  }

  // A delivery refused from here on is not stored: its id may come again.
  auto unclaimed = [&](WebhookResponse r) {
    if (delivery_id) replays_.release(*delivery_id);
    return r;
  };
  auto parsed = checker_.parseBody(request.body);
  if (!parsed) return unclaimed(refuseDelivery(parsed.error(), ctx_.source, ctx_.health, request.remote));
  std::vector<Escalation> records;
  std::size_t rejected = 0;
  const Rejection* first_problem = nullptr;
  for (auto& r : *parsed) {
    if (r.escalation) {
      records.push_back(std::move(*r.escalation));
      continue;
    }
    ++rejected;
    ctx_.health.addError(r.rejection.reason);
    if (first_problem == nullptr) first_problem = &r.rejection;
    spdlog::warn("escalation record rejected source={} origin=webhook reason={} error={}",
                 logValue(ctx_.source.name), toString(r.rejection.reason), logValue(r.rejection.message));
  }
  if (records.empty()) {
    if (first_problem != nullptr) return unclaimed(WebhookResponse::error(400, first_problem->message));
    ctx_.health.addError(ErrorReason::BadRequest);
    return unclaimed(WebhookResponse::error(400, "the body holds no escalation record"));
  }
  auto outcome = ctx_.sink.ingestEscalations(ctx_.source, std::move(records), std::nullopt);
  if (!outcome) return unclaimed(sinkRefused(outcome.error(), ctx_, "the records"));
  if (delivery_id) replays_.stored(*delivery_id);
  ctx_.health.addEvents(outcome->stored);
  ctx_.health.markSuccess(now);
  auto r = WebhookResponse::accepted(*outcome);
  auto j = nlohmann::json::parse(r.body);
  j["rejected"] = rejected;
  r.body = j.dump();
  return r;
}

Result<ImportStats> RelayConnector::importFile(const std::filesystem::path& path,
                                               const ProgressFn& progress) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) {
    ctx_.health.addError(ErrorReason::Io);
    return makeError("io", fmt::format("cannot read {}: {}", path.string(), ec.message()));
  }
  if (size > kMaxFileBytes) {
    ctx_.health.addError(ErrorReason::BadFile);
    return makeError("bad_file", fmt::format("{} is larger than {} bytes", path.string(), kMaxFileBytes));
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  if (!in.good() && !in.eof()) {
    ctx_.health.addError(ErrorReason::Io);
    return makeError("io", fmt::format("cannot read {}", path.string()));
  }
  const std::string text = std::move(content).str();
  auto parsed = checker_.parseFile(text, formatFromPath(path.string()));
  if (!parsed) {
    ctx_.health.addError(ErrorReason::BadFile);
    return makeError("bad_file", fmt::format("{}: {}", path.filename().string(), parsed.error().message));
  }
  ImportStats stats;
  std::vector<Escalation> batch;
  auto flush = [&]() -> Result<void> {
    if (batch.empty()) return {};
    auto outcome = ctx_.sink.ingestEscalations(ctx_.source, std::move(batch), std::nullopt);
    batch.clear();
    if (!outcome) {
      ctx_.health.addError(ErrorReason::Store);
      ctx_.health.markDown();
      return outcome.error();
    }
    stats.stored += outcome->stored;
    stats.duplicates += outcome->duplicates;
    ctx_.health.addEvents(outcome->stored);
    return {};
  };
  for (std::size_t i = 0; i < parsed->size(); ++i) {
    auto& r = (*parsed)[i];
    ++stats.records;
    if (r.escalation) {
      batch.push_back(std::move(*r.escalation));
      if (batch.size() >= kBatchSize) {
        if (auto flushed = flush(); !flushed) return flushed.error();
      }
    } else {
      ++stats.rejected;
      ctx_.health.addError(r.rejection.reason);
      spdlog::warn("escalation record rejected source={} file={} line={} reason={} error={}",
                   logValue(ctx_.source.name), logValue(path.filename().string()), r.line,
                   toString(r.rejection.reason), logValue(r.rejection.message));
    }
    if (progress) progress((i + 1) * size / parsed->size(), size);
  }
  if (auto flushed = flush(); !flushed) return flushed.error();
  ctx_.health.markSuccess(ctx_.clock.now());
  return stats;
}

}  // namespace replywatch::connectors::relay
