#include "connectors/mastodon/mastodon_connector.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>

#include "connectors/common/hmac.h"
#include "connectors/common/json_fields.h"
#include "connectors/common/limits.h"
#include "daemon/core/http_fields.h"
#include "daemon/core/log.h"

namespace replywatch::connectors::mastodon {
namespace {

constexpr std::string_view kNotificationsPath = "/api/v1/notifications?types%5B%5D=mention";

// "https://example.social:8443/x" -> "example.social".
std::string hostOf(std::string_view url) {
  const std::size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return {};
  std::string_view rest = url.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) rest.remove_prefix(at + 1);
  return std::string(rest.substr(0, rest.find(':')));
}

std::string withParam(std::string url, std::string_view key, std::string_view value) {
  url += url.find('?') == std::string::npos ? '?' : '&';
  url += key;
  url += '=';
  url += value;
  return url;
}

void maxId(std::string& current, const std::string& id) {
  if (current.empty() || idLess(current, id)) current = id;
}

}  // namespace

// -------------------------------------------------------------------------- settings

const std::vector<std::string>& allowedKeys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k = config::kCommonSourceKeys;
    for (const char* own : {"brand_account", "brand_account_id", "instance_domain", "base_url", "token",
                            "token_file", "poll", "poll_interval", "timeout", "page_limit", "max_pages",
                            "root_cache_size", "webhook_secret", "webhook_secret_file"}) {
      k.emplace_back(own);
    }
    return k;
  }();
  return keys;
}

Settings parseSettings(const config::SourceConfig& source, std::vector<config::Problem>& problems) {
  Settings s;
  const YAML::Node map = source.settings;
  if (!map || !map.IsMap()) return s;
  const std::string& file = source.file;
  const std::string where = fmt::format("source \"{}\"", source.name);
  auto node = [&](const char* key) -> YAML::Node {
    const YAML::Node n = map[key];
    return n && !n.IsNull() ? n : YAML::Node(YAML::NodeType::Undefined);
  };
  auto problem = [&](const YAML::Node& at, std::string message) {
    const int line = at.IsDefined() ? config::lineOf(at) : 0;
    problems.push_back(config::Problem{file, line != 0 ? line : source.line, std::move(message)});
  };
  auto duration = [&](const char* key, std::chrono::seconds fallback) {
    auto d = config::readDuration(map, key, file, where, problems);
    if (!d) return fallback;
    if (d->count() <= 0) {
      problem(node(key), fmt::format("{} in {} must be longer than zero", key, where));
      return fallback;
    }
    return *d;
  };
  auto integer = [&](const char* key, long long fallback, long long low, long long high) {
    const YAML::Node n = node(key);
    if (!n.IsDefined()) return fallback;
    long long v = 0;
    if (!n.IsScalar() || !YAML::convert<long long>::decode(n, v) || v < low || v > high) {
      problem(n, fmt::format("{} in {} must be a whole number from {} to {}", key, where, low, high));
      return fallback;
    }
    return v;
  };

  config::checkKeys(map, allowedKeys(), file, where, problems);
  config::requireKeys(map, {"brand_account"}, file, where, problems);
  s.brand_account = config::readString(map, "brand_account", file, where, problems);
  s.brand_account_id = config::readString(map, "brand_account_id", file, where, problems);
  s.instance_domain = config::readString(map, "instance_domain", file, where, problems);
  s.base_url = config::readString(map, "base_url", file, where, problems);
  while (!s.base_url.empty() && s.base_url.back() == '/') s.base_url.pop_back();
  if (!s.base_url.empty()) {
    if (!startsWithIgnoreCase(s.base_url, "http://") && !startsWithIgnoreCase(s.base_url, "https://")) {
      problem(node("base_url"), fmt::format("base_url in {} must start with http:// or https://", where));
    } else if (s.base_url.find_first_of(" \t\r\n?#") != std::string::npos) {
      problem(node("base_url"),
              fmt::format("base_url in {} must be a plain URL without spaces or query", where));
    }
    if (s.instance_domain.empty()) s.instance_domain = hostOf(s.base_url);
  }
  const std::filesystem::path base =
      source.base_dir.empty() ? std::filesystem::path(file).parent_path() : source.base_dir;
  s.token = config::readSecret(map, "token", file, base, problems);
  if (!s.base_url.empty() && s.token.empty()) {
    problem(node("base_url"), fmt::format("base_url in {} needs token (or token_file)", where));
  }
  if (s.base_url.empty()) {
    for (const char* key : {"token", "token_file", "poll", "poll_interval", "page_limit", "max_pages"}) {
      if (node(key).IsDefined()) problem(node(key), fmt::format("{} in {} needs base_url", key, where));
    }
  }
  if (auto poll = config::readBool(map, "poll", file, where, problems)) s.poll = *poll;
  s.poll_interval = duration("poll_interval", s.poll_interval);
  s.timeout = duration("timeout", s.timeout);
  s.page_limit = static_cast<int>(integer("page_limit", s.page_limit, 1, 80));
  s.max_pages = static_cast<int>(integer("max_pages", s.max_pages, 1, 1000));
  s.root_cache_size = static_cast<std::size_t>(
      integer("root_cache_size", static_cast<long long>(s.root_cache_size), 100, 10000000));
  s.webhook_secret = config::readSecret(map, "webhook_secret", file, base, problems);
  if (s.base_url.empty() && s.webhook_secret.empty()) {
    problem(YAML::Node(YAML::NodeType::Undefined),
            fmt::format("{} needs base_url (polling) or webhook_secret (webhooks), or both", where));
  }
  return s;
}

