// End-to-end tests of http::Server over real loopback sockets.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "daemon/http/server.h"
#include "tests/unit/http/raw_client.h"

namespace replywatch::http {
namespace {

using namespace std::chrono_literals;
using testing::makeRequest;
using testing::RawClient;

ServerOptions testOptions() {
  ServerOptions o;
  o.listen_address = "127.0.0.1:0";
  o.threads = 2;
  return o;
}

// Starts a server with the routes most tests need and stops it at the end of the test.
class ServerTest : public ::testing::Test {
 protected:
  void startServer(ServerOptions options = testOptions()) {
    server_ = std::make_unique<Server>(std::move(options));
    server_->route("GET", "/", [](const Request&) { return Response::text(200, "landing"); });
    server_->route("GET", "/metrics", [](const Request&) { return Response::text(200, "metrics"); });
    server_->route("POST", "/webhooks/", [](const Request& r) {
      return Response::json(200, "{\"path\":\"" + r.path + "\",\"body\":\"" + r.body + "\"}");
    });
    server_->route("GET", "/webhooks/", [](const Request& r) {
      return Response::text(200, r.queryParam("hub.challenge").value_or("none"));
    });
    server_->route("GET", "/echo", [](const Request& r) {
      Response res = Response::text(200, r.queryParam("q").value_or("<absent>"));
      res.headers.emplace_back("X-Path", r.path);
      res.headers.emplace_back("X-Query", r.query);
      res.headers.emplace_back("X-Agent", std::string(r.header("user-agent").value_or("")));
      res.headers.emplace_back("X-Remote-Set", r.remote.empty() ? "no" : "yes");
      res.headers.emplace_back("X-Method", r.method);
      return res;
    });
    server_->route("GET", "/throw", [](const Request&) -> Response { throw std::runtime_error("boom"); });
    for (auto& [method, path, handler] : extra_routes_) server_->route(method, path, handler);
    auto bound = server_->start();
    ASSERT_TRUE(bound.ok()) << bound.error().message;
    address_ = bound.value();
  }

  void TearDown() override {
    if (server_) server_->stop(2s);
  }

  std::unique_ptr<Server> server_;
  std::string address_;
  std::vector<std::tuple<std::string, std::string, Handler>> extra_routes_;
};

TEST_F(ServerTest, StartReturnsBoundLoopbackAddress) {
  startServer();
  EXPECT_EQ(address_.rfind("127.0.0.1:", 0), 0u) << address_;
  EXPECT_NE(address_, "127.0.0.1:0");
}

TEST_F(ServerTest, RoutesExactPaths) {
  startServer();
  RawClient c(address_);
  ASSERT_TRUE(c.send(makeRequest("GET", "/metrics")));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "metrics");
  EXPECT_EQ(r->header("server"), "replywatch");
  EXPECT_EQ(r->header("content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(r->header("content-length"), "7");
}

TEST_F(ServerTest, RootIsAnExactRouteNotAPrefix) {
  startServer();
  RawClient c(address_);
  ASSERT_TRUE(c.send(makeRequest("GET", "/")));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "landing");
  ASSERT_TRUE(c.send(makeRequest("GET", "/nothing-here")));
  r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

TEST_F(ServerTest, RoutesPrefixPaths) {
  startServer();
  RawClient c(address_);
  ASSERT_TRUE(c.send(makeRequest("POST", "/webhooks/meta", "hello")));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-type"), "application/json");
  EXPECT_EQ(r->body, R"({"path":"/webhooks/meta","body":"hello"})");

  ASSERT_TRUE(c.send(makeRequest("GET", "/webhooks/meta?hub.mode=subscribe&hub.challenge=abc%20123")));
  r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "abc 123");
}

TEST_F(ServerTest, UnknownPathIs404WithJsonError) {
  startServer();
  RawClient c(address_);
  ASSERT_TRUE(c.send(makeRequest("GET", "/nope")));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->header("content-type"), "application/json");
  EXPECT_EQ(r->body, R"({"status":"error","error":"not found"})");
  // "/webhooks" without the trailing slash is not under the "/webhooks/" prefix.
  ASSERT_TRUE(c.send(makeRequest("POST", "/webhooks", "x")));
  r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

TEST_F(ServerTest, WrongMethodIs405WithAllow) {
  startServer();
  RawClient c(address_);
  ASSERT_TRUE(c.send(makeRequest("POST", "/metrics", "x")));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->header("allow"), "GET");
  EXPECT_EQ(r->body, R"({"status":"error","error":"method not allowed"})");

  ASSERT_TRUE(c.send(makeRequest("DELETE", "/webhooks/x")));
  r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->header("allow"), "POST, GET");
}

