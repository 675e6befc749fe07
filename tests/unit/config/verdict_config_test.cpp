// The verdict settings, account costs and iCalendar holidays: defaults, values, and the
// sentence and line of every rejected value.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "daemon/config/config.h"
#include "tests/unit/config/test_support.h"

namespace replywatch::config {
namespace {

using ::testing::ElementsAre;
using testing::fakeTypes;
using testing::problemsOf;
using testing::TempDir;
using testing::yaml;

TEST(VerdictConfig, Defaults) {
  auto config = loadString("accounts:\n  - name: acme\n", "rw.yml", fakeTypes());
  EXPECT_EQ(config.verdict.window, std::chrono::hours{28 * 24});
  EXPECT_EQ(config.verdict.min_turns, 30u);
  EXPECT_DOUBLE_EQ(config.verdict.max_late_ratio, 0.10);
  EXPECT_DOUBLE_EQ(config.verdict.min_relay_share, 0.5);
  EXPECT_EQ(config.verdict.interval, std::chrono::minutes{5});
  EXPECT_FALSE(config.accounts[0].cost.configured());
  EXPECT_EQ(config.accounts[0].cost.currency, "EUR");
}

TEST(VerdictConfig, ReadsEveryKey) {
  auto config = loadString(yaml(R"(
verdict:
  window: 14d
  min_turns: 50
  max_late_ratio: 0.2
  min_relay_share: 0.4
  interval: 1m
accounts:
  - name: acme
    cost: {agency_per_month: 4500, inhouse_per_month: 5200.5, currency: CHF}
)"),
                           "rw.yml", fakeTypes());
  EXPECT_EQ(config.verdict.window, std::chrono::hours{14 * 24});
  EXPECT_EQ(config.verdict.min_turns, 50u);
  EXPECT_DOUBLE_EQ(config.verdict.max_late_ratio, 0.2);
  EXPECT_DOUBLE_EQ(config.verdict.min_relay_share, 0.4);
  EXPECT_EQ(config.verdict.interval, std::chrono::seconds{60});
  const auto& cost = config.accounts[0].cost;
  EXPECT_TRUE(cost.configured());
  EXPECT_DOUBLE_EQ(*cost.agency_per_month, 4500);
  EXPECT_DOUBLE_EQ(*cost.inhouse_per_month, 5200.5);
  EXPECT_EQ(cost.currency, "CHF");
}

struct Broken {
  const char* yaml;
  const char* message;
  int line;
};

TEST(VerdictConfig, ReportsEveryBadValueAtItsLine) {
  const Broken cases[] = {
      {"verdict:\n  max_late_ratio: 1.5\naccounts: [{name: a}]\n",
       "invalid number \"1.5\" for \"max_late_ratio\" in verdict (use a ratio from 0 to 1", 2},
      {"verdict:\n  min_relay_share: half\naccounts: [{name: a}]\n",
       "invalid number \"half\" for \"min_relay_share\" in verdict", 2},
      {"verdict:\n  min_relay_share: 0\naccounts: [{name: a}]\n",
       "invalid number \"0\" for \"min_relay_share\" in verdict (use a ratio above 0 and at most 1", 2},
      {"verdict:\n  min_turns: 0\naccounts: [{name: a}]\n",
       "invalid number \"0\" for \"min_turns\" in verdict", 2},
      {"verdict:\n  window: 0\naccounts: [{name: a}]\n", "\"window\" in verdict must be greater than zero",
       2},
      {"verdict:\n  intervall: 5m\naccounts: [{name: a}]\n",
       "unknown key \"intervall\" in verdict; did you mean \"interval\"?", 2},
      {"verdict: [1]\naccounts: [{name: a}]\n", "\"verdict\" must be a mapping, not a list", 1},
      {"accounts:\n  - name: a\n    cost:\n      agency_per_month: -3\n",
       "invalid number \"-3\" for \"agency_per_month\" in cost of account \"a\"", 4},
      {"accounts:\n  - name: a\n    cost:\n      currency: euro\n",
       "invalid currency \"euro\" in cost of account \"a\" (use an ISO 4217 code such as EUR)", 4},
      {"accounts:\n  - name: a\n    cost:\n      inhouse: 3\n",
       "unknown key \"inhouse\" in cost of account \"a\"", 4},
  };
  for (const auto& c : cases) {
    auto problems = problemsOf(c.yaml, fakeTypes(), "broken.yml");
    bool found = false;
    for (const auto& p : problems) {
      if (p.message.find(c.message) != std::string::npos && p.line == c.line) found = true;
    }
    EXPECT_TRUE(found) << c.yaml << "expected line " << c.line << ": " << c.message << "\ngot:\n"
                       << testing::describe(problems);
  }
}

TEST(IcalHolidays, AllDayAndTimedEventsAndFoldedLines) {
  const std::string ics =
      "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"
      "BEGIN:VEVENT\r\nUID:1\r\nDTSTART;VALUE=DATE:20261225\r\nSUMMARY:No\r\n \xc3\xabl\r\nEND:VEVENT\r\n"
      "BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20260814\r\nDTEND;VALUE=DATE:20260817\r\nEND:VEVENT\r\n"
      "BEGIN:VEVENT\r\nDTSTART;TZID=Europe/Paris:20260501T000000\r\nDTEND;TZID=Europe/"
      "Paris:20260501T235900\r\n"
      "END:VEVENT\r\n"
      "BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261225\r\nEND:VEVENT\r\n"
      "END:VCALENDAR\r\n";
  std::vector<Problem> problems;
  auto days = parseIcalHolidays(ics, "fr.ics", "Europe/Paris", problems);
  EXPECT_TRUE(problems.empty()) << testing::describe(problems);
  EXPECT_THAT(days, ElementsAre("2026-05-01", "2026-08-14", "2026-08-15", "2026-08-16", "2026-12-25"));
}

TEST(IcalHolidays, ProblemsNameTheFileAndLine) {
  const std::string ics =
      "BEGIN:VCALENDAR\n"
      "BEGIN:VEVENT\nDTSTART;VALUE=DATE:20260101\nRRULE:FREQ=YEARLY\nEND:VEVENT\n"  // lines 2-5
      "BEGIN:VEVENT\nDTSTART;VALUE=DATE:20261340\nEND:VEVENT\n"                     // lines 6-8
      "BEGIN:VEVENT\nSUMMARY:x\nEND:VEVENT\n"                                       // lines 9-11
      "BEGIN:VEVENT\nDTSTART;VALUE=DATE:20260704\nEND:VEVENT\n"
      "END:VCALENDAR\n";
  std::vector<Problem> problems;
  auto days = parseIcalHolidays(ics, "fr.ics", "Europe/Paris", problems);
  EXPECT_THAT(days, ElementsAre("2026-07-04"));  // the good event is kept
  ASSERT_EQ(problems.size(), 3u) << testing::describe(problems);
  EXPECT_EQ(
      problems[0].str(),
      "fr.ics:2: recurring events (RRULE, RDATE) are not supported in a holiday calendar; give each day "
      "off as its own event");
  EXPECT_EQ(problems[1].str(), "fr.ics:7: invalid DTSTART \"20261340\" (use a date such as 20261225)");
  EXPECT_EQ(problems[2].str(), "fr.ics:9: event without DTSTART");

  std::vector<Problem> not_ics;
  (void)parseIcalHolidays("holidays: 2026-01-01\n", "x.ics", "UTC", not_ics);
  ASSERT_EQ(not_ics.size(), 1u);
  EXPECT_EQ(not_ics[0].str(), "x.ics:1: not an iCalendar file (no BEGIN:VCALENDAR)");
}

TEST(IcalHolidays, DateTimesAreDaysOfTheAccountsZone) {
  const std::string ics =
      "BEGIN:VCALENDAR\n"
      // 11 November in Paris, written in UTC: 10 Nov 23:00Z to 11 Nov 23:00Z.
      "BEGIN:VEVENT\nDTSTART:20261110T230000Z\nDTEND:20261111T230000Z\nEND:VEVENT\n"
      // 25 December in Paris, from New York: 24 Dec 18:00 to 25 Dec 18:00 there.
      "BEGIN:VEVENT\nDTSTART;TZID=America/New_York:20261224T180000\n"
      "DTEND;TZID=\"America/New_York\":20261225T180000\nEND:VEVENT\n"
      // Floating times are the account's: 14 July.
      "BEGIN:VEVENT\nDTSTART:20260714T000000\nDTEND:20260715T000000\nEND:VEVENT\n"
      // Two days by DURATION, and one day in UTC by DURATION.
      "BEGIN:VEVENT\nDTSTART;VALUE=DATE:20260525\nDURATION:P2D\nEND:VEVENT\n"
      "BEGIN:VEVENT\nDTSTART:20260814T220000Z\nDURATION:PT24H\nEND:VEVENT\n"
      "END:VCALENDAR\n";
  std::vector<Problem> problems;
  auto paris = parseIcalHolidays(ics, "fr.ics", "Europe/Paris", problems);
  EXPECT_TRUE(problems.empty()) << testing::describe(problems);
  EXPECT_THAT(
      paris, ElementsAre("2026-05-25", "2026-05-26", "2026-07-14", "2026-08-15", "2026-11-11", "2026-12-25"));
  // The same calendar for an account in New York: the events given in UTC or in New York
  // time fall on other local days.
  auto new_york = parseIcalHolidays(ics, "fr.ics", "America/New_York", problems);
  EXPECT_TRUE(problems.empty()) << testing::describe(problems);
  EXPECT_THAT(new_york, ElementsAre("2026-05-25", "2026-05-26", "2026-07-14", "2026-08-14", "2026-08-15",
                                    "2026-11-10", "2026-11-11", "2026-12-24", "2026-12-25"));
}

TEST(IcalHolidays, DurationAndTimeZoneProblemsNameTheFileAndLine) {
  const std::string ics =
      "BEGIN:VCALENDAR\n"
      "BEGIN:VEVENT\nDTSTART;VALUE=DATE:20261112\nDURATION:P2X\nEND:VEVENT\n"   // 2-5
      "BEGIN:VEVENT\nDTSTART;VALUE=DATE:20261112\nDURATION:-P1D\nEND:VEVENT\n"  // 6-9
      "BEGIN:VEVENT\nDTSTART;VALUE=DATE:20261112\nDTEND;VALUE=DATE:20261113\n"  // 10-12
      "DURATION:P1D\nEND:VEVENT\n"                                              // 13-14
      "BEGIN:VEVENT\nDTSTART;TZID=Paris:20261112T000000\nEND:VEVENT\n"          // 15-17
      "BEGIN:VEVENT\nDTSTART:20261112T250000Z\nEND:VEVENT\n"                    // 18-20
      "BEGIN:VEVENT\nDTSTART;VALUE=DATE:20261201\nDURATION:P1W\nEND:VEVENT\n"
      "END:VCALENDAR\n";
  std::vector<Problem> problems;
  auto days = parseIcalHolidays(ics, "fr.ics", "Europe/Paris", problems);
  EXPECT_THAT(days, ElementsAre("2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04", "2026-12-05",
                                "2026-12-06", "2026-12-07"));
  ASSERT_EQ(problems.size(), 5u) << testing::describe(problems);
  EXPECT_EQ(problems[0].str(),
            "fr.ics:4: invalid DURATION \"P2X\" (use a duration such as P1D, P2W or PT12H)");
  EXPECT_EQ(problems[1].str(),
            "fr.ics:8: invalid DURATION \"-P1D\" (use a duration such as P1D, P2W or PT12H)");
  EXPECT_EQ(problems[2].str(), "fr.ics:10: event with both DTEND and DURATION (give one of them)");
  EXPECT_EQ(problems[3].str(),
            "fr.ics:16: unknown time zone \"Paris\" in the TZID of DTSTART (use an IANA name such as "
            "Europe/Paris)");
  EXPECT_EQ(problems[4].str(),
            "fr.ics:19: invalid DTSTART \"20261112T250000Z\" (use a date such as 20261225)");
}

TEST(IcalHolidays, LoadedFileIsMergedWithTheList) {
  TempDir dir;
  dir.write("fr.ics",
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;VALUE=DATE:20261111\nEND:VEVENT\n"
            "BEGIN:VEVENT\nDTSTART;VALUE=DATE:20261225\nEND:VEVENT\nEND:VCALENDAR\n");
  auto file = dir.write("rw.yml", yaml(R"(
accounts:
  - name: acme
    business_hours:
      holidays: ["2026-12-25", "2026-01-01"]
      holidays_ical: fr.ics
)"));
  auto config = load(file, fakeTypes());
  EXPECT_THAT(config.accounts[0].business_hours.holidays,
              ElementsAre("2026-01-01", "2026-11-11", "2026-12-25"));

  // A calendar written in UTC is read in the account's zone.
  dir.write("utc.ics",
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20261110T230000Z\nDTEND:20261111T230000Z\nEND:VEVENT\n"
            "END:VCALENDAR\n");
  auto utc = dir.write("utc.yml", yaml(R"(
accounts:
  - name: acme
    business_hours: {holidays_ical: utc.ics}
    timezone: Europe/Paris
)"));
  EXPECT_THAT(load(utc, fakeTypes()).accounts[0].business_hours.holidays, ElementsAre("2026-11-11"));

  dir.write("bad.ics", "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:2026\nEND:VEVENT\nEND:VCALENDAR\n");
  auto bad = dir.write("bad.yml", yaml(R"(
accounts:
  - name: acme
    business_hours: {holidays_ical: bad.ics}
)"));
  try {
    (void)load(bad, fakeTypes());
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    ASSERT_EQ(e.problems().size(), 1u);
    EXPECT_EQ(e.problems()[0].file, (dir.path() / "bad.ics").string());
    EXPECT_EQ(e.problems()[0].line, 3);
  }
}

}  // namespace
}  // namespace replywatch::config