void validate(const config::SourceConfig& source, std::vector<config::Problem>& problems) {
  (void)parseSettings(source, problems);
}

std::unique_ptr<Connector> create(const ConnectorContext& context) {
  std::vector<config::Problem> ignored;  // reported by validate() at load time
  return std::make_unique<MastodonConnector>(context, parseSettings(context.source, ignored));
}

// ------------------------------------------------------------------------ root cache

std::optional<std::string> RootCache::find(const std::string& id) const {
  std::lock_guard lock(mutex_);
  const auto it = roots_.find(id);
  if (it == roots_.end()) return std::nullopt;
  return it->second;
}

void RootCache::put(const std::string& id, const std::string& root) {
  std::lock_guard lock(mutex_);
  const auto [it, inserted] = roots_.try_emplace(id, root);
  if (!inserted) {
    it->second = root;
    return;
  }
  order_.push_back(id);
  while (order_.size() > capacity_) {
    roots_.erase(order_.front());
    order_.pop_front();
  }
}

std::size_t RootCache::size() const {
  std::lock_guard lock(mutex_);
  return roots_.size();
}

// ------------------------------------------------------------------------- connector

MastodonConnector::MastodonConnector(const ConnectorContext& context, Settings settings)
    : ctx_(context),
      settings_(std::move(settings)),
      validator_(context.config.ingest, context.clock),
      brand_acct_(normalizeAcct(settings_.brand_account, settings_.instance_domain)),
      roots_(settings_.root_cache_size),
      brand_id_(settings_.brand_account_id) {
  HttpClientOptions options;
  options.total_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(settings_.timeout);
  options.connect_timeout = std::min(options.connect_timeout, options.total_timeout);
  setHttpOptions(options);
  if (!settings_.webhook_secret.empty() && !polls()) {
    // Mastodon sends status webhooks for its own users' statuses only.
    spdlog::warn(
        "mastodon source takes webhooks without polling: questions from accounts of other servers will not "
        "arrive (set base_url and token) source={}",
        logValue(ctx_.source.name));
  }
}

MastodonConnector::~MastodonConnector() = default;

void MastodonConnector::setHttpOptions(const HttpClientOptions& given) {
  if (settings_.base_url.empty()) return;
  HttpClientOptions options = given;
  // A 429 carries the budget's reset time (RFC 3339) without Retry-After.
  options.rate_limit_reset_header = "x-ratelimit-reset";
  options.clock = &ctx_.clock;
  poll_http_ = std::make_unique<HttpClient>(options);
  std::lock_guard lock(lookup_mutex_);
  // Webhook lookups must not hold a handler thread for long: one attempt, no backoff.
  HttpClientOptions lookup = options;
  lookup.max_attempts = 1;
  lookup_http_ = std::make_unique<HttpClient>(lookup);
}

bool MastodonConnector::polls() const { return !settings_.base_url.empty() && settings_.poll; }

std::optional<Timestamp> MastodonConnector::pausedUntil() const {
  std::lock_guard lock(state_mutex_);
  return paused_until_;
}

