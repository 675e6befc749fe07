#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "tests/unit/connectors/meta_test_support.h"
#include "tests/unit/connectors/test_http_server.h"

namespace replywatch::connectors::meta {
namespace {

using Server = replywatch::connectors::testing::TestHttpServer;
using testing::fixture;
using testing::MetaHarness;
using namespace std::chrono_literals;

HttpClientOptions fastOptions() {
  HttpClientOptions o;
  o.connect_timeout = 2s;
  o.total_timeout = 5s;
  o.max_attempts = 1;
  o.backoff_base = 1ms;
  o.backoff_max = 1ms;
  return o;
}

// A fake Graph API replaying the fixture pages. `on_page2` may replace the answer to
// the second feed page (rate limits, expired tokens).
struct FakeGraph {
  std::shared_ptr<std::string> base = std::make_shared<std::string>();
  std::function<Server::Response()> on_page2;
  std::function<Server::Response()> on_first;
  std::function<Server::Response(const std::string& target)> on_comments;
  Server server{[this](const Server::Request& req, int) { return answer(req); }};

  FakeGraph() { *base = server.url(""); }

  Server::Response json(const std::string& name) const {
    Server::Response r;
    r.headers.emplace_back("Content-Type", "application/json");
    r.body = fixture(name);
    for (auto pos = r.body.find("@BASE@"); pos != std::string::npos; pos = r.body.find("@BASE@"))
      r.body.replace(pos, 6, *base);
    return r;
  }

  Server::Response answer(const Server::Request& req) const {
    const std::string& t = req.target;
    if (t.rfind("/v21.0/1234567890321/feed?fields=", 0) == 0)
      return on_first ? on_first() : json("graph-feed-page1.json");
    if (t.rfind("/v21.0/1234567890321/feed?limit=25&after=QVFIUmJi", 0) == 0)
      return on_page2 ? on_page2() : json("graph-feed-page2.json");
    if (t.rfind("/v21.0/1234567890321_7293787835232/comments?", 0) == 0)
      return on_comments ? on_comments(t) : json("graph-comments-page.json");
    Server::Response r;
    r.status = 404;
    r.body = R"({"error":{"message":"Unknown path","type":"GraphMethodException","code":100}})";
    return r;
  }

  static Server::Response error(int status, const std::string& body) {
    Server::Response r;
    r.status = status;
    r.headers.emplace_back("Content-Type", "application/json");
    r.body = body;
    return r;
  }
};

std::string pollingYaml(const FakeGraph& g, const std::string& extra = "") {
  return testing::sourceYaml("access_token: page-token\ngraph_url: " + *g.base +
                             "\ngraph_version: v21.0\npoll_interval: 60s\n" + extra);
}

struct PollHarness {
  explicit PollHarness(FakeGraph& g, const std::string& extra = "") : h(pollingYaml(g, extra)) {
    h.meta().setHttpOptions(fastOptions());
  }
  MetaHarness h;
};

TEST(MetaPoll, FollowsPagingAndCommentPages) {
  FakeGraph g;
  PollHarness p(g);
  auto& h = p.h;
  auto r = h.meta().pollOnce();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.requests, 3u);
  EXPECT_EQ(r.stored, 7u);
  EXPECT_EQ(r.rejected, 1u);
  EXPECT_EQ(h.health.errors(ErrorReason::InvalidTimestamp), 1u);
  EXPECT_EQ(h.health.events(), 7u);
  EXPECT_EQ(r.next_delay, 60s);
  ASSERT_NE(h.sink.find("903438993085002"), nullptr);
  EXPECT_EQ(h.sink.find("903438993085002")->conversation_id, "903438993085001");
  EXPECT_TRUE(h.sink.find("903438993085002")->author_is_brand);
  ASSERT_NE(h.sink.find("7000000000102"), nullptr);
  EXPECT_EQ(h.sink.find("7000000000102")->in_reply_to, "7293787835232");

  // The cursor rides on the last batch: the start of this complete poll.
  ASSERT_TRUE(h.sink.committed_cursor.has_value());
  EXPECT_EQ(nlohmann::json::parse(*h.sink.committed_cursor)["completed_at"], toMillis(h.clock.now()));
  ASSERT_TRUE(h.sink.cursors.back().has_value());
  EXPECT_FALSE(h.sink.cursors.front().has_value());

