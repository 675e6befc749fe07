#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <mutex>

#include "connectors/common/json_fields.h"
#include "connectors/discourse/discourse_connector.h"
#include "connectors/mastodon/mastodon_parse.h"
#include "tests/unit/connectors/social_support.h"
#include "tests/unit/connectors/test_http_server.h"

namespace replywatch::connectors::discourse {
namespace {

using testing::jsonFixture;
using testing::TestHttpServer;

constexpr const char* kNow = "2024-06-01T00:00:00Z";

// A fake Discourse API: /posts.json newest first, `page_size` per page, paged back with
// before=<id>; /t/{id}.json from the recorded topic (57) or built from the known posts.
class FakeDiscourse {
 public:
  using Response = TestHttpServer::Response;
  using Request = TestHttpServer::Request;

  FakeDiscourse() {
    const auto latest = jsonFixture("discourse", "api_posts_latest.json");
    for (const auto& p : latest["latest_posts"]) add(p);
  }
  void add(const nlohmann::json& post) {
    std::lock_guard lock(mutex_);
    posts_[std::to_string(post["id"].get<long long>())] = post;
  }
  std::size_t page_size = 2;
  std::function<std::optional<Response>(const Request&, int)> intercept;

  TestHttpServer::Handler handler() {
    return [this](const Request& req, int index) { return answer(req, index); };
  }

 private:
  Response answer(const Request& req, int index) {
    if (intercept) {
      if (auto r = intercept(req, index)) return *r;
    }
    std::lock_guard lock(mutex_);
    Response r;
    const std::string path = req.target.substr(0, req.target.find('?'));
    if (path == "/posts.json") {
      const std::string before = mastodon::urlQueryParam("http://x" + req.target, "before");
      std::vector<nlohmann::json> page;
      for (auto it = posts_.rbegin(); it != posts_.rend() && page.size() < page_size; ++it) {
        if (!before.empty() && !idLess(it->first, before)) continue;
        page.push_back(it->second);
      }
      r.body = nlohmann::json{{"latest_posts", page}}.dump();
    } else if (path == "/t/57.json") {
      r.body = testing::readAll(testing::fixtureOf("discourse", "api_topic.json"));
    } else {
      r.status = 404;
      r.body = R"({"errors":["not found"]})";
    }
    return r;
  }

  struct NumericLess {
    bool operator()(const std::string& a, const std::string& b) const { return idLess(a, b); }
  };
  std::mutex mutex_;
  std::map<std::string, nlohmann::json, NumericLess> posts_;
};

std::string yamlFor(const TestHttpServer& server, const std::string& extra = "") {
  return "name: forum\ntype: discourse\naccount: acme\nchannel: discourse\nbase_url: " + server.url("/") +
         "\napi_key: k3y\napi_username: system\n" + extra;
}

DiscourseConnector& discourseOf(testing::TypedHarness& h) {
  return dynamic_cast<DiscourseConnector&>(*h.connector);
}

std::vector<std::string> targets(const TestHttpServer& server) {
  std::vector<std::string> out;
  for (const auto& r : server.requests()) out.push_back(r.target);
  return out;
}

// A post of the recorded topic 57, later in the stream: post_number 14 replying to post 1.
nlohmann::json laterPostOfTopic57() {
  auto topic = jsonFixture("discourse", "api_topic.json");
  auto post = topic["post_stream"]["posts"][3];
  post["topic_id"] = 57;
  return post;
}

TEST(DiscoursePoll, PagesBackwardsToTheCursorAndFillsTopics) {
  FakeDiscourse api;
  TestHttpServer server(api.handler());
  testing::TypedHarness h(yamlFor(server), kNow);
  auto& c = discourseOf(h);
  c.setHttpOptions(testing::fastHttpOptions());
  ASSERT_TRUE(h.connector->polls());

  auto first = c.pollOnce();
  ASSERT_TRUE(first.ok);
  EXPECT_EQ(first.fetched, 4u);
  EXPECT_EQ(first.skipped, 2u);  // the system user's posts
  EXPECT_FALSE(first.gap);
  ASSERT_EQ(h.sink.stored.size(), 2u);
  EXPECT_EQ(h.sink.stored[0].id, "14");
  EXPECT_EQ(h.sink.stored[0].conversation_id, "11");
  EXPECT_TRUE(h.sink.stored[0].author_is_brand);  // staff, the default brand_flags
  EXPECT_EQ(nlohmann::json::parse(*h.sink.committed_cursor)["last_post_id"], "15");
  auto t = targets(server);
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0], "/posts.json");
  EXPECT_EQ(t[1], "/posts.json?before=14");
  EXPECT_EQ(t[2], "/posts.json?before=2");
  const auto req = server.requests()[0];
  EXPECT_EQ(req.header("Api-Key"), "k3y");
  EXPECT_EQ(req.header("Api-Username"), "system");

