#pragma once
// A small libcurl GET client for polling connectors: timeouts, conditional requests
// (ETag / Last-Modified), retries with exponential backoff and full jitter on transport
// errors and 5xx, 429 handling with Retry-After, a body size limit and prompt
// cancellation through a stop_token. Bearer tokens are sent, never logged.
//
// One HttpClient per thread: an instance is not safe for concurrent use (it keeps one
// curl handle so connections are reused between polls).
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/core/clock.h"
#include "daemon/core/result.h"
#include "daemon/core/secret.h"
#include "daemon/core/source_health.h"

namespace replywatch::connectors {

struct HttpClientOptions {
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds total_timeout{60'000};  // whole transfer, per attempt
  int max_attempts = 4;                             // first try included
  std::chrono::milliseconds backoff_base{500};      // attempt n waits uniform(0, base * 2^n)
  std::chrono::milliseconds backoff_max{30'000};
  std::chrono::seconds max_retry_after{300};     // a longer Retry-After ends the call (rate_limited)
  std::chrono::seconds default_retry_after{30};  // 429 without (or with an unreadable) Retry-After
  std::size_t max_body_bytes = 256 * 1024 * 1024;
  int max_redirects = 5;
  std::string user_agent = "replywatch";
  // When true, a final 4xx status other than 429 is returned as an HttpResponse with its
  // body (APIs that explain errors in the body, such as Meta's Graph API) instead of an
  // "http" error.
  bool client_errors_as_responses = false;
  // A 429 without Retry-After waits until the time given by this response header when
  // set, in Unix seconds (X: "x-rate-limit-reset") or RFC 3339 (Mastodon:
  // "x-ratelimit-reset"), measured against `clock` (the system clock when null).
  std::string rate_limit_reset_header;
  const Clock* clock = nullptr;
  // Called on the calling thread for each failed attempt that is about to be retried
  // (reason "http", "transport" or "rate_limited"), e.g. to count it.
  std::function<void(const Error&)> on_retry;
};

struct HttpRequest {
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // extra request headers
  Secret bearer_token;        // sent as "Authorization: Bearer ..." when not empty
  std::string etag;           // sent as If-None-Match when not empty
  std::string last_modified;  // sent as If-Modified-Since when not empty
  // Headers holding credentials (Discourse's Api-Key), sent to the origin (scheme, host and
  // port) of `url` only: a redirect to another origin fails the request ("http") before
  // anything is sent there. libcurl already keeps the bearer token to the first origin.
  std::vector<std::pair<std::string, Secret>> credential_headers{};
};

struct HttpResponse {
  long status = 0;
  bool not_modified = false;  // 304: the body is empty, keep what you had
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // of the final response
  std::string etag;           // ETag of the response (or the request's, on 304)
  std::string last_modified;  // Last-Modified of the response (or the request's, on 304)
  int attempts = 0;

  std::optional<std::string_view> header(std::string_view name) const;  // case-insensitive
};

// Error reasons returned by HttpClient::get():
//   "http"          final status >= 400 (other than 429), or 5xx after every retry
//   "transport"     connection, DNS, TLS or timeout failure after every retry
//   "rate_limited"  429 after every retry, or a Retry-After above max_retry_after
//   "too_large"     the body exceeds max_body_bytes
//   "cancelled"     the stop_token was triggered
//   "invalid"       the request could not be set up (bad URL, ...)
inline constexpr std::string_view kHttpCancelled = "cancelled";
// The SourceHealth reason to count for an error returned by get().
ErrorReason errorReasonOf(const Error& error);
// The final HTTP status of an "http" error returned by get() ("... HTTP 404 ..."), else 0
// (transport failures, rate limits and every other reason).
long httpStatusOf(const Error& error);
// The wait a "rate_limited" error returned by get() carries ("... retry after 900s ..."):
// what the server asked for (Retry-After, the reset header) or default_retry_after; zero
// for every other error. The caller should not ask again before it has passed.
std::chrono::seconds retryAfterOf(const Error& error);

// Parses a Retry-After value: delay seconds or an HTTP-date (relative to `now`).
// Negative results are clamped to zero; nullopt when unreadable.
std::optional<std::chrono::seconds> parseRetryAfter(std::string_view value,
                                                    std::chrono::system_clock::time_point now);

// "scheme://host[:port]/path" without user info, query or fragment, for log lines.
std::string redactUrl(std::string_view url);

class HttpClient {
 public:
  // Called instead of sleeping between attempts (tests); returns false to stop.
  using SleepFn = std::function<bool(std::chrono::milliseconds, std::stop_token)>;

  explicit HttpClient(HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  Result<HttpResponse> get(const HttpRequest& request, std::stop_token stop = {});

  void setSleep(SleepFn fn) { sleep_ = std::move(fn); }
  const HttpClientOptions& options() const { return options_; }

 private:
  struct Attempt;
  Attempt performOnce(const HttpRequest& request, const std::string& url, std::stop_token stop);
  std::chrono::milliseconds backoff(int attempt);

  HttpClientOptions options_;
  void* curl_ = nullptr;  // CURL*
  std::mt19937_64 rng_;
  SleepFn sleep_;
};

}  // namespace replywatch::connectors