bool MastodonConnector::isBrand(const Status& s) const {
  std::string brand_id;
  {
    std::lock_guard lock(state_mutex_);
    brand_id = brand_id_;
  }
  if (!brand_id.empty() && s.account_id == brand_id) return true;
  return !s.acct.empty() && normalizeAcct(s.acct, settings_.instance_domain) == brand_acct_;
}

bool MastodonConnector::concernsBrand(const Status& s) const {
  if (isBrand(s)) return true;
  std::string brand_id;
  {
    std::lock_guard lock(state_mutex_);
    brand_id = brand_id_;
  }
  if (!brand_id.empty()) {
    if (s.in_reply_to_account_id == brand_id) return true;
    if (std::find(s.mention_ids.begin(), s.mention_ids.end(), brand_id) != s.mention_ids.end()) return true;
  }
  for (const auto& acct : s.mention_accts) {
    if (normalizeAcct(acct, settings_.instance_domain) == brand_acct_) return true;
  }
  // A reply inside a thread already followed (member to member under a brand post).
  return !s.in_reply_to_id.empty() && roots_.find(s.in_reply_to_id).has_value();
}

Result<HttpResponse> MastodonConnector::apiGet(HttpClient& http, const std::string& url,
                                               std::stop_token stop) {
  HttpRequest request;
  request.url = url;
  request.bearer_token = settings_.token;
  request.headers.emplace_back("Accept", "application/json");
  auto response = http.get(request, stop);
  if (!response) {
    // A 429 whose reset is further away than the client waits: no request before it.
    if (const auto wait = retryAfterOf(response.error()); wait.count() > 0) {
      std::lock_guard lock(state_mutex_);
      paused_until_ = ctx_.clock.now() + wait;
    }
    return response;
  }
  // Mastodon announces its budget on every answer; x-ratelimit-reset is an ISO
  // timestamp there, not a number of seconds.
  const auto remaining = response->header("x-ratelimit-remaining");
  const auto reset = response->header("x-ratelimit-reset");
  if (remaining && reset && std::string(*remaining) == "0") {
    if (auto until = parseRfc3339(*reset); until && *until > ctx_.clock.now()) {
      std::lock_guard lock(state_mutex_);
      paused_until_ = *until;
    }
  }
  return response;
}

std::string MastodonConnector::resolveRoot(const Status& s, HttpClient* http, std::stop_token stop,
                                           bool& failed) {
  failed = false;
  if (s.in_reply_to_id.empty()) return s.id;
  if (auto root = roots_.find(s.id)) return *root;
  if (auto root = roots_.find(s.in_reply_to_id)) return *root;
  if (http != nullptr) {
    auto response =
        apiGet(*http, fmt::format("{}/api/v1/statuses/{}/context", settings_.base_url, s.id), stop);
    if (response) {
      auto ancestors = parseContextAncestors(response->body);
      if (ancestors && !ancestors->statuses.empty()) {
        // Ancestors come root first. When the root itself is not visible (deleted,
        // private), the topmost visible ancestor's parent id stands for it.
        const Status& top = ancestors->statuses.front();
        std::string root = top.in_reply_to_id.empty() ? top.id : top.in_reply_to_id;
        for (const auto& a : ancestors->statuses) roots_.put(a.id, root);
        return root;
      }
      if (ancestors) {
        // No visible ancestor at all: the parent is the oldest status we can name.
        return s.in_reply_to_id;
      }
      ctx_.health.addError(reasonOf(ancestors.error()));
      failed = true;
    } else if (response.error().reason != kHttpCancelled) {
      const long status = httpStatusOf(response.error());
      if (status == 404 || status == 410 || status == 403) return s.in_reply_to_id;  // the status is gone
      ctx_.health.addError(errorReasonOf(response.error()));
      spdlog::warn("mastodon context lookup failed source={} error={}", logValue(ctx_.source.name),
                   logValue(response.error().message));
      failed = true;
    } else {
      failed = true;
    }
  }
  // Without the API: the oldest ancestor known so far, i.e. the parent.
  return s.in_reply_to_id;
}

Message MastodonConnector::toMessage(const Status& s, const std::string& root) const {
  Message m;
  m.id = s.id;
  m.conversation_id = root;
  m.in_reply_to = s.in_reply_to_id;
  m.author_id = s.account_id;
  m.author_name = s.acct;
  m.author_is_brand = isBrand(s);
  m.created_at = s.created_at;
  m.text = s.text;
  return m;
}