TEST_F(ServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  startServer();
  RawClient c(address_);
  ASSERT_TRUE(c.send(makeRequest("GET", "/metrics")));
  auto r1 = c.readResponse();
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->status, 200);
  EXPECT_NE(r1->header("connection"), "close");
  ASSERT_TRUE(c.send(makeRequest("GET", "/")));
  auto r2 = c.readResponse();
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->body, "landing");
}

// HEAD gets the GET route's answer without its body: the Content-Length it would have,
// and the next answer on the connection right after the headers.
TEST_F(ServerTest, HeadIsAnsweredAsGetWithoutTheBody) {
  startServer();
  RawClient c(address_);
  ASSERT_TRUE(c.send(makeRequest("HEAD", "/metrics") + makeRequest("GET", "/")));
  std::string raw;
  for (int i = 0; i < 20 && raw.find("landing") == std::string::npos; ++i) raw += c.readRaw(200ms);
  EXPECT_EQ(raw.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << raw;
  EXPECT_NE(raw.find("\r\nContent-Length: 7\r\n\r\nHTTP/1.1 200 OK\r\n"), std::string::npos) << raw;
  EXPECT_EQ(raw.find("metrics"), std::string::npos) << raw;
  EXPECT_NE(raw.find("landing"), std::string::npos) << raw;
}

// A large body and a shared tail go out from where they are, after the head: the bytes
// and Content-Length of body + tail, on a connection that goes on serving small answers,
// several times over; HEAD counts the tail too.
TEST_F(ServerTest, ALargeBodyAndASharedTailAreSentWhole) {
  auto tail = std::make_shared<const std::string>(std::string(300 * 1024, 't') + "end-of-tail\n");
  std::string body;
  for (int i = 0; body.size() < 100 * 1024; ++i) body += "line " + std::to_string(i) + "\n";
  extra_routes_.emplace_back("GET", "/large", [body, tail](const Request&) {
    Response r = Response::text(200, body);
    r.body_tail = tail;
    return r;
  });
  extra_routes_.emplace_back("GET", "/tail-only", [tail](const Request&) {
    Response r = Response::text(200, "");
    r.body_tail = tail;
    return r;
  });
  startServer();
  RawClient c(address_);
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(c.send(makeRequest("GET", "/large")));
    auto r = c.readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->header("content-length"), std::to_string(body.size() + tail->size()));
    ASSERT_EQ(r->body.size(), body.size() + tail->size());
    EXPECT_TRUE(r->body == body + *tail) << "round " << round;
    ASSERT_TRUE(c.send(makeRequest("GET", "/")));
    r = c.readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "landing");
  }
  ASSERT_TRUE(c.send(makeRequest("GET", "/tail-only")));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->body == *tail);
  ASSERT_TRUE(c.send(makeRequest("HEAD", "/large") + makeRequest("GET", "/")));
  std::string raw;
  for (int i = 0; i < 20 && raw.find("landing") == std::string::npos; ++i) raw += c.readRaw(200ms);
  EXPECT_NE(raw.find("\r\nContent-Length: " + std::to_string(body.size() + tail->size()) +
                     "\r\n\r\nHTTP/1.1 200 OK\r\n"),
            std::string::npos)
      << raw.substr(0, 300);
  EXPECT_EQ(raw.find("line 1\n"), std::string::npos);
}

// The handler of a HEAD request sees the GET it answers: a handler that checks the
// method (a webhook's) answers HEAD as it answers GET.
TEST_F(ServerTest, HeadReachesTheHandlerAsGet) {
  startServer();
  RawClient c(address_);
  ASSERT_TRUE(c.send(makeRequest("HEAD", "/echo")));
  std::string raw;
  for (int i = 0; i < 20 && raw.find("\r\n\r\n") == std::string::npos; ++i) raw += c.readRaw(200ms);
  EXPECT_EQ(raw.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << raw;
  EXPECT_NE(raw.find("\r\nX-Method: GET\r\n"), std::string::npos) << raw;
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  startServer();
  RawClient c(address_);
  ASSERT_TRUE(c.send(makeRequest("GET", "/metrics") + makeRequest("GET", "/")));
  auto r1 = c.readResponse();
  auto r2 = c.readResponse();
  ASSERT_TRUE(r1 && r2);
  EXPECT_EQ(r1->body, "metrics");
  EXPECT_EQ(r2->body, "landing");
}

TEST_F(ServerTest, ConnectionCloseIsHonoured) {
  startServer();
  RawClient c(address_);
  ASSERT_TRUE(c.send(makeRequest("GET", "/metrics", {}, "Connection: close\r\n")));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c.waitClosed(2s));
}

