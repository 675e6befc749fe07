#pragma once
// Parsing of Mastodon payloads: Status entities (REST API and webhook `object`), webhook
// event envelopes, notification arrays and the Link header used for pagination.
// Pure functions, callable from any thread. See README.md in this directory.
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/core/result.h"
#include "daemon/core/timestamp.h"

namespace replywatch::connectors::mastodon {

// The fields of a Status entity replywatch uses.
struct Status {
  std::string id;                      // string snowflake, e.g. "117020583258292382"
  std::string in_reply_to_id;          // parent status id, empty for a thread root
  std::string in_reply_to_account_id;  // author of the parent, empty for a thread root
  std::string account_id;              // author's account id
  std::string acct;                    // "user" (local) or "user@domain" (remote)
  std::string username;
  Timestamp created_at{};
  std::string text;  // `content` with the HTML stripped
  std::vector<std::string> mention_ids;
  std::vector<std::string> mention_accts;
  bool reblog = false;  // a boost of another status: not a message of the conversation
};

// Parses one Status object. Errors ("missing_field", "invalid_timestamp", "parse_error")
// name the field, never its content.
Result<Status> parseStatus(const nlohmann::json& object);

// A webhook delivery: {"event": "...", "created_at": "...", "object": {...}}.
struct WebhookEvent {
  std::string event;             // "status.created", "status.updated", "account.created", ...
  std::optional<Status> status;  // set for status.* events
};

// Parses a webhook body. Errors: "parse_error" (not JSON, not an object, no event),
// or those of parseStatus() for a status.* event whose object is unusable.
Result<WebhookEvent> parseWebhookEvent(std::string_view body);

// One page of GET /api/v1/notifications: the mention notifications with their status.
// Notification ids live in their own id space (small integers as strings).
struct NotificationPage {
  std::vector<std::string> ids;  // every notification id on the page, mentions or not
  std::vector<Status> statuses;  // statuses of the mention notifications
  std::vector<Error> rejected;   // notifications whose status could not be parsed
};
Result<NotificationPage> parseNotificationPage(std::string_view body);

// One page of statuses (GET /api/v1/accounts/:id/statuses), or the ancestors of a
// context (GET /api/v1/statuses/:id/context, key "ancestors").
struct StatusPage {
  std::vector<std::string> ids;  // every readable status id, rejected statuses included
  std::vector<Status> statuses;
  std::vector<Error> rejected;
};
Result<StatusPage> parseStatusPage(std::string_view body);
Result<StatusPage> parseContextAncestors(std::string_view body);

// The rel="next" / rel="prev" targets of an RFC 8288 Link header; empty when absent.
struct Links {
  std::string next;
  std::string prev;
};
Links parseLinkHeader(std::string_view header);

// The decoded value of query parameter `name` in `url`; empty when absent.
std::string urlQueryParam(std::string_view url, std::string_view name);

// "user" -> "user@<local_domain>"; "user@domain" unchanged; lower-cased, a leading '@'
// dropped. Used to compare configured and received account names.
std::string normalizeAcct(std::string_view acct, std::string_view local_domain);

}  // namespace replywatch::connectors::mastodon