WebhookResponse MastodonConnector::handleWebhook(const WebhookRequest& request) {
  if (request.method != "POST") return methodNotAllowed("POST");
  if (settings_.webhook_secret.empty()) {
    return WebhookResponse::error(404,
                                  "webhooks are disabled for this source (no webhook_secret configured)");
  }
  // The signature covers the raw bytes and is checked before anything is parsed.
  const auto signature = request.header(kSignatureHeader);
  if (!signature || !verifySha256Signature(settings_.webhook_secret.reveal(), request.body, *signature)) {
    ctx_.health.addError(ErrorReason::Signature);
    spdlog::warn("webhook signature rejected source={} remote={} signature={}", logValue(ctx_.source.name),
                 logValue(request.remote), signature ? "wrong" : "missing");
    return WebhookResponse::error(401, "invalid signature");
  }
  auto event = parseWebhookEvent(request.body);
  if (!event) {
    const ErrorReason reason = reasonOf(event.error());
    ctx_.health.addError(reason == ErrorReason::ParseError ? ErrorReason::BadRequest : reason);
    spdlog::warn("mastodon webhook rejected source={} error={}", logValue(ctx_.source.name),
                 logValue(event.error().message));
    return WebhookResponse::error(400, event.error().message);
  }
  auto ignored = [&](std::string_view why) {
    spdlog::debug("mastodon webhook ignored source={} event={} why={}", logValue(ctx_.source.name),
                  logValue(event->event), why);
    WebhookResponse r;
    r.body = nlohmann::json{{"status", "ok"}, {"ignored", 1}, {"reason", std::string(why)}}.dump();
    return r;
  };
  if (event->event != "status.created" && event->event != "status.updated") return ignored("event");
  const Status& status = *event->status;
  if (status.reblog) return ignored("reblog");
  if (!concernsBrand(status)) return ignored("not_brand_thread");

  bool failed = false;
  std::string root;
  {
    std::lock_guard lock(lookup_mutex_);
    root = resolveRoot(status, lookup_http_.get(), {}, failed);
  }
  if (failed) {
    spdlog::warn("mastodon thread root lookup failed, the parent stands for the root source={}",
                 logValue(ctx_.source.name));
  }
  Message m = toMessage(status, root);
  if (auto rejection = validator_.check(m)) {
    ctx_.health.addError(rejection->reason);
    spdlog::warn("mastodon status rejected source={} origin=webhook id={} remote={} reason={} error={}",
                 logValue(ctx_.source.name), logValue(m.id), logValue(request.remote),
                 toString(rejection->reason), logValue(rejection->message));
    return WebhookResponse::error(400, rejection->message);
  }
  std::vector<Message> batch;
  batch.push_back(m);
  auto outcome = ctx_.sink.ingest(ctx_.source, std::move(batch), std::nullopt);
  if (!outcome) return sinkRefused(outcome.error(), ctx_, "the message");
  roots_.put(m.id, m.conversation_id);
  ctx_.health.addEvents(outcome->stored);
  ctx_.health.markSuccess(ctx_.clock.now());
  return WebhookResponse::accepted(*outcome);
}

// --------------------------------------------------------------------------- polling

struct MastodonConnector::Fetch {
  std::map<std::string, Status, bool (*)(const std::string&, const std::string&)> statuses{
      [](const std::string& a, const std::string& b) { return idLess(a, b); }};
  std::string newest;  // newest item id seen in the stream (notification or status id)
  std::size_t rejected = 0;
  bool stopped_by_limit = false;
};

bool MastodonConnector::ensureBrandId(std::stop_token stop) {
  {
    std::lock_guard lock(state_mutex_);
    if (!brand_id_.empty()) return true;
  }
  auto response = apiGet(*poll_http_, settings_.base_url + "/api/v1/accounts/verify_credentials", stop);
  if (!response) {
    if (response.error().reason != kHttpCancelled) {
      ctx_.health.addError(errorReasonOf(response.error()));
      spdlog::warn("mastodon verify_credentials failed source={} error={}", logValue(ctx_.source.name),
                   logValue(response.error().message));
    }
    return false;
  }
  const auto j = parseJsonOrNull(response->body);
  auto id = jsonId(j, "id");
  if (!id) {
    ctx_.health.addError(ErrorReason::ParseError);
    spdlog::warn("mastodon verify_credentials answer unreadable source={}", logValue(ctx_.source.name));
    return false;
  }
  const std::string acct = normalizeAcct(jsonString(j, "acct"), settings_.instance_domain);
  if (acct != brand_acct_) {
    spdlog::warn("mastodon token belongs to another account than brand_account source={}",
                 logValue(ctx_.source.name));
  }
  std::lock_guard lock(state_mutex_);
  brand_id_ = *id;
  return true;
}