TEST_F(ServerTest, QueryParametersAndHeadersReachTheHandler) {
  startServer();
  RawClient c(address_);
  ASSERT_TRUE(c.send(makeRequest("GET", "/echo?x=1&q=caf%C3%A9+au+lait%21", {}, "User-Agent: prom/2.0\r\n")));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "caf\xC3\xA9 au lait!");
  EXPECT_EQ(r->header("x-path"), "/echo");
  EXPECT_EQ(r->header("x-query"), "x=1&q=caf%C3%A9+au+lait%21");
  EXPECT_EQ(r->header("x-agent"), "prom/2.0");
  EXPECT_EQ(r->header("x-remote-set"), "yes");
}

TEST_F(ServerTest, HandlerExceptionIs500) {
  startServer();
  RawClient c(address_);
  ASSERT_TRUE(c.send(makeRequest("GET", "/throw")));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->body, R"({"status":"error","error":"internal error"})");
  // The connection survives.
  ASSERT_TRUE(c.send(makeRequest("GET", "/metrics")));
  r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(ServerTest, OversizedHeaderIs431) {
  auto o = testOptions();
  o.max_header_bytes = 1024;
  startServer(o);
  RawClient c(address_);
  ASSERT_TRUE(c.send(makeRequest("GET", "/metrics", {}, "X-Big: " + std::string(4096, 'a') + "\r\n")));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_EQ(r->body, R"({"status":"error","error":"request header too large"})");
  EXPECT_TRUE(c.waitClosed(3s));
}

TEST_F(ServerTest, OversizedContentLengthIs413BeforeTheBodyIsSent) {
  auto o = testOptions();
  o.max_body_bytes = 1024;
  startServer(o);
  RawClient c(address_);
  // Only the header: the answer must come from Content-Length alone.
  ASSERT_TRUE(c.send("POST /webhooks/meta HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n"));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(r->body, R"({"status":"error","error":"request body too large"})");
  EXPECT_TRUE(c.waitClosed(3s));
}

TEST_F(ServerTest, OversizedChunkedBodyIs413) {
  auto o = testOptions();
  o.max_body_bytes = 1024;
  startServer(o);
  RawClient c(address_);
  std::string chunk(800, 'x');
  std::string req = "POST /webhooks/meta HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  req += "320\r\n" + chunk + "\r\n320\r\n" + chunk + "\r\n0\r\n\r\n";
  ASSERT_TRUE(c.send(req));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
}

TEST_F(ServerTest, BodyWithinLimitIsAccepted) {
  auto o = testOptions();
  o.max_body_bytes = 1024;
  startServer(o);
  RawClient c(address_);
  ASSERT_TRUE(c.send(makeRequest("POST", "/webhooks/x", std::string(1024, 'b'))));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(ServerTest, ExpectContinueGets100BeforeTheBody) {
  startServer();
  RawClient c(address_);
  ASSERT_TRUE(
      c.send("POST /webhooks/meta HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"));
  EXPECT_EQ(c.readRaw(2s), "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(c.send("data"));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"path":"/webhooks/meta","body":"data"})");

  // A body no route takes is not asked for: the answer comes at once.
  RawClient nowhere(address_);
  ASSERT_TRUE(nowhere.send(
      "POST /nowhere HTTP/1.1\r\nHost: t\r\nContent-Length: 900000\r\nExpect: 100-continue\r\n\r\n"));
  auto missing = nowhere.readResponse();
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_TRUE(nowhere.waitClosed(3s));
  RawClient wrong_method(address_);
  ASSERT_TRUE(wrong_method.send(
      "PUT /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n"));
  auto refused = wrong_method.readResponse();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 405);
  EXPECT_EQ(refused->header("allow"), "GET");
}

TEST_F(ServerTest, MalformedRequestIs400) {
  startServer();
  {
    RawClient c(address_);
    ASSERT_TRUE(c.send("THIS IS NOT HTTP\r\n\r\n"));
    auto r = c.readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_EQ(r->header("content-type"), "application/json");
    EXPECT_TRUE(c.waitClosed(3s));
  }
  {
    RawClient c(address_);
    ASSERT_TRUE(c.send("GET /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n"));
    auto r = c.readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
  }
  {
    RawClient c(address_);
    ASSERT_TRUE(c.send("GET http://example.com/metrics HTTP/1.1\r\nHost: t\r\n\r\n"));
    auto r = c.readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
  }
  {
    // A Transfer-Encoding not ending with chunked leaves the body's end unknown.
    RawClient c(address_);
    ASSERT_TRUE(c.send("GET /metrics HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n"));
    auto r = c.readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_EQ(r->body, R"({"status":"error","error":"unsupported Transfer-Encoding"})");
    EXPECT_TRUE(c.waitClosed(3s));
  }
}

TEST_F(ServerTest, SlowlorisHalfRequestIsClosedAfterReadTimeout) {
  auto o = testOptions();
  o.read_timeout = 300ms;
  startServer(o);
  RawClient c(address_);
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.send("GET /metrics HTTP/1.1\r\nHost: t\r\n"));
  EXPECT_TRUE(c.waitClosed(3s));
  auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 2s);
}

