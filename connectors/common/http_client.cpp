#include "connectors/common/http_client.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <stdexcept>

#include "daemon/core/log.h"
#include "daemon/core/timestamp.h"

namespace replywatch::connectors {
namespace {

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

void globalInit() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      throw std::runtime_error("curl_global_init failed");
  });
}

struct Transfer {
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::size_t max_body = 0;
  bool too_large = false;
  std::stop_token stop;
};

std::size_t onBody(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::size_t n = size * count;
  if (t->body.size() + n > t->max_body) {
    t->too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  t->body.append(data, n);
  return n;
}

std::size_t onHeader(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::size_t n = size * count;
  std::string_view line(data, n);
  if (line.starts_with("HTTP/")) {
    t->headers.clear();  // a new response (redirect, 100 Continue): keep only the last one
  } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
    t->headers.emplace_back(std::string(trim(line.substr(0, colon))),
                            std::string(trim(line.substr(colon + 1))));
  }
  return n;
}

int onProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  return t->stop.stop_requested() ? 1 : 0;
}

std::optional<std::string_view> findHeader(const std::vector<std::pair<std::string, std::string>>& headers,
                                           std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (equalsIgnoreCase(k, name)) return std::string_view(v);
  }
  return std::nullopt;
}

class HeaderList {
 public:
  void add(const std::string& line) {
    auto* next = curl_slist_append(list_, line.c_str());
    if (next == nullptr) throw std::bad_alloc();
    list_ = next;
  }
  ~HeaderList() { curl_slist_free_all(list_); }
  curl_slist* get() const { return list_; }

 private:
  curl_slist* list_ = nullptr;
};

// "scheme://host:port" of an absolute URL, in lower case with the scheme's default port
// filled in; nullopt when the URL cannot be read.
std::optional<std::string> originOf(const std::string& url) {
  CURLU* u = curl_url();
  if (u == nullptr) return std::nullopt;
  std::optional<std::string> origin;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
    char* scheme = nullptr;
    char* host = nullptr;
    char* port = nullptr;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
      std::string o = fmt::format("{}://{}:{}", scheme, host, port);
      std::transform(o.begin(), o.end(), o.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      origin = std::move(o);
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
  }
  curl_url_cleanup(u);
  return origin;
}

}  // namespace

std::optional<std::string_view> HttpResponse::header(std::string_view name) const {
  return findHeader(headers, name);
}

ErrorReason errorReasonOf(const Error& error) {
  if (error.reason == "rate_limited") return ErrorReason::RateLimited;
  return ErrorReason::Http;
}

long httpStatusOf(const Error& error) {
  if (error.reason != "http") return 0;
  const std::size_t at = error.message.rfind("HTTP ");
  if (at == std::string::npos) return 0;
  long status = 0;
  const char* first = error.message.c_str() + at + 5;
  if (std::from_chars(first, error.message.c_str() + error.message.size(), status).ec != std::errc{})
    return 0;
  return status;
}

std::chrono::seconds retryAfterOf(const Error& error) {
  if (error.reason != "rate_limited") return std::chrono::seconds{0};
  static constexpr std::string_view kMark = "retry after ";
  const std::size_t at = error.message.rfind(kMark);
  if (at == std::string::npos) return std::chrono::seconds{0};
  long long secs = 0;
  const char* first = error.message.c_str() + at + kMark.size();
  if (std::from_chars(first, error.message.c_str() + error.message.size(), secs).ec != std::errc{})
    return std::chrono::seconds{0};
  return std::chrono::seconds{std::max(secs, 0LL)};
}

std::optional<std::chrono::seconds> parseRetryAfter(std::string_view value,
                                                    std::chrono::system_clock::time_point now) {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(),
                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    long long secs = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), secs);
    if (ec != std::errc{}) return std::chrono::seconds{std::numeric_limits<int>::max()};  // absurdly large
    (void)p;
    return std::chrono::seconds{secs};
  }
  std::string copy(value);
  time_t when = curl_getdate(copy.c_str(), nullptr);
  if (when == -1) return std::nullopt;
  auto delta = std::chrono::system_clock::from_time_t(when) - now;
  auto secs = std::chrono::ceil<std::chrono::seconds>(delta);
  return std::max(secs, std::chrono::seconds{0});
}

