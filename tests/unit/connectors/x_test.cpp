#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "connectors/x/x_api.h"
#include "connectors/x/x_connector.h"
#include "tests/unit/connectors/test_http_server.h"
#include "tests/unit/connectors/test_support.h"

namespace replywatch::connectors::x {
namespace {

using Server = testing::TestHttpServer;
using namespace std::chrono_literals;

std::string xFixture(const std::string& name) {
  return testing::readAll(std::filesystem::path(REPLYWATCH_FIXTURES) / "x" / name);
}

const SystemClock kSystemClock;

const std::string kEmptyPage = R"({"meta":{"result_count":0}})";

// A page of tweets shaped like the API's, for conversations the fixtures do not hold.
std::string pageOf(const std::vector<std::string>& tweets, const std::string& next_token = {}) {
  std::string body = R"({"data":[)";
  for (std::size_t i = 0; i < tweets.size(); ++i) body += (i ? "," : "") + tweets[i];
  body += R"(],"meta":{"result_count":)" + std::to_string(tweets.size());
  if (!next_token.empty()) body += R"(,"next_token":")" + next_token + "\"";
  return body + "}}";
}

std::string tweet(const std::string& id, const std::string& author, const std::string& conversation,
                  const std::string& created, const std::string& reply_to = {}) {
  std::string t = R"({"id":")" + id + R"(","author_id":")" + author + R"(","conversation_id":")" +
                  conversation + R"(","created_at":")" + created + R"(","text":"hello @brand")";
  if (!reply_to.empty()) t += R"(,"referenced_tweets":[{"type":"replied_to","id":")" + reply_to + "\"}]";
  return t + "}";
}

struct XHarness {
  explicit XHarness(const Server& server, const std::string& extra = "")
      : source(testing::makeSource(
            "name: acme-x\ntype: x\nchannel: x\nuser_id: \"42\"\ntoken: s3cret\nbase_url: " + server.url("") +
            "\n" + extra)) {
    connector = findConnectorType("x")->create(ConnectorContext{source, config, clock, health, sink});
    auto& c = xOf();
    HttpClientOptions o;
    o.connect_timeout = 2s;
    o.total_timeout = 5s;
    o.max_attempts = 3;
    c.setHttpOptions(o);
    c.setSleep([this](std::chrono::milliseconds d, std::stop_token) {
      std::lock_guard lock(mutex);
      sleeps.push_back(d);
      clock.advance(d);
      return true;
    });
  }
  XConnector& xOf() { return dynamic_cast<XConnector&>(*connector); }

  config::Config config;
  config::SourceConfig source;
  ManualClock clock{testing::at("2024-06-01T00:00:00Z")};
  SourceHealth health;
  testing::RecordingSink sink;
  std::unique_ptr<Connector> connector;
  std::mutex mutex;
  std::vector<std::chrono::milliseconds> sleeps;
};

bool isMentions(const Server::Request& r) { return r.target.find("/2/users/42/mentions?") == 0; }

TEST(XApi, RealSearchPage) {
  MessageValidator validator(65536, 300s, kSystemClock);
  auto page =
      parsePage(xFixture("page_replies.json"), "870028999", validator, testing::at("2024-06-01T00:00:00Z"));
  ASSERT_TRUE(page.ok()) << page.error().message;
  EXPECT_EQ(page->messages.size(), 12u);
  EXPECT_EQ(page->retweets, 2u);
  EXPECT_TRUE(page->rejected.empty());
  EXPECT_EQ(page->newest_id, "1440716895355764743");
  EXPECT_TRUE(page->next_token.empty());
  const Message* reply = nullptr;
  for (const auto& m : page->messages) {
    if (m.id == "1440714901538803715") reply = &m;
  }
  ASSERT_NE(reply, nullptr);
  EXPECT_EQ(reply->conversation_id, "1440709708738748423");
  EXPECT_EQ(reply->in_reply_to, "1440714041480015878");
  EXPECT_EQ(reply->author_id, "1533459110");
  EXPECT_FALSE(reply->author_name.empty());
  EXPECT_EQ(reply->created_at, testing::at("2021-09-22T16:29:34Z"));
  std::size_t brand = 0;
  for (const auto& m : page->messages) brand += m.author_is_brand ? 1 : 0;
  EXPECT_EQ(brand, 1u);
}

TEST(XApi, PartialErrorsKeepTheData) {
  MessageValidator validator(65536, 300s, kSystemClock);
  auto page =
      parsePage(xFixture("page_with_errors.json"), "42", validator, testing::at("2024-06-01T00:00:00Z"));
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->api_errors, 1u);
  EXPECT_NE(page->first_api_error.find("suspended"), std::string::npos) << page->first_api_error;
  EXPECT_EQ(page->messages.size(), 3u);
  EXPECT_EQ(page->retweets, 1u);
  EXPECT_EQ(page->next_token, "b26v89c19zqg8o3fpds60ssjlg8rrux0bxoa7beulbhbx");
}

