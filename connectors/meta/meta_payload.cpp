#include "connectors/meta/meta_payload.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <utility>

#include "connectors/common/limits.h"

namespace replywatch::connectors::meta {
namespace {

using nlohmann::json;

// Epoch numbers above this are milliseconds (1e11 s is in the year 5138).
constexpr double kMillisThreshold = 1e11;

// An id written as a JSON string or an integer; "" for anything else.
std::string idOf(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_unsigned()) return std::to_string(v.get<std::uint64_t>());
  if (v.is_number_integer()) return std::to_string(v.get<std::int64_t>());
  return {};
}

std::string stringOf(const json& v) { return v.is_string() ? v.get<std::string>() : std::string{}; }

const json& member(const json& object, const char* key) {
  static const json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

bool isBrand(const ParseOptions& options, const std::string& author_id, const std::string& author_name) {
  if (!author_id.empty() && author_id == options.page_id) return true;
  return std::any_of(options.brand_ids.begin(), options.brand_ids.end(), [&](const std::string& b) {
    return (!author_id.empty() && b == author_id) || (!author_name.empty() && b == author_name);
  });
}

PayloadProblem problem(std::string where, ErrorReason reason, std::string message) {
  return PayloadProblem{std::move(where), Rejection{reason, std::move(message)}};
}

// Author of a webhook value: `from` {id, name|username} or, in older payloads,
// `sender_id` / `sender_name`.
void readAuthor(const json& value, std::string& id, std::string& name) {
  const json& from = member(value, "from");
  id = idOf(member(from, "id"));
  name = stringOf(member(from, "name"));
  if (name.empty()) name = stringOf(member(from, "username"));
  if (id.empty()) id = idOf(member(value, "sender_id"));
  if (name.empty()) name = stringOf(member(value, "sender_name"));
}

// The suffix of a retraction message id for a removal verb; empty for other verbs.
std::string_view retractionSuffix(std::string_view verb) {
  if (verb == "remove") return ":removed";
  if (verb == "hide") return ":hidden";
  return {};
}

bool isPostItem(std::string_view item) {
  return item == "post" || item == "status" || item == "photo" || item == "video" || item == "share" ||
         item == "note";
}

// One Page `feed` change. Appends a message, a problem, or counts it as ignored.
void parseFeedChange(const json& value, Timestamp entry_time, const std::string& where,
                     const ParseOptions& options, WebhookParse& out) {
  if (!value.is_object()) {
    out.problems.push_back(problem(where, ErrorReason::ParseError, "the change value is not an object"));
    return;
  }
  const std::string item = stringOf(member(value, "item"));
  const std::string verb = stringOf(member(value, "verb"));
  const bool adds = verb == "add" || verb == "edited";
  const std::string_view suffix = retractionSuffix(verb);
  const bool comment = item == "comment";
  if ((!comment && !isPostItem(item)) || (!adds && suffix.empty())) {
    ++out.ignored;
    return;
  }
  const std::string post_id = normalizeId(idOf(member(value, "post_id")));
  std::string object_id;
  std::string conversation;
  std::string parent;
  if (comment) {
    object_id = normalizeId(idOf(member(value, "comment_id")));
    if (object_id.empty()) {
      out.problems.push_back(problem(where, ErrorReason::MissingField, "a comment change has no comment_id"));
      return;
    }
    parent = normalizeId(idOf(member(value, "parent_id")));
    if (parent.empty()) parent = post_id;
    if (parent.empty()) {
      out.problems.push_back(
          problem(where, ErrorReason::MissingField, "a comment change has neither parent_id nor post_id"));
      return;
    }
    // A top-level comment starts its conversation; a reply joins its parent's.
    conversation = parent == post_id ? object_id : parent;
  } else {
    object_id = post_id;
    if (object_id.empty()) {
      out.problems.push_back(problem(where, ErrorReason::MissingField, "a post change has no post_id"));
      return;
    }
    conversation = object_id;
  }

  Message m;
  readAuthor(value, m.author_id, m.author_name);
  m.conversation_id = conversation;
  if (adds) {
    if (m.author_id.empty()) {
      out.problems.push_back(
          problem(where, ErrorReason::MissingField, "the change has no from.id or sender_id"));
      return;
    }
    m.id = object_id;
    m.in_reply_to = parent;
    const json& created = member(value, "created_time");
    if (created.is_null()) {
      m.created_at = entry_time;
    } else if (auto t = parseMetaTime(created)) {
      m.created_at = *t;
    } else {
      out.problems.push_back(
          problem(where, ErrorReason::InvalidTimestamp, "created_time is not a valid time"));
      return;
    }
    m.text = stringOf(member(value, "message"));
  } else {
    // A removal or hiding: recorded as its own event, at the time of the change.
    m.kind = MessageKind::Retraction;
    m.id = object_id + std::string(suffix);
    m.in_reply_to = object_id;
    m.created_at = entry_time;
    if (m.author_id.empty()) m.author_id = "unknown";
  }
  m.author_is_brand = isBrand(options, m.author_id, m.author_name);
  out.messages.push_back(std::move(m));
}

// A `mention` (Facebook) or `mentions` (Instagram) change: the page is named in someone
// else's post or comment. It carries no author; the message is inbound.
void parseMentionChange(const json& value, Timestamp entry_time, const std::string& where,
                        const ParseOptions& options, WebhookParse& out) {
  if (!options.mentions) {
    ++out.ignored;
    return;
  }
  if (!value.is_object()) {
    out.problems.push_back(problem(where, ErrorReason::ParseError, "the change value is not an object"));
    return;
  }
  if (options.platform == Platform::Facebook && stringOf(member(value, "verb")) != "add") {
    ++out.ignored;
    return;
  }
  std::string id = normalizeId(idOf(member(value, "comment_id")));
  if (id.empty()) id = normalizeId(idOf(member(value, "post_id")));
  if (id.empty()) id = normalizeId(idOf(member(value, "media_id")));
  if (id.empty()) {
    out.problems.push_back(
        problem(where, ErrorReason::MissingField, "a mention has no comment_id or post_id"));
    return;
  }
  Message m;
  m.id = id;
  m.conversation_id = id;
  readAuthor(value, m.author_id, m.author_name);
  if (m.author_id.empty()) m.author_id = "unknown";
  m.created_at = entry_time;
  if (auto t = parseMetaTime(member(value, "created_time"))) m.created_at = *t;
  m.text = stringOf(member(value, "message"));
  if (m.text.empty()) m.text = stringOf(member(value, "text"));
  m.author_is_brand = isBrand(options, m.author_id, m.author_name);
  out.messages.push_back(std::move(m));
}

// An Instagram `comments` change: {id, text, from{id, username}, parent_id?, media{id}}.
// The value has no creation time: the entry's time is used.
void parseInstagramComment(const json& value, Timestamp entry_time, const std::string& where,
                           const ParseOptions& options, WebhookParse& out) {
  if (!value.is_object()) {
    out.problems.push_back(problem(where, ErrorReason::ParseError, "the change value is not an object"));
    return;
  }
  Message m;
  m.id = normalizeId(idOf(member(value, "id")));
  if (m.id.empty()) {
    out.problems.push_back(problem(where, ErrorReason::MissingField, "a comment change has no id"));
    return;
  }
  readAuthor(value, m.author_id, m.author_name);
  if (m.author_id.empty()) m.author_id = m.author_name;
  if (m.author_id.empty()) {
    out.problems.push_back(problem(where, ErrorReason::MissingField, "a comment change has no from.id"));
    return;
  }
  const std::string parent = normalizeId(idOf(member(value, "parent_id")));
  const std::string media = normalizeId(idOf(member(member(value, "media"), "id")));
  m.conversation_id = parent.empty() ? m.id : parent;
  m.in_reply_to = parent.empty() ? media : parent;
  m.created_at = entry_time;
  m.text = stringOf(member(value, "text"));
  m.author_is_brand = isBrand(options, m.author_id, m.author_name);
  out.messages.push_back(std::move(m));
}

// Shape of a Graph object, by platform.
struct GraphFields {
  const char* text;
  const char* created;
  const char* replies;
};

GraphFields fieldsOf(Platform p) {
  if (p == Platform::Instagram) return {"text", "timestamp", "replies"};
  return {"message", "created_time", "comments"};
}

// A comment object of the Graph API. `parent_comment` empty: a top-level comment of `post_id`.
void parseGraphComment(const json& c, const ParseOptions& options, const std::string& post_id,
                       const std::string& parent_comment, const std::string& where, GraphParse& out) {
  const GraphFields f = fieldsOf(options.platform);
  if (!c.is_object()) {
    out.problems.push_back(problem(where, ErrorReason::ParseError, "a comment is not an object"));
    return;
  }
  Message m;
  m.id = normalizeId(idOf(member(c, "id")));
  if (m.id.empty()) {
    out.problems.push_back(problem(where, ErrorReason::MissingField, "a comment has no id"));
    return;
  }
  readAuthor(c, m.author_id, m.author_name);
  if (m.author_name.empty()) m.author_name = stringOf(member(c, "username"));
  if (m.author_id.empty()) m.author_id = m.author_name;
  const json& created = member(c, f.created);
  auto t = parseMetaTime(created);
  if (m.author_id.empty()) {
    out.problems.push_back(problem(where, ErrorReason::MissingField, "a comment has no from.id"));
  } else if (created.is_null()) {
    out.problems.push_back(
        problem(where, ErrorReason::MissingField, fmt::format("a comment has no {}", f.created)));
  } else if (!t) {
    out.problems.push_back(
        problem(where, ErrorReason::InvalidTimestamp, fmt::format("{} is not a valid time", f.created)));
  } else {
    m.created_at = *t;
    m.conversation_id = parent_comment.empty() ? m.id : parent_comment;
    m.in_reply_to = parent_comment.empty() ? post_id : parent_comment;
    m.text = stringOf(member(c, f.text));
    m.author_is_brand = isBrand(options, m.author_id, m.author_name);
    out.messages.push_back(std::move(m));
  }
  if (!parent_comment.empty()) return;  // replies carry no further level
  const json& replies = member(c, f.replies);
  const std::string top = normalizeId(idOf(member(c, "id")));
  const json& data = member(replies, "data");
  if (data.is_array()) {
    for (std::size_t i = 0; i < data.size(); ++i) {
      parseGraphComment(data[i], options, post_id, top, fmt::format("{}.{}.data[{}]", where, f.replies, i),
                        out);
    }
  }
  const std::string next = stringOf(member(member(replies, "paging"), "next"));
  if (!next.empty()) out.follow_ups.push_back(FollowUp{next, post_id, top});
}

Result<json> parseObject(std::string_view body, const char* reason) {
  auto j = parseJson(body, reason);
  if (!j) return j.error();
  if (!j->is_object()) return makeError(reason, "the body is not a JSON object");
  return j;
}

}  // namespace

std::string normalizeId(std::string_view id) {
  auto cut = id.rfind('_');
  if (cut == std::string_view::npos || cut + 1 == id.size()) return std::string(id);
  return std::string(id.substr(cut + 1));
}

std::optional<Timestamp> parseMetaTime(const json& value) {
  double number = 0;
  if (value.is_number()) {
    number = value.get<double>();
  } else if (value.is_string()) {
    const auto& s = value.get_ref<const std::string&>();
    if (s.empty()) return std::nullopt;
    if (std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      if (s.size() > 15) return std::nullopt;
      number = static_cast<double>(std::stoll(s));
    } else {
      return parseRfc3339(s);
    }
  } else {
    return std::nullopt;
  }
  if (!std::isfinite(number) || number < 0) return std::nullopt;
  const double millis = number > kMillisThreshold ? number : number * 1000.0;
  if (millis > 1e15) return std::nullopt;
  return fromMillis(static_cast<std::int64_t>(std::llround(millis)));
}

Result<WebhookParse> parseWebhookBody(std::string_view body, const ParseOptions& options) {
  auto parsed = parseObject(body, "bad_request");
  if (!parsed) return parsed.error();
  const json& doc = *parsed;
  const json& entries = member(doc, "entry");
  if (!entries.is_array()) return makeError("bad_request", "the body has no \"entry\" array");
  if (options.max_entries != 0) {
    std::size_t changes = 0;
    for (const json& entry : entries) {
      const json& list = member(entry, "changes");
      changes += list.is_array() ? list.size() : 1;
    }
    if (changes > options.max_entries) return tooManyEntries(options.max_entries, "changes");
  }
  const std::string object = stringOf(member(doc, "object"));
  const std::string expected = options.platform == Platform::Instagram ? "instagram" : "page";

  WebhookParse out;
  out.entries = entries.size();
  if (object != expected) {
    out.ignored = entries.size();
    out.elsewhere = entries.size();
    out.other_object = object.substr(0, 64);
    return out;
  }
  for (std::size_t e = 0; e < entries.size(); ++e) {
    const json& entry = entries[e];
    const std::string where_entry = fmt::format("entry {}", e + 1);
    if (!entry.is_object()) {
      out.problems.push_back(problem(where_entry, ErrorReason::ParseError, "an entry is not an object"));
      continue;
    }
    if (const std::string id = idOf(member(entry, "id")); !options.page_id.empty() && id != options.page_id) {
      ++out.ignored;  // another page of the same app
      ++out.elsewhere;
      if (out.other_ids.size() < WebhookParse::kMaxOtherIds &&
          std::find(out.other_ids.begin(), out.other_ids.end(), id) == out.other_ids.end()) {
        out.other_ids.push_back(id.substr(0, 64));
      }
      continue;
    }
    const json& changes = member(entry, "changes");
    if (!changes.is_array()) {
      ++out.ignored;  // e.g. Messenger `messaging` entries
      continue;
    }
    auto entry_time = parseMetaTime(member(entry, "time"));
    for (std::size_t c = 0; c < changes.size(); ++c) {
      const std::string where = fmt::format("entry {}, change {}", e + 1, c + 1);
      const json& change = changes[c];
      const std::string field = stringOf(member(change, "field"));
      const json& value = member(change, "value");
      const bool known =
          (options.platform == Platform::Facebook && (field == "feed" || field == "mention")) ||
          (options.platform == Platform::Instagram && (field == "comments" || field == "mentions"));
      if (!known || (field == "mention" && !options.mentions) || (field == "mentions" && !options.mentions)) {
        ++out.ignored;
        continue;
      }
      if (!entry_time) {
        out.problems.push_back(problem(where, ErrorReason::InvalidTimestamp, "the entry has no valid time"));
        continue;
      }
      if (field == "feed") {
        parseFeedChange(value, *entry_time, where, options, out);
      } else if (field == "comments") {
        parseInstagramComment(value, *entry_time, where, options, out);
      } else {
        parseMentionChange(value, *entry_time, where, options, out);
      }
    }
  }
  return out;
}

Result<GraphParse> parseFeedPage(std::string_view body, const ParseOptions& options) {
  auto parsed = parseObject(body, "parse_error");
  if (!parsed) return parsed.error();
  const json& doc = *parsed;
  const json& data = member(doc, "data");
  if (!data.is_array()) return makeError("parse_error", "the body has no \"data\" array");
  const GraphFields f = fieldsOf(options.platform);
  GraphParse out;
  for (std::size_t i = 0; i < data.size(); ++i) {
    const json& post = data[i];
    const std::string where = fmt::format("data[{}]", i);
    if (!post.is_object()) {
      out.problems.push_back(problem(where, ErrorReason::ParseError, "a post is not an object"));
      continue;
    }
    const std::string post_id = normalizeId(idOf(member(post, "id")));
    if (post_id.empty()) {
      out.problems.push_back(problem(where, ErrorReason::MissingField, "a post has no id"));
      continue;
    }
    if (options.platform == Platform::Facebook) {
      // The post itself: a visitor post is its own conversation; a page post is the
      // brand's own (it opens nothing).
      Message m;
      readAuthor(post, m.author_id, m.author_name);
      auto t = parseMetaTime(member(post, f.created));
      if (m.author_id.empty()) {
        out.problems.push_back(problem(where, ErrorReason::MissingField, "a post has no from.id"));
      } else if (!t) {
        out.problems.push_back(
            problem(where, ErrorReason::InvalidTimestamp, "created_time is not a valid time"));
      } else {
        m.id = post_id;
        m.conversation_id = post_id;
        m.created_at = *t;
        m.text = stringOf(member(post, f.text));
        m.author_is_brand = isBrand(options, m.author_id, m.author_name);
        out.messages.push_back(std::move(m));
      }
    }
    const json& comments = member(post, "comments");
    const json& list = member(comments, "data");
    if (list.is_array()) {
      for (std::size_t c = 0; c < list.size(); ++c) {
        parseGraphComment(list[c], options, post_id, {}, fmt::format("{}.comments.data[{}]", where, c), out);
      }
    }
    const std::string next = stringOf(member(member(comments, "paging"), "next"));
    if (!next.empty()) out.follow_ups.push_back(FollowUp{next, post_id, {}});
  }
  out.next = stringOf(member(member(doc, "paging"), "next"));
  return out;
}

Result<GraphParse> parseCommentsPage(std::string_view body, const ParseOptions& options,
                                     const std::string& post_id, const std::string& parent_comment) {
  auto parsed = parseObject(body, "parse_error");
  if (!parsed) return parsed.error();
  const json& doc = *parsed;
  const json& data = member(doc, "data");
  if (!data.is_array()) return makeError("parse_error", "the body has no \"data\" array");
  GraphParse out;
  for (std::size_t i = 0; i < data.size(); ++i) {
    parseGraphComment(data[i], options, post_id, parent_comment, fmt::format("data[{}]", i), out);
  }
  // Continued pages of the same list are fetched as follow-ups of the same parent.
  const std::string next = stringOf(member(member(doc, "paging"), "next"));
  if (!next.empty()) out.follow_ups.push_back(FollowUp{next, post_id, parent_comment});
  return out;
}

std::optional<GraphError> parseGraphError(std::string_view body) {
  auto j = parseJson(body, "parse_error");
  if (!j) return std::nullopt;
  const json& e = member(*j, "error");
  if (!e.is_object()) return std::nullopt;
  GraphError g;
  const json& code = member(e, "code");
  const json& subcode = member(e, "error_subcode");
  if (code.is_number_integer()) g.code = code.get<int>();
  if (subcode.is_number_integer()) g.subcode = subcode.get<int>();
  g.type = stringOf(member(e, "type"));
  g.message = stringOf(member(e, "message"));
  return g;
}

bool isRateLimit(const GraphError& error) {
  return error.code == 4 || error.code == 17 || error.code == 32 || error.code == 613 ||
         (error.code >= 80001 && error.code <= 80014);
}

bool isExpiredToken(const GraphError& error) { return error.code == 190 || error.code == 102; }

}  // namespace replywatch::connectors::meta
