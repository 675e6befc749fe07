#pragma once
// Parsing of Discourse payloads: posts from webhook bodies ({"post":{...}}), from
// GET /posts.json ({"latest_posts":[...]}) and from GET /t/{id}.json
// ({"post_stream":{"posts":[...]}}). Pure functions, callable from any thread.
// See README.md in this directory.
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/core/result.h"
#include "daemon/core/timestamp.h"

namespace replywatch::connectors::discourse {

// Discourse post types; only regular posts and moderator actions are messages.
enum class PostType : int { Regular = 1, ModeratorAction = 2, SmallAction = 3, Whisper = 4 };

// The fields of a post replywatch uses.
struct Post {
  std::string id;        // post id (integer in JSON), unique on the instance
  std::string topic_id;  // the conversation
  long long post_number = 0;
  std::optional<long long> reply_to_post_number;  // null: a reply to the topic
  long long user_id = 0;                          // -1 is the system user, other negatives are bots
  std::string username;
  bool staff = false;
  bool admin = false;
  bool moderator = false;
  int post_type = 1;
  Timestamp created_at{};
  std::optional<Timestamp> updated_at;
  std::optional<Timestamp> deleted_at;
  std::string text;  // `raw` when present, else `cooked` with the HTML stripped
};

// Parses one post object. Errors ("missing_field", "invalid_timestamp", "parse_error")
// name the field, never its content. created_at may carry any offset ("-05:00").
Result<Post> parsePost(const nlohmann::json& object);

// What a webhook body holds.
struct WebhookBody {
  enum class Kind { Ping, Post, Other };
  Kind kind = Kind::Other;
  std::optional<Post> post;  // Kind::Post
  std::string key;           // the body's top-level key ("post", "topic", "like", ...)
};
// Parses a webhook body: {"ping":"OK"}, {"post":{...}} or another single-key object.
Result<WebhookBody> parseWebhookBody(std::string_view body);

// Posts of one API page, with the ones that could not be parsed.
struct PostPage {
  std::vector<std::string> ids;  // every readable post id on the page, rejected posts included
  std::vector<Post> posts;
  std::vector<std::pair<std::string, Error>> rejected;  // post id ("" when unreadable) and why
};
Result<PostPage> parseLatestPosts(std::string_view body);  // GET /posts.json
Result<PostPage> parseTopicPosts(std::string_view body);   // GET /t/{id}.json

}  // namespace replywatch::connectors::discourse
