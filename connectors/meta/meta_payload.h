#pragma once
// Parsing of Meta payloads into normalized Messages, shared by the webhook and the Graph
// API poller of the `meta` source type: Page `feed` and Instagram `comments` webhook
// bodies, Graph API pages of posts (or media) with their comments, and Graph error
// objects. Pure functions, no I/O; callable from any thread. See README.md in this
// directory for the conversation and brand rules.
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/common/validate.h"
#include "daemon/core/model.h"
#include "daemon/core/result.h"
#include "daemon/core/timestamp.h"

namespace replywatch::connectors::meta {

// Which Meta product a source follows: a Facebook Page (webhook object "page", Graph
// edge /{page-id}/feed) or an Instagram professional account (webhook object
// "instagram", Graph edge /{ig-user-id}/media).
enum class Platform : std::uint8_t { Facebook, Instagram };

// What the parsers need to know about the source.
struct ParseOptions {
  Platform platform = Platform::Facebook;
  std::string page_id;                 // Page id (Facebook) or Instagram account id
  std::vector<std::string> brand_ids;  // further author ids or names counted as the brand
  bool mentions = false;               // take `mention(s)` webhook changes as inbound messages
  std::size_t max_entries = 0;         // changes one webhook body may carry; 0: no limit
};

// The id both paths use for a Graph object: the part after the last '_'. Meta writes
// comment ids as "<post>_<comment>" and post ids as "<page>_<post>" (older payloads add
// further prefixes); the last part alone is the object's global id, so the webhook and
// the Graph API, which do not always use the same prefixes, give the same id.
std::string normalizeId(std::string_view id);

// A Meta time: epoch seconds (or milliseconds when above 1e11), as a JSON number or a
// string of digits, or a Graph date-time such as "2010-09-14T22:41:25+0000".
std::optional<Timestamp> parseMetaTime(const nlohmann::json& value);

// One change or object that could not be turned into a message.
struct PayloadProblem {
  std::string where;  // "entry 2, change 1", "data[3].comments.data[0]"; never content
  Rejection rejection;
};

// What a webhook body holds for this source.
struct WebhookParse {
  std::vector<Message> messages;  // not yet checked by MessageValidator
  std::vector<PayloadProblem> problems;
  std::size_t ignored = 0;  // changes of other objects, pages, fields, items or verbs
  // Of those, the entries addressed elsewhere: to another page or account (by id, the
  // first few distinct ones), or to another object than the source's ("page" for
  // Facebook, "instagram"). Every entry of a delivery addressed elsewhere usually means a
  // misconfigured page_id or platform.
  std::size_t elsewhere = 0;
  std::vector<std::string> other_ids;  // at most kMaxOtherIds
  std::string other_object;            // the delivery's object, when not the source's
  std::size_t entries = 0;             // entries in the delivery
  static constexpr std::size_t kMaxOtherIds = 4;
};

// Parses a webhook POST body (already authenticated). Errors (reason "bad_request") only
// when the body as a whole is not a Meta webhook document: not JSON, JSON nested deeper
// than kMaxJsonDepth, not an object, no "entry" array; reason "too_many_entries" when it
// holds more than `options.max_entries` changes (an entry without a `changes` array counts
// as one), whatever page or object they are for. Entries for another page or another
// object are ignored.
Result<WebhookParse> parseWebhookBody(std::string_view body, const ParseOptions& options);

// A further Graph page to fetch: the comments of a post (parent_comment empty) or the
// replies of a comment, continued from a nested `paging.next`.
struct FollowUp {
  std::string url;
  std::string post_id;         // normalized
  std::string parent_comment;  // normalized; empty for top-level comments
};

// What one Graph page holds.
struct GraphParse {
  std::vector<Message> messages;
  std::vector<PayloadProblem> problems;
  std::vector<FollowUp> follow_ups;
  std::string next;  // paging.next of the page itself; empty at the end
};

// Parses a page of the feed (Facebook: posts with `comments{...comments{...}}`) or of
// the media list (Instagram: media with `comments{...replies{...}}`). Errors (reason
// "parse_error") when the body is not a JSON object with a `data` array.
Result<GraphParse> parseFeedPage(std::string_view body, const ParseOptions& options);

// Parses a continued page of comments of `post_id`: top-level comments when
// `parent_comment` is empty, otherwise replies to it.
Result<GraphParse> parseCommentsPage(std::string_view body, const ParseOptions& options,
                                     const std::string& post_id, const std::string& parent_comment);

// A Graph API error object: {"error":{"message","type","code","error_subcode",...}}.
struct GraphError {
  int code = 0;
  int subcode = 0;
  std::string type;
  std::string message;  // Meta's text; it names no token
};

// The error object of a Graph response body, or nullopt when the body carries none.
std::optional<GraphError> parseGraphError(std::string_view body);

// Codes Meta uses for throttling: 4 (application), 17 (user), 32 (page), 613 (custom
// rate limit) and 80001-80014 (business use case limits).
bool isRateLimit(const GraphError& error);
// Code 190 (and 102, session expired): the access token is expired, revoked or invalid.
bool isExpiredToken(const GraphError& error);

}  // namespace replywatch::connectors::meta