TEST_F(ServerTest, SlowlorisTrickleIsClosedAfterReadTimeout) {
  auto o = testOptions();
  o.read_timeout = 300ms;
  startServer(o);
  RawClient c(address_);
  auto t0 = std::chrono::steady_clock::now();
  std::string req = "GET /metrics HTTP/1.1\r\nHost: t\r\nX-Slow: abcdefghijklmnopqrstuvwxyz\r\n";
  bool closed = false;
  for (char ch : req) {
    if (!c.send(std::string_view(&ch, 1)) || c.waitClosed(50ms)) {
      closed = true;
      break;
    }
  }
  if (!closed) closed = c.waitClosed(3s);
  EXPECT_TRUE(closed);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
}

TEST_F(ServerTest, ConnectionWithoutAnyBytesIsClosedAfterReadTimeout) {
  auto o = testOptions();
  o.read_timeout = 300ms;
  o.idle_timeout = 10s;
  startServer(o);
  RawClient c(address_);
  EXPECT_TRUE(c.waitClosed(3s));
}

TEST_F(ServerTest, IdleKeepAliveConnectionIsClosedAfterIdleTimeout) {
  auto o = testOptions();
  o.read_timeout = 5s;
  o.idle_timeout = 300ms;
  startServer(o);
  RawClient c(address_);
  ASSERT_TRUE(c.send(makeRequest("GET", "/metrics")));
  ASSERT_TRUE(c.readResponse());
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.waitClosed(3s));
  auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 2s);
}

TEST_F(ServerTest, ConnectionsOverTheCapGet503) {
  auto o = testOptions();
  o.max_connections = 2;
  startServer(o);
  auto a = std::make_unique<RawClient>(address_);
  RawClient b(address_);
  // Both are accepted and served (and stay open: keep-alive).
  ASSERT_TRUE(a->send(makeRequest("GET", "/metrics")));
  ASSERT_TRUE(a->readResponse());
  ASSERT_TRUE(b.send(makeRequest("GET", "/metrics")));
  ASSERT_TRUE(b.readResponse());

  RawClient over(address_);
  ASSERT_TRUE(over.send(makeRequest("GET", "/metrics")));
  auto r = over.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->header("retry-after"), "1");
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_EQ(r->body, R"({"status":"error","error":"too many connections"})");
  EXPECT_TRUE(over.waitClosed(3s));

  // Once a slot is free, new connections are served again.
  a.reset();
  bool served = false;
  for (int i = 0; i < 50 && !served; ++i) {
    RawClient next(address_);
    if (next.send(makeRequest("GET", "/metrics"))) {
      auto rn = next.readResponse();
      served = rn && rn->status == 200;
    }
    if (!served) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(served);
}

// Answers waiting for clients that do not read count against max_unsent_bytes: a large
// answer that would go past it gets 503, small answers still go, and the room comes back
// once the client has read.
TEST_F(ServerTest, LargeAnswersOverTheUnsentBytesLimitGet503) {
  const std::string big(16u << 20, 'b');
  extra_routes_.emplace_back("GET", "/big", [&big](const Request&) { return Response::text(200, big); });
  auto o = testOptions();
  o.max_unsent_bytes = 24u << 20;
  startServer(o);

  // A asks and does not read: its 16 MiB stay with the server (more than the socket
  // buffers hold).
  RawClient a(address_, 4096);
  ASSERT_TRUE(a.send(makeRequest("GET", "/big")));
  std::this_thread::sleep_for(200ms);

  RawClient b(address_);
  ASSERT_TRUE(b.send(makeRequest("GET", "/big")));
  auto refused = b.readResponse();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(refused->header("retry-after"), "1");
  EXPECT_EQ(refused->body,
            R"({"status":"error","error":"the server is busy sending other answers, retry later"})");
  ASSERT_TRUE(b.send(makeRequest("GET", "/metrics")));
  auto small = b.readResponse();
  ASSERT_TRUE(small);
  EXPECT_EQ(small->status, 200);

  auto got = a.readResponse(10s);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(got->body.size(), big.size());
  // A's answer is written: its bytes no longer count (given back on an I/O thread).
  int status = 0;
  for (int i = 0; i < 50 && status != 200; ++i) {
    ASSERT_TRUE(b.send(makeRequest("GET", "/big")));
    auto r = b.readResponse(10s);
    ASSERT_TRUE(r);
    status = r->status;
    if (status != 200) std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(status, 200);
}

// A reload reaches connections already open: an idle one is closed, one being answered
// gets "Connection: close" with its answer, and new ones get the new settings.
TEST_F(ServerTest, ReloadedSettingsReachConnectionsAlreadyOpen) {
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  extra_routes_.emplace_back("GET", "/slow", [&entered, released](const Request&) {
    entered.set_value();
    released.wait();
    return Response::text(200, "slow");
  });
  startServer();
  RawClient idle(address_);
  ASSERT_TRUE(idle.send(makeRequest("GET", "/metrics")));
  auto first = idle.readResponse();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->header("connection"), "");  // kept alive
  RawClient busy(address_);
  ASSERT_TRUE(busy.send(makeRequest("GET", "/slow")));
  entered.get_future().wait();

  auto settings = Server::loadConnectionSettings(std::nullopt, {{"X-Frame-Options", "deny"}});
  ASSERT_TRUE(settings) << settings.error().message;
  ASSERT_TRUE(server_->checkReload(*settings.value()));
  ASSERT_TRUE(server_->reload(settings.value()));
  EXPECT_TRUE(idle.waitClosed(3s));

  release.set_value();
  auto answered = busy.readResponse();
  ASSERT_TRUE(answered);
  EXPECT_EQ(answered->body, "slow");
  EXPECT_EQ(answered->header("connection"), "close");
  EXPECT_EQ(answered->header("x-frame-options"), "");  // the settings it was accepted with
  EXPECT_TRUE(busy.waitClosed(3s));

  RawClient fresh(address_);
  ASSERT_TRUE(fresh.send(makeRequest("GET", "/metrics")));
  auto r = fresh.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("x-frame-options"), "deny");
  EXPECT_EQ(r->header("connection"), "");
}

