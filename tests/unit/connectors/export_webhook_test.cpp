#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "connectors/common/hmac.h"
#include "connectors/export/export_connector.h"
#include "tests/unit/connectors/test_support.h"

namespace replywatch::connectors::exportfmt {
namespace {

constexpr const char* kSecret = "my_lovely_secret_for_web_hook";
const char* const kYaml =
    "name: acme-hook\ntype: export\naccount: acme\nwebhook_secret: my_lovely_secret_for_web_hook\n";

WebhookRequest post(std::string body, std::optional<std::string> signature) {
  WebhookRequest r;
  r.method = "POST";
  r.path = "/webhooks/acme-hook";
  r.remote = "127.0.0.1";
  r.body = std::move(body);
  r.headers.emplace_back("Content-Type", "application/x-ndjson");
  if (signature) r.headers.emplace_back("x-replywatch-signature", *signature);
  return r;
}

WebhookRequest signedPost(std::string body) {
  auto sig = "sha256=" + hmacSha256Hex(kSecret, body);
  return post(std::move(body), sig);
}

nlohmann::json json(const WebhookResponse& r) { return nlohmann::json::parse(r.body); }

const std::string kTwo =
    "{\"id\":\"w1\",\"author_id\":\"u-marie\",\"created_at\":\"2024-05-30T10:00:00+02:00\",\"text\":"
    "\"Bonjour ?\"}\n"
    "{\"id\":\"w2\",\"in_reply_to\":\"w1\",\"author_id\":\"acme\",\"author_is_brand\":true,"
    "\"created_at\":\"2024-05-30T10:20:00+02:00\",\"text\":\"Bonjour ! -AB\"}\n";

TEST(ExportWebhook, MissingOrWrongSignatureIs401) {
  testing::Harness h(kYaml);
  auto missing = h.connector->handleWebhook(post(kTwo, std::nullopt));
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(json(missing)["status"], "error");
  EXPECT_EQ(json(missing)["error"], "invalid signature");

  auto wrong = h.connector->handleWebhook(post(kTwo, "sha256=" + hmacSha256Hex("not the secret", kTwo)));
  EXPECT_EQ(wrong.status, 401);
  auto garbage = h.connector->handleWebhook(post(kTwo, "sha256=nope"));
  EXPECT_EQ(garbage.status, 401);
  // Signed over other bytes (one trailing space added after signing).
  auto tampered = signedPost(kTwo);
  tampered.body += " ";
  EXPECT_EQ(h.connector->handleWebhook(tampered).status, 401);

  EXPECT_EQ(h.sink.calls, 0);
  EXPECT_EQ(h.health.errors(ErrorReason::Signature), 4u);
}

TEST(ExportWebhook, KnownVectorSignatureIsAccepted) {
  testing::Harness h(kYaml);
  // {"ping":"OK"} is signed correctly but holds no message: 400, not 401.
  auto r = h.connector->handleWebhook(
      post("{\"ping\":\"OK\"}", "sha256=162f107f6b5022353274eb1a7197885cfd35744d8d08e5bcea025d309386b7d6"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json(r)["error"], "line 1: field id is missing or empty");
}

TEST(ExportWebhook, GarbageIs400) {
  testing::Harness h(kYaml);
  auto r = h.connector->handleWebhook(signedPost("hello world"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type, "application/json");
  std::string error = json(r)["error"];
  EXPECT_EQ(error.rfind("line 1: invalid JSON", 0), 0u) << error;

  auto empty = h.connector->handleWebhook(signedPost(""));
  EXPECT_EQ(empty.status, 400);
  auto second_line =
      h.connector->handleWebhook(signedPost("\n{\"id\":\"x\",\"author_id\":\"u\",\"created_at\":\"soon\"}"));
  EXPECT_EQ(second_line.status, 400);
  EXPECT_EQ(std::string(json(second_line)["error"]).rfind("line 2: field created_at", 0), 0u);
  EXPECT_EQ(h.sink.calls, 0);
  EXPECT_EQ(h.health.errors(ErrorReason::InvalidTimestamp), 1u);
}

TEST(ExportWebhook, ValidBodyIs200) {
  testing::Harness h(kYaml);
  auto r = h.connector->handleWebhook(signedPost(kTwo + "{\"id\":\"w3\"}\n"));
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = json(r);
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["received"], 2);
  EXPECT_EQ(j["stored"], 2);
  EXPECT_EQ(j["duplicates"], 0);
  EXPECT_EQ(j["rejected"], 1);
  ASSERT_EQ(h.sink.stored.size(), 2u);
  EXPECT_EQ(h.sink.stored[1].conversation_id, "w1");
  EXPECT_TRUE(h.sink.stored[1].author_is_brand);
  EXPECT_EQ(h.health.errors(ErrorReason::MissingField), 1u);

  // A replay is accepted and changes nothing.
  auto again = h.connector->handleWebhook(signedPost(kTwo));
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(json(again)["duplicates"], 2);
}

TEST(ExportWebhook, JsonArrayAndCsvBodies) {
  testing::Harness h(kYaml);
  auto array = h.connector->handleWebhook(signedPost(
      R"([{"id":"a1","author_id":"u","created_at":"2024-05-30T10:00:00Z"},)"
      R"( {"id":"a2","author_id":"acme","author_is_brand":1,"in_reply_to":"a1","created_at":"2024-05-30T10:05:00Z"}])"));
  EXPECT_EQ(array.status, 200) << array.body;
  EXPECT_EQ(json(array)["stored"], 2);

  std::string csv = "id,author_id,created_at\r\nc1,u,2024-05-30T10:00:00Z\r\n";
  auto req = signedPost(csv);
  req.headers[0].second = "text/csv; charset=utf-8";
  auto r = h.connector->handleWebhook(req);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(h.sink.stored.size(), 3u);

  auto bad_header = signedPost("text,created_at\r\nx,2024-05-30T10:00:00Z\r\n");
  bad_header.headers[0].second = "text/csv";
  EXPECT_EQ(h.connector->handleWebhook(bad_header).status, 400);
}

// A body that cannot be read to its end is refused whole, with the line of the error:
// the records before it are not stored either.
TEST(ExportWebhook, ABodyUnreadablePastALineIs400AndStoresNothing) {
  testing::Harness h(kYaml);
  auto array = h.connector->handleWebhook(
      signedPost(R"([{"id":"a1","author_id":"u","created_at":"2024-05-30T10:00:00Z"},)"
                 "\n"
                 R"( {"id":"a2","author_id":"u","created_at":"2024-05-30T10:05:00Z"})"));
  EXPECT_EQ(array.status, 400) << array.body;
  EXPECT_EQ(json(array)["error"], "line 2: unterminated JSON array (nothing after it can be read)");

  auto csv = signedPost(
      "id,author_id,created_at,text\r\nc1,u,2024-05-30T10:00:00Z,\"open\r\n"
      "c2,u,2024-05-30T10:01:00Z,lost\r\n");
  csv.headers[0].second = "text/csv";
  auto r = h.connector->handleWebhook(csv);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(json(r)["error"], "line 2: unterminated quoted field (nothing after it can be read)");
  EXPECT_EQ(h.sink.calls, 0);
  EXPECT_EQ(h.health.errors(ErrorReason::BadRequest), 2u);
  EXPECT_TRUE(h.health.up());
}

TEST(ExportWebhook, StoreFailureIs503) {
  testing::Harness h(kYaml);
  h.sink.fail = true;
  auto r = h.connector->handleWebhook(signedPost(kTwo));
  EXPECT_EQ(r.status, 503);
  bool retry_after = false;
  for (const auto& [k, v] : r.headers) retry_after = retry_after || k == "Retry-After";
  EXPECT_TRUE(retry_after);
  EXPECT_EQ(h.health.errors(ErrorReason::Store), 1u);
  EXPECT_FALSE(h.health.up());
}

// A full write queue (or a stopping daemon) is load, not a failure: 503 with Retry-After,
// but the source stays up and no store error is counted.
TEST(ExportWebhook, RefusalForLoadIs503WithoutMarkingTheSourceDown) {
  for (std::string_view reason : {kSinkQueueFullReason, kSinkStoppingReason}) {
    testing::Harness h(kYaml);
    ASSERT_EQ(h.connector->handleWebhook(signedPost(kTwo)).status, 200);
    ASSERT_TRUE(h.health.up());
    h.sink.fail = true;
    h.sink.fail_reason = std::string(reason);
    auto r = h.connector->handleWebhook(signedPost(kTwo));
    EXPECT_EQ(r.status, 503) << reason;
    bool retry_after = false;
    for (const auto& [k, v] : r.headers) retry_after = retry_after || (k == "Retry-After" && v == "5");
    EXPECT_TRUE(retry_after) << reason;
    EXPECT_EQ(h.health.errors(ErrorReason::Store), 0u) << reason;
    EXPECT_TRUE(h.health.up()) << reason;
  }
}

TEST(ExportWebhook, MethodAndConfiguration) {
  testing::Harness h(kYaml);
  auto get = signedPost(kTwo);
  get.method = "GET";
  auto r = h.connector->handleWebhook(get);
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers.at(0), (std::pair<std::string, std::string>{"Allow", "POST"}));
  EXPECT_EQ(h.health.errors(ErrorReason::BadRequest), 0u);  // anyone can send one: not a source error

  testing::Harness no_secret("type: export\n");
  EXPECT_EQ(no_secret.connector->handleWebhook(signedPost(kTwo)).status, 404);
  EXPECT_EQ(no_secret.sink.calls, 0);
}

TEST(WebhookRequest, HeadersAndQuery) {
  WebhookRequest r;
  r.headers = {{"Content-Type", "text/csv"}, {"X-Hub-Signature-256", "sha256=ab"}};
  r.query = "hub.mode=subscribe&hub.challenge=a%20b+c&flag&hub.verify_token=t%3D1&bad=%zz";
  EXPECT_EQ(r.header("content-type"), "text/csv");
  EXPECT_EQ(r.header("X-HUB-SIGNATURE-256"), "sha256=ab");
  EXPECT_FALSE(r.header("Authorization"));
  EXPECT_EQ(r.queryParam("hub.mode"), "subscribe");
  EXPECT_EQ(r.queryParam("hub.challenge"), "a b c");
  EXPECT_EQ(r.queryParam("hub.verify_token"), "t=1");
  EXPECT_EQ(r.queryParam("flag"), "");
  EXPECT_EQ(r.queryParam("bad"), "%zz");
  EXPECT_FALSE(r.queryParam("missing"));
}

TEST(WebhookResponse, Bodies) {
  auto e = WebhookResponse::error(400, "line 3: \"quoted\"");
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(nlohmann::json::parse(e.body),
            (nlohmann::json{{"status", "error"}, {"error", "line 3: \"quoted\""}}));
  auto ok = WebhookResponse::accepted(IngestOutcome{3, 2, 1});
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(nlohmann::json::parse(ok.body),
            (nlohmann::json{{"status", "ok"}, {"received", 3}, {"stored", 2}, {"duplicates", 1}}));
}

}  // namespace
}  // namespace replywatch::connectors::exportfmt