  // A later post of a topic never seen: the topic's post stream is fetched too.
  api.add(laterPostOfTopic57());
  auto second = c.pollOnce();
  ASSERT_TRUE(second.ok);
  t = targets(server);
  ASSERT_EQ(t.size(), 5u);
  EXPECT_EQ(t[3], "/posts.json");
  EXPECT_EQ(t[4], "/t/57.json");
  EXPECT_EQ(second.outcome.stored, 4u);  // 226 and the topic's 83, 84 (moderator action), 86
  const Message* opening = h.sink.find("83");
  ASSERT_NE(opening, nullptr);
  EXPECT_EQ(opening->conversation_id, "57");
  EXPECT_EQ(formatRfc3339(opening->created_at), "2013-02-04T20:26:26Z");
  EXPECT_EQ(nlohmann::json::parse(*h.sink.committed_cursor)["last_post_id"], "226");

  // Nothing new: one request, an empty batch that keeps the cursor.
  auto third = c.pollOnce();
  ASSERT_TRUE(third.ok);
  EXPECT_EQ(third.outcome.received, 0u);
  EXPECT_EQ(targets(server).size(), 6u);

  // A restart reads the cursor back and does not take old posts again.
  auto restarted = h.restart();
  auto& r = dynamic_cast<DiscourseConnector&>(*restarted);
  r.setHttpOptions(testing::fastHttpOptions());
  auto after = r.pollOnce();
  ASSERT_TRUE(after.ok);
  EXPECT_EQ(after.fetched, 0u);
}

TEST(DiscoursePoll, MaxPagesLeavesAReportedGap) {
  FakeDiscourse api;
  api.page_size = 1;
  TestHttpServer server(api.handler());
  testing::TypedHarness h(yamlFor(server, "max_pages: 2\n"), kNow);
  auto& c = discourseOf(h);
  c.setHttpOptions(testing::fastHttpOptions());
  ASSERT_TRUE(c.pollOnce().ok);  // first run: two pages of history (15, 14)
  for (int id = 300; id < 305; ++id) {
    auto p = jsonFixture("discourse", "api_posts_latest.json")["latest_posts"][0];
    p["id"] = id;
    api.add(p);
  }
  auto r = c.pollOnce();
  ASSERT_TRUE(r.ok);
  EXPECT_TRUE(r.gap);
  EXPECT_EQ(nlohmann::json::parse(*h.sink.committed_cursor)["last_post_id"], "304");
}

TEST(DiscoursePoll, ServerErrorsAndTruncatedBodiesCommitNothing) {
  FakeDiscourse api;
  int mode = 500;
  api.intercept = [&mode](const FakeDiscourse::Request&, int) -> std::optional<FakeDiscourse::Response> {
    if (mode == 0) return std::nullopt;
    FakeDiscourse::Response r;
    if (mode == 500) {
      r.status = 502;
    } else {
      r.body = testing::readAll(testing::fixtureOf("discourse", "api_posts_latest.json")).substr(0, 700);
    }
    return r;
  };
  TestHttpServer server(api.handler());
  testing::TypedHarness h(yamlFor(server), kNow);
  auto& c = discourseOf(h);
  c.setHttpOptions(testing::fastHttpOptions());
  EXPECT_FALSE(c.pollOnce().ok);
  EXPECT_EQ(server.requests().size(), 3u);
  EXPECT_EQ(h.health.errors(ErrorReason::Http), 1u);
  EXPECT_FALSE(h.health.up());
  mode = 1;
  EXPECT_FALSE(c.pollOnce().ok);
  EXPECT_EQ(h.health.errors(ErrorReason::ParseError), 1u);
  EXPECT_EQ(h.sink.calls, 0);
  mode = 0;
  ASSERT_TRUE(c.pollOnce().ok);
  EXPECT_EQ(h.sink.stored.size(), 2u);
  EXPECT_TRUE(h.health.up());
}

TEST(DiscoursePoll, RateLimitedAnswersAreRetriedAfterRetryAfter) {
  FakeDiscourse api;
  api.intercept = [](const FakeDiscourse::Request&, int index) -> std::optional<FakeDiscourse::Response> {
    if (index > 0) return std::nullopt;
    FakeDiscourse::Response r;
    r.status = 429;
    r.headers.emplace_back("Retry-After", "0");
    r.body = R"({"errors":["You’ve performed this action too many times."]})";
    return r;
  };
  TestHttpServer server(api.handler());
  testing::TypedHarness h(yamlFor(server), kNow);
  auto& c = discourseOf(h);
  c.setHttpOptions(testing::fastHttpOptions());
  ASSERT_TRUE(c.pollOnce().ok);
  EXPECT_EQ(h.sink.stored.size(), 2u);
}

