#pragma once
// The `x` source type: polls the X API v2 for a brand's mentions
// (GET /2/users/:id/mentions) and its own tweets (GET /2/users/:id/tweets), resuming
// with since_id. The cursor ({"mentions": id, "tweets": id}) is committed in the same
// IngestSink::ingest() call as the tweets it covers. See README.md in this directory.
#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "connectors/common/http_client.h"
#include "connectors/common/validate.h"
#include "connectors/connector.h"

namespace replywatch::connectors::x {

// X serves at most the 3,200 latest tweets of a user's timeline (and 800 mentions).
inline constexpr int kMaxTimelineTweets = 3200;

// Pages fetched per endpoint and poll at most: every tweet X serves at `max_results` per
// page, twice over (X's pages may hold fewer tweets than max_results), plus one page, and
// never fewer than 100; more means the API keeps handing out next tokens, and the poll
// fails.
constexpr int maxPages(int max_results) {
  const int per_page = max_results > 0 ? max_results : 1;
  const int full_pages = (kMaxTimelineTweets + per_page - 1) / per_page;
  return 2 * full_pages + 1 > 100 ? 2 * full_pages + 1 : 100;
}

struct Settings {
  std::string user_id;  // the brand's numeric user id
  Secret token;         // app bearer token
  std::string base_url = "https://api.twitter.com";
  std::chrono::seconds poll_interval{60};
  std::chrono::seconds timeout{30};
  int max_results = 100;  // per page, 5..100
};

const std::vector<std::string>& allowedKeys();
Settings parseSettings(const config::SourceConfig& source, std::vector<config::Problem>& problems);
void validate(const config::SourceConfig& source, std::vector<config::Problem>& problems);
std::unique_ptr<Connector> create(const ConnectorContext& context);

enum class Endpoint : std::uint8_t { Mentions = 0, Tweets = 1 };

// What one poll did.
struct PollResult {
  bool ok = false;         // both endpoints fetched and stored
  std::size_t stored = 0;  // new messages committed
  std::size_t rejected = 0;
  int requests = 0;
};

class XConnector final : public Connector {
 public:
  // Waits `d` or until `stop`; returns false when stopped. Tests advance a ManualClock.
  using SleepFn = std::function<bool(std::chrono::milliseconds, std::stop_token)>;

  XConnector(const ConnectorContext& context, Settings settings);
  ~XConnector() override;

  bool polls() const override { return true; }
  // Polls both endpoints, then waits poll_interval, until stopped.
  void run(std::stop_token stop) override;

  // One poll of both endpoints (run() calls it every poll_interval).
  PollResult poll(std::stop_token stop = {});

  // Replaces the HTTP client options (tests shorten backoff and timeouts); the
  // connector's own rate-limit header, clock, retry counting and sleep are kept.
  void setHttpOptions(HttpClientOptions options);
  void setSleep(SleepFn sleep);
  const Settings& settings() const { return settings_; }
  // The since_id of an endpoint (empty before the first stored poll).
  const std::string& sinceId(Endpoint e) const { return since_[static_cast<std::size_t>(e)]; }

 private:
  bool pollEndpoint(Endpoint e, PollResult& result, std::stop_token stop);
  bool waitForRateLimit(Endpoint e, std::stop_token stop);
  void noteRateLimit(Endpoint e, const HttpResponse& response);
  std::string url(Endpoint e, const std::string& pagination_token) const;
  std::string cursorWith(Endpoint e, const std::string& since_id) const;
  bool loadCursor();

  ConnectorContext ctx_;
  Settings settings_;
  MessageValidator validator_;
  std::unique_ptr<HttpClient> http_;
  SleepFn sleep_;
  bool cursor_loaded_ = false;
  std::array<std::string, 2> since_;
  std::array<std::optional<Timestamp>, 2> blocked_until_;  // remaining == 0 until this reset
};

}  // namespace replywatch::connectors::x
