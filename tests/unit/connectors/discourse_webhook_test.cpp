#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "connectors/common/hmac.h"
#include "connectors/discourse/discourse_connector.h"
#include "tests/unit/captured_log.h"
#include "tests/unit/connectors/social_support.h"

namespace replywatch::connectors::discourse {
namespace {

using testing::bodyOf;
using testing::jsonFixture;

constexpr const char* kSecret = "my_lovely_secret_for_web_hook";
constexpr const char* kNow = "2023-02-12T00:00:00Z";
const std::string kYaml =
    "name: forum\ntype: discourse\naccount: acme\nchannel: discourse\n"
    "webhook_secret: my_lovely_secret_for_web_hook\n";

// A recorded delivery re-signed with the test secret (the recorded signatures cover
// bodies the relay altered): the recorded X-Discourse-* headers, the serialized body.
WebhookRequest recorded(const std::string& file, const std::function<void(nlohmann::json&)>& edit = {}) {
  auto delivery = jsonFixture("discourse", file);
  auto body = delivery["webhook_body"];
  if (edit) edit(body);
  const std::string bytes = body.dump();
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& [k, v] : delivery["webhook_headers"].items()) {
    if (k == "X-Discourse-Event-Signature") continue;
    headers.emplace_back(k, v.get<std::string>());
  }
  headers.emplace_back("X-Discourse-Event-Signature", "sha256=" + hmacSha256Hex(kSecret, bytes));
  return testing::webhookPost(bytes, headers);
}

WebhookRequest signedPost(const std::string& body, const std::string& event) {
  return testing::webhookPost(body,
                              {{"X-Discourse-Event", event},
                               {"X-Discourse-Event-Signature", "sha256=" + hmacSha256Hex(kSecret, body)}});
}

TEST(DiscourseWebhook, KnownAnswerPing) {
  testing::TypedHarness h(kYaml, kNow);
  auto r = h.connector->handleWebhook(testing::webhookPost(
      "{\"ping\":\"OK\"}", {{"X-Discourse-Event", "ping"},
                            {"X-Discourse-Event-Signature",
                             "sha256=162f107f6b5022353274eb1a7197885cfd35744d8d08e5bcea025d309386b7d6"}}));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(bodyOf(r)["ping"], "OK");
  EXPECT_EQ(h.sink.calls, 0);
  // The same vector with upper-case hex and a different prefix case still verifies.
  auto upper = h.connector->handleWebhook(testing::webhookPost(
      "{\"ping\":\"OK\"}", {{"X-Discourse-Event-Signature",
                             "SHA256=162F107F6B5022353274EB1A7197885CFD35744D8D08E5BCEA025D309386B7D6"}}));
  EXPECT_EQ(upper.status, 200) << upper.body;
}

TEST(DiscourseWebhook, SignatureMissingWrongOrOverOtherBytesIs401) {
  testing::TypedHarness h(kYaml, kNow);
  auto good = recorded("webhook_post_created.json");
  auto missing = good;
  std::erase_if(missing.headers, [](const auto& kv) { return kv.first == "X-Discourse-Event-Signature"; });
  EXPECT_EQ(h.connector->handleWebhook(missing).status, 401);
  // The signature recorded in production covers the unaltered body: it does not verify.
  auto original = jsonFixture("discourse", "webhook_post_created.json");
  auto stale = good;
  for (auto& [k, v] : stale.headers) {
    if (k == "X-Discourse-Event-Signature")
      v = original["webhook_headers"]["X-Discourse-Event-Signature"].get<std::string>();
  }
  EXPECT_EQ(h.connector->handleWebhook(stale).status, 401);
  auto tampered = good;
  tampered.body.replace(tampered.body.find("darknao"), 7, "mallory");
  EXPECT_EQ(h.connector->handleWebhook(tampered).status, 401);
  auto ping_wrong_secret = testing::webhookPost(
      "{\"ping\":\"OK\"}",
      {{"X-Discourse-Event-Signature", "sha256=" + hmacSha256Hex("nope", "{\"ping\":\"OK\"}")}});
  EXPECT_EQ(h.connector->handleWebhook(ping_wrong_secret).status, 401);
  EXPECT_EQ(h.sink.calls, 0);
  EXPECT_EQ(h.health.errors(ErrorReason::Signature), 4u);
}

// Numbers beyond what the post's fields can hold refuse the post instead of wrapping
// around (a user_id of 2^64-1 read as -1 is the system user, whose posts are ignored).
TEST(DiscourseWebhook, OutOfRangeNumbersRefuseThePost) {
  const std::vector<std::pair<std::string, nlohmann::json>> cases = {{"user_id", 18446744073709551615ULL},
                                                                     {"post_type", 4294967297LL}};
  for (const auto& c : cases) {
    testing::TypedHarness h(kYaml, kNow);
    auto r = h.connector->handleWebhook(
        recorded("webhook_post_created.json", [&c](nlohmann::json& b) { b["post"][c.first] = c.second; }));
    EXPECT_EQ(r.status, 400) << c.first << ": " << r.body;
    EXPECT_EQ(h.sink.calls, 0) << c.first;
  }
}

TEST(DiscourseWebhook, RecordedPostCreated) {
  testing::TypedHarness h(kYaml, kNow);
  auto r = h.connector->handleWebhook(recorded("webhook_post_created.json"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(bodyOf(r)["stored"], 1);
  ASSERT_EQ(h.sink.stored.size(), 1u);
  const Message& m = h.sink.stored[0];
  EXPECT_EQ(m.id, "79563");
  EXPECT_EQ(m.conversation_id, "46582");
  EXPECT_EQ(m.author_id, "2401");
  EXPECT_EQ(m.author_name, "darknao");
  EXPECT_FALSE(m.author_is_brand);
  EXPECT_EQ(m.kind, MessageKind::Post);
  EXPECT_EQ(toMillis(m.created_at), toMillis(testing::at("2023-02-09T10:19:46.324Z")));
  EXPECT_EQ(h.health.events(), 1u);
}

TEST(DiscourseWebhook, EditsRecoveriesAndRedeliveriesAreDuplicates) {
  testing::TypedHarness h(kYaml, kNow);
  ASSERT_EQ(h.connector->handleWebhook(recorded("webhook_post_edited.json")).status, 200);
  ASSERT_EQ(h.sink.stored.size(), 1u);  // an edit of an unknown post records the post
  EXPECT_EQ(h.sink.stored[0].id, "127406");
  auto again = h.connector->handleWebhook(recorded("webhook_post_edited.json", [](nlohmann::json& b) {
    b["post"]["raw"] = "edited once more";
    b["post"]["updated_at"] = "2023-02-10T10:00:00.000Z";
  }));
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(bodyOf(again)["duplicates"], 1);

  ASSERT_EQ(h.connector->handleWebhook(recorded("webhook_post_recovered.json")).status, 200);
  auto recovered_again = h.connector->handleWebhook(recorded("webhook_post_recovered.json"));
  EXPECT_EQ(bodyOf(recovered_again)["duplicates"], 1);
  EXPECT_EQ(h.sink.stored.size(), 2u);
}

TEST(DiscourseWebhook, DeletionIsARetraction) {
  testing::TypedHarness h(kYaml, kNow);
  auto r = h.connector->handleWebhook(recorded("webhook_post_destroyed.json"));
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(h.sink.stored.size(), 1u);
  const Message& m = h.sink.stored[0];
  EXPECT_EQ(m.id, "126080:deleted");
  EXPECT_EQ(m.kind, MessageKind::Retraction);
  EXPECT_EQ(m.conversation_id, "31274");
  EXPECT_EQ(m.in_reply_to, "126080");
  EXPECT_TRUE(m.text.empty());
  // No deleted_at in the payload: the post's updated_at, the same on every redelivery.
  EXPECT_EQ(toMillis(m.created_at), toMillis(testing::at("2023-01-29T01:22:59.114Z")));
  EXPECT_EQ(bodyOf(h.connector->handleWebhook(recorded("webhook_post_destroyed.json")))["duplicates"], 1);
  // With a deleted_at, that time is used.
  auto dated = h.connector->handleWebhook(recorded("webhook_post_destroyed.json", [](nlohmann::json& b) {
    b["post"]["id"] = 126081;
    b["post"]["deleted_at"] = "2023-02-01T08:00:00.000-05:00";
  }));
  ASSERT_EQ(dated.status, 200);
  EXPECT_EQ(toMillis(h.sink.stored[1].created_at), toMillis(testing::at("2023-02-01T13:00:00Z")));
}

TEST(DiscourseWebhook, TopicsLikesSystemPostsAndSmallActionsAreIgnored) {
  testing::TypedHarness h(kYaml, kNow);
  for (const char* file : {"webhook_topic_created.json", "webhook_post_liked.json"}) {
    auto r = h.connector->handleWebhook(recorded(file));
    EXPECT_EQ(r.status, 200) << file;
    EXPECT_EQ(bodyOf(r)["ignored"], 1) << file;
  }
  auto system = h.connector->handleWebhook(
      recorded("webhook_post_created.json", [](nlohmann::json& b) { b["post"]["user_id"] = -1; }));
  EXPECT_EQ(bodyOf(system)["reason"], "not_a_message");
  auto small_action = h.connector->handleWebhook(
      recorded("webhook_post_created.json", [](nlohmann::json& b) { b["post"]["post_type"] = 3; }));
  EXPECT_EQ(bodyOf(small_action)["reason"], "not_a_message");
  auto whisper = h.connector->handleWebhook(
      recorded("webhook_post_created.json", [](nlohmann::json& b) { b["post"]["post_type"] = 4; }));
  EXPECT_EQ(bodyOf(whisper)["reason"], "not_a_message");
  auto real_post = h.connector->handleWebhook(recorded("webhook_post_created.json"));
  EXPECT_EQ(bodyOf(real_post)["stored"], 1);
  auto liked_post =
      signedPost(jsonFixture("discourse", "webhook_post_created.json")["webhook_body"].dump(), "post_liked");
  EXPECT_EQ(bodyOf(h.connector->handleWebhook(liked_post))["reason"], "event");
  EXPECT_EQ(h.sink.stored.size(), 1u);
}

TEST(DiscourseWebhook, MalformedBodiesAre400) {
  testing::TypedHarness h(kYaml, kNow);
  EXPECT_EQ(h.connector->handleWebhook(signedPost("{\"post\":", "post_created")).status, 400);
  EXPECT_EQ(h.health.errors(ErrorReason::BadRequest), 1u);
  auto no_topic = h.connector->handleWebhook(
      recorded("webhook_post_created.json", [](nlohmann::json& b) { b["post"].erase("topic_id"); }));
  EXPECT_EQ(no_topic.status, 400);
  EXPECT_EQ(bodyOf(no_topic)["error"], "post 79563 has no topic_id");
  EXPECT_EQ(h.health.errors(ErrorReason::MissingField), 1u);
  auto bad_time = h.connector->handleWebhook(recorded(
      "webhook_post_created.json", [](nlohmann::json& b) { b["post"]["created_at"] = "09/02/2023"; }));
  EXPECT_EQ(bad_time.status, 400);
  EXPECT_EQ(h.health.errors(ErrorReason::InvalidTimestamp), 1u);
  EXPECT_EQ(h.connector->handleWebhook(signedPost("{}", "post_created")).status, 400);
  // A post the validator refuses (dated ahead of the clock) is logged with its id and reason.
  const test_support::CapturedLog log;
  auto future = h.connector->handleWebhook(recorded("webhook_post_created.json", [](nlohmann::json& b) {
    b["post"]["created_at"] = "2099-01-01T00:00:00.000Z";
  }));
  EXPECT_EQ(future.status, 400);
  EXPECT_EQ(h.health.errors(ErrorReason::FutureTimestamp), 1u);
  EXPECT_NE(log.text().find("discourse post rejected source=forum origin=webhook id="), std::string::npos)
      << log.text();
  EXPECT_NE(log.text().find("reason=future_timestamp"), std::string::npos) << log.text();
  EXPECT_EQ(h.sink.calls, 0);
}

TEST(DiscourseWebhook, StoreRefusalIs503) {
  testing::TypedHarness h(kYaml, kNow);
  h.sink.fail = true;
  auto r = h.connector->handleWebhook(recorded("webhook_post_created.json"));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(h.health.errors(ErrorReason::Store), 1u);
  auto get = recorded("webhook_post_created.json");
  get.method = "GET";
  EXPECT_EQ(h.connector->handleWebhook(get).status, 405);
}

TEST(DiscourseWebhook, QueueFullIs503WithoutAStoreError) {
  testing::TypedHarness h(kYaml, kNow);
  h.sink.fail = true;
  h.sink.fail_reason = std::string(kSinkQueueFullReason);
  auto r = h.connector->handleWebhook(recorded("webhook_post_created.json"));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(h.health.errors(ErrorReason::Store), 0u);
  // A real store failure still counts.
  h.sink.fail_reason = "store";
  EXPECT_EQ(h.connector->handleWebhook(recorded("webhook_post_created.json")).status, 503);
  EXPECT_EQ(h.health.errors(ErrorReason::Store), 1u);
}

TEST(DiscourseWebhook, BrandFromFlagsUsernamesAndIds) {
  auto post_by = [](bool staff, bool moderator, const std::string& username, long long id) {
    Post p;
    p.id = "1";
    p.topic_id = "2";
    p.user_id = id;
    p.username = username;
    p.staff = staff;
    p.moderator = moderator;
    return p;
  };
  testing::TypedHarness staff(kYaml, kNow);
  auto& d = dynamic_cast<DiscourseConnector&>(*staff.connector);
  EXPECT_TRUE(d.isBrand(post_by(true, false, "x", 5)));
  EXPECT_FALSE(d.isBrand(post_by(false, false, "x", 5)));

  testing::TypedHarness named(
      kYaml + "brand_usernames: [Acme_Support]\nbrand_user_ids: [\"42\"]\nbrand_flags: []\n", kNow);
  auto& n = dynamic_cast<DiscourseConnector&>(*named.connector);
  EXPECT_TRUE(n.isBrand(post_by(false, false, "acme_support", 5)));
  EXPECT_TRUE(n.isBrand(post_by(false, false, "someone", 42)));
  EXPECT_FALSE(n.isBrand(post_by(true, true, "moderator", 6)));

  testing::TypedHarness moderators(kYaml + "brand_flags: [moderator]\n", kNow);
  auto& m = dynamic_cast<DiscourseConnector&>(*moderators.connector);
  EXPECT_TRUE(m.isBrand(post_by(true, true, "x", 5)));
  EXPECT_FALSE(m.isBrand(post_by(true, false, "x", 5)));
}

TEST(DiscourseParse, ApiFixtures) {
  auto latest = parseLatestPosts(testing::readAll(testing::fixtureOf("discourse", "api_posts_latest.json")));
  ASSERT_TRUE(latest);
  ASSERT_EQ(latest->posts.size(), 4u);
  EXPECT_EQ(latest->posts[0].id, "15");
  EXPECT_EQ(latest->posts[0].topic_id, "11");
  EXPECT_TRUE(latest->posts[0].staff);
  EXPECT_EQ(latest->posts[2].user_id, -1);
  EXPECT_FALSE(DiscourseConnector::isMessage(latest->posts[2]));
  EXPECT_FALSE(latest->posts[0].text.empty());

  auto topic = parseTopicPosts(testing::readAll(testing::fixtureOf("discourse", "api_topic.json")));
  ASSERT_TRUE(topic);
  ASSERT_EQ(topic->posts.size(), 4u);
  EXPECT_EQ(formatRfc3339(topic->posts[0].created_at), "2013-02-04T20:26:26Z");  // -05:00
  EXPECT_EQ(topic->posts[1].post_type, 2);
  EXPECT_EQ(topic->posts[3].reply_to_post_number, 1);
  EXPECT_FALSE(topic->posts[0].reply_to_post_number.has_value());
  EXPECT_EQ(topic->posts[0].text.find('<'), std::string::npos) << topic->posts[0].text;  // cooked, stripped

  EXPECT_EQ(parseLatestPosts("{\"latest_posts\":[{\"id\":1").error().reason, "parse_error");
  EXPECT_EQ(parseLatestPosts("{\"posts\":[]}").error().reason, "missing_field");
  EXPECT_EQ(parseTopicPosts("{\"post_stream\":{}}").error().reason, "missing_field");
  auto post = parsePost(jsonFixture("discourse", "api_post.json"));
  ASSERT_TRUE(post);
  EXPECT_EQ(post->user_id, -1);
}

std::vector<config::Problem> problemsOf(const std::string& yaml) {
  auto source = testing::makeSource(yaml);
  std::vector<config::Problem> problems;
  findConnectorType("discourse")->validate(source, problems);
  return problems;
}

TEST(DiscourseSettings, Validation) {
  EXPECT_TRUE(problemsOf(kYaml).empty()) << testing::joinedProblems(problemsOf(kYaml));
  EXPECT_TRUE(
      problemsOf("type: discourse\nbase_url: https://forum.example.org\napi_key: k\napi_username: system\n"
                 "brand_usernames: [a, b]\nbrand_user_ids: [1, 2]\nbrand_flags: [staff, moderator]\n"
                 "max_pages: 5\ntopic_lookups: 0\n")
          .empty());
  const std::string all = testing::joinedProblems(
      problemsOf("type: discourse\nbase_url: forum.example.org\nbrand_flags: [owner]\nbrand_user_ids: [bob]\n"
                 "max_pages: 0\napi_secret: x\n"));
  EXPECT_NE(all.find("base_url in source \"test-export\" must start with http://"), std::string::npos) << all;
  EXPECT_NE(all.find("needs api_key (or api_key_file) and api_username"), std::string::npos) << all;
  EXPECT_NE(all.find("brand_flags in source \"test-export\" may only list staff, admin and moderator"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("brand_user_ids in source \"test-export\" must list numeric"), std::string::npos) << all;
  EXPECT_NE(all.find("max_pages in source \"test-export\" must be a whole number from 1 to 1000"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("unknown key"), std::string::npos) << all;
  const std::string no_brand =
      testing::joinedProblems(problemsOf("type: discourse\nwebhook_secret: s\nbrand_flags: []\n"));
  EXPECT_NE(no_brand.find("cannot tell the brand"), std::string::npos) << no_brand;
  const std::string nothing = testing::joinedProblems(problemsOf("type: discourse\napi_username: x\n"));
  EXPECT_NE(nothing.find("needs base_url (polling) or webhook_secret"), std::string::npos) << nothing;
  EXPECT_NE(nothing.find("api_username in source \"test-export\" needs base_url"), std::string::npos)
      << nothing;
}

}  // namespace
}  // namespace replywatch::connectors::discourse