TEST(DiscoursePoll, MissingTopicsAndBadPostsDoNotStopTheRest) {
  FakeDiscourse api;
  auto orphan = jsonFixture("discourse", "api_posts_latest.json")["latest_posts"][0];
  orphan["id"] = 500;
  orphan["topic_id"] = 99;  // /t/99.json answers 404
  orphan["post_number"] = 7;
  api.add(orphan);
  auto broken = orphan;
  broken["id"] = 501;
  broken["created_at"] = "31/12/2020";
  api.add(broken);
  api.page_size = 10;
  TestHttpServer server(api.handler());
  testing::TypedHarness h(yamlFor(server), kNow);
  auto& c = discourseOf(h);
  c.setHttpOptions(testing::fastHttpOptions());
  auto r = c.pollOnce();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.rejected, 1u);
  EXPECT_EQ(h.health.errors(ErrorReason::InvalidTimestamp), 1u);
  EXPECT_NE(h.sink.find("500"), nullptr);
  EXPECT_EQ(h.sink.find("500")->conversation_id, "99");
  auto t = targets(server);
  EXPECT_NE(std::find(t.begin(), t.end(), "/t/99.json"), t.end());
  // The rejected post moves the cursor: it is reported once, not at every poll.
  EXPECT_EQ(nlohmann::json::parse(*h.sink.committed_cursor)["last_post_id"], "501");
  ASSERT_TRUE(c.pollOnce().ok);
  EXPECT_EQ(h.health.errors(ErrorReason::InvalidTimestamp), 1u);
}

TEST(DiscoursePoll, ATopicLookupThatFailsWithA5xxFailsThePoll) {
  FakeDiscourse api;
  bool topic_down = true;
  api.intercept = [&topic_down](const FakeDiscourse::Request& req,
                                int) -> std::optional<FakeDiscourse::Response> {
    if (!topic_down || req.target != "/t/57.json") return std::nullopt;
    FakeDiscourse::Response r;
    r.status = 503;
    return r;
  };
  TestHttpServer server(api.handler());
  testing::TypedHarness h(yamlFor(server), kNow);
  auto& c = discourseOf(h);
  c.setHttpOptions(testing::fastHttpOptions());
  ASSERT_TRUE(c.pollOnce().ok);  // history: 15, 14 of topic 11
  const int calls = h.sink.calls;
  api.add(laterPostOfTopic57());

  // The topic answers 503 after every retry: nothing is committed, the source is down.
  EXPECT_FALSE(c.pollOnce().ok);
  EXPECT_EQ(h.sink.calls, calls);
  EXPECT_EQ(nlohmann::json::parse(*h.sink.committed_cursor)["last_post_id"], "15");
  EXPECT_EQ(h.sink.find("226"), nullptr);
  EXPECT_FALSE(h.health.up());

  // Once the topic answers, the next poll takes the later post and the opening question.
  topic_down = false;
  ASSERT_TRUE(c.pollOnce().ok);
  ASSERT_NE(h.sink.find("83"), nullptr);
  EXPECT_NE(h.sink.find("226"), nullptr);
  EXPECT_EQ(nlohmann::json::parse(*h.sink.committed_cursor)["last_post_id"], "226");
  EXPECT_TRUE(h.health.up());
}

