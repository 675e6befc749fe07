#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "connectors/meta/meta_payload.h"
#include "tests/unit/connectors/meta_test_support.h"

namespace replywatch::connectors::meta {
namespace {

using testing::at;
using testing::fixture;

ParseOptions facebook(bool mentions = false) {
  ParseOptions o;
  o.platform = Platform::Facebook;
  o.page_id = testing::kPageId;
  o.mentions = mentions;
  return o;
}

ParseOptions instagram(bool mentions = false) {
  ParseOptions o;
  o.platform = Platform::Instagram;
  o.page_id = "0";  // RestFB's Instagram fixtures use entry id "0"
  o.mentions = mentions;
  return o;
}

WebhookParse parseOk(const std::string& name, const ParseOptions& options) {
  auto r = parseWebhookBody(fixture(name), options);
  EXPECT_TRUE(r.ok()) << name << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? std::move(r).value() : WebhookParse{};
}

TEST(MetaPayload, NormalizeIdKeepsTheLastPart) {
  EXPECT_EQ(normalizeId("901097836652708_903438993085259"), "903438993085259");
  EXPECT_EQ(normalizeId("1234567890321_901097836652708"), "901097836652708");
  EXPECT_EQ(normalizeId("1234567890321_901097836652708_903438993085259"), "903438993085259");
  EXPECT_EQ(normalizeId("17887498072083520"), "17887498072083520");
  EXPECT_EQ(normalizeId(""), "");
  EXPECT_EQ(normalizeId("12_"), "12_");
}

TEST(MetaPayload, Times) {
  EXPECT_EQ(parseMetaTime(nlohmann::json(1449135003)), at("2015-12-03T09:30:03Z"));
  EXPECT_EQ(parseMetaTime(nlohmann::json(1449135003123LL)), fromMillis(1449135003123));
  EXPECT_EQ(parseMetaTime(nlohmann::json("1449135003")), at("2015-12-03T09:30:03Z"));
  EXPECT_EQ(parseMetaTime(nlohmann::json("2010-09-14T22:41:25+0000")), at("2010-09-14T22:41:25Z"));
  EXPECT_EQ(parseMetaTime(nlohmann::json("2018-02-23T21:32:16+0100")), at("2018-02-23T20:32:16Z"));
  EXPECT_FALSE(parseMetaTime(nlohmann::json("not a time")));
  EXPECT_FALSE(parseMetaTime(nlohmann::json(-5)));
  EXPECT_FALSE(parseMetaTime(nlohmann::json(nullptr)));
  EXPECT_FALSE(parseMetaTime(nlohmann::json::object()));
}

TEST(MetaPayload, CommentFromPageInBothPayloadGenerations) {
  for (const char* name : {"feed-comment-add-211.json", "feed-comment-add-25.json"}) {
    auto p = parseOk(name, facebook());
    ASSERT_EQ(p.messages.size(), 1u) << name;
    const Message& m = p.messages[0];
    EXPECT_EQ(m.id, "903438993085259") << name;
    EXPECT_EQ(m.conversation_id, "903438993085259") << name;  // top-level: parent_id == post_id
    EXPECT_EQ(m.in_reply_to, "901097836652708") << name;
    EXPECT_EQ(m.author_id, "1234567890321") << name;
    EXPECT_EQ(m.author_name, "Tester") << name;
    EXPECT_TRUE(m.author_is_brand) << name;
    EXPECT_EQ(m.created_at, at("2015-12-03T09:30:03Z")) << name;
    EXPECT_EQ(m.text, "and the next one") << name;
    EXPECT_EQ(m.kind, MessageKind::Post) << name;
    EXPECT_TRUE(p.problems.empty()) << name;
  }
}

TEST(MetaPayload, VisitorCommentIsNotBrandUnlessConfigured) {
  auto o = facebook();
  o.page_id = "42";
  auto p = parseOk("feed-comment-add-211.json", o);
  ASSERT_EQ(p.messages.size(), 0u);  // the entry belongs to page 1234567890321, not 42
  EXPECT_EQ(p.ignored, 1u);

  o.page_id.clear();  // no page filter: the author is not the page
  p = parseOk("feed-comment-add-211.json", o);
  ASSERT_EQ(p.messages.size(), 1u);
  EXPECT_FALSE(p.messages[0].author_is_brand);
  o.brand_ids = {"Tester"};
  p = parseOk("feed-comment-add-211.json", o);
  ASSERT_EQ(p.messages.size(), 1u);
  EXPECT_TRUE(p.messages[0].author_is_brand);
}

TEST(MetaPayload, EditedIsTheSameComment) {
  auto p = parseOk("feed-comment-edited-25.json", facebook());
  ASSERT_EQ(p.messages.size(), 1u);
  EXPECT_EQ(p.messages[0].id, "900744590021366");
  EXPECT_EQ(p.messages[0].kind, MessageKind::Post);
}

TEST(MetaPayload, RemoveAndHideAreRetractions) {
  auto removed = parseOk("feed-comment-remove-25.json", facebook());
  ASSERT_EQ(removed.messages.size(), 1u);
  const Message& r = removed.messages[0];
  EXPECT_EQ(r.kind, MessageKind::Retraction);
  EXPECT_EQ(r.id, "905579239537901:removed");
  EXPECT_EQ(r.in_reply_to, "905579239537901");
  EXPECT_EQ(r.conversation_id, "905579239537901");
  EXPECT_EQ(r.created_at, fromMillis(1452107182000));  // no created_time: the entry's time

  auto hidden = parseOk("feed-comment-hide.json", facebook());
  ASSERT_EQ(hidden.messages.size(), 1u);
  EXPECT_EQ(hidden.messages[0].kind, MessageKind::Retraction);
  EXPECT_EQ(hidden.messages[0].id, "900744590021366:hidden");
  EXPECT_EQ(hidden.messages[0].author_id, "1234567890321");  // sender_id as a number

  auto unhidden = parseOk("feed-comment-unhide.json", facebook());
  EXPECT_TRUE(unhidden.messages.empty());
  EXPECT_EQ(unhidden.ignored, 1u);
}

TEST(MetaPayload, PostsAreTheirOwnConversation) {
  auto visitor = parseOk("feed-post-add-25.json", facebook());
  ASSERT_EQ(visitor.messages.size(), 1u);
  const Message& v = visitor.messages[0];
  EXPECT_EQ(v.id, "7293787835232");
  EXPECT_EQ(v.conversation_id, "7293787835232");
  EXPECT_EQ(v.author_id, "8423678347823");
  EXPECT_FALSE(v.author_is_brand);
  EXPECT_EQ(v.created_at, fromMillis(1454707020000));  // from entry.time

  auto page = parseOk("feed-status-add-25.json", facebook());
  ASSERT_EQ(page.messages.size(), 1u);
  EXPECT_TRUE(page.messages[0].author_is_brand);
}

TEST(MetaPayload, IgnoredChanges) {
  auto two = parseOk("feed-two-entries-25.json", facebook());
  EXPECT_TRUE(two.messages.empty());
  EXPECT_TRUE(two.problems.empty());
  EXPECT_EQ(two.ignored, 2u);
  auto like = parseOk("feed-like-add-25.json", facebook());
  EXPECT_TRUE(like.messages.empty());
  EXPECT_EQ(like.ignored, 1u);
  // An Instagram body sent to a Facebook source (and the reverse) is ignored.
  EXPECT_TRUE(parseOk("ig-wh-comments-2021.json", facebook()).messages.empty());
  EXPECT_TRUE(parseOk("feed-comment-add-211.json", instagram()).messages.empty());
}

TEST(MetaPayload, MentionsOnlyWhenEnabled) {
  auto off = parseOk("mention-comment-add.json", facebook());
  EXPECT_TRUE(off.messages.empty());
  EXPECT_EQ(off.ignored, 1u);
  auto on = parseOk("mention-comment-add.json", facebook(true));
  ASSERT_EQ(on.messages.size(), 1u);
  EXPECT_EQ(on.messages[0].id, "3754798971271444");
  EXPECT_EQ(on.messages[0].author_id, "unknown");
  EXPECT_FALSE(on.messages[0].author_is_brand);
  EXPECT_EQ(on.messages[0].created_at, fromMillis(1614340862000));

  auto ig = parseOk("ig-wh-mentions.json", instagram(true));
  ASSERT_EQ(ig.messages.size(), 1u);
  EXPECT_EQ(ig.messages[0].id, "17887498072083520");
  EXPECT_EQ(ig.messages[0].created_at, fromMillis(1519399310000));
  EXPECT_TRUE(parseOk("ig-wh-mentions.json", instagram()).messages.empty());
}

TEST(MetaPayload, InstagramComments) {
  auto p = parseOk("ig-wh-comments-2021.json", instagram());
  ASSERT_EQ(p.messages.size(), 1u);
  const Message& m = p.messages[0];
  EXPECT_EQ(m.id, "123456789");
  EXPECT_EQ(m.conversation_id, "987654321");  // a reply joins its parent's conversation
  EXPECT_EQ(m.in_reply_to, "987654321");
  EXPECT_EQ(m.author_id, "1234536447");
  EXPECT_EQ(m.author_name, "testuser");
  EXPECT_EQ(m.created_at, fromMillis(1519399307000));
  EXPECT_EQ(m.text, "This is an example.");

  // The oldest form has no author: refused with its reason, nothing else lost.
  auto old = parseOk("ig-wh-comments.json", instagram());
  EXPECT_TRUE(old.messages.empty());
  ASSERT_EQ(old.problems.size(), 1u);
  EXPECT_EQ(old.problems[0].rejection.reason, ErrorReason::MissingField);
  EXPECT_EQ(old.problems[0].where, "entry 1, change 1");
}

TEST(MetaPayload, InstagramEntryTimeInMilliseconds) {
  std::string body = fixture("ig-wh-comments-2021.json");
  body.replace(body.find("1519399307"), 10, "1519399307250");
  auto p = parseWebhookBody(body, instagram());
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->messages.size(), 1u);
  EXPECT_EQ(p->messages[0].created_at, fromMillis(1519399307250));
}

TEST(MetaPayload, BatchedEntriesKeepTheGoodChanges) {
  auto p = parseOk("webhook-batch.json", facebook());
  ASSERT_EQ(p.messages.size(), 2u);
  EXPECT_EQ(p.messages[0].id, "903438993085001");
  EXPECT_EQ(p.messages[0].conversation_id, "903438993085001");
  EXPECT_FALSE(p.messages[0].author_is_brand);
  EXPECT_EQ(p.messages[1].id, "903438993085002");
  EXPECT_EQ(p.messages[1].conversation_id, "903438993085001");  // reply: parent's conversation
  EXPECT_EQ(p.messages[1].in_reply_to, "903438993085001");
  EXPECT_TRUE(p.messages[1].author_is_brand);
  ASSERT_EQ(p.problems.size(), 1u);
  EXPECT_EQ(p.problems[0].where, "entry 2, change 2");
  EXPECT_EQ(p.problems[0].rejection.reason, ErrorReason::MissingField);
  EXPECT_EQ(p.ignored, 2u);  // the reaction and the other page's entry
}

TEST(MetaPayload, MalformedBodies) {
  for (const char* body :
       {"{not json", "[]", "{\"object\":\"page\"}", "{\"object\":\"page\",\"entry\":{}}"}) {
    auto r = parseWebhookBody(body, facebook());
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().reason, "bad_request") << body;
  }
  // Bad changes are refused one by one.
  auto r = parseWebhookBody(
      R"({"object":"page","entry":[7,{"id":"1234567890321","time":"soon","changes":[{"field":"feed","value":{}}]},)"
      R"({"id":"1234567890321","time":1,"changes":[{"field":"feed","value":"x"},)"
      R"({"field":"feed","value":{"item":"comment","verb":"add","post_id":"1_2"}},)"
      R"({"field":"feed","value":{"item":"comment","verb":"add","comment_id":"2_3","post_id":"1_2","from":{"id":"9"},"created_time":"late"}}]}]})",
      facebook());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->messages.empty());
  ASSERT_EQ(r->problems.size(), 5u);
  EXPECT_EQ(r->problems[0].rejection.reason, ErrorReason::ParseError);
  EXPECT_EQ(r->problems[1].rejection.reason, ErrorReason::InvalidTimestamp);
  EXPECT_EQ(r->problems[2].rejection.reason, ErrorReason::ParseError);
  EXPECT_EQ(r->problems[3].rejection.reason, ErrorReason::MissingField);
  EXPECT_EQ(r->problems[4].rejection.reason, ErrorReason::InvalidTimestamp);
}

