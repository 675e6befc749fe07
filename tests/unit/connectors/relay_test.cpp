// The `relay` source type: the record format (JSON, JSONL, CSV), webhook authentication
// (HMAC over the raw body, Standard Webhooks with its test vector, tolerance, replays),
// imports, and the settings validation.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "connectors/common/hmac.h"
#include "connectors/relay/relay_connector.h"
#include "connectors/relay/relay_format.h"
#include "connectors/relay/standard_webhooks.h"
#include "tests/unit/connectors/test_support.h"

namespace replywatch::connectors::relay {
namespace {

using testing::at;
using testing::makeSource;
using testing::RecordingSink;
using testing::TempDir;

std::filesystem::path relayFixture(const std::string& name) {
  return std::filesystem::path(REPLYWATCH_FIXTURES) / "relay" / name;
}

// Standard Webhooks: the published test vector.
constexpr const char* kVectorSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr const char* kVectorId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr const char* kVectorTimestamp = "1614265330";
constexpr const char* kVectorBody = R"({"test": 2432232314})";
constexpr const char* kVectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

const std::string kHmacSecret = "relay-hmac-secret";

struct RelayHarness {
  explicit RelayHarness(const std::string& extra = "")
      : source(makeSource("name: relays\ntype: relay\naccount: acme\nchannel: relay\nwebhook_secret: " +
                          kHmacSecret + "\nstandard_webhooks_secret: " + kVectorSecret + "\n" + extra)) {
    config::AccountConfig a;
    a.name = "acme";
    config.accounts.push_back(a);
    config.ingest.max_field_bytes = 1024;
    std::vector<config::Problem> problems;
    validate(source, problems);
    for (const auto& p : problems) ADD_FAILURE() << p.str();
    connector = findConnectorType("relay")->create(ConnectorContext{source, config, clock, health, sink});
  }

  WebhookResponse post(const std::string& body, std::vector<std::pair<std::string, std::string>> headers) {
    WebhookRequest r;
    r.method = "POST";
    r.path = "/webhooks/relays";
    r.body = body;
    r.headers = std::move(headers);
    r.remote = "127.0.0.1";
    return connector->handleWebhook(r);
  }
  WebhookResponse postHmac(const std::string& body, const std::string& secret = kHmacSecret) {
    return post(body, {{"X-Replywatch-Signature", "sha256=" + hmacSha256Hex(secret, body)}});
  }
  // A Standard Webhooks delivery signed now (clock) with the configured secret.
  WebhookResponse postStandard(const std::string& body, const std::string& id,
                               std::optional<Timestamp> signed_at = std::nullopt) {
    const std::string ts = std::to_string(toMillis(signed_at.value_or(clock.now())) / 1000);
    const std::string key = *standardWebhooksKey(kVectorSecret);
    return post(body, {{"webhook-id", id},
                       {"webhook-timestamp", ts},
                       {"webhook-signature", standardWebhooksSignature(key, id, ts, body)}});
  }

