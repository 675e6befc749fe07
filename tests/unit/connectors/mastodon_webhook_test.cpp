#include <gtest/gtest.h>

#include <algorithm>

#include "connectors/common/hmac.h"
#include "connectors/mastodon/mastodon_connector.h"
#include "tests/unit/captured_log.h"
#include "tests/unit/connectors/mastodon_fake_api.h"
#include "tests/unit/connectors/social_support.h"

namespace replywatch::connectors::mastodon {
namespace {

using testing::bodyOf;
using testing::jsonFixture;
using testing::mastodonStatus;

constexpr const char* kSecret = "mastodon-hook-secret";
constexpr const char* kNow = "2026-08-01T14:00:00Z";
// The brand is the recorded root's author; the recorded reply answers it.
const std::string kRecordedBrand =
    "name: social\ntype: mastodon\naccount: acme\nchannel: mastodon\nbrand_account: mastodonpy_test_2\n"
    "brand_account_id: \"117020566092212359\"\nwebhook_secret: mastodon-hook-secret\n";
const std::string kAcme =
    "name: social\ntype: mastodon\naccount: acme\nchannel: mastodon\nbrand_account: acme\n"
    "brand_account_id: \"900\"\nwebhook_secret: mastodon-hook-secret\n";

std::string envelope(const nlohmann::json& status, const std::string& event = "status.created") {
  return nlohmann::json{{"event", event}, {"created_at", "2026-08-01T13:59:00.000Z"}, {"object", status}}
      .dump();
}

WebhookRequest signedPost(const std::string& body) {
  return testing::webhookPost(body, {{"X-Hub-Signature", "sha256=" + hmacSha256Hex(kSecret, body)}});
}

MastodonConnector& mastodonOf(testing::TypedHarness& h) {
  return dynamic_cast<MastodonConnector&>(*h.connector);
}

TEST(MastodonWebhook, SignatureMissingWrongOrOverOtherBytesIs401) {
  testing::TypedHarness h(kRecordedBrand, kNow);
  const std::string body = envelope(jsonFixture("mastodon", "status_reply.json"));
  EXPECT_EQ(h.connector->handleWebhook(testing::webhookPost(body, {})).status, 401);
  auto wrong = testing::webhookPost(body, {{"X-Hub-Signature", "sha256=" + hmacSha256Hex("other", body)}});
  EXPECT_EQ(h.connector->handleWebhook(wrong).status, 401);
  // GitHub's header name is not Mastodon's: the signature counts as missing.
  auto github =
      testing::webhookPost(body, {{"X-Hub-Signature-256", "sha256=" + hmacSha256Hex(kSecret, body)}});
  EXPECT_EQ(h.connector->handleWebhook(github).status, 401);
  auto tampered = signedPost(body);
  tampered.body.insert(tampered.body.size() - 1, " ");
  auto r = h.connector->handleWebhook(tampered);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(bodyOf(r)["error"], "invalid signature");
  auto garbage = testing::webhookPost(body, {{"X-Hub-Signature", "sha256=zz"}});
  EXPECT_EQ(h.connector->handleWebhook(garbage).status, 401);
  EXPECT_EQ(h.sink.calls, 0);
  EXPECT_EQ(h.health.errors(ErrorReason::Signature), 5u);
  // The signature is checked before parsing: an unsigned garbage body is 401, not 400.
  EXPECT_EQ(h.connector->handleWebhook(testing::webhookPost("not json", {})).status, 401);
}

TEST(MastodonWebhook, RecordedThreadIsStored) {
  testing::TypedHarness h(kRecordedBrand, kNow);
  auto root = h.connector->handleWebhook(signedPost(envelope(jsonFixture("mastodon", "status_root.json"))));
  ASSERT_EQ(root.status, 200) << root.body;
  auto reply = h.connector->handleWebhook(signedPost(envelope(jsonFixture("mastodon", "status_reply.json"))));
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(bodyOf(reply)["stored"], 1);
  ASSERT_EQ(h.sink.stored.size(), 2u);
  const Message& r = h.sink.stored[0];
  EXPECT_EQ(r.id, "117020583245459824");
  EXPECT_EQ(r.conversation_id, "117020583245459824");
  EXPECT_TRUE(r.author_is_brand);
  const Message& m = h.sink.stored[1];
  EXPECT_EQ(m.id, "117020583258292382");
  EXPECT_EQ(m.conversation_id, "117020583245459824");
  EXPECT_EQ(m.in_reply_to, "117020583245459824");
  EXPECT_EQ(m.author_id, "117020565693913441");
  EXPECT_EQ(m.author_name, "admin");
  EXPECT_FALSE(m.author_is_brand);
  EXPECT_EQ(m.text, "@mastodonpy_test_2 same!");
  EXPECT_EQ(m.kind, MessageKind::Post);
  EXPECT_EQ(h.health.events(), 2u);
  EXPECT_TRUE(h.health.lastSuccess().has_value());
}

TEST(MastodonWebhook, DuplicatesAndEditsChangeNothing) {
  testing::TypedHarness h(kRecordedBrand, kNow);
  const auto reply = jsonFixture("mastodon", "status_reply.json");
  ASSERT_EQ(h.connector->handleWebhook(signedPost(envelope(reply))).status, 200);
  auto again = h.connector->handleWebhook(signedPost(envelope(reply)));
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(bodyOf(again)["duplicates"], 1);
  auto edited = reply;
  edited["content"] = "<p>@mastodonpy_test_2 same! (edited)</p>";
  edited["edited_at"] = "2026-08-01T13:58:00.000Z";
  auto update = h.connector->handleWebhook(signedPost(envelope(edited, "status.updated")));
  ASSERT_EQ(update.status, 200);
  EXPECT_EQ(bodyOf(update)["duplicates"], 1);
  ASSERT_EQ(h.sink.stored.size(), 1u);
  EXPECT_EQ(h.sink.stored[0].text, "@mastodonpy_test_2 same!");
}

TEST(MastodonWebhook, OtherEventsReblogsAndUnrelatedStatusesAreIgnored) {
  testing::TypedHarness h(kAcme, kNow);
  auto account = h.connector->handleWebhook(signedPost(R"({"event":"account.created","object":{"id":"5"}})"));
  EXPECT_EQ(account.status, 200);
  EXPECT_EQ(bodyOf(account)["ignored"], 1);
  auto unrelated = mastodonStatus("5001", "", "", "77", "someone", "2026-08-01T13:00:00.000Z", "<p>hi?</p>");
  auto r = h.connector->handleWebhook(signedPost(envelope(unrelated)));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(bodyOf(r)["reason"], "not_brand_thread");
  auto boost = mastodonStatus("5002", "", "", "900", "acme", "2026-08-01T13:00:00.000Z", "");
  boost["reblog"] = unrelated;
  EXPECT_EQ(bodyOf(h.connector->handleWebhook(signedPost(envelope(boost))))["reason"], "reblog");
  EXPECT_EQ(h.sink.calls, 0);
  // A mention of the brand (by acct, remote form of a local brand too) is kept.
  auto mention = mastodonStatus("5003", "", "", "77", "someone@elsewhere.org", "2026-08-01T13:00:00.000Z",
                                "<p>@acme help?</p>", {"acme"});
  EXPECT_EQ(h.connector->handleWebhook(signedPost(envelope(mention))).status, 200);
  EXPECT_EQ(h.sink.stored.size(), 1u);
}

// Mastodon sends status webhooks for its own users only: a source without polling says
// what it will miss.
TEST(MastodonWebhook, WebhooksWithoutPollingWarn) {
  const test_support::CapturedLog log;
  testing::TypedHarness webhooks_only(kAcme, kNow);
  EXPECT_NE(log.text().find("questions from accounts of other servers will not arrive"), std::string::npos)
      << log.text();
  const std::size_t before = log.text().size();
  testing::TypedHarness both(kAcme + "base_url: http://127.0.0.1:1\ntoken: t\n", kNow);
  EXPECT_EQ(log.text().find("other servers", before), std::string::npos) << log.text();
}

TEST(MastodonWebhook, MalformedBodiesAre400) {
  testing::TypedHarness h(kAcme, kNow);
  auto r = h.connector->handleWebhook(signedPost("{\"event\":\"status.created\",\"object\":"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(bodyOf(r)["error"], "the body is not valid JSON");
  EXPECT_EQ(h.health.errors(ErrorReason::BadRequest), 1u);
  auto status = mastodonStatus("6001", "", "", "900", "acme", "2026-08-01T13:00:00.000Z", "<p>x</p>");
  status.erase("created_at");
  EXPECT_EQ(h.connector->handleWebhook(signedPost(envelope(status))).status, 400);
  EXPECT_EQ(h.health.errors(ErrorReason::MissingField), 1u);
  auto future = mastodonStatus("6002", "", "", "900", "acme", "2026-08-02T13:00:00.000Z", "<p>x</p>");
  const test_support::CapturedLog log;
  auto f = h.connector->handleWebhook(signedPost(envelope(future)));
  EXPECT_EQ(f.status, 400);
  EXPECT_EQ(h.health.errors(ErrorReason::FutureTimestamp), 1u);
  // Mastodon does not retry a 400: the log says which status was lost, and why.
  EXPECT_NE(log.text().find("mastodon status rejected source=social origin=webhook id=6002"), std::string::npos)
      << log.text();
  EXPECT_NE(log.text().find("reason=future_timestamp"), std::string::npos) << log.text();
  EXPECT_EQ(h.sink.calls, 0);
}

TEST(MastodonWebhook, StoreRefusalIs503AndMethodsAndDisabledHooks) {
  testing::TypedHarness h(kAcme, kNow);
  h.sink.fail = true;
  auto s = mastodonStatus("7001", "", "", "900", "acme", "2026-08-01T13:00:00.000Z", "<p>x</p>");
  auto r = h.connector->handleWebhook(signedPost(envelope(s)));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(h.health.errors(ErrorReason::Store), 1u);
  EXPECT_FALSE(h.health.up());
  auto get = signedPost(envelope(s));
  get.method = "GET";
  EXPECT_EQ(h.connector->handleWebhook(get).status, 405);

  testing::TypedHarness no_secret(
      "name: social\ntype: mastodon\nbrand_account: acme\nbase_url: http://127.0.0.1:1\ntoken: t\n", kNow);
  EXPECT_EQ(no_secret.connector->handleWebhook(signedPost(envelope(s))).status, 404);
}

// A member asks (R), the brand answers (B), the member follows up (M), the brand
// answers again (B2): every status belongs to the conversation R.
std::vector<nlohmann::json> thread() {
  return {
      mastodonStatus("8001", "", "", "77", "marie@elsewhere.org", "2026-08-01T10:00:00.000Z",
                     "<p>@acme where is my order?</p>", {"acme"}),
      mastodonStatus("8002", "8001", "77", "900", "acme", "2026-08-01T10:20:00.000Z",
                     "<p>@marie looking into it</p>", {"marie@elsewhere.org"}),
      mastodonStatus("8003", "8002", "900", "77", "marie@elsewhere.org", "2026-08-01T10:30:00.000Z",
                     "<p>@acme thanks, any news?</p>", {"acme"}),
      mastodonStatus("8004", "8003", "77", "900", "acme", "2026-08-01T11:00:00.000Z", "<p>@marie shipped</p>",
                     {"marie@elsewhere.org"}),
  };
}

TEST(MastodonWebhook, ThreadRootWithoutApiFollowsKnownChains) {
  testing::TypedHarness h(kAcme, kNow);
  for (const auto& s : thread()) ASSERT_EQ(h.connector->handleWebhook(signedPost(envelope(s))).status, 200);
  ASSERT_EQ(h.sink.stored.size(), 4u);
  for (const auto& m : h.sink.stored) EXPECT_EQ(m.conversation_id, "8001") << m.id;
  EXPECT_TRUE(h.sink.stored[1].author_is_brand);
  EXPECT_EQ(h.sink.stored[0].text, "@acme where is my order?");

  // Without the API, a reply whose parent is unknown starts at its parent: the
  // documented limit of webhook-only sources.
  testing::TypedHarness reversed(kAcme, kNow);
  auto statuses = thread();
  ASSERT_EQ(reversed.connector->handleWebhook(signedPost(envelope(statuses[3]))).status, 200);
  EXPECT_EQ(reversed.sink.stored[0].conversation_id, "8003");
}

TEST(MastodonWebhook, ThreadRootFromTheApiIsIndependentOfArrivalOrder) {
  testing::FakeMastodon api;
  for (const auto& s : thread()) api.addStatus(s);
  testing::TestHttpServer server(api.handler());
  testing::TypedHarness h(kAcme + "base_url: " + server.url("") + "\ntoken: t0k\npoll: false\n", kNow);
  mastodonOf(h).setHttpOptions(testing::fastHttpOptions());
  EXPECT_FALSE(h.connector->polls());
  auto statuses = thread();
  std::reverse(statuses.begin(), statuses.end());  // the last reply first
  for (const auto& s : statuses) ASSERT_EQ(h.connector->handleWebhook(signedPost(envelope(s))).status, 200);
  ASSERT_EQ(h.sink.stored.size(), 4u);
  for (const auto& m : h.sink.stored) EXPECT_EQ(m.conversation_id, "8001") << m.id;
  // The first lookup (for 8004) taught the root of every ancestor: one request only.
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].target, "/api/v1/statuses/8004/context");
  EXPECT_EQ(requests[0].header("Authorization"), "Bearer t0k");
}

TEST(MastodonWebhook, ApiFailureFallsBackToTheParent) {
  testing::FakeMastodon api;
  api.intercept = [](const testing::FakeMastodon::Request&, int) {
    testing::FakeMastodon::Response r;
    r.status = 503;
    return std::optional(r);
  };
  testing::TestHttpServer server(api.handler());
  testing::TypedHarness h(kAcme + "base_url: " + server.url("") + "\ntoken: t0k\npoll: false\n", kNow);
  mastodonOf(h).setHttpOptions(testing::fastHttpOptions());
  auto r = h.connector->handleWebhook(signedPost(envelope(thread()[3])));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(h.sink.stored[0].conversation_id, "8003");
  EXPECT_EQ(h.health.errors(ErrorReason::Http), 1u);
  // A deleted parent (404) is no failure: the parent id stands for the root.
  testing::FakeMastodon empty;
  testing::TestHttpServer server404(empty.handler());
  testing::TypedHarness g(kAcme + "base_url: " + server404.url("") + "\ntoken: t0k\npoll: false\n", kNow);
  mastodonOf(g).setHttpOptions(testing::fastHttpOptions());
  ASSERT_EQ(g.connector->handleWebhook(signedPost(envelope(thread()[1]))).status, 200);
  EXPECT_EQ(g.sink.stored[0].conversation_id, "8001");
  EXPECT_EQ(g.health.errors(ErrorReason::Http), 0u);
}

TEST(MastodonWebhook, RootCacheIsBounded) {
  RootCache cache(3);
  cache.put("1", "1");
  cache.put("2", "1");
  cache.put("3", "1");
  cache.put("2", "1");  // already there: no growth
  cache.put("4", "4");
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_FALSE(cache.find("1").has_value());
  EXPECT_EQ(cache.find("4"), "4");
}

std::vector<config::Problem> problemsOf(const std::string& yaml) {
  auto source = testing::makeSource(yaml);
  std::vector<config::Problem> problems;
  findConnectorType("mastodon")->validate(source, problems);
  return problems;
}

TEST(MastodonSettings, Validation) {
  EXPECT_TRUE(problemsOf(kAcme).empty()) << testing::joinedProblems(problemsOf(kAcme));
  EXPECT_TRUE(problemsOf("type: mastodon\nbrand_account: acme\nbase_url: https://example.social/\ntoken: x\n"
                         "poll_interval: 2m\npage_limit: 40\nmax_pages: 3\nroot_cache_size: 1000\n")
                  .empty());
  const std::string all = testing::joinedProblems(
      problemsOf("type: mastodon\nbase_url: ftp://x\npage_limit: 500\npoll_interval: 0s\nbrand_acount: a\n"));
  EXPECT_NE(all.find("brand_account"), std::string::npos) << all;
  EXPECT_NE(all.find("base_url in source \"test-export\" must start with http:// or https://"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("needs token"), std::string::npos) << all;
  EXPECT_NE(all.find("page_limit in source \"test-export\" must be a whole number from 1 to 80"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("poll_interval in source \"test-export\" must be longer than zero"), std::string::npos)
      << all;
  EXPECT_NE(all.find("unknown key"), std::string::npos) << all;
  const std::string nothing = testing::joinedProblems(problemsOf("type: mastodon\nbrand_account: acme\n"));
  EXPECT_NE(nothing.find("needs base_url (polling) or webhook_secret (webhooks)"), std::string::npos)
      << nothing;
  const std::string orphan = testing::joinedProblems(
      problemsOf("type: mastodon\nbrand_account: acme\nwebhook_secret: s\nmax_pages: 2\n"));
  EXPECT_NE(orphan.find("max_pages in source \"test-export\" needs base_url"), std::string::npos) << orphan;

  auto source = testing::makeSource(
      "type: mastodon\nbrand_account: acme\nbase_url: https://Example.Social:8443/\n"
      "token: x\n");
  std::vector<config::Problem> ignored;
  auto s = parseSettings(source, ignored);
  EXPECT_EQ(s.base_url, "https://Example.Social:8443");
  EXPECT_EQ(s.instance_domain, "Example.Social");
  EXPECT_EQ(s.poll_interval, std::chrono::seconds{60});
  EXPECT_TRUE(s.poll);
}

}  // namespace
}  // namespace replywatch::connectors::mastodon
