#include <gtest/gtest.h>
#include <zlib.h>

#include <memory>
#include <optional>
#include <string>

#include "daemon/http/compression.h"

namespace replywatch::http {
namespace {

// What a client does with the body: inflate the gzip member.
std::optional<std::string> gunzip(const std::string& data) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) return std::nullopt;
  std::string out;
  char buf[16384];
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END || z.avail_in != 0) return std::nullopt;
  return out;
}

std::string exposition(std::size_t lines) {
  std::string body = "# HELP replywatch_questions_total Question turns opened.\n";
  for (std::size_t i = 0; i < lines; ++i) {
    body += "replywatch_questions_total{account=\"acct-" + std::to_string(i) + "\",channel=\"x\"} " +
            std::to_string(i * 7) + "\n";
  }
  return body;
}

Request withAcceptEncoding(std::string value) {
  Request r;
  r.method = "GET";
  r.path = "/metrics";
  r.headers.emplace_back("Accept-Encoding", std::move(value));
  return r;
}

bool hasHeader(const Response& r, std::string_view name, std::string_view value) {
  for (const auto& [n, v] : r.headers) {
    if (n == name && v == value) return true;
  }
  return false;
}

TEST(AcceptsGzip, ReadsNamesAndQValues) {
  EXPECT_TRUE(acceptsGzip("gzip"));
  EXPECT_TRUE(acceptsGzip("identity, GZIP"));
  EXPECT_TRUE(acceptsGzip("br;q=1.0, gzip;q=0.8, *;q=0.1"));  // what Prometheus sends, give or take
  EXPECT_TRUE(acceptsGzip("x-gzip"));
  EXPECT_TRUE(acceptsGzip("*"));
  EXPECT_TRUE(acceptsGzip(" gzip ; q=0.001 "));
  EXPECT_FALSE(acceptsGzip(""));
  EXPECT_FALSE(acceptsGzip("identity"));
  EXPECT_FALSE(acceptsGzip("deflate, br"));
  EXPECT_FALSE(acceptsGzip("gzip;q=0"));
  EXPECT_FALSE(acceptsGzip("gzip;q=0.000"));
  EXPECT_FALSE(acceptsGzip("*, gzip;q=0"));  // named beats the wildcard
  EXPECT_FALSE(acceptsGzip("*;q=0"));
  EXPECT_FALSE(acceptsGzip("gzip;q=abc"));  // a q-value that is no number refuses
  EXPECT_FALSE(acceptsGzip("gzipped"));
}

TEST(GzipCompress, RoundTripsAndShrinksAnExposition) {
  const std::string body = exposition(5000);
  auto compressed = gzipCompress(body);
  ASSERT_TRUE(compressed);
  EXPECT_EQ(static_cast<unsigned char>((*compressed)[0]), 0x1f);  // gzip magic
  EXPECT_EQ(static_cast<unsigned char>((*compressed)[1]), 0x8b);
  EXPECT_LT(compressed->size() * 4, body.size());
  EXPECT_EQ(gunzip(*compressed), body);
  auto empty = gzipCompress("");
  ASSERT_TRUE(empty);
  EXPECT_EQ(gunzip(*empty), "");
}

TEST(GzipIfAccepted, CompressesWhenAskedAndLargeEnough) {
  Response r = Response::text(200, exposition(100));
  const std::string plain = r.body;
  gzipIfAccepted(withAcceptEncoding("gzip"), r);
  EXPECT_TRUE(hasHeader(r, "Content-Encoding", "gzip"));
  EXPECT_TRUE(hasHeader(r, "Vary", "Accept-Encoding"));
  EXPECT_EQ(gunzip(r.body), plain);

  // Repeated field lines are one list: gzip named on the second line is taken.
  Request twice = withAcceptEncoding("br");
  twice.headers.emplace_back("accept-encoding", "gzip");
  Response again = Response::text(200, plain);
  gzipIfAccepted(twice, again);
  EXPECT_TRUE(hasHeader(again, "Content-Encoding", "gzip"));
  EXPECT_EQ(gunzip(again.body), plain);
}

