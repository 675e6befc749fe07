#pragma once
// The `discourse` source type: posts of a Discourse forum from signed webhooks
// (post_created, post_edited, post_recovered, post_destroyed, ping) and from polling
// GET /posts.json (newest first, paged backwards with before=) plus GET /t/{id}.json for
// the opening posts of topics first seen through a later post. The conversation is the
// topic. See README.md in this directory.
#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <vector>

#include "connectors/common/http_client.h"
#include "connectors/common/validate.h"
#include "connectors/connector.h"
#include "connectors/discourse/discourse_parse.h"

namespace replywatch::connectors::discourse {

inline constexpr std::string_view kSignatureHeader = "X-Discourse-Event-Signature";
inline constexpr std::string_view kEventHeader = "X-Discourse-Event";
// Suffix of the id of the retraction recorded for a deleted post: "<post id>:deleted".
inline constexpr std::string_view kDeletedSuffix = ":deleted";

struct Settings {
  std::vector<std::string> brand_usernames;  // compared case-insensitively
  std::vector<std::string> brand_user_ids;
  std::vector<std::string> brand_flags{"staff"};  // any of staff, admin, moderator
  std::string base_url;                           // e.g. "https://forum.example.org"; enables polling
  Secret api_key;
  std::string api_username;
  bool poll = true;
  std::chrono::seconds poll_interval{60};
  std::chrono::seconds timeout{30};
  int max_pages = 10;      // /posts.json pages per poll
  int topic_lookups = 20;  // /t/{id}.json requests per poll
  Secret webhook_secret;
};

const std::vector<std::string>& allowedKeys();
Settings parseSettings(const config::SourceConfig& source, std::vector<config::Problem>& problems);
void validate(const config::SourceConfig& source, std::vector<config::Problem>& problems);
std::unique_ptr<Connector> create(const ConnectorContext& context);

// What one poll pass did.
struct PollResult {
  bool ok = false;
  std::size_t fetched = 0;    // posts received
  std::size_t skipped = 0;    // system user, small actions, whispers
  std::size_t rejected = 0;   // unreadable or invalid posts
  bool gap = false;           // max_pages reached before the cursor: older posts skipped
  bool rate_limited = false;  // a 429 asked for a wait: no request before pausedUntil()
  IngestOutcome outcome;
};

class DiscourseConnector final : public Connector {
 public:
  DiscourseConnector(const ConnectorContext& context, Settings settings);
  ~DiscourseConnector() override;

  bool polls() const override;
  bool takesWebhooks() const override { return !settings_.webhook_secret.empty(); }
  void run(std::stop_token stop) override;
  WebhookResponse handleWebhook(const WebhookRequest& request) override;

  // One poll pass (run() calls it every poll_interval).
  PollResult pollOnce(std::stop_token stop = {});

  const Settings& settings() const { return settings_; }
  void setHttpOptions(const HttpClientOptions& options);
  // Until when a rate limit longer than the HTTP client waits pauses polling. Poll thread only.
  std::optional<Timestamp> pausedUntil() const { return paused_until_; }

  // Whether the post is a message at all (not the system user, not a small action or
  // a whisper), and whether it is the brand's. Exposed for tests.
  static bool isMessage(const Post& p);
  bool isBrand(const Post& p) const;
  // The normalized message for a post; a retraction for a deleted post.
  Message toMessage(const Post& p) const;
  Message toRetraction(const Post& p) const;

 private:
  Result<HttpResponse> apiGet(const std::string& url, std::stop_token stop);
  bool topicKnown(const std::string& topic_id) const;
  void rememberTopic(const std::string& topic_id);

  ConnectorContext ctx_;
  Settings settings_;
  MessageValidator validator_;
  std::unique_ptr<HttpClient> http_;  // poll thread only
  bool cursor_loaded_ = false;
  std::string last_post_id_;
  std::optional<Timestamp> paused_until_;
  std::set<std::string> known_topics_;  // poll thread only; bounded
  std::deque<std::string> topic_order_;
};

}  // namespace replywatch::connectors::discourse
