// The input limits every connector applies: JSON nesting depth (connectors/common/limits.h,
// one parser for all) and entries per webhook delivery (max_delivery_entries). For each
// connector: a payload one level too deep is refused with the depth message and nothing is
// stored; exactly at the limit it is accepted; a very deep one (100,000 '[') neither
// crashes nor overflows the stack; a delivery over the entries limit is refused whole with
// 413, at the limit it is accepted.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

#include "connectors/common/hmac.h"
#include "connectors/common/limits.h"
#include "connectors/discourse/discourse_parse.h"
#include "connectors/export/export_format.h"
#include "connectors/mastodon/mastodon_parse.h"
#include "connectors/meta/meta_payload.h"
#include "connectors/relay/relay_connector.h"
#include "connectors/x/x_api.h"
#include "tests/unit/connectors/meta_test_support.h"
#include "tests/unit/connectors/social_support.h"
#include "tests/unit/connectors/test_support.h"

namespace replywatch::connectors {
namespace {

using testing::bodyOf;
using testing::jsonFixture;

// `levels` nested arrays: "[[...]]".
std::string nested(int levels) {
  return std::string(static_cast<std::size_t>(levels), '[') +
         std::string(static_cast<std::size_t>(levels), ']');
}

// `object` (a JSON object's text) with a first member "pad" holding `levels` nested
// arrays, so the document nests 1 + levels deep.
std::string padded(const std::string& object, int levels) {
  return "{\"pad\":" + nested(levels) + "," + object.substr(1);
}

// 100,000 unclosed '[': deeper than any stack would take if parsed recursively.
const std::string kVeryDeep(100000, '[');
// The same depth, balanced, inside an object member.
const std::string kVeryDeepBalanced = "{\"pad\":" + nested(100000) + "}";

constexpr int kAtLimit = kMaxJsonDepth - 1;  // padding levels that make the document kMaxJsonDepth deep
constexpr int kOver = kMaxJsonDepth;         // one more

// --------------------------------------------------------------------------- the parser

TEST(JsonDepth, TheLimitIsSixtyFourLevels) {
  EXPECT_EQ(kMaxJsonDepth, 64);
  EXPECT_EQ(kJsonTooDeepMessage, "JSON nested deeper than 64 levels");
  auto at = parseJson(nested(64), "parse_error");
  ASSERT_TRUE(at) << at.error().message;
  EXPECT_TRUE(at->is_array());
  auto over = parseJson(nested(65), "bad_request");
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().reason, "bad_request");
  EXPECT_EQ(over.error().message, kJsonTooDeepMessage);
  // Objects count like arrays, mixed with them.
  std::string objects;
  for (int i = 0; i < 64; ++i) objects += i % 2 == 0 ? "{\"a\":" : "[";
  objects += "1";
  for (int i = 63; i >= 0; --i) objects += i % 2 == 0 ? "}" : "]";
  EXPECT_TRUE(parseJson(objects, "parse_error"));
  EXPECT_FALSE(parseJson("[" + objects + "]", "parse_error"));
  // Scalars do not add a level.
  EXPECT_TRUE(parseJson("[" + std::string(62, '[') + "\"x\"" + std::string(62, ']') + "]", "parse_error"));
}

TEST(JsonDepth, VeryDeepInputIsRefusedWithoutRecursion) {
  for (const std::string& text : {kVeryDeep, kVeryDeepBalanced, "{\"a\":" + kVeryDeep}) {
    auto r = parseJson(text, "parse_error");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, kJsonTooDeepMessage);
  }
  EXPECT_TRUE(parseJsonOrNull(kVeryDeepBalanced).is_null());
}