  auto requests = g.server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].header("Authorization"), "Bearer page-token");
  const std::string proof = "appsecret_proof=" + hmacSha256Hex(testing::kAppSecret, "page-token");
  // First poll: back to now - backfill (7 days).
  EXPECT_NE(requests[0].target.find("&since=1716595200"), std::string::npos) << requests[0].target;
  EXPECT_NE(requests[0].target.find("comments.limit(100)%7B"), std::string::npos);
  for (const auto& req : requests) {
    EXPECT_NE(req.target.find(proof), std::string::npos) << req.target;
    EXPECT_EQ(req.target.find("page-token"), std::string::npos) << req.target;
  }

  // The next poll starts from the committed poll minus the lookback (2 days).
  h.clock.advance(1h);
  auto again = h.meta().pollOnce();
  ASSERT_TRUE(again.ok);
  EXPECT_EQ(again.stored, 0u);
  EXPECT_EQ(again.duplicates, 7u);
  requests = g.server.requests();
  ASSERT_EQ(requests.size(), 6u);
  EXPECT_NE(requests[3].target.find("&since=1717027200"), std::string::npos) << requests[3].target;
}

TEST(MetaPoll, WebhookAndPollingOfTheSamePageDoNotDoubleCount) {
  FakeGraph g;
  PollHarness p(g);
  auto& h = p.h;
  auto delivered = h.postSigned(fixture("webhook-batch.json"));
  ASSERT_EQ(delivered.status, 200);
  ASSERT_EQ(h.sink.stored.size(), 2u);
  auto r = h.meta().pollOnce();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.duplicates, 2u);  // the comment and the reply already came by webhook
  EXPECT_EQ(r.stored, 5u);
  EXPECT_EQ(h.sink.stored.size(), 7u);
  EXPECT_EQ(h.health.events(), 7u);
}

TEST(MetaPoll, RateLimitBacksOffAndKeepsTheCursor) {
  for (const auto& [status, code] :
       std::vector<std::pair<int, int>>{{400, 4}, {403, 17}, {400, 32}, {400, 613}}) {
    FakeGraph g;
    g.on_page2 = [status = status, code = code] {
      return FakeGraph::error(status, R"({"error":{"message":"(#)" + std::to_string(code) +
                                          R"( limit reached","type":"OAuthException","code":)" +
                                          std::to_string(code) + "}}");
    };
    PollHarness p(g);
    auto& h = p.h;
    auto r = h.meta().pollOnce();
    EXPECT_FALSE(r.ok) << code;
    EXPECT_TRUE(r.rate_limited) << code;
    EXPECT_EQ(r.next_delay, kRateLimitBackoff) << code;
    EXPECT_EQ(r.requests, 2u) << code;            // stopped at the refused page
    EXPECT_EQ(h.sink.stored.size(), 4u) << code;  // page 1 is kept
    EXPECT_FALSE(h.sink.committed_cursor.has_value()) << code;
    EXPECT_EQ(h.health.errors(ErrorReason::RateLimited), 1u) << code;
    EXPECT_TRUE(h.health.up()) << code;  // throttled, not broken

    auto second = h.meta().pollOnce();
    EXPECT_EQ(second.next_delay, 2 * kRateLimitBackoff) << code;
    g.on_page2 = nullptr;
    auto recovered = h.meta().pollOnce();
    EXPECT_TRUE(recovered.ok) << code;
    EXPECT_EQ(recovered.next_delay, 60s) << code;
    EXPECT_TRUE(h.sink.committed_cursor.has_value()) << code;
  }
}

TEST(MetaPoll, Http429IsARateLimitToo) {
  FakeGraph g;
  g.on_first = [] {
    auto r = FakeGraph::error(429, "{}");
    r.headers.emplace_back("Retry-After", "1");
    return r;
  };
  PollHarness p(g);
  auto r = p.h.meta().pollOnce();
  EXPECT_TRUE(r.rate_limited);
  EXPECT_EQ(r.next_delay, kRateLimitBackoff);
  EXPECT_EQ(p.h.health.errors(ErrorReason::RateLimited), 1u);
}

TEST(MetaPoll, ExpiredTokenTakesTheSourceDown) {
  FakeGraph g;
  g.on_first = [] { return FakeGraph::error(400, fixture("graph-exampleError.json")); };
  PollHarness p(g);
  auto& h = p.h;
  auto r = h.meta().pollOnce();
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.auth_failed);
  EXPECT_FALSE(h.health.up());
  EXPECT_EQ(h.health.errors(ErrorReason::Auth), 1u);
  EXPECT_EQ(h.sink.calls, 0);

  // Webhook deliveries are still stored, but do not hide the refused token.
  ASSERT_EQ(h.postSigned(fixture("webhook-batch.json")).status, 200);
  EXPECT_FALSE(h.health.up());

  g.on_first = nullptr;  // a new token was configured
  ASSERT_TRUE(h.meta().pollOnce().ok);
  EXPECT_TRUE(h.health.up());
}

