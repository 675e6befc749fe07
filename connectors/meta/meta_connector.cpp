#include "connectors/meta/meta_connector.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <iterator>
#include <utility>

#include "connectors/common/hmac.h"
#include "connectors/common/limits.h"
#include "daemon/core/log.h"

namespace replywatch::connectors::meta {
namespace {

// Rejected changes logged one by one per delivery or poll; further ones are only counted.
constexpr std::size_t kMaxLoggedRejections = 20;
// Longest hub.challenge echoed back (Meta sends a short number).
constexpr std::size_t kMaxChallengeBytes = 128;

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

std::string withParam(std::string url, std::string_view key, std::string_view value) {
  url += url.find('?') == std::string::npos ? '?' : '&';
  url.append(key).append("=").append(value);
  return url;
}

bool hasParam(std::string_view url, std::string_view key) {
  auto q = url.find('?');
  if (q == std::string_view::npos) return false;
  const std::string needle = std::string(key) + "=";
  for (std::size_t pos = q + 1; pos < url.size();) {
    if (startsWith(url.substr(pos), needle)) return true;
    auto amp = url.find('&', pos);
    if (amp == std::string_view::npos) break;
    pos = amp + 1;
  }
  return false;
}

// The `fields` parameter of the first Graph request, braces percent-encoded.
std::string_view graphFields(Platform p) {
  if (p == Platform::Instagram) {
    return "id,timestamp,comments.limit(50)%7Bid,text,timestamp,username,from,"
           "replies.limit(50)%7Bid,text,timestamp,username,from%7D%7D";
  }
  return "id,from,created_time,message,comments.limit(100)%7Bid,from,created_time,message,"
         "comments.limit(100)%7Bid,from,created_time,message%7D%7D";
}

bool isChallengeChar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_' ||
         c == '.';
}

}  // namespace

// -------------------------------------------------------------------------- settings