// The depth is counted on the raw text before parsing: brackets inside strings, escaped
// quotes included, do not count, and stray closers do not lower the count below zero.
TEST(JsonDepth, BracketsInStringsDoNotCount) {
  const std::string brackets(200, '[');
  auto in_string = parseJson("[\"" + brackets + "\"]", "parse_error");
  ASSERT_TRUE(in_string) << in_string.error().message;
  EXPECT_EQ((*in_string)[0], brackets);
  auto escaped = parseJson("{\"a\":\"\\\"" + brackets + "\\\\\",\"b\":" + nested(63) + "}", "parse_error");
  ASSERT_TRUE(escaped) << escaped.error().message;
  EXPECT_FALSE(parseJson("{\"a\":\"\\\"\",\"b\":" + nested(64) + "}", "parse_error"));
  // Invalid JSON with more closers than openers is invalid, not too deep.
  auto closers = parseJson("]]]]" + nested(64), "parse_error", "invalid");
  ASSERT_FALSE(closers);
  EXPECT_EQ(closers.error().message, "invalid");
  // An array of many small objects (the shape a flood of empty entries takes) parses.
  std::string many = "[";
  for (int i = 0; i < 100'000; ++i) many += i == 0 ? "{}" : ",{}";
  auto parsed = parseJson(many + "]", "parse_error");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->size(), 100'000U);
}

TEST(JsonDepth, InvalidJsonKeepsItsOwnMessage) {
  auto r = parseJson("{\"a\":", "parse_error", "the page is not valid JSON");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "the page is not valid JSON");
  EXPECT_TRUE(parseJsonOrNull("{\"a\":").is_null());
  EXPECT_EQ(parseJsonOrNull("{\"a\":1}")["a"], 1);
}

TEST(DeliveryEntries, SourceSettingOverridesTheIngestDefault) {
  config::Config config;
  config::SourceConfig source;
  EXPECT_EQ(maxDeliveryEntries(config, source), 1000u);
  config.ingest.max_delivery_entries = 10;
  EXPECT_EQ(maxDeliveryEntries(config, source), 10u);
  source.max_delivery_entries = 3;
  EXPECT_EQ(maxDeliveryEntries(config, source), 3u);
  const Error e = tooManyEntries(3, "records");
  EXPECT_EQ(e.reason, "too_many_entries");
  EXPECT_EQ(e.message,
            "the delivery holds more than 3 records (max_delivery_entries); send them in smaller deliveries");
}

// ----------------------------------------------------------------------------- export

