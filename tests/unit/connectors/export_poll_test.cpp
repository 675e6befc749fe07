#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "connectors/common/http_client.h"
#include "connectors/export/export_connector.h"
#include "tests/unit/connectors/test_http_server.h"
#include "tests/unit/connectors/test_support.h"

namespace replywatch::connectors::exportfmt {
namespace {

using Server = testing::TestHttpServer;
using namespace std::chrono_literals;

HttpClientOptions fastOptions() {
  HttpClientOptions o;
  o.connect_timeout = 2s;
  o.total_timeout = 5s;
  o.max_attempts = 3;
  o.backoff_base = 10ms;
  o.backoff_max = 50ms;
  return o;
}

ExportConnector& exportOf(testing::Harness& h) { return dynamic_cast<ExportConnector&>(*h.connector); }

Server::Handler serveFixture(const std::string& name) {
  return [body = testing::readAll(testing::fixture(name))](const Server::Request& req, int) {
    Server::Response r;
    if (req.header("If-None-Match") == "\"v1\"") {
      r.status = 304;
      r.headers.emplace_back("ETag", "\"v1\"");
      return r;
    }
    r.headers.emplace_back("ETag", "\"v1\"");
    r.headers.emplace_back("Last-Modified", "Sat, 01 Jun 2024 00:00:00 GMT");
    r.headers.emplace_back("Content-Type", "application/x-ndjson");
    r.body = body;
    return r;
  };
}

TEST(ExportPoll, FetchThenNotModified) {
  Server server(serveFixture("sample.jsonl"));
  testing::Harness h("name: acme-url\ntype: export\nurl: " + server.url("/feeds/acme.jsonl?since=0") +
                     "\ntoken: t0k3n\n");
  auto& c = exportOf(h);
  c.setHttpOptions(fastOptions());

  auto first = c.pollUrl();
  ASSERT_TRUE(first.ok);
  EXPECT_FALSE(first.not_modified);
  EXPECT_EQ(first.stats.stored, 12u);
  EXPECT_EQ(first.stats.rejected, 6u);
  EXPECT_TRUE(h.health.up());
  ASSERT_TRUE(h.sink.committed_cursor.has_value());
  EXPECT_NE(h.sink.committed_cursor->find("\\\"v1\\\""), std::string::npos) << *h.sink.committed_cursor;
  ASSERT_TRUE(h.sink.cursors.back().has_value());  // the cursor rides on the last batch

  auto second = c.pollUrl();
  ASSERT_TRUE(second.ok);
  EXPECT_TRUE(second.not_modified);
  EXPECT_EQ(h.sink.calls, 1);

  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].target, "/feeds/acme.jsonl?since=0");
  EXPECT_EQ(requests[0].header("Authorization"), "Bearer t0k3n");
  EXPECT_FALSE(requests[0].header("If-None-Match"));
  EXPECT_EQ(requests[1].header("If-None-Match"), "\"v1\"");
  EXPECT_EQ(requests[1].header("If-Modified-Since"), "Sat, 01 Jun 2024 00:00:00 GMT");

  // After a restart the committed cursor is read back: the first poll is conditional.
  auto restarted =
      findConnectorType("export")->create(ConnectorContext{h.source, h.config, h.clock, h.health, h.sink});
  auto& r = dynamic_cast<ExportConnector&>(*restarted);
  r.setHttpOptions(fastOptions());
  auto third = r.pollUrl();
  EXPECT_TRUE(third.not_modified);
  EXPECT_EQ(server.requests().at(2).header("If-None-Match"), "\"v1\"");
}

TEST(ExportPoll, CsvChosenByExtension) {
  Server server(serveFixture("sample.csv"));
  testing::Harness h("type: export\nurl: " + server.url("/export/acme.csv"));
  exportOf(h).setHttpOptions(fastOptions());
  auto r = exportOf(h).pollUrl();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.stats.stored, 8u);
  EXPECT_EQ(r.stats.rejected, 7u);
}