TEST_F(ServerTest, BlockingHandlerDoesNotStallOtherRequests) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> entered{false};
  extra_routes_.emplace_back("GET", "/block", [released, &entered](const Request&) {
    entered = true;
    released.wait();
    return Response::text(200, "unblocked");
  });
  startServer();
  RawClient slow(address_);
  ASSERT_TRUE(slow.send(makeRequest("GET", "/block")));
  for (int i = 0; i < 200 && !entered; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(entered);

  for (int i = 0; i < 3; ++i) {
    RawClient fast(address_);
    ASSERT_TRUE(fast.send(makeRequest("GET", "/metrics")));
    auto r = fast.readResponse(2s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  release.set_value();
  auto r = slow.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "unblocked");
}

// Handlers may block in more requests at once than there are I/O threads: every one of
// `handler_threads` blocked handlers is entered before any is released.
TEST_F(ServerTest, AsManyHandlersBlockAtOnceAsHandlerThreads) {
  constexpr int kBlocked = 12;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> entered{0};
  extra_routes_.emplace_back("GET", "/block", [released, &entered](const Request&) {
    entered.fetch_add(1);
    released.wait();
    return Response::text(200, "unblocked");
  });
  auto o = testOptions();
  o.threads = 1;
  o.handler_threads = kBlocked;
  startServer(o);
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < kBlocked; ++i) {
    clients.push_back(std::make_unique<RawClient>(address_));
    ASSERT_TRUE(clients.back()->send(makeRequest("GET", "/block")));
  }
  for (int i = 0; i < 1000 && entered.load() < kBlocked; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(entered.load(), kBlocked);
  release.set_value();
  for (auto& c : clients) {
    auto r = c->readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "unblocked");
  }
}

TEST_F(ServerTest, StopFinishesInFlightRequestWithConnectionClose) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> entered{false};
  extra_routes_.emplace_back("GET", "/slow", [released, &entered](const Request&) {
    entered = true;
    released.wait();
    return Response::text(200, "finished");
  });
  startServer();
  RawClient idle(address_);
  ASSERT_TRUE(idle.send(makeRequest("GET", "/metrics")));
  ASSERT_TRUE(idle.readResponse());

  RawClient busy(address_);
  ASSERT_TRUE(busy.send(makeRequest("GET", "/slow")));
  for (int i = 0; i < 200 && !entered; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(entered);

  auto stopped = std::async(std::launch::async, [&] { server_->stop(5s); });
  // The idle keep-alive connection is closed right away.
  EXPECT_TRUE(idle.waitClosed(2s));
  EXPECT_EQ(stopped.wait_for(100ms), std::future_status::timeout);
  release.set_value();
  auto r = busy.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "finished");
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_EQ(stopped.wait_for(3s), std::future_status::ready);
  // No longer accepting.
  EXPECT_THROW(RawClient late(address_), std::runtime_error);
  server_->stop();  // idempotent
}

TEST_F(ServerTest, StopGivesUpAfterGrace) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> entered{false};
  extra_routes_.emplace_back("GET", "/slow", [released, &entered](const Request&) {
    entered = true;
    released.wait_for(std::chrono::seconds(1));
    return Response::text(200, "late");
  });
  startServer();
  RawClient busy(address_);
  ASSERT_TRUE(busy.send(makeRequest("GET", "/slow")));
  for (int i = 0; i < 200 && !entered; ++i) std::this_thread::sleep_for(5ms);
  auto t0 = std::chrono::steady_clock::now();
  server_->stop(200ms);
  // Waited for the grace period, closed the connection, then joined the handler.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  EXPECT_TRUE(busy.waitClosed(1s));
}

