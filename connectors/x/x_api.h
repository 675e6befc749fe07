#pragma once
// X API v2 responses: one page of GET /2/users/:id/mentions or /2/users/:id/tweets
// ({"data":[tweets], "includes":{"users":[...]}, "errors":[...], "meta":{...}}) turned
// into normalized Messages. Ids stay strings: they exceed 2^53.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/common/validate.h"
#include "daemon/core/model.h"
#include "daemon/core/result.h"

namespace replywatch::connectors::x {

// The tweet fields and expansions every request asks for.
inline constexpr std::string_view kTweetFields =
    "created_at,conversation_id,in_reply_to_user_id,referenced_tweets,author_id";
inline constexpr std::string_view kExpansions = "author_id";

struct RejectedTweet {
  std::string id;  // may be empty when the id itself is missing
  Rejection rejection;
};

struct Page {
  std::vector<Message> messages;
  std::vector<RejectedTweet> rejected;
  std::size_t retweets = 0;     // retweets skipped: they are not part of a conversation
  std::size_t api_errors = 0;   // entries of the "errors" array
  std::string first_api_error;  // its title and detail, for the log
  std::string next_token;       // meta.next_token; empty on the last page
  std::string newest_id;        // the largest tweet id on the page (data and meta.newest_id)
};

// True when `id` is a decimal tweet id (1 to 20 digits, no leading zero).
bool isTweetId(std::string_view id);
// Compares two decimal ids numerically (as strings: they may exceed 2^64 in theory).
bool idLess(std::string_view a, std::string_view b);

// Parses one response body. Tweets by `brand_user_id` are the brand's. An Error
// ("parse_error") when the body is not a JSON object (a truncated body included); bad
// tweets are listed in Page::rejected and the others kept.
Result<Page> parsePage(std::string_view body, const std::string& brand_user_id,
                       const MessageValidator& validator, Timestamp now);

}  // namespace replywatch::connectors::x