namespace exportlimits {

constexpr const char* kSecret = "export-limits-secret";
const char* const kYaml =
    "name: acme-hook\ntype: export\naccount: acme\nwebhook_secret: export-limits-secret\n";

WebhookRequest signedPost(std::string body) {
  WebhookRequest r;
  r.method = "POST";
  r.path = "/webhooks/acme-hook";
  r.remote = "127.0.0.1";
  r.headers.emplace_back("Content-Type", "application/x-ndjson");
  r.headers.emplace_back("x-replywatch-signature", "sha256=" + hmacSha256Hex(kSecret, body));
  r.body = std::move(body);
  return r;
}

std::string record(int n) {
  return "{\"id\":\"m" + std::to_string(n) +
         "\",\"author_id\":\"u1\",\"created_at\":\"2024-05-30T10:00:00Z\",\"text\":\"Bonjour ?\"}";
}

std::string lines(int count) {
  std::string body;
  for (int i = 0; i < count; ++i) body += record(i) + "\n";
  return body;
}

TEST(ExportLimits, RecordOneLevelTooDeepIsRefusedAtTheLimitAccepted) {
  testing::Harness h(kYaml);
  auto over = h.connector->handleWebhook(signedPost(padded(record(1), kOver) + "\n"));
  EXPECT_EQ(over.status, 400);
  EXPECT_EQ(bodyOf(over)["error"], "line 1: JSON nested deeper than 64 levels");
  EXPECT_EQ(h.sink.stored.size(), 0u);
  EXPECT_EQ(h.health.errors(ErrorReason::ParseError), 1u);

  auto at = h.connector->handleWebhook(signedPost(padded(record(2), kAtLimit) + "\n"));
  ASSERT_EQ(at.status, 200) << at.body;
  ASSERT_EQ(h.sink.stored.size(), 1u);
  EXPECT_EQ(h.sink.stored[0].id, "m2");
  // A deep record is one rejected line: the others of the body are kept.
  auto mixed = h.connector->handleWebhook(signedPost(record(3) + "\n" + padded(record(4), kOver) + "\n"));
  ASSERT_EQ(mixed.status, 200) << mixed.body;
  EXPECT_EQ(bodyOf(mixed)["rejected"], 1);
  EXPECT_NE(h.sink.find("m3"), nullptr);
  EXPECT_EQ(h.sink.find("m4"), nullptr);
}

TEST(ExportLimits, VeryDeepLinesAndArraysDoNotCrash) {
  testing::Harness h(kYaml);
  for (const std::string& body :
       {kVeryDeep, kVeryDeepBalanced, "[" + kVeryDeepBalanced + "]", "[" + kVeryDeep}) {
    auto r = h.connector->handleWebhook(signedPost(body));
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_NE(bodyOf(r)["error"].get<std::string>().find("JSON nested deeper than 64 levels"),
              std::string::npos)
        << r.body;
  }
  EXPECT_EQ(h.sink.calls, 0);
}

TEST(ExportLimits, ArrayElementsCountTheArrayAsALevel) {
  using exportfmt::Format;
  using exportfmt::Input;
  using exportfmt::Reader;
  config::IngestConfig ingest;
  ManualClock clock(testing::at("2024-06-01T00:00:00Z"));
  MessageValidator validator(ingest, clock);
  auto read = [&](const std::string& text) {
    Reader reader(Input::fromMemory(text), Format::Jsonl, validator);
    EXPECT_TRUE(reader.start());
    Message m;
    auto status = reader.next(m);
    return std::make_pair(status, status == Reader::Status::Rejected ? reader.problem().rejection.message
                                  : status == Reader::Status::Failed ? reader.failure().message
                                                                     : "");
  };
  // The array is level 1, the record level 2: 62 padding levels reach 64.
  EXPECT_EQ(read("[" + padded(record(1), kAtLimit - 1) + "]").first, Reader::Status::Message);
  auto over = read("[" + padded(record(1), kAtLimit) + "]");
  // Nothing after it in the array can be read.
  EXPECT_EQ(over.first, Reader::Status::Failed);
  EXPECT_EQ(over.second, "line 1: JSON nested deeper than 64 levels (nothing after it can be read)");
  // A field holding a deep value is checked the same way.
  auto field = read("{\"id\":" + nested(kOver) + "}\n");
  EXPECT_EQ(field.first, Reader::Status::Rejected);
  EXPECT_EQ(field.second, "JSON nested deeper than 64 levels");
}

TEST(ExportLimits, DeliveryOverTheEntriesLimitIsRefusedWhole) {
  testing::Harness h(kYaml);
  h.config.ingest.max_delivery_entries = 5;
  auto over = h.connector->handleWebhook(signedPost(lines(6)));
  EXPECT_EQ(over.status, 413);
  EXPECT_EQ(bodyOf(over)["error"],
            "the delivery holds more than 5 records (max_delivery_entries); send them in smaller deliveries");
  EXPECT_EQ(h.sink.calls, 0);
  EXPECT_EQ(h.health.errors(ErrorReason::TooManyEntries), 1u);
  // Rejected records count too, and are not counted as rejections of a refused delivery.
  auto bad = h.connector->handleWebhook(signedPost(lines(4) + "{}\n{}\n"));
  EXPECT_EQ(bad.status, 413);
  EXPECT_EQ(h.health.errors(ErrorReason::MissingField), 0u);
  EXPECT_EQ(h.health.errors(ErrorReason::TooManyEntries), 2u);
  EXPECT_EQ(h.sink.calls, 0);

  auto at = h.connector->handleWebhook(signedPost(lines(5)));
  ASSERT_EQ(at.status, 200) << at.body;
  EXPECT_EQ(bodyOf(at)["stored"], 5);
  // The source's own setting wins over the ingest-wide one.
  h.source.max_delivery_entries = 6;
  EXPECT_EQ(h.connector->handleWebhook(signedPost(lines(6))).status, 200);
  EXPECT_EQ(h.connector->handleWebhook(signedPost(lines(7))).status, 413);
}

}  // namespace exportlimits

// ------------------------------------------------------------------------------- meta