namespace replywatch::connectors {
namespace {

class BareConnector final : public Connector {};

TEST(ConnectorDefaults, NoWebhooksNoFilesNoPolling) {
  BareConnector c;
  EXPECT_FALSE(c.polls());
  c.run(std::stop_token{});  // returns at once
  WebhookRequest r;
  r.method = "POST";
  auto response = c.handleWebhook(r);
  EXPECT_EQ(response.status, 404);
  auto imported = c.importFile("/tmp/feed.jsonl", {});
  ASSERT_FALSE(imported.ok());
  EXPECT_EQ(imported.error().reason, "unsupported");
}

}  // namespace
}  // namespace replywatch::connectors

namespace replywatch::connectors::exportfmt {
namespace {

// A sink that answers later: ingestAsync() parks the batch until release() stores it in
// the wrapped RecordingSink and calls back, as the pipeline's writer thread does.
class DeferredSink final : public IngestSink {
 public:
  Result<IngestOutcome> ingest(const config::SourceConfig& source, std::vector<Message> messages,
                               std::optional<std::string> cursor) override {
    return inner.ingest(source, std::move(messages), std::move(cursor));
  }
  void ingestAsync(const config::SourceConfig& source, std::vector<Message> messages,
                   std::optional<std::string> cursor, IngestCallback done) override {
    parked.emplace_back([this, &source, messages = std::move(messages), cursor = std::move(cursor),
                         done = std::move(done)] { done(inner.ingest(source, messages, cursor)); });
  }
  Result<std::optional<std::string>> cursor(const std::string& source) override {
    return inner.cursor(source);
  }
  void release() {
    auto work = std::move(parked);
    parked.clear();
    for (auto& w : work) w();
  }