// A body that cannot be read to its end is refused whole, however many batches come
// before the unreadable line, and fetched again at the next poll.
TEST(ExportPoll, ABodyUnreadablePastALineStoresNothingOfIt) {
  std::string rows = "id,author_id,created_at,text\n";
  for (std::size_t i = 0; i < kBatchSize + 1000; ++i) {
    rows += "m" + std::to_string(i) + ",u" + std::to_string(i) + ",2024-05-01T10:00:00Z,hello?\n";
  }
  rows += "late,u,2024-05-01T11:00:00Z,\"never closed\n";
  Server server([&rows](const Server::Request&, int) {
    Server::Response r;
    r.headers.emplace_back("ETag", "\"v1\"");
    r.body = rows;
    return r;
  });
  testing::Harness h("type: export\nurl: " + server.url("/export/acme.csv"));
  exportOf(h).setHttpOptions(fastOptions());
  auto r = exportOf(h).pollUrl();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(h.sink.calls, 0);
  EXPECT_EQ(h.sink.stored.size(), 0u);
  EXPECT_FALSE(h.sink.committed_cursor.has_value());
  EXPECT_EQ(h.health.events(), 0u);
  EXPECT_EQ(h.health.errors(ErrorReason::BadFile), 1u);
  EXPECT_FALSE(h.health.up());
  EXPECT_FALSE(exportOf(h).pollUrl().ok);
  EXPECT_FALSE(server.requests().at(1).header("If-None-Match"));  // no cursor: fetched again
}

TEST(ExportPoll, RateLimitedThenSuccess) {
  Server server(
      [body = testing::readAll(testing::fixture("sample.jsonl"))](const Server::Request&, int index) {
        Server::Response r;
        if (index == 0) {
          r.status = 429;
          r.headers.emplace_back("Retry-After", "1");
          return r;
        }
        r.body = body;
        return r;
      });
  testing::Harness h("type: export\nurl: " + server.url("/feed"));
  exportOf(h).setHttpOptions(fastOptions());
  auto start = std::chrono::steady_clock::now();
  auto r = exportOf(h).pollUrl();
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.stats.stored, 12u);  // sniffed as JSON
  EXPECT_GE(elapsed, 900ms);       // Retry-After honoured
  EXPECT_EQ(server.requests().size(), 2u);
  EXPECT_FALSE(h.sink.committed_cursor.has_value());  // no ETag, no Last-Modified: no cursor
}

TEST(ExportPoll, ServerErrorThenSuccess) {
  Server server(
      [body = testing::readAll(testing::fixture("sample.jsonl"))](const Server::Request&, int index) {
        Server::Response r;
        if (index == 0) {
          r.status = 500;
          r.body = "oops";
          return r;
        }
        r.body = body;
        return r;
      });
  testing::Harness h("type: export\nformat: jsonl\nurl: " + server.url("/feed"));
  exportOf(h).setHttpOptions(fastOptions());
  auto r = exportOf(h).pollUrl();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.stats.stored, 12u);
  EXPECT_EQ(server.requests().size(), 2u);
  EXPECT_EQ(h.health.errors(ErrorReason::Http), 0u);
}

TEST(ExportPoll, PersistentFailureMarksDown) {
  Server server([](const Server::Request&, int) { return Server::Response{503, {}, "down"}; });
  testing::Harness h("type: export\nurl: " + server.url("/feed"));
  exportOf(h).setHttpOptions(fastOptions());
  auto r = exportOf(h).pollUrl();
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(h.health.up());
  EXPECT_EQ(h.health.errors(ErrorReason::Http), 1u);
  EXPECT_EQ(server.requests().size(), 3u);
  EXPECT_EQ(h.sink.calls, 0);
}

TEST(ExportPoll, StoreFailureKeepsTheOldCursor) {
  Server server(serveFixture("sample.jsonl"));
  testing::Harness h("type: export\nurl: " + server.url("/feed.jsonl"));
  exportOf(h).setHttpOptions(fastOptions());
  h.sink.fail = true;
  EXPECT_FALSE(exportOf(h).pollUrl().ok);
  EXPECT_FALSE(h.health.up());
  h.sink.fail = false;
  auto r = exportOf(h).pollUrl();
  ASSERT_TRUE(r.ok);
  EXPECT_FALSE(r.not_modified);  // fetched again, since nothing was committed
  EXPECT_EQ(r.stats.stored, 12u);
  EXPECT_FALSE(server.requests().at(1).header("If-None-Match"));
}

