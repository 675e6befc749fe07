#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/unit/captured_log.h"
#include "tests/unit/connectors/meta_test_support.h"

namespace replywatch::connectors::meta {
namespace {

using testing::fixture;
using testing::MetaHarness;
using testing::signatureOf;
using testing::sourceYaml;

WebhookResponse handshake(MetaHarness& h, const std::string& query) {
  WebhookRequest r;
  r.method = "GET";
  r.path = "/webhooks/acme-fb";
  r.query = query;
  r.remote = "127.0.0.1";
  return h.connector->handleWebhook(r);
}

TEST(MetaWebhook, HandshakeEchoesTheChallenge) {
  MetaHarness h(sourceYaml());
  auto ok = handshake(h, "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=meta-verify-token");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "1158201444");
  EXPECT_EQ(ok.content_type, "text/plain");

  EXPECT_EQ(handshake(h, "hub.mode=subscribe&hub.challenge=1&hub.verify_token=wrong").status, 403);
  EXPECT_EQ(handshake(h, "hub.mode=subscribe&hub.challenge=1").status, 403);
  EXPECT_EQ(handshake(h, "hub.mode=unsubscribe&hub.challenge=1&hub.verify_token=meta-verify-token").status,
            403);
  EXPECT_EQ(handshake(h, "hub.challenge=1&hub.verify_token=meta-verify-token").status, 403);
  // A challenge that is not a short token is not reflected back.
  EXPECT_EQ(
      handshake(h, "hub.mode=subscribe&hub.challenge=%3Cscript%3E&hub.verify_token=meta-verify-token").status,
      400);
  EXPECT_EQ(handshake(h, "hub.mode=subscribe&hub.verify_token=meta-verify-token").status, 400);
  EXPECT_EQ(h.health.errors(ErrorReason::Signature), 4u);
  EXPECT_EQ(h.sink.calls, 0);
}

// An empty verify_token (an environment variable set to nothing) matches no request,
// not even one with an empty hub.verify_token.
TEST(MetaWebhook, AnEmptyVerifyTokenRefusesEveryHandshake) {
  std::string yaml = sourceYaml();
  yaml.replace(yaml.find("verify_token: "), std::string::npos, "verify_token: \"\"\n");
  MetaHarness h(yaml);
  EXPECT_EQ(handshake(h, "hub.mode=subscribe&hub.challenge=1&hub.verify_token=").status, 403);
  EXPECT_EQ(handshake(h, "hub.mode=subscribe&hub.challenge=1").status, 403);
  EXPECT_EQ(h.health.errors(ErrorReason::Signature), 2u);
}

TEST(MetaWebhook, SignedFixtureIsStored) {
  MetaHarness h(sourceYaml());
  const std::string body = fixture("feed-comment-add-211.json");
  auto r = h.postSigned(body);
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["stored"], 1);
  ASSERT_EQ(h.sink.stored.size(), 1u);
  EXPECT_EQ(h.sink.stored[0].id, "903438993085259");
  EXPECT_EQ(h.sink.last_source, "acme-fb");
  EXPECT_EQ(h.health.events(), 1u);
  EXPECT_TRUE(h.health.lastSuccess().has_value());
}

// The same change twice in one delivery is counted, once stored and once a duplicate.
TEST(MetaWebhook, AChangeRepeatedInOneDeliveryIsCountedAsADuplicate) {
  MetaHarness h(sourceYaml());
  auto doc = nlohmann::json::parse(fixture("feed-comment-add-211.json"));
  auto& changes = doc["entry"][0]["changes"];
  changes.push_back(changes[0]);
  const std::string body = doc.dump();
  auto r = h.postSigned(body);
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["received"], 2);
  EXPECT_EQ(j["stored"], 1);
  EXPECT_EQ(j["duplicates"], 1);
  EXPECT_EQ(h.sink.stored.size(), 1u);
}

TEST(MetaWebhook, MissingOrWrongSignatureStoresNothing) {
  MetaHarness h(sourceYaml());
  const std::string body = fixture("feed-comment-add-211.json");
  EXPECT_EQ(h.post(body, std::nullopt).status, 401);
  EXPECT_EQ(h.post(body, signatureOf(body, "another-secret")).status, 401);
  EXPECT_EQ(h.post(body, "sha256=").status, 401);
  EXPECT_EQ(h.post(body, "sha1=" + std::string(40, 'a')).status, 401);
  // The signature covers the exact bytes: a re-serialised body does not verify.
  const std::string reserialised = nlohmann::json::parse(body).dump();
  EXPECT_EQ(h.post(reserialised, signatureOf(body)).status, 401);
  EXPECT_EQ(h.sink.calls, 0);
  EXPECT_EQ(h.health.errors(ErrorReason::Signature), 5u);
}

