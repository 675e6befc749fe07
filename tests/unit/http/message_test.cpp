// Request accessors, Response constructors and listen address parsing.
#include <gtest/gtest.h>

#include "daemon/http/listen_address.h"
#include "daemon/http/server.h"

namespace replywatch::http {
namespace {

Request withQuery(std::string query) {
  Request r;
  r.query = std::move(query);
  return r;
}

TEST(Request, QueryParamDecodesPercentAndPlus) {
  auto r = withQuery("a=1&b=hello+world&c=%41%42&d&e=%2B%26%3D&f=caf%C3%A9");
  EXPECT_EQ(r.queryParam("a"), "1");
  EXPECT_EQ(r.queryParam("b"), "hello world");
  EXPECT_EQ(r.queryParam("c"), "AB");
  EXPECT_EQ(r.queryParam("d"), "");
  EXPECT_EQ(r.queryParam("e"), "+&=");
  EXPECT_EQ(r.queryParam("f"), "caf\xC3\xA9");
  EXPECT_EQ(r.queryParam("missing"), std::nullopt);
}

TEST(Request, QueryParamFirstOccurrenceWinsAndKeysAreDecoded) {
  auto r = withQuery("x=1&x=2&hub%2Emode=subscribe&my+key=v");
  EXPECT_EQ(r.queryParam("x"), "1");
  EXPECT_EQ(r.queryParam("hub.mode"), "subscribe");
  EXPECT_EQ(r.queryParam("my key"), "v");
}

TEST(Request, QueryParamKeepsInvalidEscapes) {
  auto r = withQuery("a=%zz&b=100%&c=%4");
  EXPECT_EQ(r.queryParam("a"), "%zz");
  EXPECT_EQ(r.queryParam("b"), "100%");
  EXPECT_EQ(r.queryParam("c"), "%4");
}

TEST(Request, QueryParamOnEmptyQuery) {
  EXPECT_EQ(withQuery("").queryParam("a"), std::nullopt);
  EXPECT_EQ(withQuery("&&").queryParam("a"), std::nullopt);
}

TEST(Request, HeaderIsCaseInsensitive) {
  Request r;
  r.headers = {{"Content-Type", "application/json"}, {"X-Hub-Signature-256", "sha256=ab"}};
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.header("X-HUB-SIGNATURE-256"), "sha256=ab");
  EXPECT_EQ(r.header("x-missing"), std::nullopt);
}

TEST(Response, ErrorIsShortJson) {
  auto r = Response::error(404, "not found");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, R"({"status":"error","error":"not found"})");
}

TEST(Response, ErrorEscapesItsMessage) {
  auto r = Response::error(400, "bad \"field\"\\\n\x01");
  EXPECT_EQ(r.body, R"({"status":"error","error":"bad \"field\"\\\n\u0001"})");
}

// A message echoing bytes that are not UTF-8 (a query value) stays valid JSON: each
// such byte becomes U+FFFD, well-formed sequences are kept.
TEST(Response, ErrorReplacesWhatIsNotUtf8) {
  const std::string kept = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x99\x82";
  EXPECT_EQ(Response::error(400, kept).body, R"({"status":"error","error":")" + kept + R"("})");
  const std::string replacement = "\xEF\xBF\xBD";
  for (const std::string bad : {"\xFF", "\xC3", "\x80", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80"}) {
    std::string expected = R"({"status":"error","error":"unknown account \")";
    for (std::size_t i = 0; i < bad.size(); ++i) expected += replacement;
    expected += R"(\""})";
    EXPECT_EQ(Response::error(400, "unknown account \"" + bad + "\"").body, expected);
  }
}

TEST(Response, JsonAndText) {
  auto j = Response::json(201, "{}");
  EXPECT_EQ(j.status, 201);
  EXPECT_EQ(j.content_type, "application/json");
  auto t = Response::text(200, "ok");
  EXPECT_EQ(t.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(t.body, "ok");
}

TEST(ListenAddress, Forms) {
  auto a = parseListenAddress("127.0.0.1:9488");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 9488);

  auto any = parseListenAddress(":9488");
  ASSERT_TRUE(any.ok());
  EXPECT_EQ(any->host, "");
  EXPECT_EQ(any->port, 9488);

  auto v6 = parseListenAddress("[::1]:0");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 0);

  auto name = parseListenAddress("localhost:80");
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(name->host, "localhost");
}

TEST(ListenAddress, Rejects) {
  for (const char* bad : {"", "9488", "host:", "host:port", "host:65536", "host:-1", "[::1]", "[::1]9488",
                          "[]:80", "::1:80", "host:80x"}) {
    auto r = parseListenAddress(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().reason, "listen_address");
    }
  }
}

}  // namespace
}  // namespace replywatch::http
