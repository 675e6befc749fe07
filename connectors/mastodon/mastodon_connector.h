#pragma once
// The `mastodon` source type: statuses of the brand account's threads, from signed
// admin webhooks (status.created / status.updated) and from polling the REST API
// (mention notifications and the brand account's statuses). The conversation is the
// thread root, found through a bounded in-memory id -> root map and, when an API base
// URL and token are configured, GET /api/v1/statuses/:id/context. See README.md here.
#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <unordered_map>
#include <vector>

#include "connectors/common/http_client.h"
#include "connectors/common/validate.h"
#include "connectors/connector.h"
#include "connectors/mastodon/mastodon_parse.h"

namespace replywatch::connectors::mastodon {

// Mastodon's header: "sha256=<hex HMAC-SHA256(secret, raw body)>" (no "-256" in the name).
inline constexpr std::string_view kSignatureHeader = "X-Hub-Signature";

struct Settings {
  std::string brand_account;     // acct of the brand: "acme" or "acme@example.social"
  std::string brand_account_id;  // optional; asked from verify_credentials when polling
  std::string instance_domain;   // domain of local accounts; default: the host of base_url
  std::string base_url;          // e.g. "https://example.social"; enables the API
  Secret token;                  // access token of the brand account (read scopes)
  bool poll = true;              // poll the API (needs base_url); false: lookups only
  std::chrono::seconds poll_interval{60};
  std::chrono::seconds timeout{30};
  int page_limit = 40;  // items per page (Mastodon allows up to 40 for notifications)
  int max_pages = 10;   // pages per stream and poll
  std::size_t root_cache_size = 100000;
  Secret webhook_secret;
};

const std::vector<std::string>& allowedKeys();
Settings parseSettings(const config::SourceConfig& source, std::vector<config::Problem>& problems);
void validate(const config::SourceConfig& source, std::vector<config::Problem>& problems);
std::unique_ptr<Connector> create(const ConnectorContext& context);

// A bounded map from status id to thread root id; the oldest entries are forgotten
// first. Thread-safe.
class RootCache {
 public:
  explicit RootCache(std::size_t capacity) : capacity_(capacity) {}
  std::optional<std::string> find(const std::string& id) const;
  void put(const std::string& id, const std::string& root);
  std::size_t size() const;

 private:
  std::size_t capacity_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::string> roots_;
  std::deque<std::string> order_;
};

// What one poll pass did.
struct PollResult {
  bool ok = false;            // every request succeeded and the batch was committed
  bool rate_limited = false;  // x-ratelimit-remaining reached 0: paused until the reset
  std::size_t fetched = 0;    // statuses received (both streams)
  std::size_t rejected = 0;   // statuses refused (parse or validation)
  IngestOutcome outcome;
};

class MastodonConnector final : public Connector {
 public:
  MastodonConnector(const ConnectorContext& context, Settings settings);
  ~MastodonConnector() override;

  bool polls() const override;
  bool takesWebhooks() const override { return !settings_.webhook_secret.empty(); }
  void run(std::stop_token stop) override;
  WebhookResponse handleWebhook(const WebhookRequest& request) override;

  // One pass over both streams (run() calls it every poll_interval). Does nothing
  // while paused by the rate limit.
  PollResult pollOnce(std::stop_token stop = {});

  const Settings& settings() const { return settings_; }
  // The time polling resumes after x-ratelimit-remaining reached 0; nullopt when not paused.
  std::optional<Timestamp> pausedUntil() const;
  const RootCache& roots() const { return roots_; }
  // Replaces the HTTP client options (tests shorten backoff and timeouts).
  void setHttpOptions(const HttpClientOptions& options);

 private:
  struct Fetch;

  bool isBrand(const Status& s) const;
  bool concernsBrand(const Status& s) const;
  // The thread root of `s`: from the cache, the API (when configured) or, failing
  // that, the parent id. `failed` is set when the API could not be reached (transport,
  // 5xx, rate limit); the caller then decides whether to fall back.
  std::string resolveRoot(const Status& s, HttpClient* http, std::stop_token stop, bool& failed);
  Message toMessage(const Status& s, const std::string& root) const;
  Result<HttpResponse> apiGet(HttpClient& http, const std::string& url, std::stop_token stop);
  bool ensureBrandId(std::stop_token stop);
  bool fetchStream(const std::string& first_url, const std::string& min_id, Fetch& fetch,
                   std::stop_token stop, bool notifications);

  ConnectorContext ctx_;
  Settings settings_;
  MessageValidator validator_;
  std::string brand_acct_;  // normalized
  RootCache roots_;
  std::unique_ptr<HttpClient> poll_http_;    // poll thread only
  std::mutex lookup_mutex_;                  // guards lookup_http_ (webhook threads)
  std::unique_ptr<HttpClient> lookup_http_;  // context lookups from webhook handlers
  mutable std::mutex state_mutex_;
  std::string brand_id_;  // configured or from verify_credentials
  std::optional<Timestamp> paused_until_;
  bool cursor_loaded_ = false;
  std::string notifications_min_id_;
  std::string statuses_min_id_;
};

}  // namespace replywatch::connectors::mastodon