TEST(XApi, DefaultFieldsAreRejectedOneByOne) {
  MessageValidator validator(65536, 300s, kSystemClock);
  auto page = parsePage(xFixture("mentions_default_fields.json"), "783214", validator,
                        testing::at("2024-06-01T00:00:00Z"));
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->messages.empty());
  ASSERT_EQ(page->rejected.size(), 10u);
  EXPECT_EQ(page->rejected[0].rejection.reason, ErrorReason::MissingField);
  EXPECT_EQ(page->rejected[0].rejection.message, "tweet 1578516295611748353 lacks author_id");
  EXPECT_EQ(page->newest_id, "1578516295611748353");  // a refused tweet is not fetched again
}

TEST(XApi, TruncatedBodyIsAnError) {
  MessageValidator validator(65536, 300s, kSystemClock);
  auto page = parsePage(xFixture("truncated.json"), "42", validator, testing::at("2024-06-01T00:00:00Z"));
  ASSERT_FALSE(page.ok());
  EXPECT_EQ(page.error().reason, "parse_error");
}

TEST(XApi, Ids) {
  EXPECT_TRUE(idLess("999", "1000"));
  EXPECT_TRUE(idLess("1440716895355764743", "1440716895355764744"));
  EXPECT_FALSE(idLess("1440716895355764743", "1440716895355764743"));
  EXPECT_TRUE(isTweetId("1440716895355764743"));
  EXPECT_FALSE(isTweetId("0123"));
  EXPECT_FALSE(isTweetId("12a"));
}

TEST(XPoll, PagesThenSinceIdWithTheCursor) {
  Server server([](const Server::Request& r, int) {
    Server::Response resp;
    if (!isMentions(r) || r.target.find("since_id=") != std::string::npos) {
      resp.body = kEmptyPage;
    } else if (r.target.find("pagination_token=p2") == std::string::npos) {
      resp.body = pageOf({tweet("1000000000000000003", "7", "1000000000000000001", "2024-05-31T10:10:00Z",
                                "1000000000000000002"),
                          tweet("1000000000000000002", "42", "1000000000000000001", "2024-05-31T10:05:00Z",
                                "1000000000000000001")},
                         "p2");
    } else {
      resp.body = pageOf({tweet("1000000000000000001", "7", "1000000000000000001", "2024-05-31T10:00:00Z")});
    }
    return resp;
  });
  XHarness h(server);
  auto r = h.xOf().poll();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.stored, 3u);
  EXPECT_EQ(r.requests, 3);
  EXPECT_TRUE(h.health.up());
  EXPECT_EQ(h.health.events(), 3u);
  ASSERT_EQ(h.sink.calls, 1);  // both pages in one ingest, with the cursor
  EXPECT_EQ(h.sink.committed_cursor, R"({"mentions":"1000000000000000003"})");
  EXPECT_TRUE(h.sink.find("1000000000000000002")->author_is_brand);
  EXPECT_FALSE(h.sink.find("1000000000000000003")->author_is_brand);
  EXPECT_EQ(h.xOf().sinceId(Endpoint::Mentions), "1000000000000000003");

  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(
      requests[0].target,
      "/2/users/42/mentions?max_results=100&tweet.fields=created_at,conversation_id,in_reply_to_user_id,"
      "referenced_tweets,author_id&expansions=author_id");
  EXPECT_EQ(requests[0].header("Authorization"), "Bearer s3cret");
  EXPECT_NE(requests[1].target.find("&pagination_token=p2"), std::string::npos);
  EXPECT_EQ(requests[2].target.find("/2/users/42/tweets?"), 0u);

  // A restarted connector resumes from the committed cursor.
  auto restarted =
      findConnectorType("x")->create(ConnectorContext{h.source, h.config, h.clock, h.health, h.sink});
  auto& again = dynamic_cast<XConnector&>(*restarted);
  ASSERT_TRUE(again.poll().ok);
  requests = server.requests();
  ASSERT_EQ(requests.size(), 5u);
  EXPECT_NE(requests[3].target.find("&since_id=1000000000000000003"), std::string::npos)
      << requests[3].target;
  EXPECT_EQ(requests[4].target.find("since_id"), std::string::npos);  // nothing stored from tweets yet
  EXPECT_EQ(h.sink.calls, 1);  // nothing new: no ingest, the cursor stays
}