namespace metalimits {

using meta::testing::MetaHarness;
using meta::testing::sourceYaml;

// A feed comment change for comment `n`.
nlohmann::json change(int n) {
  return {{"field", "feed"},
          {"value",
           {{"item", "comment"},
            {"verb", "add"},
            {"comment_id", "901097836652708_" + std::to_string(1000 + n)},
            {"post_id", "1234567890321_901097836652708"},
            {"parent_id", "1234567890321_901097836652708"},
            {"from", {{"id", "55" + std::to_string(n)}, {"name", "Visitor"}}},
            {"created_time", 1717000000},
            {"message", "Bonjour ?"}}}};
}

// A Page webhook body with `per_entry` changes in each of `entries` entries.
std::string body(int entries, int per_entry) {
  nlohmann::json doc{{"object", "page"}, {"entry", nlohmann::json::array()}};
  int n = 0;
  for (int e = 0; e < entries; ++e) {
    nlohmann::json list = nlohmann::json::array();
    for (int c = 0; c < per_entry; ++c) list.push_back(change(n++));
    doc["entry"].push_back({{"id", meta::testing::kPageId}, {"time", 1717000000}, {"changes", list}});
  }
  return doc.dump();
}

TEST(MetaLimits, BodyOneLevelTooDeepIsRefusedAtTheLimitAccepted) {
  MetaHarness h(sourceYaml());
  auto over = h.postSigned(padded(body(1, 1), kOver));
  EXPECT_EQ(over.status, 400);
  EXPECT_EQ(bodyOf(over)["error"], "JSON nested deeper than 64 levels");
  EXPECT_EQ(h.sink.calls, 0);
  EXPECT_EQ(h.health.errors(ErrorReason::BadRequest), 1u);
  auto at = h.postSigned(padded(body(1, 1), kAtLimit));
  ASSERT_EQ(at.status, 200) << at.body;
  EXPECT_EQ(h.sink.stored.size(), 1u);
  for (const std::string& deep : {kVeryDeep, kVeryDeepBalanced}) EXPECT_EQ(h.postSigned(deep).status, 400);
  EXPECT_EQ(h.sink.stored.size(), 1u);
}

TEST(MetaLimits, GraphPagesAreDepthLimitedToo) {
  meta::ParseOptions options;
  const std::string page = R"({"data":[]})";
  EXPECT_TRUE(meta::parseFeedPage(padded(page, kAtLimit), options));
  auto over = meta::parseFeedPage(padded(page, kOver), options);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().message, "JSON nested deeper than 64 levels");
  EXPECT_FALSE(meta::parseCommentsPage(kVeryDeep, options, "1", ""));
  EXPECT_FALSE(meta::parseGraphError(kVeryDeepBalanced));
}

TEST(MetaLimits, ChangesOverTheLimitAreRefusedWhole) {
  MetaHarness h(sourceYaml());
  h.config.ingest.max_delivery_entries = 4;
  auto over = h.postSigned(body(1, 5));
  EXPECT_EQ(over.status, 413);
  EXPECT_EQ(bodyOf(over)["error"],
            "the delivery holds more than 4 changes (max_delivery_entries); send them in smaller deliveries");
  // Five changes over two entries: entry[] x changes[] is what counts.
  auto split = h.postSigned([] {
    auto doc = nlohmann::json::parse(body(2, 3));
    doc["entry"][1]["changes"].erase(0);
    return doc.dump();
  }());
  EXPECT_EQ(split.status, 413);
  EXPECT_EQ(h.sink.calls, 0);
  EXPECT_EQ(h.health.errors(ErrorReason::TooManyEntries), 2u);
  EXPECT_EQ(h.health.errors(ErrorReason::BadRequest), 0u);

  auto at = h.postSigned(body(2, 2));
  ASSERT_EQ(at.status, 200) << at.body;
  EXPECT_EQ(bodyOf(at)["stored"], 4);
}

}  // namespace metalimits

// --------------------------------------------------------------------------- mastodon