std::string redactUrl(std::string_view url) {
  auto scheme_end = url.find("://");
  std::string_view scheme;
  std::string_view rest = url;
  if (scheme_end != std::string_view::npos) {
    scheme = url.substr(0, scheme_end + 3);
    rest = url.substr(scheme_end + 3);
  }
  auto cut = rest.find_first_of("?#");
  rest = rest.substr(0, cut);
  auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  if (auto at = authority.rfind('@'); at != std::string_view::npos) authority = authority.substr(at + 1);
  return std::string(scheme) + std::string(authority) + std::string(path);
}

struct HttpClient::Attempt {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string redirect_url;  // Location of a 3xx not followed by libcurl
  Transfer transfer;
  std::string curl_error;
};

HttpClient::HttpClient(HttpClientOptions options)
    : options_(std::move(options)), rng_(std::random_device{}()) {
  globalInit();
  curl_ = curl_easy_init();
  if (curl_ == nullptr) throw std::runtime_error("curl_easy_init failed");
  sleep_ = [](std::chrono::milliseconds d, std::stop_token stop) { return sleepFor(d, stop); };
}

HttpClient::~HttpClient() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

std::chrono::milliseconds HttpClient::backoff(int attempt) {
  // Full jitter: uniform in [0, min(max, base * 2^(attempt-1))].
  auto cap = options_.backoff_base.count();
  for (int i = 1; i < attempt && cap < options_.backoff_max.count(); ++i) cap *= 2;
  cap = std::min(cap, options_.backoff_max.count());
  if (cap <= 0) return std::chrono::milliseconds{0};
  std::uniform_int_distribution<long long> dist(0, cap);
  return std::chrono::milliseconds{dist(rng_)};
}

HttpClient::Attempt HttpClient::performOnce(const HttpRequest& request, const std::string& url,
                                            std::stop_token stop) {
  auto* curl = static_cast<CURL*>(curl_);
  curl_easy_reset(curl);
  Attempt a;
  a.transfer.max_body = options_.max_body_bytes;
  a.transfer.stop = std::move(stop);
  char errbuf[CURL_ERROR_SIZE] = {0};

  HeaderList headers;
  for (const auto& [k, v] : request.headers) headers.add(fmt::format("{}: {}", k, v));
  for (const auto& [k, v] : request.credential_headers) headers.add(fmt::format("{}: {}", k, v.reveal()));
  // Requests with credential headers follow their redirects in get(), origin checked.
  const bool follow = request.credential_headers.empty();
  if (!request.bearer_token.empty()) headers.add("Authorization: Bearer " + request.bearer_token.reveal());
  if (!request.etag.empty()) headers.add("If-None-Match: " + request.etag);
  if (!request.last_modified.empty()) headers.add("If-Modified-Since: " + request.last_modified);

  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.total_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, follow ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, static_cast<long>(options_.max_redirects));
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
  curl_easy_setopt(curl, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options_.max_body_bytes));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &onBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &a.transfer);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &onHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &a.transfer);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &onProgress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &a.transfer);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);

  a.code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &a.status);
  char* location = nullptr;
  if (!follow && a.code == CURLE_OK && a.status >= 300 && a.status < 400 &&
      curl_easy_getinfo(curl, CURLINFO_REDIRECT_URL, &location) == CURLE_OK && location != nullptr) {
    a.redirect_url = location;
  }
  // Detach everything that points into this stack frame.
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  if (a.code == CURLE_FILESIZE_EXCEEDED) a.transfer.too_large = true;
  if (a.code != CURLE_OK) a.curl_error = errbuf[0] != '\0' ? std::string(errbuf) : curl_easy_strerror(a.code);
  return a;
}