TEST(GzipIfAccepted, CompressesTheSharedTailAfterTheBody) {
  Response r = Response::text(200, "head part\n");
  const std::string tail = exposition(200);
  r.body_tail = std::make_shared<const std::string>(tail);
  gzipIfAccepted(withAcceptEncoding("gzip"), r);
  EXPECT_TRUE(hasHeader(r, "Content-Encoding", "gzip"));
  EXPECT_EQ(r.body_tail, nullptr);
  EXPECT_EQ(gunzip(r.body), "head part\n" + tail);
}

TEST(GzipWithDeflatedTail, DecompressesToHeadThenTail) {
  const std::string head = exposition(300);
  const std::string tail = exposition(2000).substr(40);
  auto deflated = deflateText(tail);
  ASSERT_TRUE(deflated);
  EXPECT_EQ(deflated->size, tail.size());
  for (const std::string& h : {head, std::string(), std::string("x")}) {
    auto member = gzipWithDeflatedTail(h, *deflated);
    ASSERT_TRUE(member);
    EXPECT_EQ(gunzip(*member), h + tail) << "head of " << h.size() << " bytes";
  }
  auto empty_tail = deflateText("");
  ASSERT_TRUE(empty_tail);
  auto member = gzipWithDeflatedTail(head, *empty_tail);
  ASSERT_TRUE(member);
  EXPECT_EQ(gunzip(*member), head);
}

TEST(DeflatedTailCache, DeflatesATextOnceAndAnotherTextAgain) {
  DeflatedTailCache cache;
  auto first = std::make_shared<const std::string>(exposition(500));
  auto a = cache.get(first);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(cache.get(first), a);  // the same object: not deflated again
  auto second = std::make_shared<const std::string>(exposition(600));
  auto b = cache.get(second);
  ASSERT_NE(b, nullptr);
  EXPECT_NE(b, a);
  EXPECT_EQ(b->size, second->size());
}

TEST(GzipIfAccepted, TakesTheTailFromTheCache) {
  DeflatedTailCache cache;
  auto tail = std::make_shared<const std::string>(exposition(400));
  for (int i = 0; i < 2; ++i) {
    Response r = Response::text(200, "scrape " + std::to_string(i) + "\n");
    r.body_tail = tail;
    gzipIfAccepted(withAcceptEncoding("gzip"), r, &cache);
    EXPECT_TRUE(hasHeader(r, "Content-Encoding", "gzip"));
    EXPECT_EQ(r.body_tail, nullptr);
    EXPECT_EQ(gunzip(r.body), "scrape " + std::to_string(i) + "\n" + *tail);
  }
}

TEST(GzipIfAccepted, LeavesTheBodyWhenNotAskedOrSmall) {
  Response r = Response::text(200, exposition(100));
  const std::string plain = r.body;
  gzipIfAccepted(withAcceptEncoding("identity"), r);
  EXPECT_EQ(r.body, plain);
  EXPECT_FALSE(hasHeader(r, "Content-Encoding", "gzip"));
  EXPECT_TRUE(hasHeader(r, "Vary", "Accept-Encoding"));

  Response none = Response::text(200, plain);
  gzipIfAccepted(Request{}, none);  // no Accept-Encoding at all
  EXPECT_EQ(none.body, plain);

  Response small = Response::text(200, std::string(kMinGzipBytes - 1, 'a'));
  gzipIfAccepted(withAcceptEncoding("gzip"), small);
  EXPECT_EQ(small.body, std::string(kMinGzipBytes - 1, 'a'));
  EXPECT_FALSE(hasHeader(small, "Content-Encoding", "gzip"));
}

}  // namespace
}  // namespace replywatch::http