  testing::RecordingSink inner;
  std::vector<std::function<void()>> parked;
};

// The webhook answers through its reply only once the sink committed the delivery; a
// bad signature or body is answered at once, without reaching the sink.
TEST(ExportWebhook, AsyncWebhookRepliesOnlyAfterTheSinkAnswered) {
  testing::Harness h(kYaml);
  DeferredSink sink;
  auto connector =
      findConnectorType("export")->create(ConnectorContext{h.source, h.config, h.clock, h.health, sink});
  ASSERT_TRUE(connector->asyncWebhooks());

  std::vector<WebhookResponse> replies;
  auto reply = [&replies](WebhookResponse r) { replies.push_back(std::move(r)); };
  connector->handleWebhookAsync(signedPost(kTwo), reply);
  EXPECT_TRUE(replies.empty());
  ASSERT_EQ(sink.parked.size(), 1u);
  EXPECT_TRUE(sink.inner.stored.empty());

  connector->handleWebhookAsync(post(kTwo, "sha256=nope"), reply);
  connector->handleWebhookAsync(signedPost("not json\n"), reply);
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0].status, 401);
  EXPECT_EQ(replies[1].status, 400);
  EXPECT_EQ(sink.parked.size(), 1u);

  sink.release();
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(replies[2].status, 200);
  EXPECT_EQ(json(replies[2])["stored"], 2);
  EXPECT_EQ(sink.inner.stored.size(), 2u);

  // A refused batch is answered 503 with Retry-After, after the sink answered.
  sink.inner.fail = true;
  sink.inner.fail_reason = std::string(kSinkQueueFullReason);
  connector->handleWebhookAsync(signedPost(kTwo), reply);
  EXPECT_EQ(replies.size(), 3u);
  sink.release();
  ASSERT_EQ(replies.size(), 4u);
  EXPECT_EQ(replies[3].status, 503);
  ASSERT_FALSE(replies[3].headers.empty());
  EXPECT_EQ(replies[3].headers[0].first, "Retry-After");
}

}  // namespace
}  // namespace replywatch::connectors::exportfmt