TEST(ExportPoll, RunStopsPromptly) {
  Server server(serveFixture("sample.jsonl"));
  testing::Harness h("type: export\npoll_interval: 1h\nurl: " + server.url("/feed.jsonl"));
  exportOf(h).setHttpOptions(fastOptions());
  ASSERT_TRUE(h.connector->polls());
  std::jthread runner([&](std::stop_token stop) { h.connector->run(stop); });
  for (int i = 0; i < 200 && h.sink.storedCount() < 12; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(h.sink.storedCount(), 12u);
  auto start = std::chrono::steady_clock::now();
  runner.request_stop();
  runner.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

// ------------------------------------------------------------------ the client itself

TEST(HttpClient, RetryAfterIsHonouredAndBearerSent) {
  Server server([](const Server::Request&, int index) {
    Server::Response r;
    if (index == 0) {
      r.status = 429;
      r.headers.emplace_back("Retry-After", "7");
    } else {
      r.body = "done";
      r.headers.emplace_back("ETag", "W/\"abc\"");
    }
    return r;
  });
  HttpClient client(fastOptions());
  std::vector<std::chrono::milliseconds> sleeps;
  client.setSleep([&](std::chrono::milliseconds d, std::stop_token) {
    sleeps.push_back(d);
    return true;
  });
  HttpRequest req;
  req.url = server.url("/x");
  req.bearer_token = Secret("abc");
  req.headers.emplace_back("Accept", "text/plain");
  auto r = client.get(req);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "done");
  EXPECT_EQ(r->etag, "W/\"abc\"");
  EXPECT_EQ(r->attempts, 2);
  ASSERT_EQ(sleeps.size(), 1u);
  EXPECT_EQ(sleeps[0], 7000ms);
  EXPECT_EQ(server.requests()[0].header("Authorization"), "Bearer abc");
  EXPECT_EQ(server.requests()[0].header("Accept"), "text/plain");
}

TEST(HttpClient, CredentialHeadersAreNotSentToAnotherOrigin) {
  // 127.0.0.1 redirects to localhost: the same server under another host name.
  Server* self = nullptr;
  Server server([&self](const Server::Request& req, int) {
    Server::Response r;
    if (req.target == "/away") {
      r.status = 302;
      r.headers.emplace_back("Location", "http://localhost:" + self->url("").substr(17) + "/moved");
    } else if (req.target == "/near") {
      r.status = 302;
      r.headers.emplace_back("Location", "/moved");
    } else {
      r.body = "moved here";
    }
    return r;
  });
  self = &server;
  HttpClient client(fastOptions());
  HttpRequest req;
  req.url = server.url("/away");
  req.credential_headers.emplace_back("Api-Key", Secret("k3y"));
  auto r = client.get(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, "http");
  EXPECT_NE(r.error().message.find("another origin (http://localhost:"), std::string::npos)
      << r.error().message;
  ASSERT_EQ(server.requests().size(), 1u);  // nothing was sent to localhost
  EXPECT_EQ(server.requests()[0].header("Api-Key"), "k3y");

  // A redirect within the origin is followed, the credentials with it.
  req.url = server.url("/near");
  auto near = client.get(req);
  ASSERT_TRUE(near.ok()) << near.error().message;
  EXPECT_EQ(near->body, "moved here");
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[2].target, "/moved");
  EXPECT_EQ(requests[2].header("Api-Key"), "k3y");

  // Without credential headers, libcurl follows the redirect to another host.
  HttpRequest plain;
  plain.url = server.url("/away");
  auto followed = client.get(plain);
  ASSERT_TRUE(followed.ok()) << followed.error().message;
  EXPECT_EQ(followed->body, "moved here");
}

