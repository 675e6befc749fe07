#include <fmt/format.h>
#include <gtest/gtest.h>

#include "connectors/mastodon/mastodon_connector.h"
#include "tests/unit/connectors/mastodon_fake_api.h"
#include "tests/unit/connectors/social_support.h"

namespace replywatch::connectors::mastodon {
namespace {

using testing::FakeMastodon;
using testing::mastodonStatus;
using testing::TestHttpServer;

constexpr const char* kNow = "2026-08-01T14:00:00Z";

std::string yamlFor(const TestHttpServer& server, const std::string& extra = "") {
  return "name: social\ntype: mastodon\naccount: acme\nchannel: mastodon\nbrand_account: acme\nbase_url: " +
         server.url("") + "\ntoken: t0k\npage_limit: 3\n" + extra;
}

MastodonConnector& mastodonOf(testing::TypedHarness& h) {
  return dynamic_cast<MastodonConnector&>(*h.connector);
}

std::string at(int minute) { return fmt::format("2026-08-01T10:{:02d}:00.000Z", minute); }

// Member n asks in a thread of its own (status 1000+n) through a mention (notification n).
nlohmann::json question(int n) {
  return mastodonStatus(std::to_string(1000 + n), "", "", "7" + std::to_string(n),
                        "member" + std::to_string(n), at(n),
                        "<p>@acme question " + std::to_string(n) + "?</p>", {"acme"});
}
// The brand answers question n (status 2000+n).
nlohmann::json answer(int n) {
  return mastodonStatus(std::to_string(2000 + n), std::to_string(1000 + n), "7" + std::to_string(n), "900",
                        "acme", at(n + 30), "<p>answer</p>");
}

std::vector<std::string> targets(const TestHttpServer& server) {
  std::vector<std::string> out;
  for (const auto& r : server.requests()) out.push_back(r.target);
  return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(MastodonPoll, FirstRunFollowsNextLinksThenResumesWithMinId) {
  FakeMastodon api;
  for (int n = 1; n <= 7; ++n) api.addMention(std::to_string(n), question(n));
  for (int n = 1; n <= 2; ++n) api.addBrandStatus(answer(n));
  TestHttpServer server(api.handler());
  testing::TypedHarness h(yamlFor(server), kNow);
  auto& c = mastodonOf(h);
  c.setHttpOptions(testing::fastHttpOptions());
  ASSERT_TRUE(h.connector->polls());

  auto first = c.pollOnce();
  ASSERT_TRUE(first.ok);
  EXPECT_EQ(first.fetched, 9u);
  EXPECT_EQ(first.outcome.stored, 9u);
  ASSERT_EQ(h.sink.calls, 1);  // one batch, with its cursor
  ASSERT_TRUE(h.sink.committed_cursor.has_value());
  EXPECT_EQ(nlohmann::json::parse(*h.sink.committed_cursor),
            (nlohmann::json{{"notifications_min_id", "7"}, {"statuses_min_id", "2002"}}));
  auto t = targets(server);
  EXPECT_EQ(t[0], "/api/v1/accounts/verify_credentials");
  EXPECT_EQ(t[1], "/api/v1/notifications?types%5B%5D=mention&limit=3");
  EXPECT_TRUE(contains(t, "/api/v1/notifications?types%5B%5D=mention&limit=3&max_id=5")) << t.size();
  EXPECT_TRUE(contains(t, "/api/v1/notifications?types%5B%5D=mention&limit=3&max_id=2"));
  EXPECT_TRUE(contains(t, "/api/v1/accounts/900/statuses?limit=3"));
  const Message* a1 = h.sink.find("2001");
  ASSERT_NE(a1, nullptr);
  EXPECT_EQ(a1->conversation_id, "1001");
  EXPECT_TRUE(a1->author_is_brand);
  EXPECT_EQ(h.sink.find("1003")->text, "@acme question 3?");
  // Every root was known from the batch itself: no context lookup.
  for (const auto& target : t) EXPECT_EQ(target.find("/context"), std::string::npos) << target;

  // New items: resume from the cursor with min_id, then follow rel="prev".
  for (int n = 8; n <= 12; ++n) api.addMention(std::to_string(n), question(n));
  api.addBrandStatus(answer(8));
  const std::size_t before = server.requests().size();
  auto second = c.pollOnce();
  ASSERT_TRUE(second.ok);
  EXPECT_EQ(second.outcome.stored, 6u);
  t = targets(server);
  t.erase(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(before));
  EXPECT_EQ(t[0], "/api/v1/notifications?types%5B%5D=mention&limit=3&min_id=7");
  EXPECT_TRUE(contains(t, "/api/v1/notifications?types%5B%5D=mention&limit=3&min_id=10"));
  EXPECT_TRUE(contains(t, "/api/v1/notifications?types%5B%5D=mention&limit=3&min_id=12"));
  EXPECT_TRUE(contains(t, "/api/v1/accounts/900/statuses?limit=3&min_id=2002"));
  EXPECT_EQ(nlohmann::json::parse(*h.sink.committed_cursor)["notifications_min_id"], "12");
  EXPECT_EQ(h.sink.stored.size(), 15u);

  // A restarted connector reads the committed cursor back.
  auto restarted = h.restart();
  auto& r = dynamic_cast<MastodonConnector&>(*restarted);
  r.setHttpOptions(testing::fastHttpOptions());
  const std::size_t before_restart = server.requests().size();
  ASSERT_TRUE(r.pollOnce().ok);
  t = targets(server);
  EXPECT_EQ(t[before_restart + 1], "/api/v1/notifications?types%5B%5D=mention&limit=3&min_id=12");
  EXPECT_EQ(h.sink.stored.size(), 15u);
}

TEST(MastodonPoll, UnknownRootsAreAskedFromTheContext) {
  FakeMastodon api;
  // A thread started before the source existed: only the third status mentions the brand.
  api.addStatus(mastodonStatus("3001", "", "", "71", "alice", at(1), "<p>broken parcel</p>"));
  api.addStatus(mastodonStatus("3002", "3001", "71", "72", "bob", at(2), "<p>same here</p>"));
  api.addMention(
      "1", mastodonStatus("3003", "3002", "72", "71", "alice", at(3), "<p>@acme any help?</p>", {"acme"}));
  TestHttpServer server(api.handler());
  testing::TypedHarness h(yamlFor(server, "brand_account_id: \"900\"\n"), kNow);
  auto& c = mastodonOf(h);
  c.setHttpOptions(testing::fastHttpOptions());
  ASSERT_TRUE(c.pollOnce().ok);
  ASSERT_EQ(h.sink.stored.size(), 1u);
  EXPECT_EQ(h.sink.stored[0].conversation_id, "3001");
  EXPECT_TRUE(contains(targets(server), "/api/v1/statuses/3003/context"));
  EXPECT_FALSE(contains(targets(server), "/api/v1/accounts/verify_credentials"));
  EXPECT_EQ(c.roots().find("3002"), "3001");
}

TEST(MastodonPoll, FailedContextLookupCommitsNothing) {
  FakeMastodon api;
  api.addStatus(mastodonStatus("3001", "", "", "71", "alice", at(1), "<p>broken parcel</p>"));
  api.addMention("1", mastodonStatus("3003", "3001", "71", "72", "bob", at(3), "<p>@acme?</p>", {"acme"}));
  bool fail = true;
  api.intercept = [&fail](const FakeMastodon::Request& req, int) -> std::optional<FakeMastodon::Response> {
    if (!fail || req.target.find("/context") == std::string::npos) return std::nullopt;
    FakeMastodon::Response r;
    r.status = 500;
    return r;
  };
  TestHttpServer server(api.handler());
  testing::TypedHarness h(yamlFor(server, "brand_account_id: \"900\"\n"), kNow);
  auto& c = mastodonOf(h);
  c.setHttpOptions(testing::fastHttpOptions());
  EXPECT_FALSE(c.pollOnce().ok);
  EXPECT_EQ(h.sink.calls, 0);
  EXPECT_FALSE(h.health.up());
  EXPECT_EQ(h.health.errors(ErrorReason::Http), 1u);
  fail = false;
  ASSERT_TRUE(c.pollOnce().ok);
  EXPECT_EQ(h.sink.stored[0].conversation_id, "3001");
  EXPECT_TRUE(h.health.up());
}

TEST(MastodonPoll, RateLimitPausesUntilTheIsoReset) {
  FakeMastodon api;
  api.addMention("1", question(1));
  api.extra_headers = {{"x-ratelimit-limit", "300"},
                       {"x-ratelimit-remaining", "0"},
                       {"x-ratelimit-reset", "2026-08-01T15:00:00.869078Z"}};
  TestHttpServer server(api.handler());
  testing::TypedHarness h(yamlFor(server, "brand_account_id: \"900\"\n"), kNow);
  auto& c = mastodonOf(h);
  c.setHttpOptions(testing::fastHttpOptions());
  auto first = c.pollOnce();
  EXPECT_TRUE(first.ok);  // what was fetched is committed
  EXPECT_TRUE(first.rate_limited);
  EXPECT_EQ(h.sink.stored.size(), 1u);
  ASSERT_TRUE(c.pausedUntil().has_value());
  EXPECT_EQ(toMillis(*c.pausedUntil()), toMillis(testing::at("2026-08-01T15:00:00.869Z")));
  // The brand statuses were not asked for: the budget was spent.
  EXPECT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(*h.sink.committed_cursor)["statuses_min_id"], "");

  auto paused = c.pollOnce();
  EXPECT_TRUE(paused.rate_limited);
  EXPECT_FALSE(paused.ok);
  EXPECT_EQ(server.requests().size(), 1u);

  api.extra_headers = {{"x-ratelimit-remaining", "299"}, {"x-ratelimit-reset", "2026-08-01T15:05:00.000Z"}};
  h.clock.advance(std::chrono::hours(2));
  auto resumed = c.pollOnce();
  EXPECT_TRUE(resumed.ok);
  EXPECT_FALSE(resumed.rate_limited);
  EXPECT_FALSE(c.pausedUntil().has_value());
  EXPECT_GT(server.requests().size(), 1u);
}

TEST(MastodonPoll, A429PausesUntilTheIsoResetItCarries) {
  FakeMastodon api;
  api.addMention("1", question(1));
  bool limited = true;
  const Timestamp reset = testing::at(kNow) + std::chrono::hours(1);
  api.intercept = [&](const FakeMastodon::Request&, int) -> std::optional<FakeMastodon::Response> {
    if (!limited) return std::nullopt;
    FakeMastodon::Response r;
    r.status = 429;  // no Retry-After: the budget's headers say when
    r.headers = {{"x-ratelimit-limit", "300"},
                 {"x-ratelimit-remaining", "0"},
                 {"x-ratelimit-reset", formatRfc3339(reset)}};
    r.body = R"({"error":"Too many requests"})";
    return r;
  };
  TestHttpServer server(api.handler());
  testing::TypedHarness h(yamlFor(server, "brand_account_id: \"900\"\n"), kNow);
  auto& c = mastodonOf(h);
  c.setHttpOptions(testing::fastHttpOptions());
  auto first = c.pollOnce();
  EXPECT_FALSE(first.ok);
  EXPECT_TRUE(first.rate_limited);
  EXPECT_EQ(server.requests().size(), 1u);
  ASSERT_TRUE(c.pausedUntil().has_value());
  EXPECT_EQ(*c.pausedUntil(), reset);
  EXPECT_EQ(h.sink.calls, 0);

  limited = false;
  h.clock.advance(std::chrono::minutes(59));
  EXPECT_TRUE(c.pollOnce().rate_limited);
  EXPECT_EQ(server.requests().size(), 1u);

  h.clock.advance(std::chrono::minutes(1));
  ASSERT_TRUE(c.pollOnce().ok);
  EXPECT_EQ(h.sink.stored.size(), 1u);
}

TEST(MastodonPoll, ServerErrorsAndTruncatedBodiesCommitNothing) {
  FakeMastodon api;
  api.addMention("1", question(1));
  int mode = 500;
  api.intercept = [&mode](const FakeMastodon::Request& req, int) -> std::optional<FakeMastodon::Response> {
    if (req.target.find("/notifications") == std::string::npos || mode == 0) return std::nullopt;
    FakeMastodon::Response r;
    if (mode == 500) {
      r.status = 500;
      r.body = "oops";
    } else {
      // A complete HTTP answer whose JSON stops halfway.
      r.body = nlohmann::json::array({question(1)}).dump();
      r.body.resize(r.body.size() / 2);
    }
    return r;
  };
  TestHttpServer server(api.handler());
  testing::TypedHarness h(yamlFor(server, "brand_account_id: \"900\"\n"), kNow);
  auto& c = mastodonOf(h);
  c.setHttpOptions(testing::fastHttpOptions());
  EXPECT_FALSE(c.pollOnce().ok);
  EXPECT_EQ(server.requests().size(), 3u);  // every attempt made
  EXPECT_EQ(h.health.errors(ErrorReason::Http), 1u);
  EXPECT_FALSE(h.health.up());
  mode = 1;
  EXPECT_FALSE(c.pollOnce().ok);
  EXPECT_EQ(h.health.errors(ErrorReason::ParseError), 1u);
  EXPECT_EQ(h.sink.calls, 0);
  EXPECT_FALSE(h.sink.committed_cursor.has_value());
  mode = 0;
  ASSERT_TRUE(c.pollOnce().ok);
  EXPECT_EQ(h.sink.stored.size(), 1u);
  EXPECT_TRUE(h.health.up());
}

TEST(MastodonPoll, RejectedItemsAreCountedAndTheRestKept) {
  FakeMastodon api;
  api.addMention("1", question(1));
  auto broken = question(2);
  broken["created_at"] = "not a time";
  api.addMention("2", broken);
  TestHttpServer server(api.handler());
  testing::TypedHarness h(yamlFor(server, "brand_account_id: \"900\"\n"), kNow);
  auto& c = mastodonOf(h);
  c.setHttpOptions(testing::fastHttpOptions());
  auto r = c.pollOnce();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.rejected, 1u);
  EXPECT_EQ(h.sink.stored.size(), 1u);
  EXPECT_EQ(h.health.errors(ErrorReason::InvalidTimestamp), 1u);
  EXPECT_EQ(nlohmann::json::parse(*h.sink.committed_cursor)["notifications_min_id"], "2");
}

TEST(MastodonPoll, StopsPromptlyAndStoreRefusalKeepsTheCursor) {
  FakeMastodon api;
  api.addMention("1", question(1));
  TestHttpServer server(api.handler());
  testing::TypedHarness h(yamlFor(server, "brand_account_id: \"900\"\n"), kNow);
  auto& c = mastodonOf(h);
  c.setHttpOptions(testing::fastHttpOptions());
  h.sink.fail = true;
  EXPECT_FALSE(c.pollOnce().ok);
  EXPECT_EQ(h.health.errors(ErrorReason::Store), 1u);
  h.sink.fail = false;
  ASSERT_TRUE(c.pollOnce().ok);
  // The second pass asked again from the start: nothing was lost.
  EXPECT_EQ(h.sink.stored.size(), 1u);

  std::stop_source stop;
  stop.request_stop();
  std::jthread runner([&c, token = stop.get_token()] { c.run(token); });
  runner.join();  // returns at once: the stop was requested before the first poll
}

}  // namespace
}  // namespace replywatch::connectors::mastodon