TEST(MetaWebhook, SignatureIsCheckedBeforeParsing) {
  MetaHarness h(sourceYaml());
  EXPECT_EQ(h.post("{not json", std::nullopt).status, 401);
  EXPECT_EQ(h.health.errors(ErrorReason::BadRequest), 0u);
  auto bad = h.postSigned("{not json");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(h.postSigned("{\"object\":\"page\"}").status, 400);
  EXPECT_EQ(h.health.errors(ErrorReason::BadRequest), 2u);
  EXPECT_EQ(h.sink.calls, 0);
}

TEST(MetaWebhook, BatchedEntriesAndDuplicates) {
  MetaHarness h(sourceYaml());
  const std::string body = fixture("webhook-batch.json");
  auto first = h.postSigned(body);
  ASSERT_EQ(first.status, 200) << first.body;
  auto j = nlohmann::json::parse(first.body);
  EXPECT_EQ(j["stored"], 2);
  EXPECT_EQ(j["rejected"], 1);
  EXPECT_EQ(j["ignored"], 2);
  EXPECT_EQ(h.health.errors(ErrorReason::MissingField), 1u);

  // Meta retries a delivery it thinks failed: nothing changes.
  auto again = h.postSigned(body);
  ASSERT_EQ(again.status, 200);
  j = nlohmann::json::parse(again.body);
  EXPECT_EQ(j["stored"], 0);
  EXPECT_EQ(j["duplicates"], 2);
  EXPECT_EQ(h.sink.stored.size(), 2u);
  EXPECT_EQ(h.health.events(), 2u);

  // `edited` for a known comment is a duplicate as well.
  auto edited = h.postSigned(fixture("feed-comment-edited-25.json"));
  ASSERT_EQ(edited.status, 200);
  auto edit_again = h.postSigned(fixture("feed-comment-edited-25.json"));
  EXPECT_EQ(nlohmann::json::parse(edit_again.body)["duplicates"], 1);
}

TEST(MetaWebhook, SameEntryTwiceInOneDeliveryIsStoredOnce) {
  MetaHarness h(sourceYaml());
  auto doc = nlohmann::json::parse(fixture("feed-comment-add-211.json"));
  doc["entry"].push_back(doc["entry"][0]);
  const std::string body = doc.dump();
  auto r = h.postSigned(body);
  ASSERT_EQ(r.status, 200);
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["received"], 2);
  EXPECT_EQ(j["stored"], 1);
  EXPECT_EQ(j["duplicates"], 1);
  EXPECT_EQ(h.sink.stored.size(), 1u);
}

TEST(MetaWebhook, RetractionsAreStoredUnderTheirOwnId) {
  MetaHarness h(sourceYaml());
  ASSERT_EQ(h.postSigned(fixture("feed-comment-hide.json")).status, 200);
  ASSERT_EQ(h.postSigned(fixture("feed-comment-remove-25.json")).status, 200);
  ASSERT_EQ(h.sink.stored.size(), 2u);
  EXPECT_EQ(h.sink.stored[0].id, "900744590021366:hidden");
  EXPECT_EQ(h.sink.stored[0].kind, MessageKind::Retraction);
  EXPECT_EQ(h.sink.stored[1].id, "905579239537901:removed");
}

