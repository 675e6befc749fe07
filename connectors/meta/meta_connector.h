#pragma once
// The `meta` source type: comments on one Facebook Page or one Instagram professional
// account, received by signed webhooks (with Meta's GET verification handshake) and
// reconciled by polling the Graph API. Both paths produce the same message ids, so a
// comment seen by both is stored once. See README.md in this directory.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "connectors/common/http_client.h"
#include "connectors/common/validate.h"
#include "connectors/connector.h"
#include "connectors/meta/meta_payload.h"

namespace replywatch::connectors::meta {

// The header carrying "sha256=<hex HMAC-SHA256(app secret, raw body)>".
inline constexpr std::string_view kSignatureHeader = "X-Hub-Signature-256";
inline constexpr std::string_view kDefaultGraphUrl = "https://graph.facebook.com";
inline constexpr std::string_view kDefaultGraphVersion = "v21.0";
// First wait after a Graph rate-limit error; doubled at each further one, up to kMaxBackoff.
inline constexpr std::chrono::seconds kRateLimitBackoff{300};
inline constexpr std::chrono::seconds kMaxBackoff{3600};
// Graph requests made by one poll at most (feed pages and comment pages together).
inline constexpr std::size_t kMaxRequestsPerPoll = 2000;

struct Settings {
  Platform platform = Platform::Facebook;  // from the source's channel
  std::string page_id;
  Secret app_secret;
  Secret verify_token;
  Secret access_token;
  std::string graph_url{kDefaultGraphUrl};
  std::string graph_version{kDefaultGraphVersion};
  std::chrono::seconds poll_interval{900};
  std::chrono::seconds backfill{7 * 86400};
  std::chrono::seconds lookback{2 * 86400};
  std::chrono::seconds timeout{60};
  std::vector<std::string> brand_ids;
  bool mentions = false;
};

// Every key the `meta` type accepts (common keys included).
const std::vector<std::string>& allowedKeys();
// Reads and checks the settings of a `meta` source; problems carry file:line.
Settings parseSettings(const config::SourceConfig& source, std::vector<config::Problem>& problems);
// Registry hooks.
void validate(const config::SourceConfig& source, std::vector<config::Problem>& problems);
std::unique_ptr<Connector> create(const ConnectorContext& context);

// What one Graph poll did.
struct PollResult {
  bool ok = false;            // every page read and stored; the cursor moved
  bool rate_limited = false;  // Meta throttled the poll (codes 4, 17, 32, 613, 429)
  bool auth_failed = false;   // the access token was refused (code 190)
  std::size_t requests = 0;   // Graph requests made
  std::size_t stored = 0;
  std::size_t duplicates = 0;
  std::size_t rejected = 0;
  std::chrono::seconds next_delay{0};  // how long run() waits before the next poll
};

class MetaConnector final : public Connector {
 public:
  MetaConnector(const ConnectorContext& context, Settings settings);
  ~MetaConnector() override;

  bool polls() const override;
  bool takesWebhooks() const override { return !settings_.app_secret.empty(); }
  void run(std::stop_token stop) override;
  WebhookResponse handleWebhook(const WebhookRequest& request) override;

  // One reconciliation pass over the Graph API (run() calls it every poll_interval, or
  // later after rate limiting). Called from one thread at a time.
  PollResult pollOnce(std::stop_token stop = {});

  const Settings& settings() const { return settings_; }
  ParseOptions parseOptions() const;
  // Replaces the HTTP client options (tests shorten backoff and timeouts).
  void setHttpOptions(HttpClientOptions options);

 private:
  struct Fetch;
  struct Batch;
  WebhookResponse verifyHandshake(const WebhookRequest& request);
  WebhookResponse receive(const WebhookRequest& request);
  // Logs entries addressed to another page or object: at warn level at most once per
  // kElsewhereWarnInterval, at debug level otherwise. Any thread.
  void noteElsewhere(const WebhookParse& parsed, std::string_view remote);
  Fetch fetch(const std::string& url, std::stop_token stop);
  // Validates, counts rejections, drops repeated ids; returns how many were rejected.
  std::size_t keepValid(std::vector<Message>& messages, const std::vector<PayloadProblem>& problems,
                        const char* origin);
  std::string firstUrl(Timestamp since) const;
  std::string withProof(std::string url) const;

  ConnectorContext ctx_;
  Settings settings_;
  MessageValidator validator_;
  std::unique_ptr<HttpClient> http_;
  std::atomic<bool> auth_failed_{false};
  int rate_limits_in_a_row_ = 0;
  static constexpr std::chrono::minutes kElsewhereWarnInterval{10};
  std::atomic<std::int64_t> elsewhere_warned_ms_{std::numeric_limits<std::int64_t>::min()};
};

}  // namespace replywatch::connectors::meta
