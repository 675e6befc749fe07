#include "connectors/mastodon/mastodon_parse.h"

#include <fmt/format.h>

#include <cctype>

#include "connectors/common/html_text.h"
#include "connectors/common/json_fields.h"
#include "connectors/common/limits.h"

namespace replywatch::connectors::mastodon {
namespace {

using nlohmann::json;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hexValue(s[i + 1]) >= 0 && hexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hexValue(s[i + 1]) * 16 + hexValue(s[i + 2])));
      i += 2;
    } else if (s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

Result<StatusPage> statusArray(const json& array) {
  StatusPage page;
  for (const auto& item : array) {
    if (auto id = jsonId(item, "id")) page.ids.push_back(std::move(*id));
    auto status = parseStatus(item);
    if (status) {
      page.statuses.push_back(std::move(*status));
    } else {
      page.rejected.push_back(status.error());
    }
  }
  return page;
}

}  // namespace

Result<Status> parseStatus(const json& object) {
  if (!object.is_object()) return makeError("parse_error", "the status is not a JSON object");
  Status s;
  auto id = jsonId(object, "id");
  if (!id) return makeError("missing_field", "the status has no id");
  s.id = std::move(*id);
  s.in_reply_to_id = jsonId(object, "in_reply_to_id").value_or("");
  s.in_reply_to_account_id = jsonId(object, "in_reply_to_account_id").value_or("");
  const auto account = object.find("account");
  if (account == object.end() || !account->is_object()) {
    return makeError("missing_field", fmt::format("status {} has no account", s.id));
  }
  auto account_id = jsonId(*account, "id");
  if (!account_id) return makeError("missing_field", fmt::format("status {} has no account.id", s.id));
  s.account_id = std::move(*account_id);
  s.acct = jsonString(*account, "acct");
  s.username = jsonString(*account, "username");
  auto created = jsonTimestamp(object, "created_at", fmt::format("status {}", s.id));
  if (!created) return created.error();
  s.created_at = *created;
  s.text = htmlToText(jsonString(object, "content"));
  const auto mentions = object.find("mentions");
  if (mentions != object.end() && mentions->is_array()) {
    for (const auto& m : *mentions) {
      if (auto mid = jsonId(m, "id")) s.mention_ids.push_back(std::move(*mid));
      if (auto acct = jsonString(m, "acct"); !acct.empty()) s.mention_accts.push_back(std::move(acct));
    }
  }
  const auto reblog = object.find("reblog");
  s.reblog = reblog != object.end() && reblog->is_object();
  return s;
}

Result<WebhookEvent> parseWebhookEvent(std::string_view body) {
  auto doc = parseJson(body, "parse_error", "the body is not valid JSON");
  if (!doc) return doc.error();
  const json& j = *doc;
  if (!j.is_object()) return makeError("parse_error", "the body is not a JSON object");
  WebhookEvent e;
  e.event = jsonString(j, "event");
  if (e.event.empty()) return makeError("missing_field", "the body has no event");
  if (e.event.rfind("status.", 0) == 0) {
    const auto object = j.find("object");
    if (object == j.end() || !object->is_object()) {
      return makeError("missing_field", fmt::format("the {} event has no object", e.event));
    }
    auto status = parseStatus(*object);
    if (!status) return status.error();
    e.status = std::move(*status);
  }
  return e;
}

Result<NotificationPage> parseNotificationPage(std::string_view body) {
  auto doc = parseJson(body, "parse_error", "the notifications page is not valid JSON");
  if (!doc) return doc.error();
  const json& j = *doc;
  if (!j.is_array()) return makeError("parse_error", "the notifications page is not a JSON array");
  NotificationPage page;
  for (const auto& n : j) {
    auto id = jsonId(n, "id");
    if (!id) {
      page.rejected.push_back(makeError("missing_field", "a notification has no id"));
      continue;
    }
    page.ids.push_back(*id);
    if (jsonString(n, "type") != "mention") continue;
    const auto status = n.find("status");
    if (status == n.end() || !status->is_object()) {
      page.rejected.push_back(makeError("missing_field", fmt::format("notification {} has no status", *id)));
      continue;
    }
    auto parsed = parseStatus(*status);
    if (parsed) {
      page.statuses.push_back(std::move(*parsed));
    } else {
      page.rejected.push_back(parsed.error());
    }
  }
  return page;
}

