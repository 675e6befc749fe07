#include "connectors/connector.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

namespace replywatch::connectors {
namespace {

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded decoding: %XX and '+' for space. Malformed escapes
// are kept literally.
std::string percentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < s.size() && hexValue(s[i + 1]) >= 0 && hexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hexValue(s[i + 1]) * 16 + hexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::optional<std::string_view> WebhookRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (equalsIgnoreCase(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

std::optional<std::string> WebhookRequest::queryParam(std::string_view name) const {
  std::string_view rest = query;
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    std::string key = percentDecode(pair.substr(0, eq));
    if (key != name) continue;
    if (eq == std::string_view::npos) return std::string{};
    return percentDecode(pair.substr(eq + 1));
  }
  return std::nullopt;
}

WebhookResponse WebhookResponse::error(int status, std::string_view message) {
  WebhookResponse r;
  r.status = status;
  nlohmann::json j;
  j["status"] = "error";
  j["error"] = std::string(message);
  r.body = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

WebhookResponse WebhookResponse::accepted(const IngestOutcome& outcome) {
  WebhookResponse r;
  r.status = 200;
  nlohmann::json j;
  j["status"] = "ok";
  j["received"] = outcome.received;
  j["stored"] = outcome.stored;
  j["duplicates"] = outcome.duplicates;
  r.body = j.dump();
  return r;
}

WebhookResponse Connector::handleWebhook(const WebhookRequest& request) {
  (void)request;
  return WebhookResponse::error(404, "this source does not accept webhooks");
}

Result<ImportStats> Connector::importFile(const std::filesystem::path& path, const ProgressFn& progress) {
  (void)progress;
  return makeError("unsupported", "this source type does not import files (" + path.filename().string() + ")");
}

}  // namespace replywatch::connectors
