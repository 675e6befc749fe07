#include "connectors/x/x_api.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <unordered_map>

#include "connectors/common/limits.h"

namespace replywatch::connectors::x {
namespace {

using Json = nlohmann::json;

std::string stringField(const Json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

}  // namespace

bool isTweetId(std::string_view id) {
  if (id.empty() || id.size() > 20 || id[0] == '0') return false;
  return id.find_first_not_of("0123456789") == std::string_view::npos;
}

bool idLess(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return a.size() < b.size();
  return a < b;
}

Result<Page> parsePage(std::string_view body, const std::string& brand_user_id,
                       const MessageValidator& validator, Timestamp now) {
  auto parsed =
      parseJson(body, "parse_error", "the response body is not a JSON object (truncated or malformed)");
  if (!parsed) return parsed.error();
  const Json& doc = *parsed;
  if (!doc.is_object()) {
    return makeError("parse_error", "the response body is not a JSON object (truncated or malformed)");
  }
  Page page;
  std::unordered_map<std::string, std::string> usernames;
  if (auto inc = doc.find("includes"); inc != doc.end() && inc->is_object()) {
    if (auto users = inc->find("users"); users != inc->end() && users->is_array()) {
      for (const Json& u : *users) {
        if (u.is_object()) usernames[stringField(u, "id")] = stringField(u, "username");
      }
    }
  }
  if (auto errors = doc.find("errors"); errors != doc.end() && errors->is_array()) {
    page.api_errors = errors->size();
    if (!errors->empty() && errors->front().is_object()) {
      page.first_api_error = fmt::format("{}: {}", stringField(errors->front(), "title"),
                                         stringField(errors->front(), "detail"));
    }
  }
  if (auto meta = doc.find("meta"); meta != doc.end() && meta->is_object()) {
    page.next_token = stringField(*meta, "next_token");
    std::string newest = stringField(*meta, "newest_id");
    if (isTweetId(newest)) page.newest_id = newest;
  }
  auto data = doc.find("data");
  if (data == doc.end() || data->is_null()) return page;
  if (!data->is_array()) return makeError("parse_error", "\"data\" is not an array");

  for (const Json& t : *data) {
    auto reject = [&](std::string id, ErrorReason reason, std::string message) {
      page.rejected.push_back(RejectedTweet{std::move(id), Rejection{reason, std::move(message)}});
    };
    if (!t.is_object()) {
      reject({}, ErrorReason::ParseError, "a tweet is not a JSON object");
      continue;
    }
    Message m;
    m.id = stringField(t, "id");
    if (m.id.empty()) {
      reject({}, ErrorReason::MissingField, "a tweet has no id");
      continue;
    }
    if (!isTweetId(m.id)) {
      reject({}, ErrorReason::ParseError, "a tweet id is not a decimal string");
      continue;
    }
    if (page.newest_id.empty() || idLess(page.newest_id, m.id)) page.newest_id = m.id;
    bool retweet = false;
    if (auto refs = t.find("referenced_tweets"); refs != t.end() && refs->is_array()) {
      for (const Json& r : *refs) {
        if (!r.is_object()) continue;
        const std::string type = stringField(r, "type");
        if (type == "retweeted") retweet = true;
        if (type == "replied_to") m.in_reply_to = stringField(r, "id");
      }
    }
    if (retweet) {
      ++page.retweets;
      continue;
    }
    m.author_id = stringField(t, "author_id");
    m.conversation_id = stringField(t, "conversation_id");
    m.text = stringField(t, "text");
    const std::string created = stringField(t, "created_at");
    if (m.author_id.empty() || m.conversation_id.empty() || created.empty()) {
      reject(
          m.id, ErrorReason::MissingField,
          fmt::format("tweet {} lacks {}", m.id,
                      m.author_id.empty() ? "author_id"
                                          : (m.conversation_id.empty() ? "conversation_id" : "created_at")));
      continue;
    }
    auto when = parseRfc3339(created);
    if (!when) {
      reject(m.id, ErrorReason::InvalidTimestamp, fmt::format("tweet {} has an unreadable created_at", m.id));
      continue;
    }
    m.created_at = *when;
    if (auto it = usernames.find(m.author_id); it != usernames.end()) m.author_name = it->second;
    m.author_is_brand = m.author_id == brand_user_id;
    if (auto problem = validator.check(m, now)) {
      reject(m.id, problem->reason, fmt::format("tweet {}: {}", m.id, problem->message));
      continue;
    }
    page.messages.push_back(std::move(m));
  }
  return page;
}

}  // namespace replywatch::connectors::x
