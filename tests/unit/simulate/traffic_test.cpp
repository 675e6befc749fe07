#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>

#include "daemon/simulate/office_hours.h"
#include "daemon/simulate/traffic.h"
#include "daemon/simulate/writers.h"
#include "daemon/verdict/schedule.h"

namespace replywatch::simulate {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

Timestamp at(const char* text) { return *parseRfc3339(text); }

Scenario month(std::uint64_t seed = 11) {
  Scenario s;
  s.seed = seed;
  s.start = at("2026-10-05T00:00:00Z");  // a Monday
  s.days = 28;
  s.questions_per_day = 60;
  return s;
}

std::string bytes(const Traffic& t, MessageFormat format) {
  std::ostringstream out;
  writeMessages(out, t, format);
  return out.str();
}

std::string relayBytes(const Traffic& t) {
  std::ostringstream out;
  writeEscalations(out, t, RelayFormat::Jsonl);
  return out.str();
}

config::AccountConfig accountFor(const Scenario& s) {
  config::AccountConfig account;
  account.name = "acme";
  account.timezone = s.timezone;
  account.business_hours = s.office_hours;
  return account;
}

TEST(SimulateTraffic, SameSeedSameBytesDifferentSeedDifferentBytes) {
  const auto s = month();
  const auto a = generate(s, *s.start);
  const auto b = generate(s, *s.start);
  for (auto format : {MessageFormat::Jsonl, MessageFormat::Csv, MessageFormat::Twcs}) {
    EXPECT_EQ(bytes(a, format), bytes(b, format));
  }
  EXPECT_EQ(relayBytes(a), relayBytes(b));
  const auto c = generate(month(12), *s.start);
  EXPECT_NE(bytes(a, MessageFormat::Jsonl), bytes(c, MessageFormat::Jsonl));
  EXPECT_NE(relayBytes(a), relayBytes(c));
}

TEST(SimulateTraffic, MeanQuestionsPerDayIsTheConfiguredOne) {
  auto s = month();
  s.days = 7 * 20;
  const auto t = generate(s, *s.start);
  // Poisson: 8400 expected, standard deviation 92.
  EXPECT_NEAR(static_cast<double>(t.summary.questions), 60.0 * 7 * 20, 400);
}

TEST(SimulateTraffic, EveningsAndWeekendsGetMoreQuestions) {
  auto s = month();
  s.days = 7 * 12;
  const auto t = generate(s, *s.start);
  const verdict::Schedule schedule(accountFor(s));
  std::uint64_t evening = 0;
  std::uint64_t weekend = 0;
  std::uint64_t night = 0;
  for (const auto& q : t.questions) {
    const int hour_of_week = schedule.hourOfWeek(q.asked_at);
    const int hour = hour_of_week % 24;
    if (hour >= 18 && hour < 23) ++evening;
    if (hour >= 1 && hour < 6) ++night;
    if (hour_of_week >= 5 * 24) ++weekend;
  }
  const auto n = static_cast<double>(t.questions.size());
  // Evenings are 5 of 24 hours (20.8%) but weigh 9.6 of 24.5 (39.2%).
  EXPECT_NEAR(static_cast<double>(evening) / n, 9.6 / 24.5, 0.02);
  EXPECT_LT(static_cast<double>(night) / n, 0.7 / 24.5 + 0.01);
  // Weekends are 2 of 7 days (28.6%) but weigh 2.65 of 7.3 (36.3%).
  EXPECT_NEAR(static_cast<double>(weekend) / n, 2.65 / 7.3, 0.02);
}

TEST(SimulateTraffic, InternalAnswersAndRelaysOnlyInOfficeHours) {
  const auto s = month();
  const auto t = generate(s, *s.start);
  const verdict::Schedule schedule(accountFor(s));
  std::uint64_t internal = 0;
  for (const auto& q : t.questions) {
    if (q.outcome != Outcome::Internal) continue;
    ++internal;
    ASSERT_TRUE(q.answered_at.has_value());
    EXPECT_TRUE(schedule.inBusinessHours(q.asked_at)) << formatRfc3339(q.asked_at);
    EXPECT_TRUE(schedule.inBusinessHours(*q.answered_at)) << formatRfc3339(*q.answered_at);
  }
  EXPECT_GT(internal, 100U);
  std::uint64_t off_hours_requests = 0;
  for (const auto& e : t.escalations) {
    if (!schedule.inBusinessHours(e.requested_at)) ++off_hours_requests;
    if (e.answered_at) {
      EXPECT_TRUE(schedule.inBusinessHours(*e.answered_at)) << e.id;
    }
  }
  EXPECT_GT(off_hours_requests, 50U);  // the agency escalates at night, the relay answers in the morning
}

TEST(SimulateTraffic, AgencyAnswersAroundTheClock) {
  const auto s = month();
  const auto t = generate(s, *s.start);
  const verdict::Schedule schedule(accountFor(s));
  std::uint64_t off_hours = 0;
  for (const auto& q : t.questions) {
    if (q.outcome == Outcome::Agency && !schedule.inBusinessHours(*q.answered_at)) ++off_hours;
  }
  EXPECT_GT(off_hours, 300U);
}

TEST(SimulateTraffic, UnansweredShareIsTheConfiguredOne) {
  auto s = month();
  s.days = 7 * 12;
  s.unanswered_probability = 0.1;
  const auto t = generate(s, *s.start);
  const auto n = static_cast<double>(t.summary.questions);
  // Standard deviation sqrt(0.1 * 0.9 / 5000) = 0.004.
  EXPECT_NEAR(static_cast<double>(t.summary.unanswered) / n, 0.1, 0.015);
  std::uint64_t counted = 0;
  for (const auto& q : t.questions) counted += q.outcome == Outcome::Unanswered ? 1 : 0;
  EXPECT_EQ(counted, t.summary.unanswered);
}

TEST(SimulateTraffic, EscalationShareAndRelayDelays) {
  auto s = month();
  s.internal_share = 0;  // every answer from the agency
  s.unanswered_probability = 0;
  s.escalation_probability = 0.4;
  const auto t = generate(s, *s.start);
  const auto n = static_cast<double>(t.summary.questions);
  EXPECT_NEAR(static_cast<double>(t.summary.escalated) / n, 0.4, 0.04);
  EXPECT_EQ(t.summary.answered_internal, 0U);
  const OfficeHours office(s.timezone, s.office_hours);
  for (const auto& e : t.escalations) {
    if (!e.answered_at) continue;
    EXPECT_GT(*e.answered_at, e.requested_at);
    EXPECT_TRUE(office.contains(*e.answered_at));
  }
}

TEST(SimulateTraffic, BurstMultipliesArrivalsInItsWindow) {
  auto base = month(21);
  base.days = 7 * 8;
  auto burst = base;
  // Every Wednesday 18:00-22:00 UTC of the first seven weeks, one burst each.
  for (int week = 0; week < 7; ++week) {
    burst.bursts.push_back(Burst{std::nullopt, hours{24 * (7 * week + 2) + 18}, hours{4}, 5.0});
  }
  auto count = [](const Traffic& t, const Scenario& s) {
    std::uint64_t n = 0;
    for (const auto& q : t.questions) {
      for (const auto& b : s.bursts) {
        const auto from = *s.start + b.offset;
        if (q.asked_at >= from && q.asked_at < from + b.length) ++n;
      }
    }
    return n;
  };
  const auto plain = generate(base, *base.start);
  const auto crisis = generate(burst, *burst.start);
  const auto in_window = count(crisis, burst);
  EXPECT_EQ(crisis.summary.in_bursts, in_window);
  // Same windows without the burst: measured on the plain run.
  std::uint64_t baseline = 0;
  for (const auto& q : plain.questions) {
    for (const auto& b : burst.bursts) {
      const auto from = *burst.start + b.offset;
      if (q.asked_at >= from && q.asked_at < from + b.length) ++baseline;
    }
  }
  ASSERT_GT(baseline, 40U);
  const double ratio = static_cast<double>(in_window) / static_cast<double>(baseline);
  EXPECT_GT(ratio, 3.8);
  EXPECT_LT(ratio, 6.4);
  EXPECT_EQ(plain.summary.in_bursts, 0U);
}

TEST(SimulateTraffic, SummaryMatchesTheMessagesAndIsASnapshotAtTheEnd) {
  const auto s = month();
  const auto t = generate(s, *s.start);
  const auto& m = t.summary;
  EXPECT_EQ(m.questions, t.questions.size());
  EXPECT_EQ(m.questions, m.answered_internal + m.answered_agency + m.unanswered + m.open_at_end);
  EXPECT_EQ(m.escalated, t.escalations.size());
  std::uint64_t brand = 0;
  std::set<std::string> conversations;
  std::map<std::string, Timestamp> asked;
  for (const auto& msg : t.messages) {
    EXPECT_GE(msg.created_at, t.start);
    EXPECT_LT(msg.created_at, t.end);
    if (msg.brand) ++brand;
    conversations.insert(msg.conversation_id);
    if (msg.id == msg.conversation_id) asked[msg.id] = msg.created_at;
  }
  for (const auto& msg : t.messages) EXPECT_GE(msg.created_at, asked.at(msg.conversation_id));
  EXPECT_EQ(brand, m.answered_internal + m.answered_agency);
  EXPECT_EQ(conversations.size(), m.questions);
  EXPECT_EQ(t.messages.size(), m.questions + m.follow_ups + brand);
  for (std::size_t i = 1; i < t.messages.size(); ++i)
    EXPECT_LE(t.messages[i - 1].created_at, t.messages[i].created_at);
  for (const auto& e : t.escalations) {
    EXPECT_LT(e.requested_at, t.end);
    if (e.answered_at) {
      EXPECT_LT(*e.answered_at, t.end);
    }
  }
}

TEST(SimulateTraffic, CutAtNowKeepsThePastAndDropsTheFuture) {
  const auto s = month();
  const auto full = generate(s, *s.start);
  const auto cut = at("2026-10-19T12:00:00Z");
  const auto part = generate(s, *s.start, cut);
  EXPECT_EQ(part.end, cut);
  for (const auto& m : part.messages) EXPECT_LT(m.created_at, cut);
  for (const auto& e : part.escalations) {
    EXPECT_LT(e.requested_at, cut);
    if (e.answered_at) {
      EXPECT_LT(*e.answered_at, cut);
    }
  }
  // The same questions as the whole period's, up to the cut.
  std::size_t n = 0;
  while (n < full.questions.size() && full.questions[n].asked_at < cut) ++n;
  ASSERT_EQ(part.questions.size(), n);
  for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(part.questions[i].id, full.questions[i].id);
  EXPECT_GT(part.summary.open_at_end, 0U);
  // A cut after the period changes nothing.
  EXPECT_EQ(generate(s, *s.start, at("2027-01-01T00:00:00Z")).summary.messages, full.summary.messages);
}

TEST(SimulateTraffic, DefaultStartIsDaysBeforeTodaysMidnight) {
  Scenario s;
  s.days = 3;
  EXPECT_EQ(resolveStart(s, at("2026-11-23T07:05:00Z")), at("2026-11-20T00:00:00Z"));
  s.start = at("2026-01-01T06:00:00Z");
  EXPECT_EQ(resolveStart(s, at("2026-11-23T07:05:00Z")), at("2026-01-01T06:00:00Z"));
}

}  // namespace
}  // namespace replywatch::simulate