TEST(ServerLifecycle, StartTwiceFailsAndStopWithoutStartIsHarmless) {
  Server s(testOptions());
  ASSERT_TRUE(s.start().ok());
  auto again = s.start();
  EXPECT_FALSE(again.ok());
  s.stop();
  s.stop();
  Server never(testOptions());
  never.stop();
}

TEST(ServerLifecycle, RouteAfterStartThrows) {
  Server s(testOptions());
  ASSERT_TRUE(s.start().ok());
  EXPECT_THROW(s.route("GET", "/x", [](const Request&) { return Response::text(200, ""); }),
               std::logic_error);
}

TEST(ServerLifecycle, BindConflictIsAnError) {
  Server a(testOptions());
  auto bound = a.start();
  ASSERT_TRUE(bound.ok());
  auto o = testOptions();
  o.listen_address = bound.value();
  Server b(o);
  auto r = b.start();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, "bind");
}

TEST(ServerLifecycle, ListensOnEveryInterfaceWithColonPort) {
  auto o = testOptions();
  o.listen_address = ":0";
  Server s(o);
  auto bound = s.start();
  ASSERT_TRUE(bound.ok()) << bound.error().message;
  auto port = bound.value().substr(bound.value().rfind(':') + 1);
  RawClient c("127.0.0.1:" + port);  // reachable over IPv4 loopback
  ASSERT_TRUE(c.send(makeRequest("GET", "/nope")));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

TEST(ServerLifecycle, ListensOnBracketedIpv6) {
  auto o = testOptions();
  o.listen_address = "[::1]:0";
  Server s(o);
  auto bound = s.start();
  if (!bound.ok()) GTEST_SKIP() << "no IPv6 loopback: " << bound.error().message;
  EXPECT_EQ(bound.value().rfind("[::1]:", 0), 0u) << bound.value();
}

TEST(ServerLifecycle, InvalidListenAddressIsAnError) {
  for (const char* bad : {"nonsense", "127.0.0.1:99999", "127.0.0.1:", "[::1:80", "::1:80"}) {
    auto o = testOptions();
    o.listen_address = bad;
    Server s(o);
    auto r = s.start();
    EXPECT_FALSE(r.ok()) << bad;
  }
}

// An async route answers later, from another thread, without holding a handler thread:
// with one handler thread and several requests parked at once, each is answered once
// its Responder is called, in the order the responders are called.
TEST(ServerAsync, AnswersLaterFromAnotherThreadWithoutAHandlerThread) {
  ServerOptions options = testOptions();
  options.handler_threads = 1;
  Server server(options);
  std::mutex mu;
  std::vector<std::pair<std::string, Responder>> parked;
  server.routeAsync("POST", "/hooks/", [&](Request req, Responder responder) {
    std::lock_guard lock(mu);
    parked.emplace_back(std::move(req.body), std::move(responder));
  });
  server.route("GET", "/metrics", [](const Request&) { return Response::text(200, "metrics"); });
  auto bound = server.start();
  ASSERT_TRUE(bound.ok()) << bound.error().message;

  constexpr int kClients = 4;
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<RawClient>(bound.value()));
    ASSERT_TRUE(clients.back()->send(makeRequest("POST", "/hooks/x", "body" + std::to_string(i))));
  }
  for (int i = 0; i < 400; ++i) {
    {
      std::lock_guard lock(mu);
      if (parked.size() == kClients) break;
    }
    std::this_thread::sleep_for(5ms);
  }
  std::vector<std::pair<std::string, Responder>> taken;
  {
    std::lock_guard lock(mu);
    taken.swap(parked);
  }
  ASSERT_EQ(taken.size(), static_cast<std::size_t>(kClients));
  // The single handler thread is free: a blocking route still answers meanwhile.
  RawClient other(bound.value());
  ASSERT_TRUE(other.send(makeRequest("GET", "/metrics")));
  auto m = other.readResponse(2s);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->body, "metrics");

  std::thread answerer([&taken] {
    for (auto& [body, responder] : taken) {
      responder(Response::text(201, "got " + body));
      responder(Response::text(500, "a second answer is ignored"));
    }
  });
  answerer.join();
  for (int i = 0; i < kClients; ++i) {
    auto r = clients[static_cast<std::size_t>(i)]->readResponse(2s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 201);
    EXPECT_EQ(r->body, "got body" + std::to_string(i));
    // Keep-alive: the connection serves another request.
    ASSERT_TRUE(clients[static_cast<std::size_t>(i)]->send(makeRequest("GET", "/metrics")));
    auto again = clients[static_cast<std::size_t>(i)]->readResponse(2s);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->body, "metrics");
  }
  server.stop(2s);
}

