#pragma once
// Helpers shared by the Mastodon and Discourse connector tests: a harness for any
// connector type, fixture paths per type, signed webhook requests.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "connectors/common/hmac.h"
#include "connectors/common/http_client.h"
#include "tests/unit/connectors/test_support.h"

namespace replywatch::connectors::testing {

inline std::filesystem::path fixtureOf(const std::string& type, const std::string& name) {
  return std::filesystem::path(REPLYWATCH_FIXTURES) / type / name;
}

inline nlohmann::json jsonFixture(const std::string& type, const std::string& name) {
  return nlohmann::json::parse(readAll(fixtureOf(type, name)));
}

// A connector of the type named by `type:` in the YAML, clock at `now`.
struct TypedHarness {
  TypedHarness(const std::string& yaml, const char* now) : source(makeSource(yaml)), clock(at(now)) {
    connector = findConnectorType(source.type)->create(ConnectorContext{source, config, clock, health, sink});
  }
  // A second connector instance on the same store (a restart).
  std::unique_ptr<Connector> restart() {
    return findConnectorType(source.type)->create(ConnectorContext{source, config, clock, health, sink});
  }

  config::Config config;
  config::SourceConfig source;
  ManualClock clock;
  SourceHealth health;
  RecordingSink sink;
  std::unique_ptr<Connector> connector;
};

inline WebhookRequest webhookPost(std::string body,
                                  std::vector<std::pair<std::string, std::string>> headers) {
  WebhookRequest r;
  r.method = "POST";
  r.path = "/webhooks/test";
  r.remote = "127.0.0.1";
  r.body = std::move(body);
  r.headers = std::move(headers);
  r.headers.emplace_back("Content-Type", "application/json");
  return r;
}

inline nlohmann::json bodyOf(const WebhookResponse& r) { return nlohmann::json::parse(r.body); }

inline HttpClientOptions fastHttpOptions() {
  using namespace std::chrono_literals;
  HttpClientOptions o;
  o.connect_timeout = 2s;
  o.total_timeout = 5s;
  o.max_attempts = 3;
  o.backoff_base = 1ms;
  o.backoff_max = 5ms;
  o.default_retry_after = 0s;
  return o;
}

inline std::string joinedProblems(const std::vector<config::Problem>& problems) {
  std::string out;
  for (const auto& p : problems) out += p.str() + "\n";
  return out;
}

}  // namespace replywatch::connectors::testing