// Fetches one stream. Without a cursor: the newest page, then older pages through
// rel="next" (the first run's backfill). With one: the page just after min_id, then
// newer pages through rel="prev" until an empty page. Returns false on a failed request
// or an unreadable page (nothing of the pass is committed then).
bool MastodonConnector::fetchStream(const std::string& first_url, const std::string& min_id, Fetch& fetch,
                                    std::stop_token stop, bool notifications) {
  std::string url = min_id.empty() ? first_url : withParam(first_url, "min_id", min_id);
  for (int page = 0; page < settings_.max_pages && !url.empty(); ++page) {
    if (stop.stop_requested()) return false;
    auto response = apiGet(*poll_http_, url, stop);
    if (!response) {
      if (response.error().reason != kHttpCancelled) {
        ctx_.health.addError(errorReasonOf(response.error()));
        spdlog::warn("mastodon poll failed source={} url={} error={}", logValue(ctx_.source.name),
                     logValue(redactUrl(url)), logValue(response.error().message));
      }
      return false;
    }
    std::vector<std::string> ids;
    std::vector<Status> statuses;
    std::vector<Error> rejected;
    if (notifications) {
      auto parsed = parseNotificationPage(response->body);
      if (!parsed) {
        ctx_.health.addError(reasonOf(parsed.error()));
        spdlog::warn("mastodon page unreadable source={} url={} error={}", logValue(ctx_.source.name),
                     logValue(redactUrl(url)), logValue(parsed.error().message));
        return false;
      }
      ids = std::move(parsed->ids);
      statuses = std::move(parsed->statuses);
      rejected = std::move(parsed->rejected);
    } else {
      auto parsed = parseStatusPage(response->body);
      if (!parsed) {
        ctx_.health.addError(reasonOf(parsed.error()));
        spdlog::warn("mastodon page unreadable source={} url={} error={}", logValue(ctx_.source.name),
                     logValue(redactUrl(url)), logValue(parsed.error().message));
        return false;
      }
      ids = std::move(parsed->ids);
      statuses = std::move(parsed->statuses);
      rejected = std::move(parsed->rejected);
    }
    for (const auto& e : rejected) {
      ctx_.health.addError(reasonOf(e));
      spdlog::warn("mastodon item rejected source={} error={}", logValue(ctx_.source.name),
                   logValue(e.message));
    }
    fetch.rejected += rejected.size();
    if (ids.empty()) break;
    for (const auto& id : ids) maxId(fetch.newest, id);
    for (auto& s : statuses) {
      if (s.reblog) continue;
      fetch.statuses.insert_or_assign(s.id, std::move(s));
    }
    if (pausedUntil()) {
      fetch.stopped_by_limit = true;
      break;
    }
    const Links links = parseLinkHeader(response->header("Link").value_or(""));
    if (min_id.empty()) {
      url = links.next;  // older items
    } else {
      // Newer items; without a Link header, ask for what follows the newest id seen.
      url = !links.prev.empty() ? links.prev : withParam(first_url, "min_id", fetch.newest);
    }
  }
  return true;
}