// A Responder dropped without an answer answers 500; a throwing async handler too.
TEST(ServerAsync, UnansweredOrThrowingAsyncHandlerIs500) {
  Server server(testOptions());
  server.routeAsync("GET", "/drop", [](const Request&, const Responder&) {});
  server.routeAsync("GET", "/throw",
                    [](const Request&, const Responder&) { throw std::runtime_error("boom"); });
  server.routeAsync("GET", "/blocking", [&server](const Request&, const Responder& responder) {
    server.runBlocking([responder] { responder(Response::text(200, "from a handler thread")); });
  });
  auto bound = server.start();
  ASSERT_TRUE(bound.ok()) << bound.error().message;
  for (const char* path : {"/drop", "/throw"}) {
    RawClient c(bound.value());
    ASSERT_TRUE(c.send(makeRequest("GET", path)));
    auto r = c.readResponse(2s);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 500) << path;
  }
  RawClient c(bound.value());
  ASSERT_TRUE(c.send(makeRequest("GET", "/blocking")));
  auto r = c.readResponse(2s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "from a handler thread");
  server.stop(2s);
}

// Parks every request of an async route until the test answers it.
class ParkingRoute {
 public:
  void install(Server& server, const std::string& path) {
    server.routeAsync("POST", path, [this](Request req, Responder responder) {
      std::lock_guard lock(mu_);
      parked_.emplace_back(std::move(req.body), std::move(responder));
      cv_.notify_all();
    });
  }
  // Waits (up to 5 s) until `n` requests are parked and takes them.
  std::vector<std::pair<std::string, Responder>> take(std::size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, 5s, [&] { return parked_.size() >= n; });
    std::vector<std::pair<std::string, Responder>> out;
    out.swap(parked_);
    return out;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<std::string, Responder>> parked_;
};

