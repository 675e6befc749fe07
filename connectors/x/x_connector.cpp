#include "connectors/x/x_connector.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <cctype>
#include <charconv>

#include "connectors/common/limits.h"
#include "connectors/x/x_api.h"
#include "daemon/core/http_fields.h"
#include "daemon/core/log.h"

namespace replywatch::connectors::x {
namespace {

// Rejected tweets logged one by one per poll; further ones are only counted.
constexpr std::size_t kMaxLoggedRejections = 20;

std::string_view endpointName(Endpoint e) { return e == Endpoint::Mentions ? "mentions" : "tweets"; }

std::string percentEncode(std::string_view s) {
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  return out;
}

}  // namespace

// -------------------------------------------------------------------------- settings

const std::vector<std::string>& allowedKeys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k = config::kCommonSourceKeys;
    for (const char* own :
         {"user_id", "token", "token_file", "base_url", "poll_interval", "timeout", "max_results"})
      k.emplace_back(own);
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
    const int line = at.IsDefined() ? config::lineOf(at) : 0;
    problems.push_back(config::Problem{file, line != 0 ? line : source.line, std::move(message)});
  };
  auto duration = [&](const char* key, std::chrono::seconds fallback) {
    auto d = config::readDuration(map, key, file, where, problems);
    if (!d) return fallback;
    if (d->count() <= 0) {
      problem(node(key), fmt::format("{} in {} must be at least one second", key, where));
      return fallback;
    }
    return *d;
  };

  config::checkKeys(map, allowedKeys(), file, where, problems);
  config::requireKeys(map, {"user_id"}, file, where, problems);
  s.user_id = config::readString(map, "user_id", file, where, problems);
  if (!s.user_id.empty() && !isTweetId(s.user_id)) {
    problem(node("user_id"), fmt::format("user_id in {} must be the numeric X user id", where));
  }
  s.token = config::readSecret(map, "token", file, base, problems);
  if (s.token.empty() && !node("token").IsDefined() && !node("token_file").IsDefined()) {
    problem(
        YAML::Node(YAML::NodeType::Undefined),
        fmt::format("{} needs a bearer token: token (e.g. \"${{X_BEARER_TOKEN}}\") or token_file", where));
  }
  if (node("base_url").IsDefined()) {
    s.base_url = config::readString(map, "base_url", file, where, problems);
    if (!startsWithIgnoreCase(s.base_url, "http://") && !startsWithIgnoreCase(s.base_url, "https://")) {
      problem(node("base_url"), fmt::format("base_url in {} must start with http:// or https://", where));
    }
    while (!s.base_url.empty() && s.base_url.back() == '/') s.base_url.pop_back();
  }
  s.poll_interval = duration("poll_interval", s.poll_interval);
  s.timeout = duration("timeout", s.timeout);
  if (node("max_results").IsDefined()) {
    const std::string v = config::readString(map, "max_results", file, where, problems);
    int n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc{} || p != v.data() + v.size() || n < 5 || n > 100) {
      problem(node("max_results"), fmt::format("max_results in {} must be a number from 5 to 100", where));
    } else {
      s.max_results = n;
    }
  }
  return s;
}

void validate(const config::SourceConfig& source, std::vector<config::Problem>& problems) {
  (void)parseSettings(source, problems);
}

std::unique_ptr<Connector> create(const ConnectorContext& context) {
  std::vector<config::Problem> ignored;  // reported by validate() at load time
  return std::make_unique<XConnector>(context, parseSettings(context.source, ignored));
}

// ------------------------------------------------------------------------- connector

XConnector::XConnector(const ConnectorContext& context, Settings settings)
    : ctx_(context), settings_(std::move(settings)), validator_(context.config.ingest, context.clock) {
  sleep_ = [](std::chrono::milliseconds d, std::stop_token stop) { return sleepFor(d, stop); };
  HttpClientOptions options;
  options.total_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(settings_.timeout);
  options.connect_timeout = std::min(options.connect_timeout, options.total_timeout);
  // X resets a rate-limit window within 15 minutes: wait for it rather than fail.
  options.max_retry_after = std::chrono::seconds{16 * 60};
  setHttpOptions(options);
}

XConnector::~XConnector() = default;