TEST(MetaPoll, OtherGraphErrorsAndBadBodies) {
  FakeGraph g;
  g.on_first = [] {
    return FakeGraph::error(
        400, R"({"error":{"message":"(#100) Invalid parameter","type":"OAuthException","code":100}})");
  };
  PollHarness p(g);
  auto& h = p.h;
  auto r = h.meta().pollOnce();
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.rate_limited);
  EXPECT_FALSE(h.health.up());
  EXPECT_EQ(h.health.errors(ErrorReason::Http), 1u);

  g.on_first = [] {
    Server::Response resp;
    resp.body = "<html>maintenance</html>";
    return resp;
  };
  r = h.meta().pollOnce();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(h.health.errors(ErrorReason::ParseError), 1u);
  EXPECT_EQ(h.sink.calls, 0);
}

TEST(MetaPoll, AnUnreadableCommentsPageFailsThePoll) {
  FakeGraph g;
  g.on_comments = [&g](const std::string&) {
    auto r = g.json("graph-comments-page.json");
    r.body.resize(r.body.size() / 2);  // cut short
    return r;
  };
  PollHarness p(g);
  auto& h = p.h;
  auto r = h.meta().pollOnce();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.requests, 3u);
  EXPECT_EQ(h.health.errors(ErrorReason::ParseError), 1u);
  EXPECT_FALSE(h.health.up());
  EXPECT_FALSE(h.sink.committed_cursor.has_value());

  // Once the page reads, the next poll takes its comments and commits the cursor.
  g.on_comments = nullptr;
  ASSERT_TRUE(h.meta().pollOnce().ok);
  EXPECT_NE(h.sink.find("7000000000102"), nullptr);
  EXPECT_TRUE(h.sink.committed_cursor.has_value());
  EXPECT_TRUE(h.health.up());
}

TEST(MetaPoll, TheRequestLimitReachedInCommentPagesFailsThePoll) {
  FakeGraph g;
  // Every comments page links to one more: the poll runs into kMaxRequestsPerPoll.
  g.on_comments = [&g](const std::string& target) {
    const std::string after = target.substr(target.rfind("after=") + 6);
    Server::Response r;
    r.headers.emplace_back("Content-Type", "application/json");
    r.body =
        nlohmann::json{{"data", nlohmann::json::array()},
                       {"paging",
                        {{"next", *g.base + "/v21.0/1234567890321_7293787835232/comments?limit=100&after=" +
                                      after.substr(0, after.find('&')) + "x"}}}}
            .dump();
    return r;
  };
  PollHarness p(g);
  auto& h = p.h;
  auto r = h.meta().pollOnce();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.requests, kMaxRequestsPerPoll);
  EXPECT_FALSE(h.health.up());
  EXPECT_FALSE(h.sink.committed_cursor.has_value());
}

TEST(MetaPoll, PagingOutsideGraphUrlIsRefused) {
  FakeGraph g;
  g.on_first = [&g] {
    auto r = g.json("graph-feed-page1.json");
    const std::string from = *g.base + "/v21.0";
    r.body.replace(r.body.find(from), from.size(), "http://127.0.0.2:1/v21.0");
    return r;
  };
  PollHarness p(g);
  auto& h = p.h;
  auto r = h.meta().pollOnce();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(g.server.requests().size(), 1u);
  EXPECT_EQ(h.sink.stored.size(), 4u);
  EXPECT_FALSE(h.sink.committed_cursor.has_value());
  EXPECT_FALSE(h.health.up());
}

TEST(MetaPoll, StoreRefusalKeepsTheCursor) {
  FakeGraph g;
  PollHarness p(g);
  auto& h = p.h;
  h.sink.fail = true;
  auto r = h.meta().pollOnce();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(h.health.errors(ErrorReason::Store), 1u);
  EXPECT_FALSE(h.sink.committed_cursor.has_value());
}

TEST(MetaPoll, StopsWhenAsked) {
  FakeGraph g;
  PollHarness p(g);
  std::stop_source stop;
  stop.request_stop();
  auto r = p.h.meta().pollOnce(stop.get_token());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(g.server.requests().size(), 0u);
}

// The option the Graph poller relies on: a 4xx answer comes back with its body, while
// by default it is an "http" error and 429 stays a rate limit either way.
TEST(MetaPoll, HttpClientHandsBackClientErrorsWhenAsked) {
  Server server([](const Server::Request& req, int) {
    auto r = FakeGraph::error(req.target == "/limited" ? 429 : 400, R"({"error":{"code":190}})");
    if (req.target == "/limited") r.headers.emplace_back("Retry-After", "1");
    return r;
  });
  HttpRequest request;
  request.url = server.url("/graph");
  HttpClient plain(fastOptions());
  auto refused = plain.get(request);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().reason, "http");

  auto options = fastOptions();
  options.client_errors_as_responses = true;
  HttpClient graph(options);
  auto answered = graph.get(request);
  ASSERT_TRUE(answered.ok());
  EXPECT_EQ(answered->status, 400);
  EXPECT_EQ(answered->body, R"({"error":{"code":190}})");
  request.url = server.url("/limited");
  auto limited = graph.get(request);
  ASSERT_FALSE(limited.ok());
  EXPECT_EQ(limited.error().reason, "rate_limited");
}

}  // namespace
}  // namespace replywatch::connectors::meta