TEST(MetaPayload, GraphPostWithComments) {
  auto o = facebook();
  std::string body = "{\"data\":[" + fixture("graph-post-with-normal-comments.json") + "]}";
  auto r = parseFeedPage(body, o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->messages.size(), 2u);
  EXPECT_EQ(r->messages[0].id, "1234");
  EXPECT_EQ(r->messages[0].created_at, at("2010-09-14T22:41:25Z"));
  EXPECT_EQ(r->messages[1].id, "54123");
  EXPECT_EQ(r->messages[1].conversation_id, "54123");
  EXPECT_EQ(r->messages[1].in_reply_to, "1234");
  EXPECT_EQ(r->messages[1].author_name, "Vodafone");
  EXPECT_EQ(r->messages[1].created_at, at("2010-09-15T16:09:21Z"));
  EXPECT_TRUE(r->next.empty());
}

TEST(MetaPayload, GraphPagingAndFollowUps) {
  auto cursor = parseFeedPage(fixture("graph-connection-with-cursor.json"), facebook());
  ASSERT_TRUE(cursor.ok());
  EXPECT_EQ(cursor->next, "https://graph.facebook.com/v2.8/page2?access_token=token&format=json");

  auto page1 = parseFeedPage(fixture("graph-feed-page1.json"), facebook());
  ASSERT_TRUE(page1.ok());
  ASSERT_EQ(page1->messages.size(), 4u);
  EXPECT_EQ(page1->messages[1].id, "903438993085001");
  EXPECT_EQ(page1->messages[2].id, "903438993085002");
  EXPECT_EQ(page1->messages[2].conversation_id, "903438993085001");
  EXPECT_TRUE(page1->messages[2].author_is_brand);
  EXPECT_EQ(page1->next, "@BASE@/v21.0/1234567890321/feed?limit=25&after=QVFIUmJi");

  auto page2 = parseFeedPage(fixture("graph-feed-page2.json"), facebook());
  ASSERT_TRUE(page2.ok());
  EXPECT_TRUE(page2->next.empty());
  ASSERT_EQ(page2->follow_ups.size(), 1u);
  EXPECT_EQ(page2->follow_ups[0].post_id, "7293787835232");
  EXPECT_TRUE(page2->follow_ups[0].parent_comment.empty());

  auto comments = parseCommentsPage(fixture("graph-comments-page.json"), facebook(), "7293787835232", "");
  ASSERT_TRUE(comments.ok());
  ASSERT_EQ(comments->messages.size(), 1u);
  EXPECT_EQ(comments->messages[0].id, "7000000000102");
  ASSERT_EQ(comments->problems.size(), 1u);
  EXPECT_EQ(comments->problems[0].rejection.reason, ErrorReason::InvalidTimestamp);
  EXPECT_EQ(comments->problems[0].where, "data[1]");

  EXPECT_FALSE(parseFeedPage("{\"error\":{}}", facebook()).ok());
  EXPECT_FALSE(parseFeedPage("nope", facebook()).ok());
}