void XConnector::setHttpOptions(HttpClientOptions options) {
  options.rate_limit_reset_header = "x-rate-limit-reset";
  options.clock = &ctx_.clock;
  options.on_retry = [this](const Error& e) { ctx_.health.addError(errorReasonOf(e)); };
  http_ = std::make_unique<HttpClient>(std::move(options));
  http_->setSleep([this](std::chrono::milliseconds d, std::stop_token stop) { return sleep_(d, stop); });
}

void XConnector::setSleep(SleepFn sleep) { sleep_ = std::move(sleep); }

bool XConnector::loadCursor() {
  if (cursor_loaded_) return true;
  auto cursor = ctx_.sink.cursor(ctx_.source.name);
  if (!cursor) {
    ctx_.health.addError(ErrorReason::Store);
    spdlog::error("cannot read source cursor source={} error={}", logValue(ctx_.source.name),
                  logValue(cursor.error().message));
    return false;
  }
  if (cursor.value()) {
    auto j = parseJsonOrNull(**cursor);
    if (j.is_object()) {
      for (Endpoint e : {Endpoint::Mentions, Endpoint::Tweets}) {
        auto it = j.find(std::string(endpointName(e)));
        if (it != j.end() && it->is_string() && isTweetId(it->get<std::string>()))
          since_[static_cast<std::size_t>(e)] = it->get<std::string>();
      }
    }
  }
  cursor_loaded_ = true;
  return true;
}

std::string XConnector::cursorWith(Endpoint e, const std::string& since_id) const {
  nlohmann::json j = nlohmann::json::object();
  for (Endpoint other : {Endpoint::Mentions, Endpoint::Tweets}) {
    const std::string& v = other == e ? since_id : since_[static_cast<std::size_t>(other)];
    if (!v.empty()) j[std::string(endpointName(other))] = v;
  }
  return j.dump();
}

std::string XConnector::url(Endpoint e, const std::string& pagination_token) const {
  std::string u = fmt::format("{}/2/users/{}/{}?max_results={}&tweet.fields={}&expansions={}",
                              settings_.base_url, percentEncode(settings_.user_id), endpointName(e),
                              settings_.max_results, kTweetFields, kExpansions);
  const std::string& since = since_[static_cast<std::size_t>(e)];
  if (!since.empty()) u += "&since_id=" + since;
  if (!pagination_token.empty()) u += "&pagination_token=" + percentEncode(pagination_token);
  return u;
}

bool XConnector::waitForRateLimit(Endpoint e, std::stop_token stop) {
  auto& until = blocked_until_[static_cast<std::size_t>(e)];
  if (!until) return true;
  const Timestamp now = ctx_.clock.now();
  const Timestamp reset = *until;
  until.reset();
  if (reset <= now) return true;
  const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(reset - now);
  spdlog::info("x rate limit exhausted, waiting for the reset source={} endpoint={} wait_ms={}",
               logValue(ctx_.source.name), endpointName(e), wait.count());
  return sleep_(wait, stop);
}

void XConnector::noteRateLimit(Endpoint e, const HttpResponse& response) {
  auto remaining = response.header("x-rate-limit-remaining");
  auto reset = response.header("x-rate-limit-reset");
  if (!remaining || !reset) return;
  long long left = 0;
  long long reset_at = 0;
  if (std::from_chars(remaining->data(), remaining->data() + remaining->size(), left).ec != std::errc{} ||
      std::from_chars(reset->data(), reset->data() + reset->size(), reset_at).ec != std::errc{}) {
    return;
  }
  if (left <= 0) blocked_until_[static_cast<std::size_t>(e)] = fromMillis(reset_at * 1000);
}

