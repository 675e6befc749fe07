#include <gtest/gtest.h>

#include "connectors/mastodon/mastodon_parse.h"
#include "tests/unit/connectors/social_support.h"

namespace replywatch::connectors::mastodon {
namespace {

using testing::jsonFixture;

TEST(MastodonParse, RecordedStatuses) {
  auto root = parseStatus(jsonFixture("mastodon", "status_root.json"));
  ASSERT_TRUE(root) << root.error().message;
  EXPECT_EQ(root->id, "117020583245459824");
  EXPECT_EQ(root->in_reply_to_id, "");
  EXPECT_EQ(root->account_id, "117020566092212359");
  EXPECT_EQ(root->acct, "mastodonpy_test_2");
  EXPECT_EQ(root->text, "Toot, finally!");
  EXPECT_EQ(formatRfc3339(root->created_at), "2026-08-01T13:53:15Z");
  EXPECT_EQ(toMillis(root->created_at) % 1000, 714);
  EXPECT_FALSE(root->reblog);

  auto reply = parseStatus(jsonFixture("mastodon", "status_reply.json"));
  ASSERT_TRUE(reply) << reply.error().message;
  EXPECT_EQ(reply->in_reply_to_id, "117020583245459824");
  EXPECT_EQ(reply->in_reply_to_account_id, "117020566092212359");
  EXPECT_EQ(reply->acct, "admin");
  EXPECT_EQ(reply->text, "@mastodonpy_test_2 same!");
  ASSERT_EQ(reply->mention_accts.size(), 1u);
  EXPECT_EQ(reply->mention_accts[0], "mastodonpy_test_2");
  EXPECT_EQ(reply->mention_ids[0], "117020566092212359");
}

TEST(MastodonParse, StatusErrorsNameTheField) {
  auto base = jsonFixture("mastodon", "status_reply.json");
  auto without = [&](const char* key) {
    auto j = base;
    j.erase(key);
    return parseStatus(j);
  };
  EXPECT_EQ(without("id").error().reason, "missing_field");
  EXPECT_EQ(without("account").error().reason, "missing_field");
  EXPECT_EQ(without("created_at").error().reason, "missing_field");
  auto bad_time = base;
  bad_time["created_at"] = "yesterday";
  EXPECT_EQ(parseStatus(bad_time).error().reason, "invalid_timestamp");
  EXPECT_EQ(parseStatus(bad_time).error().message, "status 117020583258292382 has an unreadable created_at");
  auto numeric_id = base;
  numeric_id["id"] = 42;
  EXPECT_EQ(parseStatus(numeric_id)->id, "42");
  EXPECT_EQ(parseStatus(nlohmann::json::array()).error().reason, "parse_error");
  auto reblog = base;
  reblog["reblog"] = jsonFixture("mastodon", "status_root.json");
  EXPECT_TRUE(parseStatus(reblog)->reblog);
}

TEST(MastodonParse, WebhookEnvelope) {
  nlohmann::json env = {{"event", "status.created"},
                        {"created_at", "2026-08-01T13:53:16.000Z"},
                        {"object", jsonFixture("mastodon", "status_reply.json")}};
  auto e = parseWebhookEvent(env.dump());
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(e->event, "status.created");
  ASSERT_TRUE(e->status.has_value());
  EXPECT_EQ(e->status->id, "117020583258292382");

  auto account = parseWebhookEvent(R"({"event":"account.created","object":{"id":"1"}})");
  ASSERT_TRUE(account);
  EXPECT_FALSE(account->status.has_value());

  EXPECT_EQ(parseWebhookEvent("{\"event\":").error().reason, "parse_error");
  EXPECT_EQ(parseWebhookEvent("[]").error().reason, "parse_error");
  EXPECT_EQ(parseWebhookEvent(R"({"object":{}})").error().reason, "missing_field");
  EXPECT_EQ(parseWebhookEvent(R"({"event":"status.created"})").error().reason, "missing_field");
  EXPECT_EQ(parseWebhookEvent(R"({"event":"status.updated","object":{"id":"9"}})").error().message,
            "status 9 has no account");
}

TEST(MastodonParse, NotificationPageKeepsMentionsOnly) {
  auto recorded = jsonFixture("mastodon", "notifications_mentions.json");
  auto body = recorded["body"];
  auto page = parseNotificationPage(body.dump());
  ASSERT_TRUE(page) << page.error().message;
  ASSERT_EQ(page->ids.size(), 1u);
  EXPECT_EQ(page->ids[0], "21");
  ASSERT_EQ(page->statuses.size(), 1u);
  EXPECT_EQ(page->statuses[0].id, "117020577157693549");
  EXPECT_EQ(page->statuses[0].text, "@mastodonpy_test hello!");

  auto favourite = body[0];
  favourite["id"] = "22";
  favourite["type"] = "favourite";
  auto broken = body[0];
  broken["id"] = "23";
  broken["status"].erase("created_at");
  body.push_back(favourite);
  body.push_back(broken);
  auto mixed = parseNotificationPage(body.dump());
  ASSERT_TRUE(mixed);
  EXPECT_EQ(mixed->ids.size(), 3u);
  EXPECT_EQ(mixed->statuses.size(), 1u);
  ASSERT_EQ(mixed->rejected.size(), 1u);
  EXPECT_EQ(mixed->rejected[0].reason, "missing_field");

  EXPECT_EQ(parseNotificationPage(body.dump().substr(0, 200)).error().reason, "parse_error");
  EXPECT_EQ(parseNotificationPage("{}").error().reason, "parse_error");
}

TEST(MastodonParse, StatusPagesAndContext) {
  auto page = parseStatusPage(jsonFixture("mastodon", "account_statuses_page1.json")["body"].dump());
  ASSERT_TRUE(page);
  ASSERT_EQ(page->statuses.size(), 5u);
  EXPECT_EQ(page->statuses[0].id, "117020580518794573");
  auto context = parseContextAncestors(jsonFixture("mastodon", "context_empty.json").dump());
  ASSERT_TRUE(context);
  EXPECT_TRUE(context->statuses.empty());
  EXPECT_EQ(parseContextAncestors(R"({"descendants":[]})").error().reason, "missing_field");
}

TEST(MastodonParse, LinkHeaderFromRecording) {
  auto recorded = jsonFixture("mastodon", "account_statuses_page1.json");
  const Links links = parseLinkHeader(recorded["headers"]["link"].get<std::string>());
  EXPECT_EQ(
      links.next,
      "http://localhost:3000/api/v1/accounts/117020565966271181/statuses?limit=5&max_id=117020580489281910");
  EXPECT_EQ(
      links.prev,
      "http://localhost:3000/api/v1/accounts/117020565966271181/statuses?limit=5&min_id=117020580518794573");
  EXPECT_EQ(urlQueryParam(links.next, "max_id"), "117020580489281910");
  EXPECT_EQ(urlQueryParam(links.prev, "min_id"), "117020580518794573");

  auto notifications = jsonFixture("mastodon", "notifications_mentions.json");
  const Links n = parseLinkHeader(notifications["headers"]["link"].get<std::string>());
  EXPECT_EQ(urlQueryParam(n.next, "types[]"), "mention");
  EXPECT_EQ(urlQueryParam(n.next, "max_id"), "21");

  // Only prev, unquoted rel, several relation types, nothing at all.
  EXPECT_EQ(parseLinkHeader("<https://a/x?min_id=5>; rel=\"prev\"").next, "");
  EXPECT_EQ(parseLinkHeader("<https://a/x?max_id=5>; rel=next").next, "https://a/x?max_id=5");
  EXPECT_EQ(parseLinkHeader("<https://a/y>; rel=\"prev first\"").prev, "https://a/y");
  EXPECT_EQ(parseLinkHeader("").next, "");
  EXPECT_EQ(parseLinkHeader("<broken").next, "");
}

TEST(MastodonParse, AcctNormalization) {
  EXPECT_EQ(normalizeAcct("Acme", "Example.Social"), "acme@example.social");
  EXPECT_EQ(normalizeAcct("@acme@example.social", "other.org"), "acme@example.social");
  EXPECT_EQ(normalizeAcct("acme", ""), "acme");
}

}  // namespace
}  // namespace replywatch::connectors::mastodon
