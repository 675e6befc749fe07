#pragma once
// Helpers shared by the `meta` connector tests: fixture access and a harness building a
// `meta` source with a recording sink and a manual clock.
#include <memory>
#include <string>

#include "connectors/common/hmac.h"
#include "connectors/meta/meta_connector.h"
#include "tests/unit/connectors/test_support.h"

namespace replywatch::connectors::meta::testing {

using replywatch::connectors::testing::at;
using replywatch::connectors::testing::readAll;
using replywatch::connectors::testing::RecordingSink;

inline constexpr const char* kPageId = "1234567890321";
inline constexpr const char* kAppSecret = "meta-app-secret";
inline constexpr const char* kVerifyToken = "meta-verify-token";

inline std::string fixture(const std::string& name) {
  return readAll(std::filesystem::path(REPLYWATCH_FIXTURES) / "meta" / name);
}

inline std::string signatureOf(const std::string& body, const std::string& secret = kAppSecret) {
  return "sha256=" + hmacSha256Hex(secret, body);
}

// A facebook `meta` source with webhooks enabled; `extra` adds YAML lines.
inline std::string sourceYaml(const std::string& extra = "", const std::string& channel = "facebook",
                              const std::string& page_id = kPageId) {
  return "name: acme-fb\ntype: meta\naccount: acme\nchannel: " + channel + "\npage_id: \"" + page_id +
         "\"\napp_secret: " + kAppSecret + "\nverify_token: " + kVerifyToken + "\n" + extra;
}

struct MetaHarness {
  explicit MetaHarness(const std::string& yaml) : source(replywatch::connectors::testing::makeSource(yaml)) {
    connector = findConnectorType("meta")->create(ConnectorContext{source, config, clock, health, sink});
  }
  MetaConnector& meta() { return dynamic_cast<MetaConnector&>(*connector); }

  WebhookResponse post(const std::string& body, std::optional<std::string> signature) {
    WebhookRequest r;
    r.method = "POST";
    r.path = "/webhooks/" + source.name;
    r.body = body;
    r.remote = "127.0.0.1";
    r.headers.emplace_back("Content-Type", "application/json");
    if (signature) r.headers.emplace_back("X-Hub-Signature-256", *signature);
    return connector->handleWebhook(r);
  }
  WebhookResponse postSigned(const std::string& body) { return post(body, signatureOf(body)); }

  config::Config config;
  config::SourceConfig source;
  ManualClock clock{at("2024-06-01T00:00:00Z")};
  SourceHealth health;
  RecordingSink sink;
  std::unique_ptr<Connector> connector;
};

}  // namespace replywatch::connectors::meta::testing
