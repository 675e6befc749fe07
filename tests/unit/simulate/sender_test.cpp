#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>

#include "../connectors/test_http_server.h"
#include "connectors/common/hmac.h"
#include "daemon/simulate/sender.h"

namespace replywatch::simulate {
namespace {

using connectors::testing::TestHttpServer;

Timestamp at(const char* text) { return *parseRfc3339(text); }

Traffic sample() {
  Traffic t;
  t.messages.push_back({"1", "1", "", "u1", "M1", false, at("2026-10-01T18:00:00Z"), "q1 ?"});
  t.messages.push_back({"2", "2", "", "u2", "M2", false, at("2026-10-01T18:01:00Z"), "q2 ?"});
  t.messages.push_back({"3", "1", "1", "b", "B", true, at("2026-10-01T18:30:00Z"), "a1 -AB"});
  t.messages.push_back({"4", "2", "2", "b", "B", true, at("2026-10-01T18:31:00Z"), "a2 -AB"});
  t.escalations.push_back(
      {"R-1", "", "1", at("2026-10-01T18:02:00Z"), "agency-ab", "billing", at("2026-10-01T18:03:00Z")});
  return t;
}

TEST(SimulateSender, PlanKeepsTimeOrderAndSendsRecordsTwice) {
  const auto plan = planDeliveries(sample(), 1, true);
  ASSERT_EQ(plan.size(), 6U);
  EXPECT_FALSE(plan[0].relay);
  EXPECT_FALSE(plan[1].relay);
  EXPECT_TRUE(plan[2].relay);
  EXPECT_EQ(plan[2].body.find("answered_at"), std::string::npos);
  EXPECT_TRUE(plan[3].relay);
  EXPECT_NE(plan[3].body.find("\"answered_at\":\"2026-10-01T18:03:00Z\""), std::string::npos);
  EXPECT_EQ(plan[4].body.substr(0, 9), "{\"id\":\"3\"");
  EXPECT_EQ(plan[4].body.back(), '\n');
}

TEST(SimulateSender, PlanBatchesWithoutMixingTargetsOrVersions) {
  const auto plan = planDeliveries(sample(), 10, true);
  ASSERT_EQ(plan.size(), 4U);
  EXPECT_EQ(plan[0].items, 2U);  // messages 1 and 2
  EXPECT_EQ(plan[1].items, 1U);  // the record as requested
  EXPECT_EQ(plan[2].items, 1U);  // the same record answered: never in the same body
  EXPECT_EQ(plan[3].items, 2U);
  EXPECT_EQ(std::count(plan[0].body.begin(), plan[0].body.end(), '\n'), 2);
  const auto without = planDeliveries(sample(), 10, false);
  ASSERT_EQ(without.size(), 1U);
  EXPECT_EQ(without[0].items, 4U);
}

TEST(SimulateSender, SignsEveryBodyAndRetriesAfter503) {
  std::mutex mutex;
  std::vector<TestHttpServer::Request> seen;
  std::vector<std::string> bodies;
  TestHttpServer server([&](const TestHttpServer::Request& request, int index) {
    std::lock_guard lock(mutex);
    seen.push_back(request);
    if (index == 0) return TestHttpServer::Response{503, {{"Retry-After", "0"}}, R"({"status":"error"})"};
    if (index == 2)
      return TestHttpServer::Response{401, {}, R"({"status":"error","error":"invalid signature"})"};
    return TestHttpServer::Response{
        200, {}, R"({"status":"ok","received":1,"stored":1,"duplicates":0,"rejected":0})"};
  });
  SendOptions options;
  options.base_url = server.url("/");
  options.source = "msgs";
  options.relay_source = "relays";
  options.secret = Secret{"s3cret"};
  options.relay_secret = Secret{"other"};
  const auto plan = planDeliveries(sample(), 1, true);
  auto report = sendDeliveries(plan, options);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->deliveries, 6U);
  EXPECT_EQ(report->retries, 1U);
  EXPECT_EQ(report->refused, 1U);
  EXPECT_EQ(report->acknowledged, 5U);
  EXPECT_EQ(report->stored, 5U);
  std::lock_guard lock(mutex);
  ASSERT_EQ(seen.size(), 7U);
  EXPECT_EQ(seen[0].target, "/webhooks/msgs");
  EXPECT_EQ(seen[3].target, "/webhooks/relays");
  // Attempts 0 and 1 carry the first delivery; attempt 3 the first relay record.
  EXPECT_TRUE(
      connectors::verifySha256Signature("s3cret", plan[0].body, *seen[1].header("X-Replywatch-Signature")));
  EXPECT_TRUE(
      connectors::verifySha256Signature("other", plan[2].body, *seen[3].header("X-Replywatch-Signature")));
  EXPECT_FALSE(
      connectors::verifySha256Signature("s3cret", plan[2].body, *seen[3].header("X-Replywatch-Signature")));
}

TEST(SimulateSender, UnreachableDaemonIsAnError) {
  std::string url;
  {
    TestHttpServer server([](const TestHttpServer::Request&, int) { return TestHttpServer::Response{}; });
    url = server.url("");
  }
  SendOptions options;
  options.base_url = url;
  options.source = "msgs";
  options.secret = Secret{"s"};
  options.max_attempts = 1;
  auto report = sendDeliveries(planDeliveries(sample(), 1, false), options);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error().reason, "transport");
}

}  // namespace
}  // namespace replywatch::simulate