  config::Config config;
  config::SourceConfig source;
  ManualClock clock{at("2024-06-01T00:00:00Z")};
  SourceHealth health;
  RecordingSink sink;
  std::unique_ptr<Connector> connector;
};

const std::string kRecord =
    R"({"id": "E1", "question_ref": "m-17", "requested_at": "2024-05-31T09:00:00Z", "requested_by": "cm-agency", )"
    R"("relay": "billing"})";
const std::string kRecordAnswered =
    R"({"id": "E1", "question_ref": "m-17", "requested_at": "2024-05-31T09:00:00Z", "requested_by": "cm-agency", )"
    R"("relay": "billing", "answered_at": "2024-05-31T09:45:00Z"})";

TEST(StandardWebhooks, ReproducesThePublishedTestVector) {
  auto key = standardWebhooksKey(kVectorSecret);
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(standardWebhooksSignature(*key, kVectorId, kVectorTimestamp, kVectorBody), kVectorSignature);
  const Timestamp now = fromMillis(1614265330LL * 1000 + 120000);
  EXPECT_EQ(verifyStandardWebhooks(*key, kVectorId, kVectorTimestamp, kVectorSignature, kVectorBody, now,
                                   std::chrono::seconds{300}),
            SignatureCheck::Ok);
  // Several entries, one valid (a key rotation).
  EXPECT_EQ(verifyStandardWebhooks(*key, kVectorId, kVectorTimestamp,
                                   std::string("v1,bm9wZQ== ") + kVectorSignature, kVectorBody, now,
                                   std::chrono::seconds{300}),
            SignatureCheck::Ok);
  EXPECT_EQ(verifyStandardWebhooks(*key, kVectorId, kVectorTimestamp, kVectorSignature,
                                   R"({"test": 2432232315})", now, std::chrono::seconds{300}),
            SignatureCheck::Mismatch);
  EXPECT_EQ(verifyStandardWebhooks(*key, kVectorId, kVectorTimestamp, kVectorSignature, kVectorBody,
                                   now + std::chrono::minutes{4}, std::chrono::seconds{300}),
            SignatureCheck::OutsideTolerance);
  EXPECT_EQ(verifyStandardWebhooks(*key, kVectorId, kVectorTimestamp, kVectorSignature, kVectorBody,
                                   fromMillis(1614265330LL * 1000 - 301000), std::chrono::seconds{300}),
            SignatureCheck::OutsideTolerance);
  EXPECT_EQ(verifyStandardWebhooks(*key, kVectorId, "16142653x0", kVectorSignature, kVectorBody, now,
                                   std::chrono::seconds{300}),
            SignatureCheck::BadTimestamp);
  // Timestamps at the ends of the int64 range are far outside the window (no overflow
  // computing the distance from now).
  for (const char* extreme : {"-9223372036854775808", "9223372036854775807"}) {
    EXPECT_EQ(verifyStandardWebhooks(*key, kVectorId, extreme, kVectorSignature, kVectorBody, now,
                                     std::chrono::seconds{300}),
              SignatureCheck::OutsideTolerance);
  }
  EXPECT_EQ(verifyStandardWebhooks(*key, std::nullopt, kVectorTimestamp, kVectorSignature, kVectorBody, now,
                                   std::chrono::seconds{300}),
            SignatureCheck::MissingHeader);
  // A v2 entry with the right bytes is not a v1 signature.
  EXPECT_EQ(verifyStandardWebhooks(*key, kVectorId, kVectorTimestamp,
                                   "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", kVectorBody, now,
                                   std::chrono::seconds{300}),
            SignatureCheck::Mismatch);
}

TEST(StandardWebhooks, Secrets) {
  EXPECT_EQ(standardWebhooksKey("whsec_aGVsbA=="), std::optional<std::string>("hell"));
  EXPECT_FALSE(standardWebhooksKey("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").has_value());  // no prefix
  EXPECT_FALSE(standardWebhooksKey("whsec_").has_value());
  EXPECT_FALSE(standardWebhooksKey("whsec_not base64!").has_value());
}

TEST(RelayWebhook, HmacDeliveryIsStoredAndAnUpdateIsAnUpsert) {
  RelayHarness h;
  auto r = h.postHmac(kRecord);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(h.sink.escalations.size(), 1U);
  const Escalation& e = h.sink.escalations.at("E1");
  EXPECT_EQ(e.account, "acme");
  EXPECT_EQ(e.question_ref, "m-17");
  EXPECT_EQ(e.requested_at, at("2024-05-31T09:00:00Z"));
  EXPECT_EQ(e.requested_by, "cm-agency");
  EXPECT_EQ(e.relay, "billing");
  EXPECT_FALSE(e.answered_at.has_value());
  EXPECT_EQ(h.health.events(), 1U);

  r = h.postHmac(kRecord);  // a duplicate delivery changes nothing
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find(R"("duplicates":1)"), std::string::npos) << r.body;
  r = h.postHmac(kRecordAnswered);  // the relay answered
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(h.sink.escalations.at("E1").answered_at, at("2024-05-31T09:45:00Z"));
  EXPECT_EQ(h.health.events(), 2U);
}

TEST(RelayWebhook, WrongOrMissingSignatureIs401AndNothingIsStored) {
  RelayHarness h;
  EXPECT_EQ(h.postHmac(kRecord, "wrong-secret").status, 401);
  EXPECT_EQ(h.post(kRecord, {}).status, 401);
  EXPECT_EQ(h.post(kRecord, {{"X-Replywatch-Signature", "sha256=zz"}}).status, 401);
  // A Standard Webhooks delivery signed with another key.
  const std::string ts = std::to_string(toMillis(h.clock.now()) / 1000);
  EXPECT_EQ(
      h.post(kRecord, {{"webhook-id", "msg_1"},
                       {"webhook-timestamp", ts},
                       {"webhook-signature", standardWebhooksSignature("other-key", "msg_1", ts, kRecord)}})
          .status,
      401);
  // The body signed, then altered.
  auto signed_headers = std::vector<std::pair<std::string, std::string>>{
      {"X-Replywatch-Signature", "sha256=" + hmacSha256Hex(kHmacSecret, kRecord)}};
  EXPECT_EQ(h.post(kRecordAnswered, signed_headers).status, 401);
  EXPECT_TRUE(h.sink.escalations.empty());
  EXPECT_EQ(h.sink.calls, 0);
  EXPECT_EQ(h.health.errors(ErrorReason::Signature), 5U);
}

TEST(RelayWebhook, StandardWebhooksDeliveryAndReplay) {
  RelayHarness h;
  auto r = h.postStandard(kRecord, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(h.sink.escalations.size(), 1U);
  const int calls = h.sink.calls;

  // The same signed request again, a minute later (a retry whose response was lost, or
  // a replay): answered as stored, nothing stored again.
  h.clock.advance(std::chrono::minutes{1});
  const std::string ts = std::to_string(toMillis(h.clock.now() - std::chrono::minutes{1}) / 1000);
  const std::string key = *standardWebhooksKey(kVectorSecret);
  const std::vector<std::pair<std::string, std::string>> replay = {
      {"webhook-id", "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"},
      {"webhook-timestamp", ts},
      {"webhook-signature", standardWebhooksSignature(key, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", ts, kRecord)}};
  r = h.post(kRecord, replay);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"duplicate\":true"), std::string::npos) << r.body;
  EXPECT_EQ(h.sink.calls, calls);  // never reached the sink
  EXPECT_EQ(h.health.errors(ErrorReason::Signature), 0U);
  // Once out of the window, the same request fails the timestamp check instead.
  h.clock.advance(std::chrono::minutes{5});
  r = h.post(kRecord, replay);
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_NE(r.body.find("tolerance"), std::string::npos);
  EXPECT_EQ(h.sink.calls, calls);
  EXPECT_EQ(h.health.errors(ErrorReason::Signature), 1U);
}

// The timestamp check counts whole seconds: a replay half a second past the end of the
// window still passes it, so the id must still be known then.
TEST(RelayWebhook, AReplayAtTheLastAcceptedInstantIsStillKnown) {
  RelayHarness h;
  const Timestamp signed_at = h.clock.now();  // a whole second
  ASSERT_EQ(h.postStandard(kRecord, "msg_edge", signed_at).status, 200);
  h.clock.advance(std::chrono::minutes{5} + std::chrono::milliseconds{500});
  auto r = h.postStandard(kRecord, "msg_edge", signed_at);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(h.sink.calls, 1);
  h.clock.advance(std::chrono::milliseconds{500});
  r = h.postStandard(kRecord, "msg_edge", signed_at);
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_EQ(h.sink.escalations.size(), 1U);
}

// An id is claimed before the delivery is stored and given back when it is refused, so
// two copies sent at once are stored once and a refused delivery may come again; once
// stored, its copies are told so until the window ends.
TEST(RelayReplayGuard, ClaimsAnIdOnceUntilReleasedOrExpired) {
  using Claim = ReplayGuard::Claim;
  ReplayGuard guard(std::chrono::seconds{300});
  const Timestamp t0 = at("2024-06-01T00:00:00Z");
  EXPECT_EQ(guard.claim("a", t0, t0), Claim::New);
  EXPECT_EQ(guard.claim("a", t0, t0 + std::chrono::seconds{10}), Claim::InProgress);
  guard.release("a");
  EXPECT_EQ(guard.claim("a", t0, t0 + std::chrono::seconds{10}), Claim::New);
  guard.stored("a");
  EXPECT_EQ(guard.claim("a", t0, t0 + std::chrono::milliseconds{300'999}), Claim::Stored);
  EXPECT_EQ(guard.claim("a", t0, t0 + std::chrono::seconds{301}), Claim::New);  // out of the window
  // Concurrent claims of one id: exactly one wins.
  std::atomic<int> won{0};
  std::vector<std::thread> threads;
  threads.reserve(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] { won += guard.claim("b", t0, t0) == Claim::New ? 1 : 0; });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(won.load(), 1);
}

TEST(RelayWebhook, StoreFailureIs503AndTheDeliveryMayBeRetried) {
  RelayHarness h;
  h.sink.fail = true;
  auto r = h.postStandard(kRecord, "msg_retry");
  EXPECT_EQ(r.status, 503);
  EXPECT_FALSE(h.health.up());
  h.sink.fail = false;
  r = h.postStandard(kRecord, "msg_retry");  // not remembered: the retry is accepted
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(h.sink.escalations.size(), 1U);
}

TEST(RelayWebhook, MalformedBodiesAre400) {
  RelayHarness h;
  EXPECT_EQ(h.postHmac("{not json").status, 400);
  EXPECT_EQ(h.postHmac("42").status, 400);
  EXPECT_EQ(h.postHmac("[]").status, 400);
  auto r = h.postHmac(R"({"id": "E2", "requested_at": "2024-05-31T09:00:00Z"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("question_ref"), std::string::npos) << r.body;
  EXPECT_TRUE(h.sink.escalations.empty());
  EXPECT_EQ(h.health.errors(ErrorReason::MissingField), 1U);
  EXPECT_EQ(h.health.errors(ErrorReason::BadRequest), 3U);
}

TEST(RelayWebhook, ArrayWithABadRecordKeepsTheGoodOnes) {
  RelayHarness h;
  const std::string body = "[" + kRecord +
                           R"(, {"id": "E3", "question_ref": "m", "requested_at": "2999-01-01T00:00:00Z", )"
                           R"("requested_by": "x", "relay": "y"}])";
  auto r = h.postHmac(body);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("rejected":1)"), std::string::npos) << r.body;
  EXPECT_EQ(h.sink.escalations.size(), 1U);
  EXPECT_EQ(h.health.errors(ErrorReason::FutureTimestamp), 1U);
  EXPECT_NE(r.body.find("stored"), std::string::npos);
}

TEST(RelayWebhook, RejectionsNameTheRecordField) {
  RelayHarness h;
  auto r = h.postHmac(R"({"id": "E4", "question_ref": "m", "requested_at": "2999-01-01T00:00:00Z", )"
                      R"("requested_by": "x", "relay": "y"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("requested_at"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("created_at"), std::string::npos) << r.body;
}

TEST(RelayWebhook, HelpdeskEnvelopeIsUnwrapped) {
  RelayHarness h;
  auto r = h.postHmac(testing::readAll(relayFixture("helpdesk-event.json")));
  ASSERT_EQ(r.status, 200) << r.body;
  const Escalation& e = h.sink.escalations.at("ESC-1042");
  EXPECT_EQ(e.question_ref, "1796322114567012354");
  EXPECT_EQ(e.relay, "billing-team");
  EXPECT_EQ(e.answered_at, at("2024-05-31T10:38:30Z"));
}

TEST(RelayWebhook, OnlyPost) {
  RelayHarness h;
  WebhookRequest r;
  r.method = "GET";
  EXPECT_EQ(h.connector->handleWebhook(r).status, 405);
  EXPECT_EQ(h.health.errors(ErrorReason::BadRequest), 0u);
}

TEST(RelayImport, AgencyCsvLog) {
  RelayHarness h;
  auto stats = h.connector->importFile(relayFixture("agency-log.csv"), {});
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(stats->records, 6U);
  EXPECT_EQ(stats->stored, 3U);
  EXPECT_EQ(stats->rejected, 3U);
  EXPECT_EQ(h.sink.escalations.at("AG-2024-0002").relay, "Legal, Paris office");
  EXPECT_FALSE(h.sink.escalations.at("AG-2024-0002").answered_at.has_value());
  EXPECT_EQ(h.sink.escalations.at("AG-2024-0003").requested_at, at("2024-05-31T09:20:00Z"));
  EXPECT_EQ(h.sink.escalations.at("AG-2024-0003").answered_at, at("2024-05-31T10:02:00Z"));
  EXPECT_EQ(h.health.errors(ErrorReason::MissingField), 1U);
  EXPECT_EQ(h.health.errors(ErrorReason::InvalidTimestamp), 2U);
  // Imported again: nothing changes.
  stats = h.connector->importFile(relayFixture("agency-log.csv"), {});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->stored, 0U);
  EXPECT_EQ(stats->duplicates, 3U);
}

// The extension is compared without case: a log saved as .CSV is CSV.
TEST(RelayImport, UpperCaseCsvExtension) {
  EXPECT_EQ(formatFromPath("agency-log.CSV"), Format::Csv);
  EXPECT_EQ(formatFromPath("/var/log/Agency.Csv"), Format::Csv);
  EXPECT_EQ(formatFromPath("agency-log.csv"), Format::Csv);
  EXPECT_EQ(formatFromPath("agency-log.jsonl"), Format::Jsonl);
  EXPECT_EQ(formatFromPath("csv"), Format::Jsonl);
  RelayHarness h;
  TempDir dir;
  std::filesystem::copy_file(relayFixture("agency-log.csv"), dir.path() / "agency-log.CSV");
  auto stats = h.connector->importFile(dir.path() / "agency-log.CSV", {});
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(stats->records, 6U);
  EXPECT_EQ(stats->stored, 3U);
  EXPECT_EQ(h.health.errors(ErrorReason::ParseError), 0U);
}

TEST(RelayImport, AgencyJsonLines) {
  RelayHarness h;
  auto stats = h.connector->importFile(relayFixture("agency-log.jsonl"), {});
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(stats->records, 5U);
  EXPECT_EQ(stats->stored, 2U);
  EXPECT_EQ(stats->rejected, 3U);
  EXPECT_EQ(h.health.errors(ErrorReason::ParseError), 3U);
  EXPECT_FALSE(h.sink.escalations.at("AG-2024-0002").answered_at.has_value());
}

// A CSV written with ", " between names and values: names and values are read without
// their surrounding whitespace, and a line of spaces is a blank line. JSON values too.
TEST(RelayImport, PaddedValuesAreTrimmed) {
  RelayHarness h;
  TempDir dir;
  testing::writeAll(dir.path() / "padded.csv",
                    "id, question_ref, requested_at, requested_by, relay, answered_at\n"
                    "AG-1, 4002 , 2024-05-31T09:12:00Z, cm-agency, billing ,\" \"\n"
                    "   \n"
                    "AG-2,\t4003, 2024-05-31T09:20:00Z , cm-agency, legal, 2024-05-31T10:02:00Z\n"
                    " \t\n"
                    "AG-3, , 2024-05-31T09:30:00Z, cm-agency, legal,\n");
  auto stats = h.connector->importFile(dir.path() / "padded.csv", {});
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(stats->records, 3U);
  EXPECT_EQ(stats->stored, 2U);
  EXPECT_EQ(stats->rejected, 1U);
  EXPECT_EQ(h.health.errors(ErrorReason::MissingField), 1U);  // AG-3's question_ref is blank
  const Escalation& first = h.sink.escalations.at("AG-1");
  EXPECT_EQ(first.question_ref, "4002");
  EXPECT_EQ(first.requested_by, "cm-agency");
  EXPECT_EQ(first.relay, "billing");
  EXPECT_FALSE(first.answered_at.has_value());
  const Escalation& second = h.sink.escalations.at("AG-2");
  EXPECT_EQ(second.question_ref, "4003");
  EXPECT_EQ(second.requested_at, at("2024-05-31T09:20:00Z"));
  EXPECT_EQ(second.answered_at, at("2024-05-31T10:02:00Z"));

  testing::writeAll(dir.path() / "padded.jsonl",
                    R"({"id": " AG-4", "question_ref": "4004 ", "requested_at": " 2024-05-31T09:40:00Z", )"
                    R"("requested_by": "cm-agency", "relay": "billing", "answered_at": " "})"
                    "\n");
  stats = h.connector->importFile(dir.path() / "padded.jsonl", {});
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(stats->stored, 1U);
  EXPECT_EQ(h.sink.escalations.at("AG-4").question_ref, "4004");
  EXPECT_FALSE(h.sink.escalations.at("AG-4").answered_at.has_value());
}

// Classic Mac OS line ends: a lone CR ends a line, inside quotes too, so a refused row
// is reported on its own line.
TEST(RelayImport, LineNumbersCountLoneCarriageReturns) {
  RelayHarness h;
  const MessageValidator validator(h.config.ingest, h.clock);
  const RecordChecker checker(h.config, h.source, validator);
  auto parsed = checker.parseFile(
      "id,question_ref,requested_at,requested_by,relay\r"
      "E1,q1,2024-05-31T09:00:00Z,cm-agency,\"two\rlines\"\r"
      "E2,,2024-05-31T09:00:00Z,cm-agency,billing\r\n"
      "E3,q3,2024-05-31T09:00:00Z,cm-agency,\"crlf\r\nhere\"\r"
      "E4,,2024-05-31T09:00:00Z,cm-agency,billing\r",
      Format::Csv);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  ASSERT_EQ(parsed->size(), 4U);
  EXPECT_EQ((*parsed)[0].line, 2U);
  EXPECT_EQ((*parsed)[1].line, 4U);
  EXPECT_FALSE((*parsed)[1].escalation.has_value());
  EXPECT_EQ((*parsed)[2].line, 5U);
  EXPECT_EQ((*parsed)[3].line, 7U);
  EXPECT_FALSE((*parsed)[3].escalation.has_value());
}

TEST(RelayImport, UnusableFilesAreRefusedWhole) {
  RelayHarness h;
  TempDir dir;
  testing::writeAll(dir.path() / "bad.csv",
                    "id,question_ref,requested_at,requested_by,relay,colour\n1,2,3,4,5,6\n");
  auto stats = h.connector->importFile(dir.path() / "bad.csv", {});
  ASSERT_FALSE(stats.ok());
  EXPECT_NE(stats.error().message.find("colour"), std::string::npos);
  testing::writeAll(dir.path() / "short.csv", "id,question_ref\n1,2\n");
  EXPECT_FALSE(h.connector->importFile(dir.path() / "short.csv", {}).ok());
  testing::writeAll(dir.path() / "open.csv", "id,question_ref,requested_at,requested_by,relay\n\"1,2\n");
  EXPECT_FALSE(h.connector->importFile(dir.path() / "open.csv", {}).ok());
  EXPECT_FALSE(h.connector->importFile(dir.path() / "missing.csv", {}).ok());
  EXPECT_TRUE(h.sink.escalations.empty());
}

TEST(RelaySettings, ValidationMessages) {
  std::vector<config::Problem> problems;
  validate(makeSource("name: r\ntype: relay\naccount: acme\nchannel: relay\nstandard_webhooks_secret: nope\n"
                      "standard_webhooks_tolerance: 0s\nsignature_header: \"\"\nwebhok_secret: x\n"),
           problems);
  std::string all;
  for (const auto& p : problems) all += p.str() + "\n";
  EXPECT_NE(all.find("whsec_"), std::string::npos) << all;
  EXPECT_NE(all.find("standard_webhooks_tolerance"), std::string::npos) << all;
  EXPECT_NE(all.find("signature_header"), std::string::npos) << all;
  EXPECT_NE(all.find("webhok_secret"), std::string::npos) << all;
  EXPECT_EQ(all.find("nope"), std::string::npos) << "a secret value leaked: " << all;

  problems.clear();
  validate(makeSource("name: r\ntype: relay\naccount: acme\nchannel: relay\n"), problems);
  EXPECT_TRUE(problems.empty());
}

TEST(RelaySettings, NoSecretMeansNoWebhooks) {
  config::Config config;
  auto source = makeSource("name: r\ntype: relay\naccount: acme\nchannel: relay\n");
  ManualClock clock{at("2024-06-01T00:00:00Z")};
  SourceHealth health;
  RecordingSink sink;
  auto connector = findConnectorType("relay")->create(ConnectorContext{source, config, clock, health, sink});
  WebhookRequest r;
  r.method = "POST";
  r.body = kRecord;
  EXPECT_EQ(connector->handleWebhook(r).status, 404);
}

}  // namespace
}  // namespace replywatch::connectors::relay