TEST(DiscoursePoll, TopicsBeyondTopicLookupsAreLookedUpByTheNextPoll) {
  FakeDiscourse api;
  api.page_size = 10;
  // Topic 60: its opening post 50 predates the cursor and is served by /t/60.json only.
  auto opening = jsonFixture("discourse", "api_posts_latest.json")["latest_posts"][1];
  opening["id"] = 50;
  opening["topic_id"] = 60;
  opening["post_number"] = 1;
  opening["user_id"] = 7;
  opening["username"] = "marie";
  opening["staff"] = false;
  api.intercept = [opening](const FakeDiscourse::Request& req,
                            int) -> std::optional<FakeDiscourse::Response> {
    if (req.target != "/t/60.json") return std::nullopt;
    FakeDiscourse::Response r;
    r.body = nlohmann::json{{"id", 60}, {"post_stream", {{"posts", {opening}}}}}.dump();
    return r;
  };
  TestHttpServer server(api.handler());
  testing::TypedHarness h(yamlFor(server, "topic_lookups: 1\n"), kNow);
  auto& c = discourseOf(h);
  c.setHttpOptions(testing::fastHttpOptions());
  ASSERT_TRUE(c.pollOnce().ok);   // history: up to 15
  api.add(laterPostOfTopic57());  // 226
  auto later = opening;
  later["id"] = 400;
  later["post_number"] = 2;
  later["user_id"] = 8;
  later["username"] = "paul";
  api.add(later);

  // One lookup (topic 57): the cursor stops before 400, whose topic is not looked up yet.
  ASSERT_TRUE(c.pollOnce().ok);
  EXPECT_NE(h.sink.find("83"), nullptr);
  EXPECT_NE(h.sink.find("226"), nullptr);
  EXPECT_EQ(h.sink.find("400"), nullptr);
  EXPECT_EQ(nlohmann::json::parse(*h.sink.committed_cursor)["last_post_id"], "226");

  // The next poll reads 400 again and looks topic 60 up: its opening post is kept.
  ASSERT_TRUE(c.pollOnce().ok);
  ASSERT_NE(h.sink.find("50"), nullptr);
  EXPECT_EQ(h.sink.find("50")->conversation_id, "60");
  EXPECT_NE(h.sink.find("400"), nullptr);
  EXPECT_EQ(nlohmann::json::parse(*h.sink.committed_cursor)["last_post_id"], "400");
  auto t = targets(server);
  EXPECT_EQ(std::count(t.begin(), t.end(), "/t/57.json"), 1);
  EXPECT_EQ(std::count(t.begin(), t.end(), "/t/60.json"), 1);
}

TEST(DiscoursePoll, TheApiKeyIsNotSentWhereARedirectToAnotherHostPoints) {
  FakeDiscourse api;
  TestHttpServer* self = nullptr;
  api.intercept = [&self](const FakeDiscourse::Request& req, int) -> std::optional<FakeDiscourse::Response> {
    if (req.target != "/posts.json") return std::nullopt;
    FakeDiscourse::Response r;
    r.status = 302;
    r.headers.emplace_back("Location", "http://localhost:" + self->url("").substr(17) + "/moved/posts.json");
    return r;
  };
  TestHttpServer server(api.handler());
  self = &server;
  testing::TypedHarness h(yamlFor(server), kNow);
  auto& c = discourseOf(h);
  c.setHttpOptions(testing::fastHttpOptions());
  EXPECT_FALSE(c.pollOnce().ok);
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);  // nothing was sent to localhost
  EXPECT_EQ(requests[0].target, "/posts.json");
  EXPECT_EQ(h.health.errors(ErrorReason::Http), 1u);
  EXPECT_FALSE(h.health.up());
  EXPECT_EQ(h.sink.calls, 0);
}

TEST(DiscoursePoll, ALongRetryAfterPausesPollingUntilItHasPassed) {
  using namespace std::chrono_literals;
  FakeDiscourse api;
  bool limited = true;
  api.intercept = [&limited](const FakeDiscourse::Request&, int) -> std::optional<FakeDiscourse::Response> {
    if (!limited) return std::nullopt;
    FakeDiscourse::Response r;
    r.status = 429;
    r.headers.emplace_back("Retry-After", "900");  // more than the client waits
    return r;
  };
  TestHttpServer server(api.handler());
  testing::TypedHarness h(yamlFor(server), kNow);
  auto& c = discourseOf(h);
  c.setHttpOptions(testing::fastHttpOptions());
  auto first = c.pollOnce();
  EXPECT_FALSE(first.ok);
  EXPECT_TRUE(first.rate_limited);
  EXPECT_EQ(h.health.errors(ErrorReason::RateLimited), 1u);
  ASSERT_TRUE(c.pausedUntil().has_value());
  EXPECT_EQ(*c.pausedUntil(), h.clock.now() + 900s);
  EXPECT_EQ(server.requests().size(), 1u);

  // Polls before the wait has passed ask nothing of the forum.
  limited = false;
  h.clock.advance(899s);
  auto early = c.pollOnce();
  EXPECT_FALSE(early.ok);
  EXPECT_TRUE(early.rate_limited);
  EXPECT_EQ(server.requests().size(), 1u);

  h.clock.advance(1s);
  ASSERT_TRUE(c.pollOnce().ok);
  EXPECT_FALSE(c.pausedUntil().has_value());
  EXPECT_EQ(h.sink.stored.size(), 2u);
}

}  // namespace
}  // namespace replywatch::connectors::discourse