bool XConnector::pollEndpoint(Endpoint e, PollResult& result, std::stop_token stop) {
  const std::string name(endpointName(e));
  const std::string& since = since_[static_cast<std::size_t>(e)];
  std::string newest = since;
  std::vector<Message> messages;
  std::string token;
  std::size_t logged = 0;
  const Timestamp now = ctx_.clock.now();
  for (int page = 0;; ++page) {
    if (page >= maxPages(settings_.max_results)) {
      ctx_.health.addError(ErrorReason::BadFile);
      spdlog::error("x poll abandoned: too many pages source={} endpoint={} pages={}",
                    logValue(ctx_.source.name), name, page);
      return false;
    }
    if (!waitForRateLimit(e, stop)) return false;
    HttpRequest request;
    request.url = url(e, token);
    request.bearer_token = settings_.token;
    request.headers.emplace_back("Accept", "application/json");
    ++result.requests;
    auto response = http_->get(request, stop);
    if (!response) {
      if (response.error().reason == kHttpCancelled) return false;
      ctx_.health.addError(errorReasonOf(response.error()));
      spdlog::warn("x poll failed source={} endpoint={} error={}", logValue(ctx_.source.name), name,
                   logValue(response.error().message));
      return false;
    }
    noteRateLimit(e, *response);
    auto parsed = parsePage(response->body, settings_.user_id, validator_, now);
    if (!parsed) {
      ctx_.health.addError(ErrorReason::BadFile);
      spdlog::warn("x response rejected source={} endpoint={} page={} error={}", logValue(ctx_.source.name),
                   name, page + 1, logValue(parsed.error().message));
      return false;
    }
    Page& p = *parsed;
    for (const RejectedTweet& r : p.rejected) {
      ctx_.health.addError(r.rejection.reason);
      ++result.rejected;
      if (logged++ < kMaxLoggedRejections) {
        spdlog::warn("x tweet rejected source={} endpoint={} reason={} error={}", logValue(ctx_.source.name),
                     name, toString(r.rejection.reason), logValue(r.rejection.message));
      }
    }
    if (p.api_errors > 0) {
      ctx_.health.addError(ErrorReason::ApiError, p.api_errors);
      spdlog::warn("x response carries errors, its data is used source={} endpoint={} errors={} first={}",
                   logValue(ctx_.source.name), name, p.api_errors, logValue(p.first_api_error));
    }
    if (!p.newest_id.empty() && (newest.empty() || idLess(newest, p.newest_id))) newest = p.newest_id;
    for (Message& m : p.messages) messages.push_back(std::move(m));
    if (p.next_token.empty()) break;
    token = p.next_token;
  }
  if (newest == since && messages.empty()) return true;
  const std::size_t n = messages.size();
  auto r = ctx_.sink.ingest(ctx_.source, std::move(messages), cursorWith(e, newest));
  if (!r) {
    ctx_.health.addError(ErrorReason::Store);
    spdlog::error("x tweets not stored source={} endpoint={} messages={} error={}",
                  logValue(ctx_.source.name), name, n, logValue(r.error().message));
    return false;
  }
  since_[static_cast<std::size_t>(e)] = newest;
  ctx_.health.addEvents(r->stored);
  result.stored += r->stored;
  spdlog::debug("x poll stored source={} endpoint={} received={} stored={} since_id={}",
                logValue(ctx_.source.name), name, n, r->stored, logValue(newest));
  return true;
}

PollResult XConnector::poll(std::stop_token stop) {
  PollResult result;
  if (!loadCursor()) {
    ctx_.health.markDown();
    return result;
  }
  bool ok = true;
  for (Endpoint e : {Endpoint::Mentions, Endpoint::Tweets}) {
    if (stop.stop_requested()) return result;
    ok = pollEndpoint(e, result, stop) && ok;
  }
  if (stop.stop_requested()) return result;
  result.ok = ok;
  if (ok) {
    ctx_.health.markSuccess(ctx_.clock.now());
  } else {
    ctx_.health.markDown();
  }
  return result;
}

void XConnector::run(std::stop_token stop) {
  spdlog::info("x source running source={} base_url={} poll_interval={}s", logValue(ctx_.source.name),
               logValue(redactUrl(settings_.base_url)), settings_.poll_interval.count());
  while (!stop.stop_requested()) {
    auto r = poll(stop);
    if (r.ok && r.stored > 0) {
      spdlog::info("x poll stored source={} stored={} rejected={} requests={}", logValue(ctx_.source.name),
                   r.stored, r.rejected, r.requests);
    }
    if (!sleepFor(std::chrono::duration_cast<std::chrono::milliseconds>(settings_.poll_interval), stop))
      break;
  }
}

}  // namespace replywatch::connectors::x
