#include "daemon/simulate/sender.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>
#include <set>
#include <thread>
#include <tuple>

#include "connectors/common/hmac.h"
#include "connectors/common/http_client.h"
#include "daemon/core/http_fields.h"
#include "daemon/core/log.h"
#include "daemon/simulate/writers.h"

namespace replywatch::simulate {
namespace {

struct Event {
  Timestamp at;
  int order = 0;  // messages before records at the same instant
  std::uint64_t seq = 0;
  bool relay = false;
  std::string key;  // record id (relay) or message id
  std::string body;
};

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

std::size_t onBody(char* data, std::size_t size, std::size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

std::size_t onHeader(char* data, std::size_t size, std::size_t count, void* user) {
  std::string_view line(data, size * count);
  constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size() && equalsIgnoreCase(line.substr(0, kName.size()), kName)) {
    auto value = line.substr(kName.size());
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
      value.remove_suffix(1);
    *static_cast<std::string*>(user) = std::string(value);
  }
  return size * count;
}

std::string trimSlash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

std::string relayBody(const std::vector<std::string>& objects) {
  if (objects.size() == 1) return objects.front();
  std::string body = "[";
  for (std::size_t i = 0; i < objects.size(); ++i) body += (i ? "," : "") + objects[i];
  return body + "]";
}

}  // namespace

std::vector<Delivery> planDeliveries(const Traffic& traffic, std::size_t batch, bool with_relays) {
  std::vector<Event> events;
  std::uint64_t seq = 0;
  for (const auto& m : traffic.messages)
    events.push_back({m.created_at, 0, seq++, false, m.id, messageJson(m)});
  if (with_relays) {
    for (const auto& e : traffic.escalations) {
      events.push_back({e.requested_at, 1, seq++, true, e.id, escalationJson(e, false)});
      if (e.answered_at) events.push_back({*e.answered_at, 1, seq++, true, e.id, escalationJson(e, true)});
    }
  }
  std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    return std::tie(a.at, a.order, a.seq) < std::tie(b.at, b.order, b.seq);
  });
  batch = std::max<std::size_t>(batch, 1);
  std::vector<Delivery> deliveries;
  std::vector<std::string> pending;
  std::set<std::string> keys;
  bool pending_relay = false;
  Timestamp pending_at;
  auto flush = [&] {
    if (pending.empty()) return;
    Delivery d{pending_relay, {}, pending.size(), pending_at};
    if (pending_relay) {
      d.body = relayBody(pending);
    } else {
      for (const auto& line : pending) d.body += line + "\n";
    }
    deliveries.push_back(std::move(d));
    pending.clear();
    keys.clear();
  };
  for (auto& e : events) {
    if (!pending.empty() && (e.relay != pending_relay || pending.size() >= batch || keys.contains(e.key)))
      flush();
    if (pending.empty()) {
      pending_relay = e.relay;
      pending_at = e.at;
    }
    keys.insert(e.key);
    pending.push_back(std::move(e.body));
  }
  flush();
  return deliveries;
}

Result<SendReport> sendDeliveries(const std::vector<Delivery>& deliveries, const SendOptions& options) {
  static const bool kCurlReady = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  if (!kCurlReady) return makeError("transport", "libcurl could not be initialised");
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return makeError("transport", "libcurl could not be initialised");

  const std::string base = trimSlash(options.base_url);
  const std::string message_url = base + "/webhooks/" + options.source;
  const std::string relay_url = base + "/webhooks/" + options.relay_source;
  SendReport report;
  const auto began = std::chrono::steady_clock::now();
  std::string body;
  std::string retry_after;

  for (std::size_t i = 0; i < deliveries.size(); ++i) {
    const auto& d = deliveries[i];
    if (options.rate > 0) {
      std::this_thread::sleep_until(
          began + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                      std::chrono::duration<double>(static_cast<double>(i) / options.rate)));
    }
    const Secret& secret = d.relay ? options.relay_secret : options.secret;
    std::unique_ptr<curl_slist, SlistDeleter> headers;
    auto add_header = [&](const std::string& h) {
      headers.reset(curl_slist_append(headers.release(), h.c_str()));
    };
    add_header(fmt::format("{}: sha256={}", options.signature_header,
                           connectors::hmacSha256Hex(secret.reveal(), d.body)));
    add_header(d.relay ? "Content-Type: application/json" : "Content-Type: application/x-ndjson");
    add_header("Expect:");
    ++report.deliveries;

    for (int attempt = 1;; ++attempt) {
      CURL* c = curl.get();
      curl_easy_reset(c);
      body.clear();
      retry_after.clear();
      const std::string& url = d.relay ? relay_url : message_url;
      curl_easy_setopt(c, CURLOPT_URL, url.c_str());
      curl_easy_setopt(c, CURLOPT_POST, 1L);
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, d.body.data());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(d.body.size()));
      curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
      curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &onBody);
      curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
      curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &onHeader);
      curl_easy_setopt(c, CURLOPT_HEADERDATA, &retry_after);
      curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
      curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(c, CURLOPT_USERAGENT, "replywatch-simulate");
      const CURLcode code = curl_easy_perform(c);
      long status = 0;
      if (code == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);

      if (code == CURLE_OK && status >= 200 && status < 300) {
        ++report.acknowledged;
        (d.relay ? report.records_acknowledged : report.messages_acknowledged) += d.items;
        auto answer = nlohmann::json::parse(body, nullptr, false);
        if (answer.is_object()) {
          report.stored += answer.value("stored", std::uint64_t{0});
          report.duplicates += answer.value("duplicates", std::uint64_t{0});
          report.rejected += answer.value("rejected", std::uint64_t{0});
        }
        break;
      }
      const bool retryable = code != CURLE_OK || status == 429 || status >= 500;
      if (!retryable || attempt >= options.max_attempts) {
        if (code != CURLE_OK) {
          return makeError("transport", fmt::format("{}: {} (after {} attempts)", connectors::redactUrl(url),
                                                    curl_easy_strerror(code), attempt));
        }
        ++report.refused;
        auto answer = nlohmann::json::parse(body, nullptr, false);
        spdlog::warn("delivery refused url={} status={} error={}", logValue(connectors::redactUrl(url)),
                     status,
                     logValue(answer.is_object() ? answer.value("error", std::string{}) : std::string{}));
        break;
      }
      ++report.retries;
      std::chrono::milliseconds wait{std::min(30'000, 250 << std::min(attempt, 7))};
      if (status == 503 || status == 429) {
        if (auto after = connectors::parseRetryAfter(retry_after, std::chrono::system_clock::now()))
          wait = *after;
      }
      spdlog::debug("delivery retried status={} attempt={} wait_ms={}", status, attempt, wait.count());
      std::this_thread::sleep_for(wait);
    }
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  return report;
}

}  // namespace replywatch::simulate
