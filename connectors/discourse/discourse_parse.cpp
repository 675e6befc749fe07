#include "connectors/discourse/discourse_parse.h"

#include <fmt/format.h>

#include <limits>

#include "connectors/common/html_text.h"
#include "connectors/common/json_fields.h"
#include "connectors/common/limits.h"

namespace replywatch::connectors::discourse {
namespace {

using nlohmann::json;

Result<PostPage> postArray(const json& array) {
  PostPage page;
  for (const auto& item : array) {
    std::string id = jsonId(item, "id").value_or("");
    if (!id.empty()) page.ids.push_back(id);
    auto post = parsePost(item);
    if (post) {
      page.posts.push_back(std::move(*post));
    } else {
      page.rejected.emplace_back(std::move(id), post.error());
    }
  }
  return page;
}

std::optional<Timestamp> optionalTime(const json& object, std::string_view key) {
  const std::string text = jsonString(object, key);
  if (text.empty()) return std::nullopt;
  return parseRfc3339(text);
}

}  // namespace

Result<Post> parsePost(const json& object) {
  if (!object.is_object()) return makeError("parse_error", "the post is not a JSON object");
  Post p;
  auto id = jsonId(object, "id");
  if (!id) return makeError("missing_field", "the post has no id");
  p.id = std::move(*id);
  auto topic = jsonId(object, "topic_id");
  if (!topic) return makeError("missing_field", fmt::format("post {} has no topic_id", p.id));
  p.topic_id = std::move(*topic);
  auto user = jsonInteger(object, "user_id");
  if (!user) return makeError("missing_field", fmt::format("post {} has no user_id", p.id));
  p.user_id = *user;
  p.username = jsonString(object, "username");
  p.post_number = jsonInteger(object, "post_number").value_or(0);
  p.reply_to_post_number = jsonInteger(object, "reply_to_post_number");
  p.staff = jsonBool(object, "staff");
  p.admin = jsonBool(object, "admin");
  p.moderator = jsonBool(object, "moderator");
  const long long post_type = jsonInteger(object, "post_type").value_or(1);
  if (post_type < std::numeric_limits<int>::min() || post_type > std::numeric_limits<int>::max()) {
    return makeError("parse_error", fmt::format("post {} has an out-of-range post_type", p.id));
  }
  p.post_type = static_cast<int>(post_type);
  auto created = jsonTimestamp(object, "created_at", fmt::format("post {}", p.id));
  if (!created) return created.error();
  p.created_at = *created;
  p.updated_at = optionalTime(object, "updated_at");
  p.deleted_at = optionalTime(object, "deleted_at");
  if (const auto raw = object.find("raw"); raw != object.end() && raw->is_string()) {
    p.text = raw->get<std::string>();
  } else {
    p.text = htmlToText(jsonString(object, "cooked"));
  }
  return p;
}

Result<WebhookBody> parseWebhookBody(std::string_view body) {
  auto doc = parseJson(body, "parse_error", "the body is not valid JSON");
  if (!doc) return doc.error();
  const json& j = *doc;
  if (!j.is_object()) return makeError("parse_error", "the body is not a JSON object");
  if (j.empty()) return makeError("parse_error", "the body is an empty JSON object");
  WebhookBody b;
  if (j.contains("ping")) {
    b.kind = WebhookBody::Kind::Ping;
    b.key = "ping";
    return b;
  }
  if (const auto post = j.find("post"); post != j.end()) {
    auto parsed = parsePost(*post);
    if (!parsed) return parsed.error();
    b.kind = WebhookBody::Kind::Post;
    b.key = "post";
    b.post = std::move(*parsed);
    return b;
  }
  b.key = j.begin().key();
  return b;
}

Result<PostPage> parseLatestPosts(std::string_view body) {
  auto doc = parseJson(body, "parse_error", "the posts page is not valid JSON");
  if (!doc) return doc.error();
  const json& j = *doc;
  const auto posts = j.is_object() ? j.find("latest_posts") : j.end();
  if (!j.is_object() || posts == j.end() || !posts->is_array()) {
    return makeError("missing_field", "the posts page has no latest_posts array");
  }
  return postArray(*posts);
}

Result<PostPage> parseTopicPosts(std::string_view body) {
  auto doc = parseJson(body, "parse_error", "the topic is not valid JSON");
  if (!doc) return doc.error();
  const json& j = *doc;
  if (!j.is_object()) return makeError("parse_error", "the topic is not a JSON object");
  const auto stream = j.find("post_stream");
  if (stream == j.end() || !stream->is_object())
    return makeError("missing_field", "the topic has no post_stream");
  const auto posts = stream->find("posts");
  if (posts == stream->end() || !posts->is_array()) {
    return makeError("missing_field", "the topic's post_stream has no posts array");
  }
  return postArray(*posts);
}

}  // namespace replywatch::connectors::discourse
