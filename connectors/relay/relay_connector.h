#pragma once
// The `relay` source type: escalation records (a question passed to an internal relay,
// and when the relay answered) received as signed webhook POSTs (HMAC-SHA256 over the
// raw body, or the Standard Webhooks scheme) or imported from CSV/JSONL files. See
// README.md in this directory.
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "connectors/common/validate.h"
#include "connectors/connector.h"
#include "connectors/relay/relay_format.h"
#include "connectors/relay/standard_webhooks.h"

namespace replywatch::connectors::relay {

// Default header carrying "sha256=<hex HMAC-SHA256(webhook_secret, raw body)>".
inline constexpr std::string_view kDefaultSignatureHeader = "X-Replywatch-Signature";
// Records handed to IngestSink::ingestEscalations() per call when importing.
inline constexpr std::size_t kBatchSize = 1000;
// Files larger than this are refused by import (relay logs are small).
inline constexpr std::uintmax_t kMaxFileBytes = 256ULL * 1024 * 1024;

struct Settings {
  Secret webhook_secret;  // HMAC over the raw body; empty = not accepted
  std::string signature_header{kDefaultSignatureHeader};
  Secret standard_webhooks_secret;    // "whsec_<base64>"; empty = not accepted
  std::string standard_webhooks_key;  // decoded key
  std::chrono::seconds standard_webhooks_tolerance{300};
};

// Every key the `relay` type accepts (common keys included).
const std::vector<std::string>& allowedKeys();
// Reads and checks the settings of a `relay` source; problems carry file:line.
Settings parseSettings(const config::SourceConfig& source, std::vector<config::Problem>& problems);
// Registry hooks.
void validate(const config::SourceConfig& source, std::vector<config::Problem>& problems);
std::unique_ptr<Connector> create(const ConnectorContext& context);

class RelayConnector final : public Connector {
 public:
  RelayConnector(const ConnectorContext& context, Settings settings);

  WebhookResponse handleWebhook(const WebhookRequest& request) override;
  bool takesWebhooks() const override {
    return !settings_.webhook_secret.empty() || !settings_.standard_webhooks_secret.empty();
  }
  Result<ImportStats> importFile(const std::filesystem::path& path, const ProgressFn& progress) override;

 private:
  // 401 response, counted and logged.
  WebhookResponse refuseSignature(const WebhookRequest& request, std::string_view why);

  ConnectorContext ctx_;
  Settings settings_;
  MessageValidator validator_;
  RecordChecker checker_;
  ReplayGuard replays_;
};

}  // namespace replywatch::connectors::relay