Result<StatusPage> parseStatusPage(std::string_view body) {
  auto doc = parseJson(body, "parse_error", "the statuses page is not valid JSON");
  if (!doc) return doc.error();
  const json& j = *doc;
  if (!j.is_array()) return makeError("parse_error", "the statuses page is not a JSON array");
  return statusArray(j);
}

Result<StatusPage> parseContextAncestors(std::string_view body) {
  auto doc = parseJson(body, "parse_error", "the status context is not valid JSON");
  if (!doc) return doc.error();
  const json& j = *doc;
  if (!j.is_object()) return makeError("parse_error", "the status context is not a JSON object");
  const auto ancestors = j.find("ancestors");
  if (ancestors == j.end() || !ancestors->is_array()) {
    return makeError("missing_field", "the status context has no ancestors");
  }
  return statusArray(*ancestors);
}

Links parseLinkHeader(std::string_view header) {
  Links links;
  std::size_t pos = 0;
  while (pos < header.size()) {
    const std::size_t open = header.find('<', pos);
    if (open == std::string_view::npos) break;
    const std::size_t close = header.find('>', open + 1);
    if (close == std::string_view::npos) break;
    const std::string_view target = header.substr(open + 1, close - open - 1);
    std::size_t end = header.find('<', close + 1);
    const std::string params =
        lower(header.substr(close + 1, end == std::string_view::npos ? end : end - close - 1));
    // rel may be quoted or not, and may list several relation types.
    auto has_rel = [&](std::string_view rel) {
      const std::size_t at = params.find("rel=");
      if (at == std::string::npos) return false;
      std::string_view value = std::string_view(params).substr(at + 4);
      if (!value.empty() && value[0] == '"') {
        value.remove_prefix(1);
        value = value.substr(0, value.find('"'));
      } else {
        value = value.substr(0, value.find_first_of(";, "));
      }
      std::size_t i = 0;
      while (i < value.size()) {
        std::size_t sp = value.find(' ', i);
        if (value.substr(i, sp == std::string_view::npos ? sp : sp - i) == rel) return true;
        if (sp == std::string_view::npos) break;
        i = sp + 1;
      }
      return false;
    };
    if (has_rel("next") && links.next.empty()) links.next = std::string(target);
    if (has_rel("prev") && links.prev.empty()) links.prev = std::string(target);
    pos = end == std::string_view::npos ? header.size() : end;
  }
  return links;
}

std::string urlQueryParam(std::string_view url, std::string_view name) {
  const std::size_t q = url.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view query = url.substr(q + 1);
  query = query.substr(0, query.find('#'));
  std::size_t pos = 0;
  while (pos <= query.size()) {
    std::size_t amp = query.find('&', pos);
    const std::string_view pair = query.substr(pos, amp == std::string_view::npos ? amp : amp - pos);
    const std::size_t eq = pair.find('=');
    if (percentDecode(pair.substr(0, eq)) == name) {
      return eq == std::string_view::npos ? std::string{} : percentDecode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    pos = amp + 1;
  }
  return {};
}

std::string normalizeAcct(std::string_view acct, std::string_view local_domain) {
  if (!acct.empty() && acct[0] == '@') acct.remove_prefix(1);
  std::string out = lower(acct);
  if (out.find('@') == std::string::npos && !local_domain.empty()) out += "@" + lower(local_domain);
  return out;
}

}  // namespace replywatch::connectors::mastodon