namespace mastodonlimits {

constexpr const char* kSecret = "mastodon-hook-secret";
const std::string kYaml =
    "name: social\ntype: mastodon\naccount: acme\nchannel: mastodon\nbrand_account: mastodonpy_test_2\n"
    "brand_account_id: \"117020566092212359\"\nwebhook_secret: mastodon-hook-secret\n";

WebhookRequest signedPost(const std::string& body) {
  return testing::webhookPost(body, {{"X-Hub-Signature", "sha256=" + hmacSha256Hex(kSecret, body)}});
}

std::string envelope() {
  return nlohmann::json{{"event", "status.created"},
                        {"created_at", "2026-08-01T13:59:00.000Z"},
                        {"object", jsonFixture("mastodon", "status_reply.json")}}
      .dump();
}

TEST(MastodonLimits, WebhookOneLevelTooDeepIsRefusedAtTheLimitAccepted) {
  testing::TypedHarness h(kYaml, "2026-08-01T14:00:00Z");
  auto over = h.connector->handleWebhook(signedPost(padded(envelope(), kOver)));
  EXPECT_EQ(over.status, 400);
  EXPECT_EQ(bodyOf(over)["error"], "JSON nested deeper than 64 levels");
  for (const std::string& deep : {kVeryDeep, kVeryDeepBalanced})
    EXPECT_EQ(h.connector->handleWebhook(signedPost(deep)).status, 400);
  EXPECT_EQ(h.sink.calls, 0);
  EXPECT_EQ(h.health.errors(ErrorReason::BadRequest), 3u);
  // One status per delivery: within any entries limit, even 1.
  h.config.ingest.max_delivery_entries = 1;
  auto at = h.connector->handleWebhook(signedPost(padded(envelope(), kAtLimit)));
  ASSERT_EQ(at.status, 200) << at.body;
  EXPECT_EQ(h.sink.stored.size(), 1u);
}

TEST(MastodonLimits, PolledPagesAreDepthLimited) {
  auto page = "[" + jsonFixture("mastodon", "status_reply.json").dump() + "]";
  // The array is level 1: pad the status inside it.
  auto status = jsonFixture("mastodon", "status_reply.json").dump();
  EXPECT_TRUE(mastodon::parseStatusPage("[" + padded(status, kAtLimit - 1) + "]"));
  auto over = mastodon::parseStatusPage("[" + padded(status, kAtLimit) + "]");
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().message, "JSON nested deeper than 64 levels");
  EXPECT_FALSE(mastodon::parseNotificationPage(kVeryDeep));
  EXPECT_FALSE(mastodon::parseContextAncestors(kVeryDeepBalanced));
  EXPECT_TRUE(mastodon::parseStatusPage(page));
}

}  // namespace mastodonlimits

// -------------------------------------------------------------------------- discourse

namespace discourselimits {

constexpr const char* kSecret = "my_lovely_secret_for_web_hook";
const std::string kYaml =
    "name: forum\ntype: discourse\naccount: acme\nchannel: discourse\n"
    "webhook_secret: my_lovely_secret_for_web_hook\n";

WebhookRequest signedPost(const std::string& body) {
  return testing::webhookPost(body,
                              {{"X-Discourse-Event", "post_created"},
                               {"X-Discourse-Event-Signature", "sha256=" + hmacSha256Hex(kSecret, body)}});
}

TEST(DiscourseLimits, WebhookOneLevelTooDeepIsRefusedAtTheLimitAccepted) {
  testing::TypedHarness h(kYaml, "2023-02-12T00:00:00Z");
  const std::string post = jsonFixture("discourse", "webhook_post_created.json")["webhook_body"].dump();
  auto over = h.connector->handleWebhook(signedPost(padded(post, kOver)));
  EXPECT_EQ(over.status, 400);
  EXPECT_EQ(bodyOf(over)["error"], "JSON nested deeper than 64 levels");
  for (const std::string& deep : {kVeryDeep, kVeryDeepBalanced})
    EXPECT_EQ(h.connector->handleWebhook(signedPost(deep)).status, 400);
  EXPECT_EQ(h.sink.calls, 0);
  EXPECT_EQ(h.health.errors(ErrorReason::BadRequest), 3u);
  h.config.ingest.max_delivery_entries = 1;
  auto at = h.connector->handleWebhook(signedPost(padded(post, kAtLimit)));
  ASSERT_EQ(at.status, 200) << at.body;
  EXPECT_EQ(h.sink.stored.size(), 1u);
}

TEST(DiscourseLimits, PolledPagesAreDepthLimited) {
  const std::string latest = R"({"latest_posts":[]})";
  EXPECT_TRUE(discourse::parseLatestPosts(padded(latest, kAtLimit)));
  auto over = discourse::parseLatestPosts(padded(latest, kOver));
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().message, "JSON nested deeper than 64 levels");
  EXPECT_FALSE(discourse::parseTopicPosts(kVeryDeep));
}

}  // namespace discourselimits

// ------------------------------------------------------------------------------ relay

namespace relaylimits {

const std::string kHmacSecret = "relay-hmac-secret";

struct RelayHarness {
  RelayHarness()
      : source(testing::makeSource(
            "name: relays\ntype: relay\naccount: acme\nchannel: relay\nwebhook_secret: " + kHmacSecret +
            "\n")) {
    config::AccountConfig a;
    a.name = "acme";
    config.accounts.push_back(a);
    connector = findConnectorType("relay")->create(ConnectorContext{source, config, clock, health, sink});
  }
  WebhookResponse post(const std::string& body) {
    WebhookRequest r;
    r.method = "POST";
    r.path = "/webhooks/relays";
    r.body = body;
    r.remote = "127.0.0.1";
    r.headers.emplace_back("X-Replywatch-Signature", "sha256=" + hmacSha256Hex(kHmacSecret, body));
    return connector->handleWebhook(r);
  }