TEST(HttpClient, LongRetryAfterEndsTheCall) {
  Server server([](const Server::Request&, int) {
    return Server::Response{429, {{"Retry-After", "3600"}}, ""};
  });
  HttpClient client(fastOptions());
  auto r = client.get(HttpRequest{server.url("/x"), {}, {}, {}, {}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, "rate_limited");
  EXPECT_EQ(errorReasonOf(r.error()), ErrorReason::RateLimited);
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(HttpClient, BackoffOnServerErrorsWithinBounds) {
  Server server([](const Server::Request&, int) { return Server::Response{502, {}, ""}; });
  auto options = fastOptions();
  options.max_attempts = 4;
  options.backoff_base = 100ms;
  options.backoff_max = 250ms;
  HttpClient client(options);
  std::vector<std::chrono::milliseconds> sleeps;
  client.setSleep([&](std::chrono::milliseconds d, std::stop_token) {
    sleeps.push_back(d);
    return true;
  });
  auto r = client.get(HttpRequest{server.url("/x"), {}, {}, {}, {}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, "http");
  EXPECT_NE(r.error().message.find("502"), std::string::npos);
  ASSERT_EQ(sleeps.size(), 3u);
  EXPECT_LE(sleeps[0], 100ms);
  EXPECT_LE(sleeps[1], 200ms);
  EXPECT_LE(sleeps[2], 250ms);
  for (auto s : sleeps) EXPECT_GE(s, 0ms);
}

TEST(HttpClient, ClientErrorsAreNotRetried) {
  Server server([](const Server::Request&, int) { return Server::Response{404, {}, "no"}; });
  HttpClient client(fastOptions());
  auto r = client.get(HttpRequest{server.url("/x?token=secret"), {}, {}, {}, {}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, "http");
  EXPECT_EQ(r.error().message.find("secret"), std::string::npos);  // the query string is not repeated
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(HttpClient, BodyLimit) {
  Server server([](const Server::Request&, int) {
    return Server::Response{200, {}, std::string(100000, 'x')};
  });
  auto options = fastOptions();
  options.max_body_bytes = 1000;
  HttpClient client(options);
  auto r = client.get(HttpRequest{server.url("/x"), {}, {}, {}, {}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, "too_large");
}

TEST(HttpClient, TransportErrorsAreRetriedThenReported) {
  unsigned short port = 0;
  {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }  // closed: connections are refused
  HttpClient client(fastOptions());
  int sleeps = 0;
  client.setSleep([&](std::chrono::milliseconds, std::stop_token) {
    ++sleeps;
    return true;
  });
  auto r = client.get(HttpRequest{"http://127.0.0.1:" + std::to_string(port) + "/x", {}, {}, {}, {}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, "transport");
  EXPECT_EQ(sleeps, 2);
}

TEST(HttpClient, StopTokenCancels) {
  Server server([](const Server::Request&, int) { return Server::Response{500, {}, ""}; });
  auto options = fastOptions();
  options.max_attempts = 10;
  options.backoff_base = 10s;
  options.backoff_max = 10s;
  HttpClient client(options);
  std::stop_source stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(200ms);
    stop.request_stop();
  });
  auto start = std::chrono::steady_clock::now();
  // Ten attempts with backoffs of up to 10 s: the stop arrives during one of them.
  auto r = client.get(HttpRequest{server.url("/x"), {}, {}, {}, {}}, stop.get_token());
  stopper.join();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, "cancelled");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(HttpClient, SleepForWakesOnStop) {
  std::stop_source stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(50ms);
    stop.request_stop();
  });
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(sleepFor(30s, stop.get_token()));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  stopper.join();
  EXPECT_TRUE(sleepFor(1ms, std::stop_token{}));
}

TEST(HttpClient, ParseRetryAfter) {
  auto now = std::chrono::system_clock::from_time_t(1445412450);  // Wed, 21 Oct 2015 07:27:30 GMT
  EXPECT_EQ(parseRetryAfter("120", now), 120s);
  EXPECT_EQ(parseRetryAfter(" 0 ", now), 0s);
  EXPECT_EQ(parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", now), 30s);
  EXPECT_EQ(parseRetryAfter("Wed, 21 Oct 2015 07:00:00 GMT", now), 0s);  // in the past
  EXPECT_FALSE(parseRetryAfter("soon", now));
  EXPECT_FALSE(parseRetryAfter("", now));
}

TEST(HttpClient, RedactUrl) {
  EXPECT_EQ(redactUrl("https://user:pw@example.com:8443/a/b.csv?token=x#frag"),
            "https://example.com:8443/a/b.csv");
  EXPECT_EQ(redactUrl("http://example.com"), "http://example.com");
  EXPECT_EQ(redactUrl("http://example.com?x=1"), "http://example.com");
}

// With a spool directory and a URL, the source is up only when both succeed in a cycle:
// a spool scan that works does not hide a URL that keeps failing.
TEST(ExportPoll, ASpoolThatWorksDoesNotHideAUrlThatFails) {
  std::atomic<bool> failing{true};
  auto fixture = serveFixture("sample.jsonl");
  Server server([&](const Server::Request& req, int i) {
    if (!failing.load()) return fixture(req, i);
    Server::Response r;
    r.status = 500;
    return r;
  });
  testing::TempDir dir;
  const auto spool = dir.path() / "spool";
  std::filesystem::create_directories(spool);
  testing::Harness h("name: acme-both\ntype: export\naccount: acme\nspool_dir: " + spool.string() +
                     "\nurl: " + server.url("/feed.jsonl") + "\n");
  auto& c = exportOf(h);
  c.setHttpOptions(fastOptions());

  c.pollOnce();
  EXPECT_FALSE(h.health.up());
  EXPECT_FALSE(h.health.lastSuccess().has_value());

  failing = false;
  c.pollOnce();
  EXPECT_TRUE(h.health.up());
  EXPECT_TRUE(h.health.lastSuccess().has_value());

  // The spool alone, or the URL alone, still report their own success.
  testing::Harness spool_only("name: acme-spool\ntype: export\naccount: acme\nspool_dir: " + spool.string() +
                              "\n");
  exportOf(spool_only).pollOnce();
  EXPECT_TRUE(spool_only.health.lastSuccess().has_value());
}

}  // namespace
}  // namespace replywatch::connectors::exportfmt