TEST(MetaWebhook, NothingRelevantIsStillAcknowledged) {
  MetaHarness h(sourceYaml());
  auto r = h.postSigned(fixture("feed-two-entries-25.json"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(nlohmann::json::parse(r.body)["ignored"], 2);
  EXPECT_EQ(h.sink.calls, 0);
}

// A source whose page_id (or channel) does not match what Meta sends gets every entry
// addressed elsewhere: acknowledged (Meta would retry otherwise), logged at warn level
// with the ids, once per interval, and not a success: the source goes stale.
TEST(MetaWebhook, DeliveriesForAnotherPageWarnAndAreNoSuccess) {
  MetaHarness h(sourceYaml("", "facebook", "17841400000000000"));
  const test_support::CapturedLog log;
  auto r = h.postSigned(fixture("webhook-batch.json"));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(nlohmann::json::parse(r.body)["ignored"], 3);
  EXPECT_FALSE(h.health.lastSuccess());
  EXPECT_NE(log.text().find("[warning] meta webhook entries for another page or account ignored"),
            std::string::npos)
      << log.text();
  EXPECT_NE(log.text().find("entry_ids=1234567890321,9999999999 page_id=17841400000000000"),
            std::string::npos)
      << log.text();
  // Within the interval, the next ones go to the debug level.
  h.clock.advance(std::chrono::minutes{1});
  EXPECT_EQ(h.postSigned(fixture("webhook-batch.json")).status, 200);
  EXPECT_EQ(log.text().find("[warning]", log.text().find("[warning]") + 1), std::string::npos) << log.text();
  h.clock.advance(std::chrono::minutes{10});
  EXPECT_EQ(h.postSigned(fixture("webhook-batch.json")).status, 200);
  EXPECT_NE(log.text().find("[warning]", log.text().find("[warning]") + 1), std::string::npos) << log.text();
  EXPECT_FALSE(h.health.lastSuccess());

  // An Instagram delivery at a Facebook source: the object is named.
  MetaHarness fb(sourceYaml());
  EXPECT_EQ(fb.postSigned(fixture("ig-wh-comments-2021.json")).status, 200);
  EXPECT_FALSE(fb.health.lastSuccess());
  EXPECT_NE(log.text().find("object=instagram expected_object=page"), std::string::npos) << log.text();

  // A delivery with one entry for this page is a success, though others were not.
  MetaHarness mixed(sourceYaml());
  EXPECT_EQ(mixed.postSigned(fixture("webhook-batch.json")).status, 200);
  EXPECT_TRUE(mixed.health.lastSuccess());
}

TEST(MetaWebhook, StoreRefusalIs503) {
  MetaHarness h(sourceYaml());
  h.sink.fail = true;
  auto r = h.postSigned(fixture("feed-comment-add-211.json"));
  EXPECT_EQ(r.status, 503);
  EXPECT_FALSE(h.health.up());
  EXPECT_EQ(h.health.errors(ErrorReason::Store), 1u);
  h.sink.fail = false;
  EXPECT_EQ(h.postSigned(fixture("feed-comment-add-211.json")).status, 200);
  EXPECT_TRUE(h.health.up());
}

TEST(MetaWebhook, FutureAndOldTimesAreRefusedOneByOne) {
  MetaHarness h(sourceYaml());
  auto doc = nlohmann::json::parse(fixture("feed-comment-add-211.json"));
  auto future = doc["entry"][0];
  future["changes"][0]["value"]["comment_id"] = "1_99";
  future["changes"][0]["value"]["created_time"] = 1893456000;  // 2030
  doc["entry"].push_back(future);
  auto r = h.postSigned(doc.dump());
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(nlohmann::json::parse(r.body)["rejected"], 1);
  EXPECT_EQ(h.health.errors(ErrorReason::FutureTimestamp), 1u);
  EXPECT_EQ(h.sink.stored.size(), 1u);
}

TEST(MetaWebhook, InstagramSource) {
  MetaHarness h(sourceYaml("", "instagram", "0"));
  auto r = h.postSigned(fixture("ig-wh-comments-2021.json"));
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(h.sink.stored.size(), 1u);
  EXPECT_EQ(h.sink.stored[0].conversation_id, "987654321");
  auto old = h.postSigned(fixture("ig-wh-comments.json"));
  EXPECT_EQ(old.status, 200);
  EXPECT_EQ(h.health.errors(ErrorReason::MissingField), 1u);
}

TEST(MetaWebhook, OtherMethodsAndDisabledWebhooks) {
  MetaHarness h(sourceYaml());
  WebhookRequest r;
  r.method = "PUT";
  const auto refused = h.connector->handleWebhook(r);
  EXPECT_EQ(refused.status, 405);
  EXPECT_EQ(refused.headers.at(0), (std::pair<std::string, std::string>{"Allow", "GET, POST"}));
  EXPECT_EQ(h.health.errors(ErrorReason::BadRequest), 0u);
  MetaHarness polling_only(
      "name: acme-fb\ntype: meta\naccount: acme\nchannel: facebook\npage_id: \"1\"\naccess_token: tok\n");
  EXPECT_EQ(polling_only.postSigned("{}").status, 404);
  EXPECT_TRUE(polling_only.connector->polls());
  EXPECT_FALSE(h.connector->polls());
}

}  // namespace
}  // namespace replywatch::connectors::meta