  config::Config config;
  config::SourceConfig source;
  ManualClock clock{testing::at("2024-06-01T00:00:00Z")};
  SourceHealth health;
  testing::RecordingSink sink;
  std::unique_ptr<Connector> connector;
};

std::string record(int n) {
  return R"({"id":"E)" + std::to_string(n) +
         R"(","question_ref":"m-17","requested_at":"2024-05-31T09:00:00Z","requested_by":"cm-agency","relay":"billing"})";
}

std::string array(int count) {
  std::string body = "[";
  for (int i = 0; i < count; ++i) body += (i == 0 ? "" : ",") + record(i);
  return body + "]";
}

TEST(RelayLimits, BodyOneLevelTooDeepIsRefusedAtTheLimitAccepted) {
  RelayHarness h;
  auto over = h.post(padded(record(1), kOver));
  EXPECT_EQ(over.status, 400);
  EXPECT_EQ(bodyOf(over)["error"], "JSON nested deeper than 64 levels");
  for (const std::string& deep : {kVeryDeep, kVeryDeepBalanced}) EXPECT_EQ(h.post(deep).status, 400);
  EXPECT_EQ(h.sink.calls, 0);
  EXPECT_EQ(h.health.errors(ErrorReason::BadRequest), 3u);
  auto at = h.post(padded(record(1), kAtLimit));
  ASSERT_EQ(at.status, 200) << at.body;
  EXPECT_EQ(h.sink.escalations.size(), 1u);
}

TEST(RelayLimits, RecordsOverTheLimitAreRefusedWhole) {
  RelayHarness h;
  h.config.ingest.max_delivery_entries = 3;
  auto over = h.post(array(4));
  EXPECT_EQ(over.status, 413);
  EXPECT_EQ(bodyOf(over)["error"],
            "the delivery holds more than 3 records (max_delivery_entries); send them in smaller deliveries");
  EXPECT_EQ(h.sink.calls, 0);
  EXPECT_EQ(h.health.errors(ErrorReason::TooManyEntries), 1u);
  auto at = h.post(array(3));
  ASSERT_EQ(at.status, 200) << at.body;
  EXPECT_EQ(h.sink.escalations.size(), 3u);
}

TEST(RelayLimits, FilesAreDepthLimited) {
  RelayHarness h;
  testing::TempDir dir;
  // A deep JSONL line is one rejected record; the others are imported.
  const auto lines = dir.path() / "records.jsonl";
  testing::writeAll(lines, record(1) + "\n" + padded(record(2), kOver) + "\n" + kVeryDeep + "\n" +
                               padded(record(3), kAtLimit) + "\n");
  auto stats = h.connector->importFile(lines, {});
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_EQ(stats->records, 4u);
  EXPECT_EQ(stats->rejected, 2u);
  EXPECT_EQ(h.sink.escalations.size(), 2u);
  EXPECT_EQ(h.sink.escalations.count("E2"), 0u);
  // A JSON array file nested too deeply is refused whole (files are not deliveries: no
  // entries limit).
  const auto deep = dir.path() / "deep.json";
  testing::writeAll(deep, "[" + kVeryDeepBalanced + "]");
  auto refused = h.connector->importFile(deep, {});
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("JSON nested deeper than 64 levels"), std::string::npos);
}

}  // namespace relaylimits

// ---------------------------------------------------------------------------------- x

TEST(XLimits, ApiPagesAreDepthLimited) {
  config::IngestConfig ingest;
  ManualClock clock(testing::at("2024-06-01T00:00:00Z"));
  MessageValidator validator(ingest, clock);
  const std::string page = R"({"data":[],"meta":{"result_count":0}})";
  EXPECT_TRUE(x::parsePage(padded(page, kAtLimit), "42", validator, clock.now()));
  auto over = x::parsePage(padded(page, kOver), "42", validator, clock.now());
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().reason, "parse_error");
  EXPECT_EQ(over.error().message, "JSON nested deeper than 64 levels");
  EXPECT_FALSE(x::parsePage(kVeryDeep, "42", validator, clock.now()));
}

}  // namespace
}  // namespace replywatch::connectors