Result<HttpResponse> HttpClient::get(const HttpRequest& request, std::stop_token stop) {
  const std::string where = redactUrl(request.url);
  if (request.url.empty()) return makeError("invalid", "no URL given");
  const int attempts = std::max(1, options_.max_attempts);
  for (int attempt = 1;; ++attempt) {
    if (stop.stop_requested()) return makeError(std::string(kHttpCancelled), "GET " + where + " cancelled");
    Attempt a = performOnce(request, request.url, stop);
    for (int hops = 0; !a.redirect_url.empty() && !stop.stop_requested(); ++hops) {
      if (hops >= options_.max_redirects) {
        return makeError("http",
                         fmt::format("GET {}: more than {} redirects", where, options_.max_redirects));
      }
      const auto to = originOf(a.redirect_url);
      if (!to || to != originOf(request.url)) {
        return makeError("http", fmt::format("GET {}: redirected to another origin ({}), where the request's "
                                             "credentials are not sent",
                                             where, to.value_or(redactUrl(a.redirect_url))));
      }
      a = performOnce(request, a.redirect_url, stop);
    }
    if (stop.stop_requested() || a.code == CURLE_ABORTED_BY_CALLBACK)
      return makeError(std::string(kHttpCancelled), "GET " + where + " cancelled");
    if (a.transfer.too_large) {
      return makeError("too_large", fmt::format("GET {}: the response is larger than {} bytes", where,
                                                options_.max_body_bytes));
    }
    if (a.code == CURLE_URL_MALFORMAT || a.code == CURLE_UNSUPPORTED_PROTOCOL) {
      return makeError("invalid", fmt::format("GET {}: {}", where, a.curl_error));
    }

    std::chrono::milliseconds delay{0};
    std::string failure;
    std::string reason;
    if (a.code != CURLE_OK) {
      reason = "transport";
      failure = a.curl_error;
      delay = backoff(attempt);
    } else if ((a.status >= 200 && a.status < 300) || a.status == 304) {
      HttpResponse r;
      r.status = a.status;
      r.attempts = attempt;
      r.not_modified = a.status == 304;
      r.headers = std::move(a.transfer.headers);
      if (!r.not_modified) r.body = std::move(a.transfer.body);
      r.etag = std::string(r.header("ETag").value_or(""));
      r.last_modified = std::string(r.header("Last-Modified").value_or(""));
      if (r.not_modified) {
        if (r.etag.empty()) r.etag = request.etag;
        if (r.last_modified.empty()) r.last_modified = request.last_modified;
      }
      return r;
    } else if (a.status == 429) {
      reason = "rate_limited";
      auto header = findHeader(a.transfer.headers, "Retry-After");
      std::optional<std::chrono::seconds> after;
      if (header) after = parseRetryAfter(*header, std::chrono::system_clock::now());
      auto reset = options_.rate_limit_reset_header.empty()
                       ? std::nullopt
                       : findHeader(a.transfer.headers, options_.rate_limit_reset_header);
      long long reset_at = 0;
      std::optional<Timestamp> reset_time;
      if (!after && reset) {
        const char* end = reset->data() + reset->size();
        if (auto [ptr, ec] = std::from_chars(reset->data(), end, reset_at); ec == std::errc{} && ptr == end) {
          reset_time = Timestamp{std::chrono::seconds{reset_at}};
        } else {
          reset_time = parseRfc3339(trim(*reset));
        }
      }
      if (reset_time) {
        const Timestamp now = options_.clock != nullptr ? options_.clock->now() : SystemClock().now();
        after = std::max(std::chrono::seconds{0}, std::chrono::ceil<std::chrono::seconds>(*reset_time - now));
      }
      auto wait = after.value_or(options_.default_retry_after);
      failure = fmt::format("HTTP 429, retry after {}s", wait.count());
      if (wait > options_.max_retry_after) {
        return makeError(reason, fmt::format("GET {}: {} (longer than the {}s this client waits)", where,
                                             failure, options_.max_retry_after.count()));
      }
      delay = std::chrono::duration_cast<std::chrono::milliseconds>(wait);
    } else if (a.status >= 500) {
      reason = "http";
      failure = fmt::format("HTTP {}", a.status);
      delay = backoff(attempt);
    } else if (options_.client_errors_as_responses && a.status >= 400 && a.status < 500) {
      HttpResponse r;
      r.status = a.status;
      r.attempts = attempt;
      r.headers = std::move(a.transfer.headers);
      r.body = std::move(a.transfer.body);
      return r;
    } else {
      return makeError("http", fmt::format("GET {}: HTTP {}", where, a.status));
    }

    if (attempt >= attempts) {
      return makeError(reason, fmt::format("GET {}: {} (after {} attempts)", where, failure, attempt));
    }
    spdlog::warn("http request failed, retrying url={} error={} attempt={} delay_ms={}", logValue(where),
                 logValue(failure), attempt, delay.count());
    if (options_.on_retry) options_.on_retry(makeError(reason, fmt::format("GET {}: {}", where, failure)));
    if (!sleep_(delay, stop)) return makeError(std::string(kHttpCancelled), "GET " + where + " cancelled");
  }
}

}  // namespace replywatch::connectors