TEST(XPoll, EveryTweetXServesIsReadAtTheSmallestPageSize) {
  // 600 mentions at 5 per page: 120 pages, within the 1,281 allowed at that page size.
  constexpr int kTweets = 600;
  constexpr int kPerPage = 5;
  Server server([](const Server::Request& r, int) {
    Server::Response resp;
    if (!isMentions(r) || r.target.find("since_id=") != std::string::npos) {
      resp.body = kEmptyPage;
      return resp;
    }
    int page = 0;
    if (auto at = r.target.find("pagination_token=p"); at != std::string::npos)
      page = std::stoi(r.target.substr(at + 18));
    std::vector<std::string> tweets;
    for (int i = page * kPerPage; i < (page + 1) * kPerPage && i < kTweets; ++i) {
      const std::string id = std::to_string(1000000000000010000LL - i);
      tweets.push_back(tweet(id, "7", "1000000000000000001", "2024-05-31T10:00:00Z"));
    }
    const bool more = (page + 1) * kPerPage < kTweets;
    resp.body = pageOf(tweets, more ? "p" + std::to_string(page + 1) : "");
    return resp;
  });
  XHarness h(server, "max_results: 5\n");
  auto r = h.xOf().poll();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.stored, static_cast<std::size_t>(kTweets));
  EXPECT_EQ(r.requests, kTweets / kPerPage + 1);  // the mentions' pages and one of tweets
  EXPECT_EQ(h.xOf().sinceId(Endpoint::Mentions), "1000000000000010000");
  EXPECT_TRUE(h.health.up());
}

TEST(XPoll, EndlessNextTokensStopAtThePageBound) {
  Server server([](const Server::Request& r, int index) {
    Server::Response resp;
    if (!isMentions(r)) {
      resp.body = kEmptyPage;
      return resp;
    }
    const std::string id = std::to_string(1000000000000010000LL - index);
    resp.body = pageOf({tweet(id, "7", "1000000000000000001", "2024-05-31T10:00:00Z")},
                       "p" + std::to_string(index + 1));
    return resp;
  });
  XHarness h(server);
  auto r = h.xOf().poll();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(maxPages(100), 100);
  EXPECT_EQ(maxPages(5), 1281);
  EXPECT_EQ(server.requests().size(), 101u);  // 100 pages of mentions, then the tweets
  EXPECT_EQ(h.sink.find("1000000000000010000"), nullptr);
}

TEST(XPoll, ExhaustedRateLimitWaitsForTheReset) {
  const auto reset = testing::at("2024-06-01T00:02:00Z");  // 120 s after the clock's start
  Server server([&](const Server::Request& r, int) {
    Server::Response resp;
    resp.body = kEmptyPage;
    if (isMentions(r)) {
      resp.headers.emplace_back("x-rate-limit-remaining", "0");
      resp.headers.emplace_back("x-rate-limit-reset", std::to_string(toMillis(reset) / 1000));
    }
    return resp;
  });
  XHarness h(server);
  ASSERT_TRUE(h.xOf().poll().ok);
  EXPECT_TRUE(h.sleeps.empty());
  h.clock.advance(20s);
  ASSERT_TRUE(h.xOf().poll().ok);
  ASSERT_EQ(h.sleeps.size(), 1u);
  EXPECT_EQ(h.sleeps[0], 100s);  // until the reset, measured on the injected clock
}

TEST(XPoll, TooManyRequestsHonoursTheResetHeader) {
  Server server([](const Server::Request& r, int index) {
    Server::Response resp;
    resp.body = kEmptyPage;
    if (isMentions(r) && index == 0) {
      resp.status = 429;
      resp.headers.emplace_back("x-rate-limit-remaining", "0");
      resp.headers.emplace_back("x-rate-limit-reset",
                                std::to_string(toMillis(testing::at("2024-06-01T00:01:00Z")) / 1000));
      resp.body =
          R"({"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429})";
    } else if (isMentions(r)) {
      resp.body = pageOf({tweet("1000000000000000010", "7", "1000000000000000010", "2024-05-31T10:00:00Z")});
    }
    return resp;
  });
  XHarness h(server);
  auto r = h.xOf().poll();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.stored, 1u);
  ASSERT_EQ(h.sleeps.size(), 1u);
  EXPECT_EQ(h.sleeps[0], 60s);
  EXPECT_EQ(h.health.errors(ErrorReason::RateLimited), 1u);
  EXPECT_TRUE(h.health.up());
}

TEST(XPoll, ServerErrorsAreRetriedAndCounted) {
  Server server([](const Server::Request& r, int index) {
    Server::Response resp;
    resp.body = kEmptyPage;
    if (isMentions(r) && index < 2) {
      resp.status = 503;
      resp.body = "Service Unavailable";
    } else if (isMentions(r)) {
      resp.body = pageOf({tweet("1000000000000000020", "7", "1000000000000000020", "2024-05-31T10:00:00Z")});
    }
    return resp;
  });
  XHarness h(server);
  auto r = h.xOf().poll();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.stored, 1u);
  EXPECT_EQ(h.health.errors(ErrorReason::Http), 2u);
  EXPECT_EQ(h.sleeps.size(), 2u);  // backoff with jitter between attempts
  EXPECT_TRUE(h.health.up());
}