PollResult MastodonConnector::pollOnce(std::stop_token stop) {
  PollResult result;
  if (!poll_http_) return result;
  {
    std::lock_guard lock(state_mutex_);
    if (paused_until_) {
      if (ctx_.clock.now() < *paused_until_) {
        result.rate_limited = true;
        return result;
      }
      paused_until_.reset();
    }
  }
  if (!cursor_loaded_) {
    auto cursor = ctx_.sink.cursor(ctx_.source.name);
    if (!cursor) {
      ctx_.health.addError(ErrorReason::Store);
      ctx_.health.markDown();
      spdlog::error("cannot read source cursor source={} error={}", logValue(ctx_.source.name),
                    logValue(cursor.error().message));
      return result;
    }
    if (cursor.value()) {
      const auto j = parseJsonOrNull(**cursor);
      notifications_min_id_ = jsonString(j, "notifications_min_id");
      statuses_min_id_ = jsonString(j, "statuses_min_id");
    }
    cursor_loaded_ = true;
  }
  if (!ensureBrandId(stop)) {
    ctx_.health.markDown();
    return result;
  }
  std::string brand_id;
  {
    std::lock_guard lock(state_mutex_);
    brand_id = brand_id_;
  }
  const std::string limit = std::to_string(settings_.page_limit);
  Fetch mentions;
  Fetch own;
  bool ok = fetchStream(withParam(settings_.base_url + std::string(kNotificationsPath), "limit", limit),
                        notifications_min_id_, mentions, stop, true);
  if (ok && !pausedUntil()) {
    ok = fetchStream(withParam(fmt::format("{}/api/v1/accounts/{}/statuses", settings_.base_url, brand_id),
                               "limit", limit),
                     statuses_min_id_, own, stop, false);
  }
  result.rate_limited = pausedUntil().has_value();
  result.rejected = mentions.rejected + own.rejected;
  if (!ok) {
    ctx_.health.markDown();
    return result;
  }
  // Oldest first, so parents are resolved before their replies.
  auto all = std::move(mentions.statuses);
  for (auto& [id, s] : own.statuses) all.insert_or_assign(id, std::move(s));
  result.fetched = all.size();
  std::vector<Message> batch;
  std::vector<std::pair<std::string, std::string>> learned;
  for (const auto& [id, s] : all) {
    bool failed = false;
    const std::string root = resolveRoot(s, poll_http_.get(), stop, failed);
    if (failed) {
      // Keep the order-independent result: try the whole pass again later.
      ctx_.health.markDown();
      return result;
    }
    roots_.put(s.id, root);
    Message m = toMessage(s, root);
    if (auto rejection = validator_.check(m)) {
      ctx_.health.addError(rejection->reason);
      ++result.rejected;
      spdlog::warn("mastodon status rejected source={} reason={} error={}", logValue(ctx_.source.name),
                   toString(rejection->reason), logValue(rejection->message));
      continue;
    }
    batch.push_back(std::move(m));
  }
  std::string next_notifications = notifications_min_id_;
  std::string next_statuses = statuses_min_id_;
  if (!mentions.newest.empty()) maxId(next_notifications, mentions.newest);
  if (!own.newest.empty()) maxId(next_statuses, own.newest);
  const std::string cursor =
      nlohmann::json{{"notifications_min_id", next_notifications}, {"statuses_min_id", next_statuses}}.dump();
  auto outcome = ctx_.sink.ingest(ctx_.source, std::move(batch), cursor);
  if (!outcome) {
    ctx_.health.addError(ErrorReason::Store);
    ctx_.health.markDown();
    spdlog::error("mastodon batch not stored source={} error={}", logValue(ctx_.source.name),
                  logValue(outcome.error().message));
    return result;
  }
  notifications_min_id_ = next_notifications;
  statuses_min_id_ = next_statuses;
  result.outcome = *outcome;
  result.ok = true;
  ctx_.health.addEvents(outcome->stored);
  ctx_.health.markSuccess(ctx_.clock.now());
  spdlog::info("mastodon poll source={} fetched={} stored={} duplicates={} rejected={}",
               logValue(ctx_.source.name), result.fetched, outcome->stored, outcome->duplicates,
               result.rejected);
  return result;
}

void MastodonConnector::run(std::stop_token stop) {
  spdlog::info("mastodon source polling source={} base_url={} poll_interval={}s", logValue(ctx_.source.name),
               logValue(redactUrl(settings_.base_url)), settings_.poll_interval.count());
  while (!stop.stop_requested()) {
    (void)pollOnce(stop);
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(settings_.poll_interval);
    if (auto until = pausedUntil()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*until - ctx_.clock.now());
      wait = std::max(wait, left);
      spdlog::warn("mastodon rate limit reached, polling paused source={} until={}",
                   logValue(ctx_.source.name), formatRfc3339(*until));
    }
    if (!sleepFor(wait, stop)) break;
  }
}

}  // namespace replywatch::connectors::mastodon
