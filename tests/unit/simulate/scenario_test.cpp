#include <gtest/gtest.h>

#include <string>

#include "daemon/simulate/scenario.h"

namespace replywatch::simulate {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

std::vector<std::string> problemsOf(const std::string& yaml) {
  try {
    (void)loadScenarioString(yaml, "scenario.yml");
  } catch (const config::ConfigError& e) {
    std::vector<std::string> out;
    for (const auto& p : e.problems()) out.push_back(p.str());
    return out;
  }
  return {};
}

TEST(SimulateScenario, EmptyFileGivesTheDefaults) {
  const auto s = loadScenarioString("", "scenario.yml");
  EXPECT_EQ(s.days, 28);
  EXPECT_EQ(s.agency.handler, "agency-ab");
  EXPECT_EQ(s.office_hours.week[0].size(), 1U);
  EXPECT_TRUE(s.office_hours.week[5].empty());
}

TEST(SimulateScenario, ReadsEveryKey) {
  const auto s = loadScenarioString(R"(
seed: 99
start: 2026-09-01
days: 14
account: acme-fr
brand: {id: acme, name: Acme}
timezone: America/New_York
questions_per_day: 12.5
members: 50
hour_weights: [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,2]
weekday_weights: [1,1,1,1,1,3,3]
follow_up: {probability: 0.3, delay: {median: 1m, p90: 5m}}
unanswered_probability: 0.05
first_id: 1000
bursts:
  - {start: 3d18h, length: 6h, multiplier: 8}
  - {start: 2026-09-10T12:00:00Z, length: 1h, multiplier: 2}
internal:
  handler: team
  author_id: acme_team
  author_name: Acme Team
  signature: "^T"
  share: 0.8
  office_hours: {monday: ["08:00-12:00", "13:00-17:00"], saturday: ["10:00-12:00"], holidays: [2026-09-07]}
  response: {median: 30m, p90: 2h}
agency:
  handler: ag
  author_id: acme
  signature: "-AG"
  response: {median: 5m}
relay:
  name: billing
  probability: 0.5
  escalation_delay: {median: 2m, p90: 4m}
  delay: {median: 3h, p90: 9h}
  after_relay: {median: 1m, p90: 2m}
)",
                                    "scenario.yml");
  EXPECT_EQ(s.seed, 99U);
  EXPECT_EQ(formatRfc3339(*s.start), "2026-09-01T00:00:00Z");
  EXPECT_EQ(s.days, 14);
  EXPECT_EQ(s.account, "acme-fr");
  EXPECT_EQ(s.brand_id, "acme");
  EXPECT_EQ(s.timezone, "America/New_York");
  EXPECT_DOUBLE_EQ(s.questions_per_day, 12.5);
  EXPECT_EQ(s.members, 50U);
  EXPECT_DOUBLE_EQ(s.hour_weights[23], 2.0);
  EXPECT_DOUBLE_EQ(s.weekday_weights[6], 3.0);
  EXPECT_DOUBLE_EQ(s.follow_up_probability, 0.3);
  EXPECT_EQ(s.follow_up_delay.p90, minutes{5});
  EXPECT_EQ(s.first_id, 1000U);
  ASSERT_EQ(s.bursts.size(), 2U);
  EXPECT_EQ(s.bursts[0].offset, hours{3 * 24 + 18});
  EXPECT_FALSE(s.bursts[0].start.has_value());
  EXPECT_EQ(formatRfc3339(*s.bursts[1].start), "2026-09-10T12:00:00Z");
  EXPECT_DOUBLE_EQ(s.bursts[0].multiplier, 8.0);
  EXPECT_EQ(s.internal.author_id, "acme_team");
  EXPECT_DOUBLE_EQ(s.internal_share, 0.8);
  EXPECT_EQ(s.office_hours.week[0].size(), 2U);
  EXPECT_EQ(s.office_hours.week[1].size(), 0U);
  EXPECT_EQ(s.office_hours.week[5].size(), 1U);
  EXPECT_EQ(s.office_hours.holidays, std::vector<std::string>{"2026-09-07"});
  EXPECT_EQ(s.internal.response.p90, hours{2});
  EXPECT_EQ(s.agency.response.median, minutes{5});
  EXPECT_EQ(s.agency.response.p90, minutes{5});  // p90 defaults to the median
  EXPECT_EQ(s.relay_name, "billing");
  EXPECT_DOUBLE_EQ(s.escalation_probability, 0.5);
  EXPECT_EQ(s.relay_delay.median, hours{3});
}

TEST(SimulateScenario, ReportsEveryProblemWithItsLine) {
  const auto problems = problemsOf(R"(seed: -3
dayz: 4
timezone: Mars/Olympus
questions_per_day: 0
hour_weights: [1, 2]
follow_up: {probability: 1.5}
agency:
  response: {median: 2h, p90: 1h}
bursts:
  - {start: tomorrow, length: 1h, multiplier: 2}
)");
  ASSERT_EQ(problems.size(), 8U) << ::testing::PrintToString(problems);
  EXPECT_EQ(problems[0], "scenario.yml:2: unknown key \"dayz\" in the scenario; did you mean \"days\"?");
  EXPECT_EQ(problems[1], "scenario.yml:1: seed must be a whole number");
  EXPECT_NE(problems[2].find("scenario.yml:3: unknown time zone \"Mars/Olympus\""), std::string::npos);
  EXPECT_EQ(problems[3], "scenario.yml:4: questions_per_day must be between 0.01 and 1000000");
  EXPECT_EQ(problems[4], "scenario.yml:5: hour_weights must be a list of 24 numbers");
  EXPECT_EQ(problems[5], "scenario.yml:6: probability of follow_up must be between 0 and 1");
  EXPECT_NE(problems[6].find("scenario.yml:10: invalid time \"tomorrow\""), std::string::npos);
  EXPECT_EQ(problems[7], "scenario.yml:8: p90 of response of agency must not be shorter than its median");
}

TEST(SimulateScenario, RelaysNeedOfficeHours) {
  const auto problems = problemsOf("internal: {office_hours: {}}\n");
  ASSERT_EQ(problems.size(), 1U);
  EXPECT_NE(problems[0].find("relays answer in the internal team's office_hours"), std::string::npos);
  EXPECT_TRUE(problemsOf("internal: {office_hours: {}}\nrelay: {probability: 0}\n").empty());
}

TEST(SimulateScenario, StartTimes) {
  EXPECT_EQ(formatRfc3339(*parseStartTime("2026-10-01")), "2026-10-01T00:00:00Z");
  EXPECT_EQ(formatRfc3339(*parseStartTime("2026-10-01T08:30:00+02:00")), "2026-10-01T06:30:00Z");
  EXPECT_FALSE(parseStartTime("2026-02-30").has_value());
  EXPECT_FALSE(parseStartTime("yesterday").has_value());
}

}  // namespace
}  // namespace replywatch::simulate