TEST(MetaPayload, GraphInstagramMedia) {
  const std::string body = R"({"data":[{"id":"17900000000000001","timestamp":"2024-05-31T08:00:00+0000",
    "comments":{"data":[{"id":"17800000000000001","text":"Dispo en bleu ?","timestamp":"2024-05-31T10:00:00+0000",
      "username":"claire.l","from":{"id":"17841400000000001","username":"claire.l"},
      "replies":{"data":[{"id":"17800000000000002","text":"Oui !","timestamp":"2024-05-31T10:05:00+0000",
        "username":"maisonlumiere"}]}}]}}]})";
  auto o = instagram();
  o.page_id = "17841400000000099";
  o.brand_ids = {"maisonlumiere"};
  auto r = parseFeedPage(body, o);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->messages.size(), 2u);  // media themselves are not messages
  EXPECT_EQ(r->messages[0].author_id, "17841400000000001");
  EXPECT_EQ(r->messages[0].conversation_id, "17800000000000001");
  EXPECT_EQ(r->messages[1].conversation_id, "17800000000000001");
  EXPECT_EQ(r->messages[1].author_id, "maisonlumiere");  // no from: the username
  EXPECT_TRUE(r->messages[1].author_is_brand);
  EXPECT_EQ(r->messages[1].created_at, at("2024-05-31T10:05:00Z"));
}

TEST(MetaPayload, GraphErrors) {
  auto e = parseGraphError(fixture("graph-exampleError.json"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, 190);
  EXPECT_EQ(e->subcode, 460);
  EXPECT_EQ(e->type, "OAuthException");
  EXPECT_TRUE(isExpiredToken(*e));
  EXPECT_FALSE(isRateLimit(*e));
  auto limit = parseGraphError(fixture("graph-rate-limit.json"));
  ASSERT_TRUE(limit);
  EXPECT_TRUE(isRateLimit(*limit));
  for (int code : {4, 17, 32, 613, 80001}) EXPECT_TRUE(isRateLimit(GraphError{code, 0, "", ""})) << code;
  EXPECT_FALSE(isRateLimit(GraphError{100, 0, "", ""}));
  EXPECT_FALSE(parseGraphError("{\"data\":[]}"));
  EXPECT_FALSE(parseGraphError("garbage"));
}

}  // namespace
}  // namespace replywatch::connectors::meta