TEST(XPoll, FailuresKeepTheCursorAndLoseNothing) {
  std::atomic<int> phase{0};
  Server server([&](const Server::Request& r, int) {
    Server::Response resp;
    resp.body = kEmptyPage;
    if (!isMentions(r)) return resp;
    if (phase == 0 && r.target.find("pagination_token") != std::string::npos) {
      resp.body = xFixture("truncated.json");  // the second page is cut short
    } else if (r.target.find("pagination_token") != std::string::npos) {
      resp.body = pageOf({tweet("1000000000000000030", "7", "1000000000000000030", "2024-05-31T10:00:00Z")});
    } else {
      resp.body = pageOf({tweet("1000000000000000031", "42", "1000000000000000030", "2024-05-31T10:30:00Z",
                                "1000000000000000030")},
                         "next");
    }
    return resp;
  });
  XHarness h(server);
  auto first = h.xOf().poll();
  EXPECT_FALSE(first.ok);
  EXPECT_FALSE(h.health.up());
  EXPECT_EQ(h.health.errors(ErrorReason::BadFile), 1u);
  EXPECT_EQ(h.sink.calls, 0);  // nothing stored, the cursor did not move
  EXPECT_TRUE(h.xOf().sinceId(Endpoint::Mentions).empty());

  phase = 1;
  h.sink.fail = true;  // then the store refuses
  EXPECT_FALSE(h.xOf().poll().ok);
  EXPECT_EQ(h.health.errors(ErrorReason::Store), 1u);
  EXPECT_FALSE(h.sink.committed_cursor.has_value());
  EXPECT_TRUE(h.xOf().sinceId(Endpoint::Mentions).empty());

  h.sink.fail = false;
  auto third = h.xOf().poll();
  ASSERT_TRUE(third.ok);
  EXPECT_EQ(third.stored, 2u);
  EXPECT_TRUE(h.health.up());
  EXPECT_EQ(h.sink.committed_cursor, R"({"mentions":"1000000000000000031"})");
  EXPECT_EQ(h.sink.stored.size(), 2u);
}

TEST(XPoll, PartialErrorsAreCountedAndTheDataStored) {
  Server server([](const Server::Request& r, int) {
    Server::Response resp;
    resp.body = kEmptyPage;
    if (isMentions(r) && r.target.find("pagination_token") == std::string::npos) {
      resp.body = xFixture("page_with_errors.json");
    }
    return resp;
  });
  XHarness h(server);
  auto r = h.xOf().poll();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.stored, 3u);
  EXPECT_EQ(h.health.errors(ErrorReason::ApiError), 1u);
  EXPECT_EQ(h.sink.committed_cursor, R"({"mentions":"1440717170493689866"})");
}

TEST(XSettings, Validation) {
  std::vector<config::Problem> problems;
  validate(testing::makeSource("name: x1\ntype: x\n"), problems);
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_NE(problems[0].message.find("user_id"), std::string::npos) << problems[0].message;
  EXPECT_NE(problems[1].message.find("bearer token"), std::string::npos) << problems[1].message;
  problems.clear();
  validate(
      testing::makeSource("name: x1\ntype: x\nuser_id: abc\ntoken: t\nbase_url: ftp://x\nmax_results: 500\n"
                          "poll_interval: 0s\nsince: 1\n"),
      problems);
  std::string all;
  for (const auto& p : problems) all += p.message + "\n";
  EXPECT_EQ(problems.size(), 5u) << all;
  EXPECT_NE(all.find("user_id"), std::string::npos);
  EXPECT_NE(all.find("base_url"), std::string::npos);
  EXPECT_NE(all.find("max_results"), std::string::npos);
  EXPECT_NE(all.find("poll_interval"), std::string::npos);
  EXPECT_NE(all.find("since"), std::string::npos);
  EXPECT_EQ(all.find("s3cret"), std::string::npos);
  problems.clear();
  auto s =
      parseSettings(testing::makeSource(
                        "name: x1\ntype: x\nuser_id: \"783214\"\ntoken: t\nbase_url: http://127.0.0.1:1/\n"),
                    problems);
  EXPECT_TRUE(problems.empty());
  EXPECT_EQ(s.base_url, "http://127.0.0.1:1");
  EXPECT_EQ(s.token.reveal(), "t");
}

}  // namespace
}  // namespace replywatch::connectors::x
