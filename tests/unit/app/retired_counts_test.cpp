#include <gtest/gtest.h>

#include "daemon/app/retired_counts.h"

namespace replywatch::app {
namespace {

TEST(RetiredCounts, TheTextGivesBackWhatWasWritten) {
  Retired r;
  Turn answered;
  answered.account = "acme";
  answered.channel = "x";
  answered.source = "feed";
  answered.question_id = "q";
  answered.asked_at = fromMillis(0);
  answered.answered_at = fromMillis(4'000'000);
  answered.breached_at = fromMillis(3'600'000);
  answered.handler = "cm-agency";
  answered.route = Route::Agency;
  Turn open = answered;
  open.answered_at.reset();
  open.breached_at.reset();
  r.turns.add(answered);
  r.turns.add(open);
  r.escalations[{"acme", "agency"}].escalations_total = 3;
  r.escalations[{"acme", "agency"}].bucket_counts[2] = 1;
  r.escalations[{"acme", "agency"}].wait_seconds_sum = 12.5;
  r.phases[{"acme", "internal"}].relay_seconds = 7.25;

  auto back = retiredFromJson(retiredToJson(r));
  ASSERT_TRUE(back.ok()) << back.error().message;
  const auto& ch = back->turns.channels.at({"acme", "x", "feed"});
  EXPECT_EQ(ch.questions, 2U);
  EXPECT_EQ(ch.breaches, 1U);
  const auto& a = back->turns.answers.at({"acme", "x", "cm-agency", "agency"});
  EXPECT_EQ(a.total, 1U);
  EXPECT_EQ(a.wait_ms, 4'000'000);
  EXPECT_EQ(a.buckets, r.turns.answers.at({"acme", "x", "cm-agency", "agency"}).buckets);
  EXPECT_EQ(back->escalations.at({"acme", "agency"}).escalations_total, 3U);
  EXPECT_EQ(back->escalations.at({"acme", "agency"}).bucket_counts[2], 1U);
  EXPECT_DOUBLE_EQ(back->escalations.at({"acme", "agency"}).wait_seconds_sum, 12.5);
  EXPECT_DOUBLE_EQ(back->phases.at({"acme", "internal"}).relay_seconds, 7.25);
}

TEST(RetiredCounts, TextItCannotReadIsAnError) {
  for (const char* bad :
       {"", "not json", "[]", "{\"format\":2}", "{\"format\":1}",
        "{\"format\":1,\"channels\":[{\"account\":\"a\"}],\"answers\":[],\"escalations\":[],"
        "\"phases\":[]}",
        "{\"format\":1,\"channels\":[],\"answers\":[{\"account\":\"a\",\"channel\":\"c\","
        "\"handler\":\"h\",\"route\":\"agency\",\"total\":1,\"buckets\":[1],\"wait_ms\":1}],"
        "\"escalations\":[],\"phases\":[]}"}) {
    auto read = retiredFromJson(bad);
    ASSERT_FALSE(read.ok()) << bad;
    EXPECT_EQ(read.error().reason, "store");
  }
}

}  // namespace
}  // namespace replywatch::app