const std::vector<std::string>& allowedKeys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k = config::kCommonSourceKeys;
    for (const char* own : {"page_id", "app_secret", "app_secret_file", "verify_token", "verify_token_file",
                            "access_token", "access_token_file", "graph_url", "graph_version",
                            "poll_interval", "backfill", "lookback", "timeout", "brand_ids", "mentions"}) {
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
  const std::filesystem::path base =
      source.base_dir.empty() ? std::filesystem::path(file).parent_path() : source.base_dir;
  auto node = [&](const char* key) -> YAML::Node {
    const YAML::Node n = map[key];
    return n && !n.IsNull() ? n : YAML::Node(YAML::NodeType::Undefined);
  };
  auto problem = [&](const YAML::Node& at, std::string message) {
    int line = at.IsDefined() ? config::lineOf(at) : 0;
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

  config::checkKeys(map, allowedKeys(), file, where, problems);

  if (source.channel == "instagram") {
    s.platform = Platform::Instagram;
  } else if (source.channel != "facebook") {
    problem(node("channel"),
            fmt::format("channel in {} must be \"facebook\" or \"instagram\" for type meta", where));
  }

  s.page_id = config::readString(map, "page_id", file, where, problems);
  if (!node("page_id").IsDefined()) {
    problem(YAML::Node(YAML::NodeType::Undefined),
            fmt::format("{} needs page_id (the Page id, or the Instagram account id)", where));
  } else if (s.page_id.empty() ||
             !std::all_of(s.page_id.begin(), s.page_id.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    problem(node("page_id"), fmt::format("page_id in {} must be a numeric Meta id", where));
  }

  s.app_secret = config::readSecret(map, "app_secret", file, base, problems);
  s.verify_token = config::readSecret(map, "verify_token", file, base, problems);
  s.access_token = config::readSecret(map, "access_token", file, base, problems);
  const bool has_secret = node("app_secret").IsDefined() || node("app_secret_file").IsDefined();
  const bool has_verify = node("verify_token").IsDefined() || node("verify_token_file").IsDefined();
  const bool has_access = node("access_token").IsDefined() || node("access_token_file").IsDefined();
  if (!has_secret && !has_access) {
    problem(
        YAML::Node(YAML::NodeType::Undefined),
        fmt::format("{} needs app_secret (webhooks) or access_token (Graph API polling), or both", where));
  }
  if (has_secret && !has_verify) {
    problem(
        node("app_secret").IsDefined() ? node("app_secret") : node("app_secret_file"),
        fmt::format("{} needs verify_token with app_secret (for the webhook verification request)", where));
  }
  if (has_verify && !has_secret) {
    problem(node("verify_token").IsDefined() ? node("verify_token") : node("verify_token_file"),
            fmt::format("verify_token in {} is only used with app_secret", where));
  }

  if (node("graph_url").IsDefined()) {
    s.graph_url = config::readString(map, "graph_url", file, where, problems);
    const bool scheme = startsWith(s.graph_url, "https://") || startsWith(s.graph_url, "http://");
    if (!scheme) {
      problem(node("graph_url"), fmt::format("graph_url in {} must start with http:// or https://", where));
    } else if (s.graph_url.find_first_of(" \t\r\n?#") != std::string::npos) {
      problem(node("graph_url"), fmt::format("graph_url in {} must not contain spaces, '?' or '#'", where));
    }
    while (!s.graph_url.empty() && s.graph_url.back() == '/') s.graph_url.pop_back();
  }
  if (node("graph_version").IsDefined()) {
    s.graph_version = config::readString(map, "graph_version", file, where, problems);
    const auto& v = s.graph_version;
    const bool shape = v.size() >= 2 && v[0] == 'v' && std::all_of(v.begin() + 1, v.end(), [](char c) {
                         return (c >= '0' && c <= '9') || c == '.';
                       });
    if (!shape) {
      problem(node("graph_version"), fmt::format("graph_version in {} must look like \"v21.0\"", where));
    }
  }
  s.poll_interval = duration("poll_interval", s.poll_interval);
  s.backfill = duration("backfill", s.backfill);
  s.lookback = duration("lookback", s.lookback);
  s.timeout = duration("timeout", s.timeout);
  if (!has_access) {
    for (const char* key : {"graph_url", "graph_version", "poll_interval", "backfill", "lookback"}) {
      if (node(key).IsDefined()) problem(node(key), fmt::format("{} in {} needs access_token", key, where));
    }
  }
  s.brand_ids = config::readStringList(map, "brand_ids", file, where, problems);
  if (auto b = config::readBool(map, "mentions", file, where, problems)) s.mentions = *b;
  return s;
}

void validate(const config::SourceConfig& source, std::vector<config::Problem>& problems) {
  (void)parseSettings(source, problems);
}

std::unique_ptr<Connector> create(const ConnectorContext& context) {
  std::vector<config::Problem> ignored;  // reported by validate() at load time
  return std::make_unique<MetaConnector>(context, parseSettings(context.source, ignored));
}

// ------------------------------------------------------------------------- connector

MetaConnector::MetaConnector(const ConnectorContext& context, Settings settings)
    : ctx_(context), settings_(std::move(settings)), validator_(context.config.ingest, context.clock) {
  HttpClientOptions options;
  options.total_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(settings_.timeout);
  options.connect_timeout = std::min(options.connect_timeout, options.total_timeout);
  setHttpOptions(options);
}

MetaConnector::~MetaConnector() = default;

void MetaConnector::setHttpOptions(HttpClientOptions options) {
  options.client_errors_as_responses = true;  // Graph explains its errors in the body
  http_ = std::make_unique<HttpClient>(options);
}

bool MetaConnector::polls() const { return !settings_.access_token.empty(); }

ParseOptions MetaConnector::parseOptions() const {
  ParseOptions o;
  o.platform = settings_.platform;
  o.page_id = settings_.page_id;
  o.brand_ids = settings_.brand_ids;
  o.mentions = settings_.mentions;
  o.max_entries = maxDeliveryEntries(ctx_.config, ctx_.source);
  return o;
}

std::size_t MetaConnector::keepValid(std::vector<Message>& messages,
                                     const std::vector<PayloadProblem>& problems, const char* origin) {
  std::size_t rejected = 0;
  auto reject = [&](const std::string& where, const Rejection& r) {
    ctx_.health.addError(r.reason);
    if (rejected < kMaxLoggedRejections) {
      spdlog::warn("meta record rejected source={} origin={} at={} reason={} error={}",
                   logValue(ctx_.source.name), origin, logValue(where), toString(r.reason),
                   logValue(r.message));
    }
    ++rejected;
  };
  for (const auto& p : problems) reject(p.where, p.rejection);
  const Timestamp now = ctx_.clock.now();
  std::vector<Message> kept;
  kept.reserve(messages.size());
  // The same change twice in one delivery stays: the sink stores it once and counts the
  // other as a duplicate, so the answer accounts for every change received.
  for (auto& m : messages) {
    if (auto r = validator_.check(m, now)) {
      reject("a message", *r);
      continue;
    }
    kept.push_back(std::move(m));
  }
  messages = std::move(kept);
  return rejected;
}

WebhookResponse MetaConnector::handleWebhook(const WebhookRequest& request) {
  if (settings_.app_secret.empty()) {
    return WebhookResponse::error(404, "webhooks are disabled for this source (no app_secret configured)");
  }
  if (request.method == "GET") return verifyHandshake(request);
  if (request.method == "POST") return receive(request);
  return methodNotAllowed("GET, POST");
}

WebhookResponse MetaConnector::verifyHandshake(const WebhookRequest& request) {
  const auto mode = request.queryParam("hub.mode");
  const auto token = request.queryParam("hub.verify_token");
  const auto challenge = request.queryParam("hub.challenge");
  // An empty configured token (an unset environment variable, say) matches nothing: it
  // would otherwise let anyone pass the verification with an empty one.
  if (!mode || *mode != "subscribe" || !token || settings_.verify_token.reveal().empty() ||
      !constantTimeEquals(*token, settings_.verify_token.reveal())) {
    ctx_.health.addError(ErrorReason::Signature);
    spdlog::warn("webhook verification refused source={} remote={} mode={} token={}",
                 logValue(ctx_.source.name), logValue(request.remote), logValue(mode.value_or("")),
                 token ? "wrong" : "missing");
    return WebhookResponse::error(403, "verification refused");
  }
  if (!challenge || challenge->empty() || challenge->size() > kMaxChallengeBytes ||
      !std::all_of(challenge->begin(), challenge->end(), isChallengeChar)) {
    ctx_.health.addError(ErrorReason::BadRequest);
    return WebhookResponse::error(400, "hub.challenge is missing or not a short token");
  }
  spdlog::info("webhook subscription verified source={} remote={}", logValue(ctx_.source.name),
               logValue(request.remote));
  WebhookResponse r;
  r.status = 200;
  r.content_type = "text/plain";
  r.body = *challenge;
  return r;
}

WebhookResponse MetaConnector::receive(const WebhookRequest& request) {
  // The signature covers the raw bytes and is checked before anything is parsed.
  auto signature = request.header(kSignatureHeader);
  if (!signature || !verifySha256Signature(settings_.app_secret.reveal(), request.body, *signature)) {
    ctx_.health.addError(ErrorReason::Signature);
    spdlog::warn("webhook signature rejected source={} remote={} signature={}", logValue(ctx_.source.name),
                 logValue(request.remote), signature ? "wrong" : "missing");
    return WebhookResponse::error(401, "invalid signature");
  }
  auto parsed = parseWebhookBody(request.body, parseOptions());
  if (!parsed) return refuseDelivery(parsed.error(), ctx_.source, ctx_.health, request.remote);
  std::vector<Message> messages = std::move(parsed->messages);
  const std::size_t rejected = keepValid(messages, parsed->problems, "webhook");
  IngestOutcome outcome;
  if (!messages.empty()) {
    auto r = ctx_.sink.ingest(ctx_.source, std::move(messages), std::nullopt);
    if (!r) return sinkRefused(r.error(), ctx_, "the messages");
    outcome = *r;
    ctx_.health.addEvents(outcome.stored);
  }
  // A delivery whose every entry is addressed to another page or object brought nothing
  // for this source: it does not count as a success, so a source whose page_id or
  // platform is wrong goes stale instead of looking up.
  const bool elsewhere_only = parsed->entries > 0 && parsed->elsewhere == parsed->entries;
  if (parsed->elsewhere > 0) noteElsewhere(*parsed, request.remote);
  // While the access token is refused the source stays down (see pollOnce()).
  if (!auth_failed_.load() && !elsewhere_only) ctx_.health.markSuccess(ctx_.clock.now());
  spdlog::debug("meta webhook stored source={} received={} stored={} duplicates={} rejected={} ignored={}",
                logValue(ctx_.source.name), outcome.received, outcome.stored, outcome.duplicates, rejected,
                parsed->ignored);
  auto response = WebhookResponse::accepted(outcome);
  auto j = nlohmann::json::parse(response.body);
  j["rejected"] = rejected;
  j["ignored"] = parsed->ignored;
  response.body = j.dump();
  return response;
}

void MetaConnector::noteElsewhere(const WebhookParse& parsed, std::string_view remote) {
  const std::int64_t now_ms = toMillis(ctx_.clock.now());
  std::int64_t last = elsewhere_warned_ms_.load();
  const auto interval = std::chrono::duration_cast<std::chrono::milliseconds>(kElsewhereWarnInterval).count();
  const bool warn = (last == std::numeric_limits<std::int64_t>::min() || now_ms - last >= interval) &&
                    elsewhere_warned_ms_.compare_exchange_strong(last, now_ms);
  const auto level = warn ? spdlog::level::warn : spdlog::level::debug;
  if (!parsed.other_object.empty()) {
    spdlog::log(level,
                "meta webhook entries for another object ignored, check the source's channel source={} "
                "remote={} entries={} object={} expected_object={}",
                logValue(ctx_.source.name), logValue(remote), parsed.elsewhere, logValue(parsed.other_object),
                settings_.platform == Platform::Instagram ? "instagram" : "page");
    return;
  }
  spdlog::log(level,
              "meta webhook entries for another page or account ignored, check page_id source={} remote={} "
              "entries={} entry_ids={} page_id={}",
              logValue(ctx_.source.name), logValue(remote), parsed.elsewhere,
              logValue(fmt::format("{}", fmt::join(parsed.other_ids, ","))), logValue(settings_.page_id));
}

// ---------------------------------------------------------------------------- polling

struct MetaConnector::Fetch {
  std::optional<std::string> body;  // set on success
  bool cancelled = false;
  bool rate_limited = false;
  bool auth_failed = false;
  ErrorReason reason = ErrorReason::Http;
  std::string error;  // one sentence, no token
};

std::string MetaConnector::withProof(std::string url) const {
  // appsecret_proof lets the app require signed Graph calls ("Require App Secret").
  if (settings_.app_secret.empty() || hasParam(url, "appsecret_proof")) return url;
  return withParam(std::move(url), "appsecret_proof",
                   hmacSha256Hex(settings_.app_secret.reveal(), settings_.access_token.reveal()));
}

std::string MetaConnector::firstUrl(Timestamp since) const {
  const char* edge = settings_.platform == Platform::Instagram ? "media" : "feed";
  std::string url =
      fmt::format("{}/{}/{}/{}?fields={}&limit=25&since={}", settings_.graph_url, settings_.graph_version,
                  settings_.page_id, edge, graphFields(settings_.platform), toMillis(since) / 1000);
  return withProof(std::move(url));
}

MetaConnector::Fetch MetaConnector::fetch(const std::string& url, std::stop_token stop) {
  Fetch f;
  const std::string where = redactUrl(url);
  if (!startsWith(url, settings_.graph_url + "/")) {
    // The token is only ever sent to the configured Graph API.
    f.error = fmt::format("paging.next points outside graph_url: {}", where);
    return f;
  }
  HttpRequest request;
  request.url = withProof(url);
  request.bearer_token = settings_.access_token;
  request.headers.emplace_back("Accept", "application/json");
  auto response = http_->get(request, stop);
  if (!response) {
    if (response.error().reason == kHttpCancelled) {
      f.cancelled = true;
      return f;
    }
    f.reason = errorReasonOf(response.error());
    f.rate_limited = f.reason == ErrorReason::RateLimited;
    f.error = response.error().message;
    return f;
  }
  if (response->status >= 400) {
    auto graph = parseGraphError(response->body);
    if (!graph) {
      f.error = fmt::format("GET {}: HTTP {}", where, response->status);
      return f;
    }
    f.error = fmt::format("GET {}: HTTP {}, Graph error {} ({}): {}", where, response->status, graph->code,
                          graph->type, graph->message);
    if (isRateLimit(*graph)) {
      f.rate_limited = true;
      f.reason = ErrorReason::RateLimited;
    } else if (isExpiredToken(*graph)) {
      f.auth_failed = true;
      f.reason = ErrorReason::Auth;
    }
    return f;
  }
  f.body = std::move(response->body);
  return f;
}

struct MetaConnector::Batch {
  std::vector<Message> messages;
  std::vector<PayloadProblem> problems;
};

PollResult MetaConnector::pollOnce(std::stop_token stop) {
  PollResult result;
  result.next_delay = settings_.poll_interval;
  if (settings_.access_token.empty()) return result;
  const Timestamp started = ctx_.clock.now();
  const char* origin = "graph";

  auto cursor = ctx_.sink.cursor(ctx_.source.name);
  if (!cursor) {
    ctx_.health.addError(ErrorReason::Store);
    ctx_.health.markDown();
    spdlog::error("cannot read source cursor source={} error={}", logValue(ctx_.source.name),
                  logValue(cursor.error().message));
    return result;
  }
  Timestamp since = started - std::chrono::duration_cast<std::chrono::milliseconds>(settings_.backfill);
  if (cursor.value()) {
    auto j = parseJsonOrNull(**cursor);
    if (j.is_object() && j.contains("completed_at") && j["completed_at"].is_number_integer()) {
      since = fromMillis(j["completed_at"].get<std::int64_t>()) -
              std::chrono::duration_cast<std::chrono::milliseconds>(settings_.lookback);
    }
  }
  nlohmann::json next_cursor;
  next_cursor["completed_at"] = toMillis(started);

  auto fail = [&](const Fetch& f) {
    ctx_.health.addError(f.reason);
    if (f.rate_limited) {
      result.rate_limited = true;
      ++rate_limits_in_a_row_;
      auto backoff = kRateLimitBackoff * (1 << std::min(rate_limits_in_a_row_ - 1, 8));
      result.next_delay = std::max(settings_.poll_interval, std::min(backoff, kMaxBackoff));
      spdlog::warn("meta poll rate limited, backing off source={} delay_s={} error={}",
                   logValue(ctx_.source.name), result.next_delay.count(), logValue(f.error));
      return;
    }
    ctx_.health.markDown();
    if (f.auth_failed) {
      result.auth_failed = true;
      auth_failed_.store(true);
      spdlog::error(
          "meta access token refused: create a new Page access token and restart source={} error={}",
          logValue(ctx_.source.name), logValue(f.error));
      return;
    }
    spdlog::warn("meta poll failed source={} error={}", logValue(ctx_.source.name), logValue(f.error));
  };

  // The request limit reached, in the feed or in comment pages, fails the poll.
  auto too_many_requests = [&] {
    if (result.requests < kMaxRequestsPerPoll) return false;
    Fetch f;
    f.error = fmt::format("more than {} Graph requests in one poll; lower backfill or lookback",
                          kMaxRequestsPerPoll);
    fail(f);
    return true;
  };
  const ParseOptions options = parseOptions();
  std::string url = firstUrl(since);
  while (!url.empty()) {
    if (stop.stop_requested()) return result;
    if (too_many_requests()) return result;
    ++result.requests;
    Fetch page = fetch(url, stop);
    if (page.cancelled) return result;
    if (!page.body) {
      fail(page);
      return result;
    }
    auto feed = parseFeedPage(*page.body, options);
    if (!feed) {
      ctx_.health.addError(ErrorReason::ParseError);
      ctx_.health.markDown();
      spdlog::warn("meta poll body rejected source={} url={} error={}", logValue(ctx_.source.name),
                   logValue(redactUrl(url)), logValue(feed.error().message));
      return result;
    }
    Batch batch{std::move(feed->messages), std::move(feed->problems)};
    std::deque<FollowUp> follow(feed->follow_ups.begin(), feed->follow_ups.end());
    while (!follow.empty()) {
      if (stop.stop_requested()) return result;
      FollowUp next = std::move(follow.front());
      follow.pop_front();
      if (too_many_requests()) return result;
      ++result.requests;
      Fetch comments = fetch(next.url, stop);
      if (comments.cancelled) return result;
      if (!comments.body) {
        fail(comments);
        return result;
      }
      auto more = parseCommentsPage(*comments.body, options, next.post_id, next.parent_comment);
      if (!more) {
        ctx_.health.addError(ErrorReason::ParseError);
        ctx_.health.markDown();
        spdlog::warn("meta poll body rejected source={} url={} error={}", logValue(ctx_.source.name),
                     logValue(redactUrl(next.url)), logValue(more.error().message));
        return result;
      }
      std::move(more->messages.begin(), more->messages.end(), std::back_inserter(batch.messages));
      std::move(more->problems.begin(), more->problems.end(), std::back_inserter(batch.problems));
      for (auto& f : more->follow_ups) follow.push_back(std::move(f));
    }
    result.rejected += keepValid(batch.messages, batch.problems, origin);
    const bool last = feed->next.empty();
    if (!batch.messages.empty() || last) {
      const std::size_t n = batch.messages.size();
      auto r = ctx_.sink.ingest(ctx_.source, std::move(batch.messages),
                                last ? std::optional<std::string>(next_cursor.dump()) : std::nullopt);
      if (!r) {
        ctx_.health.addError(ErrorReason::Store);
        ctx_.health.markDown();
        spdlog::error("meta poll batch not stored source={} messages={} error={}", logValue(ctx_.source.name),
                      n, logValue(r.error().message));
        return result;
      }
      result.stored += r->stored;
      result.duplicates += r->duplicates;
      ctx_.health.addEvents(r->stored);
    }
    url = feed->next;
  }
  result.ok = true;
  rate_limits_in_a_row_ = 0;
  auth_failed_.store(false);
  ctx_.health.markSuccess(ctx_.clock.now());
  spdlog::info("meta poll done source={} requests={} stored={} duplicates={} rejected={}",
               logValue(ctx_.source.name), result.requests, result.stored, result.duplicates,
               result.rejected);
  return result;
}

void MetaConnector::run(std::stop_token stop) {
  spdlog::info("meta source polling source={} graph_url={} version={} poll_interval={}s",
               logValue(ctx_.source.name), logValue(redactUrl(settings_.graph_url)),
               logValue(settings_.graph_version), settings_.poll_interval.count());
  while (!stop.stop_requested()) {
    const PollResult r = pollOnce(stop);
    if (!sleepFor(std::chrono::duration_cast<std::chrono::milliseconds>(r.next_delay), stop)) break;
  }
}

}  // namespace replywatch::connectors::meta