// A client that goes away while its request is being handled costs nothing: the late
// answer is dropped and the connection's slot is freed (with max_connections = 1, the
// next client is served rather than refused).
TEST(ServerAsync, PeerGoneWhileHandlingFreesTheConnection) {
  ServerOptions options = testOptions();
  options.max_connections = 1;
  Server server(options);
  ParkingRoute route;
  route.install(server, "/hooks/");
  server.route("GET", "/metrics", [](const Request&) { return Response::text(200, "metrics"); });
  auto bound = server.start();
  ASSERT_TRUE(bound.ok()) << bound.error().message;
  {
    RawClient gone(bound.value());
    ASSERT_TRUE(gone.send(makeRequest("POST", "/hooks/x", "payload")));
    auto parked = route.take(1);
    ASSERT_EQ(parked.size(), 1u);
    gone.close();
    parked[0].second(Response::text(200, "too late"));
  }
  // The slot is freed once the server notices the closed peer.
  std::optional<testing::RawResponse> served;
  for (int attempt = 0; attempt < 200 && !served; ++attempt) {
    RawClient next(bound.value());
    if (!next.send(makeRequest("GET", "/metrics"))) continue;
    auto r = next.readResponse(2s);
    if (r && r->status == 200) served = r;
    if (!served) std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(served);
  EXPECT_EQ(served->body, "metrics");
  server.stop(2s);
}

// stop() waits for an answer still to come (within the grace period) and sends it with
// "Connection: close".
TEST(ServerAsync, StopWaitsForAPendingAnswer) {
  Server server(testOptions());
  ParkingRoute route;
  route.install(server, "/hooks/");
  auto bound = server.start();
  ASSERT_TRUE(bound.ok()) << bound.error().message;
  RawClient c(bound.value());
  ASSERT_TRUE(c.send(makeRequest("POST", "/hooks/x", "payload")));
  auto parked = route.take(1);
  ASSERT_EQ(parked.size(), 1u);
  auto stopped = std::async(std::launch::async, [&] { server.stop(5s); });
  EXPECT_EQ(stopped.wait_for(100ms), std::future_status::timeout);
  parked[0].second(Response::text(200, "committed"));
  auto r = c.readResponse(3s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "committed");
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_EQ(stopped.wait_for(3s), std::future_status::ready);
}

// An answer that comes after stop() gave up on its connection is dropped; so is a
// Responder released after stop(). Neither crashes nor blocks.
TEST(ServerAsync, AnswerAfterStopIsDropped) {
  auto server = std::make_unique<Server>(testOptions());
  ParkingRoute route;
  route.install(*server, "/hooks/");
  auto bound = server->start();
  ASSERT_TRUE(bound.ok()) << bound.error().message;
  RawClient a(bound.value());
  RawClient b(bound.value());
  ASSERT_TRUE(a.send(makeRequest("POST", "/hooks/a", "one")));
  ASSERT_TRUE(b.send(makeRequest("POST", "/hooks/b", "two")));
  auto parked = route.take(2);
  ASSERT_EQ(parked.size(), 2u);
  server->stop(50ms);
  EXPECT_TRUE(a.waitClosed(2s));
  EXPECT_TRUE(b.waitClosed(2s));
  parked[0].second(Response::text(200, "late"));
  parked.clear();  // the other one, never answered
  server.reset();
}

// Answers are written as HTTP/1.x by the server itself: HTTP/1.0 keep-alive is
// acknowledged, a 204 carries no Content-Length, the handler's Content-Type replaces the
// default, configured headers replace the handler's, framing headers from the handler
// are dropped.
TEST(ServerAnswers, StatusLineHeadersAndFraming) {
  ServerOptions options = testOptions();
  options.headers.emplace_back("X-Frame-Options", "deny");
  Server server(options);
  server.route("GET", "/plain", [](const Request&) {
    Response r = Response::json(200, "{}");
    r.headers.emplace_back("content-type", "application/x-special");
    r.headers.emplace_back("X-Frame-Options", "sameorigin");
    r.headers.emplace_back("Content-Length", "999");
    r.headers.emplace_back("Connection", "close");
    r.headers.emplace_back("X-Two", "a");
    r.headers.emplace_back("X-Two", "b");
    return r;
  });
  server.route("GET", "/empty", [](const Request&) { return Response::text(204, ""); });
  auto bound = server.start();
  ASSERT_TRUE(bound.ok()) << bound.error().message;

  RawClient c(bound.value());
  ASSERT_TRUE(c.send("GET /plain HTTP/1.1\r\nHost: t\r\n\r\n"));
  const std::string raw = c.readRaw(2s);
  EXPECT_EQ(raw.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << raw;
  EXPECT_NE(raw.find("\r\nServer: replywatch\r\n"), std::string::npos) << raw;
  EXPECT_NE(raw.find("\r\ncontent-type: application/x-special\r\n"), std::string::npos) << raw;
  EXPECT_EQ(raw.find("application/json"), std::string::npos) << raw;
  EXPECT_NE(raw.find("\r\nX-Frame-Options: deny\r\n"), std::string::npos) << raw;
  EXPECT_EQ(raw.find("sameorigin"), std::string::npos) << raw;
  EXPECT_NE(raw.find("\r\nX-Two: a\r\nX-Two: b\r\n"), std::string::npos) << raw;
  EXPECT_NE(raw.find("\r\nContent-Length: 2\r\n"), std::string::npos) << raw;
  EXPECT_EQ(raw.find("999"), std::string::npos) << raw;
  EXPECT_EQ(raw.find("Connection"), std::string::npos) << raw;  // HTTP/1.1 keeps it open

  // The body follows; the connection is still open for the next request.
  ASSERT_TRUE(c.send("GET /empty HTTP/1.1\r\nHost: t\r\n\r\n"));
  const std::string rest = c.readRaw(2s);
  EXPECT_EQ(rest.rfind("{}HTTP/1.1 204 No Content\r\n", 0), 0u) << rest;
  EXPECT_EQ(rest.find("Content-Length"), std::string::npos) << rest;

  RawClient old(bound.value());
  ASSERT_TRUE(old.send("GET /plain HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  const std::string kept = old.readRaw(2s);
  EXPECT_EQ(kept.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << kept;
  EXPECT_NE(kept.find("\r\nConnection: keep-alive\r\n"), std::string::npos) << kept;

  RawClient closing(bound.value());
  ASSERT_TRUE(closing.send("GET /plain HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
  const std::string closed = closing.readRaw(2s);
  EXPECT_NE(closed.find("\r\nConnection: close\r\n"), std::string::npos) << closed;
  EXPECT_TRUE(closing.waitClosed(2s));
  server.stop(2s);
}

// A request whose handling outlasts read_timeout is not cut off: the read deadline ends
// once the request is read.
TEST(ServerAsync, HandlingIsNotSubjectToTheReadTimeout) {
  ServerOptions options = testOptions();
  options.read_timeout = 100ms;
  options.idle_timeout = 100ms;
  Server server(options);
  ParkingRoute route;
  route.install(server, "/hooks/");
  auto bound = server.start();
  ASSERT_TRUE(bound.ok()) << bound.error().message;
  RawClient c(bound.value());
  ASSERT_TRUE(c.send(makeRequest("POST", "/hooks/x", "payload")));
  auto parked = route.take(1);
  ASSERT_EQ(parked.size(), 1u);
  // Several deadline ticks and timeouts go by while the request is handled.
  EXPECT_FALSE(c.waitClosed(400ms));
  parked[0].second(Response::text(200, "slow but fine"));
  auto r = c.readResponse(2s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "slow but fine");
  // Then the idle timeout applies again.
  EXPECT_TRUE(c.waitClosed(2s));
  server.stop(2s);
}

}  // namespace
}  // namespace replywatch::http
