#include "connectors/discourse/discourse_connector.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <map>

#include "connectors/common/hmac.h"
#include "connectors/common/json_fields.h"
#include "connectors/common/limits.h"
#include "daemon/core/http_fields.h"
#include "daemon/core/log.h"

namespace replywatch::connectors::discourse {
namespace {

constexpr std::size_t kKnownTopicsMax = 50000;

bool isDigits(std::string_view s) {
  if (!s.empty() && s[0] == '-') s.remove_prefix(1);
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

// -------------------------------------------------------------------------- settings

const std::vector<std::string>& allowedKeys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k = config::kCommonSourceKeys;
    for (const char* own : {"brand_usernames", "brand_user_ids", "brand_flags", "base_url", "api_key",
                            "api_key_file", "api_username", "poll", "poll_interval", "timeout", "max_pages",
                            "topic_lookups", "webhook_secret", "webhook_secret_file"}) {
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
  auto integer = [&](const char* key, int fallback, int low, int high) {
    const YAML::Node n = node(key);
    if (!n.IsDefined()) return fallback;
    int v = 0;
    if (!n.IsScalar() || !YAML::convert<int>::decode(n, v) || v < low || v > high) {
      problem(n, fmt::format("{} in {} must be a whole number from {} to {}", key, where, low, high));
      return fallback;
    }
    return v;
  };

  config::checkKeys(map, allowedKeys(), file, where, problems);
  s.brand_usernames = config::readStringList(map, "brand_usernames", file, where, problems);
  s.brand_user_ids = config::readStringList(map, "brand_user_ids", file, where, problems);
  for (const auto& id : s.brand_user_ids) {
    if (!isDigits(id)) {
      problem(node("brand_user_ids"),
              fmt::format("brand_user_ids in {} must list numeric Discourse user ids", where));
      break;
    }
  }
  if (node("brand_flags").IsDefined()) {
    s.brand_flags = config::readStringList(map, "brand_flags", file, where, problems);
    for (const auto& flag : s.brand_flags) {
      if (flag != "staff" && flag != "admin" && flag != "moderator") {
        problem(node("brand_flags"),
                fmt::format("brand_flags in {} may only list staff, admin and moderator", where));
        break;
      }
    }
  }
  if (s.brand_usernames.empty() && s.brand_user_ids.empty() && s.brand_flags.empty()) {
    problem(
        node("brand_flags"),
        fmt::format("{} cannot tell the brand: set brand_usernames, brand_user_ids or brand_flags", where));
  }
  const std::filesystem::path base =
      source.base_dir.empty() ? std::filesystem::path(file).parent_path() : source.base_dir;
  s.base_url = config::readString(map, "base_url", file, where, problems);
  while (!s.base_url.empty() && s.base_url.back() == '/') s.base_url.pop_back();
  if (!s.base_url.empty()) {
    if (!startsWithIgnoreCase(s.base_url, "http://") && !startsWithIgnoreCase(s.base_url, "https://")) {
      problem(node("base_url"), fmt::format("base_url in {} must start with http:// or https://", where));
    } else if (s.base_url.find_first_of(" \t\r\n?#") != std::string::npos) {
      problem(node("base_url"),
              fmt::format("base_url in {} must be a plain URL without spaces or query", where));
    }
  }
  s.api_key = config::readSecret(map, "api_key", file, base, problems);
  s.api_username = config::readString(map, "api_username", file, where, problems);
  if (!s.base_url.empty() && (s.api_key.empty() || s.api_username.empty())) {
    problem(node("base_url"),
            fmt::format("base_url in {} needs api_key (or api_key_file) and api_username", where));
  }
  if (s.base_url.empty()) {
    for (const char* key :
         {"api_key", "api_key_file", "api_username", "poll", "poll_interval", "max_pages", "topic_lookups"}) {
      if (node(key).IsDefined()) problem(node(key), fmt::format("{} in {} needs base_url", key, where));
    }
  }
  if (auto poll = config::readBool(map, "poll", file, where, problems)) s.poll = *poll;
  s.poll_interval = duration("poll_interval", s.poll_interval);
  s.timeout = duration("timeout", s.timeout);
  s.max_pages = integer("max_pages", s.max_pages, 1, 1000);
  s.topic_lookups = integer("topic_lookups", s.topic_lookups, 0, 1000);
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
  return std::make_unique<DiscourseConnector>(context, parseSettings(context.source, ignored));
}

// ------------------------------------------------------------------------- connector

DiscourseConnector::DiscourseConnector(const ConnectorContext& context, Settings settings)
    : ctx_(context), settings_(std::move(settings)), validator_(context.config.ingest, context.clock) {
  HttpClientOptions options;
  options.total_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(settings_.timeout);
  options.connect_timeout = std::min(options.connect_timeout, options.total_timeout);
  setHttpOptions(options);
}

DiscourseConnector::~DiscourseConnector() = default;

void DiscourseConnector::setHttpOptions(const HttpClientOptions& options) {
  if (!settings_.base_url.empty()) http_ = std::make_unique<HttpClient>(options);
}

bool DiscourseConnector::polls() const { return !settings_.base_url.empty() && settings_.poll; }

bool DiscourseConnector::isMessage(const Post& p) {
  if (p.user_id < 0) return false;  // -1 system, -2 discobot and other built-in bots
  return p.post_type == static_cast<int>(PostType::Regular) ||
         p.post_type == static_cast<int>(PostType::ModeratorAction);
}

bool DiscourseConnector::isBrand(const Post& p) const {
  const std::string user_id = std::to_string(p.user_id);
  for (const auto& id : settings_.brand_user_ids) {
    if (id == user_id) return true;
  }
  for (const auto& name : settings_.brand_usernames) {
    if (equalsIgnoreCase(name, p.username)) return true;
  }
  for (const auto& flag : settings_.brand_flags) {
    if ((flag == "staff" && p.staff) || (flag == "admin" && p.admin) || (flag == "moderator" && p.moderator))
      return true;
  }
  return false;
}

Message DiscourseConnector::toMessage(const Post& p) const {
  Message m;
  m.id = p.id;
  m.conversation_id = p.topic_id;
  m.author_id = std::to_string(p.user_id);
  m.author_name = p.username;
  m.author_is_brand = isBrand(p);
  m.created_at = p.created_at;
  m.text = p.text;
  return m;
}

Message DiscourseConnector::toRetraction(const Post& p) const {
  Message m = toMessage(p);
  m.id = p.id + std::string(kDeletedSuffix);
  m.in_reply_to = p.id;
  m.kind = MessageKind::Retraction;
  m.text.clear();
  // The deletion time when the payload has one; else the post's last update, so a
  // redelivery carries the same time.
  m.created_at = p.deleted_at.value_or(p.updated_at.value_or(p.created_at));
  return m;
}

WebhookResponse DiscourseConnector::handleWebhook(const WebhookRequest& request) {
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
  auto body = parseWebhookBody(request.body);
  if (!body) {
    const ErrorReason reason = reasonOf(body.error());
    ctx_.health.addError(reason == ErrorReason::ParseError ? ErrorReason::BadRequest : reason);
    spdlog::warn("discourse webhook rejected source={} error={}", logValue(ctx_.source.name),
                 logValue(body.error().message));
    return WebhookResponse::error(400, body.error().message);
  }
  const std::string event(request.header(kEventHeader).value_or(""));
  auto ignored = [&](std::string_view why) {
    spdlog::debug("discourse webhook ignored source={} event={} why={}", logValue(ctx_.source.name),
                  logValue(event), why);
    WebhookResponse r;
    r.body = nlohmann::json{{"status", "ok"}, {"ignored", 1}, {"reason", std::string(why)}}.dump();
    return r;
  };
  if (body->kind == WebhookBody::Kind::Ping) {
    ctx_.health.markSuccess(ctx_.clock.now());
    WebhookResponse r;
    r.body = R"({"status":"ok","ping":"OK"})";
    return r;
  }
  if (body->kind != WebhookBody::Kind::Post) return ignored("event");
  const Post& post = *body->post;
  Message m;
  if (event == "post_destroyed") {
    if (!isMessage(post)) return ignored("not_a_message");
    m = toRetraction(post);
  } else if (event.empty() || event == "post_created" || event == "post_edited" ||
             event == "post_recovered") {
    // An edit or a recovery of a known post is a duplicate (same id): nothing changes.
    if (!isMessage(post)) return ignored("not_a_message");
    m = toMessage(post);
  } else {
    return ignored("event");
  }
  if (auto rejection = validator_.check(m)) {
    ctx_.health.addError(rejection->reason);
    spdlog::warn("discourse post rejected source={} origin=webhook id={} remote={} reason={} error={}",
                 logValue(ctx_.source.name), logValue(m.id), logValue(request.remote),
                 toString(rejection->reason), logValue(rejection->message));
    return WebhookResponse::error(400, rejection->message);
  }
  std::vector<Message> batch;
  batch.push_back(std::move(m));
  auto outcome = ctx_.sink.ingest(ctx_.source, std::move(batch), std::nullopt);
  if (!outcome) return sinkRefused(outcome.error(), ctx_, "the message");
  ctx_.health.addEvents(outcome->stored);
  ctx_.health.markSuccess(ctx_.clock.now());
  return WebhookResponse::accepted(*outcome);
}

// --------------------------------------------------------------------------- polling

Result<HttpResponse> DiscourseConnector::apiGet(const std::string& url, std::stop_token stop) {
  HttpRequest request;
  request.url = url;
  request.headers.emplace_back("Accept", "application/json");
  request.credential_headers.emplace_back("Api-Key", settings_.api_key);
  request.credential_headers.emplace_back("Api-Username", Secret(settings_.api_username));
  return http_->get(request, stop);
}

bool DiscourseConnector::topicKnown(const std::string& topic_id) const {
  return known_topics_.count(topic_id) != 0;
}

void DiscourseConnector::rememberTopic(const std::string& topic_id) {
  if (!known_topics_.insert(topic_id).second) return;
  topic_order_.push_back(topic_id);
  while (topic_order_.size() > kKnownTopicsMax) {
    known_topics_.erase(topic_order_.front());
    topic_order_.pop_front();
  }
}

PollResult DiscourseConnector::pollOnce(std::stop_token stop) {
  PollResult result;
  if (!http_) return result;
  if (paused_until_) {
    if (ctx_.clock.now() < *paused_until_) {
      result.rate_limited = true;
      return result;
    }
    paused_until_.reset();
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
      last_post_id_ = jsonString(j, "last_post_id");
    }
    cursor_loaded_ = true;
  }
  auto fail = [&](const std::string& url, const Error& e) {
    if (e.reason == kHttpCancelled) return result;
    const bool transfer = e.reason == "http" || e.reason == "transport" || e.reason == "rate_limited" ||
                          e.reason == "too_large" || e.reason == "invalid";
    ctx_.health.addError(transfer ? errorReasonOf(e) : reasonOf(e));
    ctx_.health.markDown();
    if (const auto wait = retryAfterOf(e); wait.count() > 0) {
      // A wait longer than the client's: no request to the forum before it has passed.
      paused_until_ = ctx_.clock.now() + wait;
      result.rate_limited = true;
    }
    spdlog::warn("discourse poll failed source={} url={} error={}", logValue(ctx_.source.name),
                 logValue(redactUrl(url)), logValue(e.message));
    return result;
  };
  // Posts at or before the cursor were reported when they were first seen.
  auto report = [&](const std::vector<std::pair<std::string, Error>>& rejected) {
    for (const auto& [id, e] : rejected) {
      if (!id.empty() && !last_post_id_.empty() && !idLess(last_post_id_, id)) continue;
      ctx_.health.addError(reasonOf(e));
      ++result.rejected;
      spdlog::warn("discourse post rejected source={} error={}", logValue(ctx_.source.name),
                   logValue(e.message));
    }
  };

  // Newest first; page backwards until the cursor is reached.
  std::map<std::string, Post, bool (*)(const std::string&, const std::string&)> posts(
      [](const std::string& a, const std::string& b) { return idLess(a, b); });
  std::string newest = last_post_id_;
  std::vector<std::string> new_ids;  // every id beyond the cursor, refused posts included
  std::string before;
  bool reached = last_post_id_.empty();  // first run: max_pages of history only
  int page = 0;
  for (; page < settings_.max_pages; ++page) {
    if (stop.stop_requested()) return result;
    std::string url = settings_.base_url + "/posts.json";
    if (!before.empty()) url += "?before=" + before;
    auto response = apiGet(url, stop);
    if (!response) return fail(url, response.error());
    auto parsed = parseLatestPosts(response->body);
    if (!parsed) return fail(url, parsed.error());
    report(parsed->rejected);
    if (parsed->ids.empty()) {
      reached = true;
      break;
    }
    std::string oldest;
    bool crossed = false;
    // Rejected posts move the cursor too: they are reported once, not at every poll.
    for (const auto& id : parsed->ids) {
      if (oldest.empty() || idLess(id, oldest)) oldest = id;
      if (!last_post_id_.empty() && !idLess(last_post_id_, id)) {
        crossed = true;  // at or before the cursor: already committed
        continue;
      }
      new_ids.push_back(id);
      if (newest.empty() || idLess(newest, id)) newest = id;
    }
    for (auto& p : parsed->posts) {
      if (!last_post_id_.empty() && !idLess(last_post_id_, p.id)) continue;
      posts.insert_or_assign(p.id, std::move(p));
    }
    if (crossed) {
      reached = true;
      break;
    }
    if (before == oldest) break;  // the server ignored before=: do not loop
    before = oldest;
  }
  result.gap = !reached && page == settings_.max_pages;
  if (result.gap) {
    spdlog::warn(
        "discourse poll reached max_pages before the last committed post, older posts skipped source={}",
        logValue(ctx_.source.name));
  }

  // The opening posts of topics first seen through a later post.
  int lookups = 0;
  std::vector<std::string> topics;
  for (const auto& [id, p] : posts) {
    if (p.post_number == 1) rememberTopic(p.topic_id);
  }
  for (const auto& [id, p] : posts) {
    if (!topicKnown(p.topic_id) && std::find(topics.begin(), topics.end(), p.topic_id) == topics.end())
      topics.push_back(p.topic_id);
  }
  std::vector<std::string> fetched_topics;
  std::string first_unlooked;  // topic of the oldest post whose topic waits for a later poll
  for (const auto& topic : topics) {
    if (lookups >= settings_.topic_lookups) {
      // topic_lookups 0 turns lookups off: every topic is taken as it is.
      if (settings_.topic_lookups > 0) first_unlooked = topic;
      break;
    }
    if (stop.stop_requested()) return result;
    ++lookups;
    const std::string url = fmt::format("{}/t/{}.json", settings_.base_url, topic);
    auto response = apiGet(url, stop);
    if (!response) {
      const long status = httpStatusOf(response.error());
      if (status == 403 || status == 404 || status == 410) {
        // Deleted or private topic: its posts are still taken as they are.
        ctx_.health.addError(ErrorReason::Http);
        spdlog::warn("discourse topic lookup failed source={} error={}", logValue(ctx_.source.name),
                     logValue(response.error().message));
        continue;
      }
      // Anything else may pass: the poll fails so that the topic is looked up again.
      return fail(url, response.error());
    }
    auto parsed = parseTopicPosts(response->body);
    if (!parsed) return fail(url, parsed.error());
    report(parsed->rejected);
    for (auto& p : parsed->posts) {
      if (p.topic_id != topic) continue;
      posts.try_emplace(p.id, std::move(p));
    }
    fetched_topics.push_back(topic);
  }
  if (!first_unlooked.empty()) {
    // Topics left for the next poll: commit only the posts before the first post of the
    // first of them, so that the next poll pages back to it and looks its topic up.
    auto first = std::find_if(posts.begin(), posts.end(), [&](const auto& entry) {
      return entry.second.topic_id == first_unlooked && idLess(last_post_id_, entry.first);
    });
    if (first != posts.end()) {
      const std::string limit = first->first;
      posts.erase(first, posts.end());
      newest = last_post_id_;
      for (const auto& id : new_ids) {
        if (idLess(id, limit) && (newest.empty() || idLess(newest, id))) newest = id;
      }
      spdlog::info("discourse poll reached topic_lookups, later posts left for the next poll source={}",
                   logValue(ctx_.source.name));
    }
  }

  std::vector<Message> batch;
  result.fetched = posts.size();
  const Timestamp now = ctx_.clock.now();
  for (const auto& [id, p] : posts) {
    if (!isMessage(p)) {
      ++result.skipped;
      continue;
    }
    Message m = toMessage(p);
    if (auto rejection = validator_.check(m, now)) {
      ctx_.health.addError(rejection->reason);
      ++result.rejected;
      spdlog::warn("discourse post rejected source={} reason={} error={}", logValue(ctx_.source.name),
                   toString(rejection->reason), logValue(rejection->message));
      continue;
    }
    batch.push_back(std::move(m));
  }
  std::optional<std::string> cursor;
  if (!newest.empty()) cursor = nlohmann::json{{"last_post_id", newest}}.dump();
  auto outcome = ctx_.sink.ingest(ctx_.source, std::move(batch), cursor);
  if (!outcome) {
    ctx_.health.addError(ErrorReason::Store);
    ctx_.health.markDown();
    spdlog::error("discourse batch not stored source={} error={}", logValue(ctx_.source.name),
                  logValue(outcome.error().message));
    return result;
  }
  for (const auto& topic : fetched_topics) rememberTopic(topic);
  last_post_id_ = newest;
  result.outcome = *outcome;
  result.ok = true;
  ctx_.health.addEvents(outcome->stored);
  ctx_.health.markSuccess(ctx_.clock.now());
  spdlog::info(
      "discourse poll source={} fetched={} stored={} duplicates={} skipped={} rejected={} topic_lookups={}",
      logValue(ctx_.source.name), result.fetched, outcome->stored, outcome->duplicates, result.skipped,
      result.rejected, lookups);
  return result;
}

void DiscourseConnector::run(std::stop_token stop) {
  spdlog::info("discourse source polling source={} base_url={} poll_interval={}s", logValue(ctx_.source.name),
               logValue(redactUrl(settings_.base_url)), settings_.poll_interval.count());
  while (!stop.stop_requested()) {
    (void)pollOnce(stop);
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(settings_.poll_interval);
    if (paused_until_) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(*paused_until_ - ctx_.clock.now());
      wait = std::max(wait, left);
      spdlog::warn("discourse rate limit reached, polling paused source={} until={}",
                   logValue(ctx_.source.name), formatRfc3339(*paused_until_));
    }
    if (!sleepFor(wait, stop)) break;
  }
}

}  // namespace replywatch::connectors::discourse
