// The window figures and every verdict rule on hand-built turns with known answers,
// including the boundaries of each threshold.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "daemon/verdict/verdict.h"

namespace replywatch::verdict {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

// The window: four weeks ending on Monday 23 November 2026, 12:00 UTC.
const Timestamp kUntil = *parseRfc3339("2026-11-23T12:00:00Z");
const Timestamp kFrom = kUntil - hours{28 * 24};
// A Wednesday in the window: 10:00 and 22:00 in Paris (CET, UTC+1).
const Timestamp kBusiness = *parseRfc3339("2026-11-04T09:00:00Z");
const Timestamp kOff = *parseRfc3339("2026-11-04T21:00:00Z");

config::AccountConfig account() {
  config::AccountConfig a;
  a.name = "acme-fr";
  a.timezone = "Europe/Paris";
  a.threshold = hours{1};
  for (std::size_t day = 0; day < 5; ++day) a.business_hours.week[day] = {{9 * 60, 18 * 60}};
  return a;
}

struct Builder {
  std::vector<TurnFact> facts;
  int serial = 0;

  // `count` answered turns on `route`, asked at `asked` (+1 s each), each waiting `wait`,
  // of which `relay` spent on an internal relay leg starting 5 minutes in.
  Builder& answered(Route route, int count, std::chrono::milliseconds wait, Timestamp asked = kBusiness,
                    std::chrono::milliseconds relay = {}) {
    for (int i = 0; i < count; ++i) {
      Turn t;
      t.account = "acme-fr";
      t.channel = "x";
      t.source = "src";
      t.conversation_id = "c" + std::to_string(serial);
      t.question_id = "q" + std::to_string(serial++);
      t.asked_at = asked + seconds{i};
      t.answered_at = t.asked_at + wait;
      t.answer_id = "a" + t.question_id;
      t.route = route;
      t.handler = route == Route::Agency ? "cm-agency" : "care";
      std::vector<tracker::EscalationLeg> legs;
      if (relay.count() > 0) legs.push_back({t.asked_at + minutes{5}, t.asked_at + minutes{5} + relay});
      facts.push_back({t, tracker::decomposeWait(t.asked_at, t.answered_at, legs, kUntil)});
    }
    return *this;
  }
  Builder& late(Route route, int count, Timestamp asked = kBusiness) {
    return answered(route, count, hours{2}, asked);
  }
  Builder& onTime(Route route, int count, Timestamp asked = kBusiness) {
    return answered(route, count, minutes{20}, asked);
  }
  Builder& open(Timestamp asked) {
    Turn t;
    t.account = "acme-fr";
    t.source = "src";
    t.conversation_id = "c" + std::to_string(serial);
    t.question_id = "q" + std::to_string(serial++);
    t.asked_at = asked;
    facts.push_back({t, tracker::decomposeWait(t.asked_at, std::nullopt, {}, kUntil)});
    return *this;
  }
  AccountVerdict evaluate(const config::VerdictConfig& rules = {}) const {
    return verdict::evaluate(facts, account(), rules, kFrom, kUntil);
  }
};

std::vector<std::string> codes(const AccountVerdict& v) {
  std::vector<std::string> out;
  for (const auto& r : v.reasons) out.push_back(r.code);
  return out;
}

TEST(Figures, CountsJudgesAndSplitsTurns) {
  Builder b;
  b.onTime(Route::Internal, 3).late(Route::Internal, 1, kOff);
  b.answered(Route::Agency, 2, minutes{10}, kUntil - minutes{30});  // answered, too young to be judged
  b.open(kUntil - hours{3});     // open past the threshold: late, and the agency's (on duty)
  b.open(kUntil - minutes{10});  // open, not judged yet: unknown
  b.answered(Route::Agency, 1, minutes{5}, kFrom - seconds{1});     // before the window
  b.answered(Route::Agency, 1, minutes{5}, kUntil);                 // at the window's end: outside
  b.answered(Route::Agency, 1, minutes{30}, kUntil - minutes{70});  // answered after `until`: open then
  b.facts.back().turn.answered_at = kUntil + minutes{1};
  auto v = b.evaluate();
  const auto& internal = v.routes.at(Route::Internal);
  EXPECT_EQ(internal.turns, 4u);
  EXPECT_EQ(internal.answered, 4u);
  EXPECT_EQ(internal.on_time, 3u);
  EXPECT_EQ(internal.late.judged, 4u);
  EXPECT_EQ(internal.late.late, 1u);
  EXPECT_EQ(internal.business.judged, 3u);
  EXPECT_EQ(internal.business.late, 0u);
  EXPECT_EQ(internal.off.judged, 1u);
  EXPECT_EQ(internal.off.late, 1u);
  // Wednesday 10:00 and 22:00 Paris time.
  EXPECT_EQ(internal.hour_of_week[2 * 24 + 10].judged, 3u);
  EXPECT_EQ(internal.hour_of_week[2 * 24 + 22].late, 1u);
  EXPECT_EQ(internal.weeks.at("2026-11-02").judged, 4u);
  EXPECT_DOUBLE_EQ(*internal.median_wait_seconds, 1200);
  EXPECT_DOUBLE_EQ(*internal.p90_wait_seconds, 1200 + 0.7 * 6000);
  // The agency's: the two young answered turns, the one answered after `until` (open and
  // late then) and the judged one nobody answered.
  const auto& agency = v.routes.at(Route::Agency);
  EXPECT_EQ(agency.turns, 4u);
  EXPECT_EQ(agency.answered, 2u);
  EXPECT_EQ(agency.open, 2u);
  EXPECT_EQ(agency.unanswered, 2u);
  EXPECT_EQ(agency.late.judged, 2u);
  EXPECT_EQ(agency.late.late, 2u);
  EXPECT_EQ(agency.waits.size(), 2u);
  const auto& unknown = v.routes.at(Route::Unknown);
  EXPECT_EQ(unknown.turns, 1u);
  EXPECT_EQ(unknown.open, 1u);
  EXPECT_EQ(unknown.unanswered, 0u);
  EXPECT_EQ(unknown.late.judged, 0u);
  EXPECT_EQ(v.all.turns, 9u);
  EXPECT_EQ(v.all.unanswered, 2u);
  EXPECT_EQ(v.all.late.judged, 6u);
  EXPECT_EQ(v.all.late.late, 3u);
}

// An account whose 100 questions over 20 days are asked at `asked(i)`; the even ones
// answered by `route` after `wait`, the odd ones never.
Builder halfAnswered(Route route, std::chrono::milliseconds wait) {
  Builder b;
  for (int i = 0; i < 100; ++i) {
    const Timestamp asked = kUntil - hours{20 * 24} + hours{4} * i + seconds{i};
    if (i % 2 == 0) {
      b.answered(route, 1, wait, asked);
    } else {
      b.open(asked);
    }
  }
  return b;
}

TEST(Routes, QuestionsNobodyAnsweredCountAgainstTheAgencyOnDuty) {
  auto v = halfAnswered(Route::Agency, minutes{5}).evaluate();
  const auto& agency = v.routes.at(Route::Agency);
  EXPECT_EQ(agency.turns, 100u);
  EXPECT_EQ(agency.answered, 50u);
  EXPECT_EQ(agency.open, 50u);
  EXPECT_EQ(agency.unanswered, 50u);
  EXPECT_EQ(agency.late.judged, 100u);
  EXPECT_EQ(agency.late.late, 50u);
  EXPECT_EQ(agency.waits.size(), 50u);
  EXPECT_DOUBLE_EQ(*agency.median_wait_seconds, 300);
  EXPECT_EQ(v.routes.at(Route::Unknown).turns, 0u);
  // No relay wait: the what-if counts the open turns late as well.
  EXPECT_DOUBLE_EQ(*v.whatif_late_ratio, 0.5);
  EXPECT_DOUBLE_EQ(*v.relay_share, 0.0);
  // No internal baseline and nothing explains the lateness: the agency is kept, with
  // the excess stated.
  EXPECT_EQ(v.verdict, Verdict::Keep);
  ASSERT_THAT(codes(v), ::testing::ElementsAre("agency_late_without_comparison", "no_internal_baseline"));
  EXPECT_DOUBLE_EQ(v.reasons[0].number("late_ratio"), 0.5);
  EXPECT_EQ(sentence(v.reasons[0], Language::English).rfind("The agency answers 50.0% of questions late", 0),
            0u);
}

TEST(Routes, WithoutAgencyAnswersTheInternalRouteIsOnDuty) {
  auto v = halfAnswered(Route::Internal, minutes{5}).evaluate();
  EXPECT_EQ(v.routes.at(Route::Internal).late.judged, 100u);
  EXPECT_EQ(v.routes.at(Route::Internal).unanswered, 50u);
  EXPECT_EQ(v.routes.at(Route::Agency).turns, 0u);
  EXPECT_EQ(v.routes.at(Route::Unknown).turns, 0u);
  // One agency answer, even an internal-heavy window: the agency covers around the clock.
  Builder b = halfAnswered(Route::Internal, minutes{5});
  b.onTime(Route::Agency, 1);
  auto w = b.evaluate();
  EXPECT_EQ(w.routes.at(Route::Agency).unanswered, 50u);
  EXPECT_EQ(w.routes.at(Route::Agency).late.judged, 51u);
  EXPECT_EQ(w.routes.at(Route::Internal).unanswered, 0u);
  EXPECT_EQ(w.routes.at(Route::Internal).late.judged, 50u);
}

TEST(Routes, AnAnswerAfterTheWindowCountsForItsRouteAsOpen) {
  // 40 agency turns answered on time, 10 asked 2 h before `until` and answered by the
  // internal team an hour after it: open and late at `until`, but the internal team's.
  Builder b;
  b.onTime(Route::Agency, 40);
  b.answered(Route::Internal, 10, hours{3}, kUntil - hours{2});
  auto v = b.evaluate();
  const auto& internal = v.routes.at(Route::Internal);
  EXPECT_EQ(internal.turns, 10u);
  EXPECT_EQ(internal.answered, 0u);
  EXPECT_EQ(internal.open, 10u);
  EXPECT_EQ(internal.unanswered, 10u);
  EXPECT_EQ(internal.late.judged, 10u);
  EXPECT_EQ(internal.late.late, 10u);
  EXPECT_TRUE(internal.waits.empty());
  EXPECT_EQ(v.routes.at(Route::Unknown).turns, 0u);
  EXPECT_EQ(v.routes.at(Route::Agency).late.late, 0u);
  // The same turns, asked 30 minutes before `until`: not judged yet, still the internal team's.
  Builder c;
  c.onTime(Route::Agency, 40);
  c.answered(Route::Internal, 10, hours{3}, kUntil - minutes{30});
  auto w = c.evaluate();
  EXPECT_EQ(w.routes.at(Route::Internal).open, 10u);
  EXPECT_EQ(w.routes.at(Route::Internal).late.judged, 0u);
  EXPECT_EQ(w.routes.at(Route::Unknown).turns, 0u);
  // An agency answer after `until` alone puts the agency on duty.
  Builder d;
  d.answered(Route::Agency, 1, hours{3}, kUntil - hours{2});
  d.open(kBusiness);
  auto x = d.evaluate();
  EXPECT_EQ(x.routes.at(Route::Agency).late.judged, 2u);
  EXPECT_EQ(x.routes.at(Route::Agency).unanswered, 2u);
}

TEST(Routes, NothingAnsweredIsInsufficientDataWithTheUnansweredCounted) {
  Builder b;
  for (int i = 0; i < 100; ++i) b.open(kUntil - hours{20 * 24} + hours{4} * i);
  b.open(kUntil - minutes{5});  // too young to be judged
  auto v = b.evaluate();
  const auto& unknown = v.routes.at(Route::Unknown);
  EXPECT_EQ(unknown.late.judged, 100u);
  EXPECT_EQ(unknown.unanswered, 100u);
  EXPECT_EQ(unknown.open, 101u);
  EXPECT_EQ(v.verdict, Verdict::InsufficientData);
  ASSERT_THAT(codes(v), ::testing::ElementsAre("insufficient_turns"));
  EXPECT_EQ(v.reasons[0].number("judged"), 0);
  EXPECT_EQ(v.reasons[0].number("answered"), 0);
  EXPECT_EQ(v.reasons[0].number("unanswered"), 100);
  EXPECT_EQ(sentence(v.reasons[0], Language::English),
            "The agency answered no question in the window; 100 judged questions were left unanswered. At "
            "least 30 judged questions of the agency are needed to conclude.");
  EXPECT_EQ(sentence(v.reasons[0], Language::French),
            "L'agence n'a répondu à aucune question dans la période ; 100 questions jugées sont restées sans "
            "réponse. Il faut au moins 30 questions jugées de l'agence pour conclure.");
}

TEST(Figures, RelayShareWhatIfAndPhases) {
  Builder b;
  // 10 agency turns waiting 2 h, of which 90 min waiting for an internal relay, and 10
  // waiting 30 min with no relay.
  b.answered(Route::Agency, 10, hours{2}, kBusiness, minutes{90});
  b.answered(Route::Agency, 10, minutes{30}, kBusiness);
  auto v = b.evaluate();
  const auto& agency = v.routes.at(Route::Agency);
  EXPECT_EQ(agency.escalated, 10u);
  EXPECT_DOUBLE_EQ(agency.phases.relay, 10 * 5400.0);
  EXPECT_DOUBLE_EQ(agency.phases.before_escalation, 10 * 300.0);
  EXPECT_DOUBLE_EQ(agency.phases.after_relay, 10 * 1500.0);
  EXPECT_DOUBLE_EQ(agency.phases.direct, 10 * 1800.0);
  EXPECT_DOUBLE_EQ(*v.relay_share, 54000.0 / (72000.0 + 18000.0));
  EXPECT_DOUBLE_EQ(*agency.late.ratio(), 0.5);
  EXPECT_DOUBLE_EQ(*v.whatif_late_ratio, 0.0);  // 2 h - 90 min = 30 min: on time
}

TEST(Figures, CostPerAnswerAndPerOnTimeAnswer) {
  Builder b;
  b.onTime(Route::Agency, 30).late(Route::Agency, 10);
  b.onTime(Route::Internal, 20);
  auto a = account();
  a.cost.agency_per_month = 4000;
  a.cost.inhouse_per_month = 6000;
  auto v = evaluate(b.facts, a, {}, kFrom, kUntil);
  const double months = 28.0 / (365.2425 / 12.0);
  const auto& agency = v.routes.at(Route::Agency);
  EXPECT_NEAR(*agency.cost_in_window, 4000 * months, 1e-9);
  EXPECT_NEAR(*agency.cost_per_answer, 4000 * months / 40, 1e-9);
  EXPECT_NEAR(*agency.cost_per_ontime_answer, 4000 * months / 30, 1e-9);
  EXPECT_NEAR(*v.routes.at(Route::Internal).cost_per_ontime_answer, 6000 * months / 20, 1e-9);
  EXPECT_FALSE(v.routes.at(Route::Unknown).cost_in_window.has_value());
}

TEST(Figures, AWindowNotOverYetIsJudgedAtTheGivenInstant) {
  // The window runs to `kUntil`, but it is only `now`, a week before: 40 agency turns
  // answered in 5 minutes, and 10 asked 1 to 19 minutes ago, not answered yet.
  const Timestamp now = kUntil - hours{7 * 24};
  Builder b;
  b.answered(Route::Agency, 40, minutes{5}, kBusiness);
  for (int i = 0; i < 10; ++i) b.open(now - minutes{1 + 2 * i});
  auto a = account();
  a.cost.agency_per_month = 4000;
  auto v = evaluate(b.facts, a, {}, kFrom, kUntil, now);
  EXPECT_EQ(v.until, kUntil);
  EXPECT_EQ(v.judged_at, now);
  // Asked minutes ago: open, not judged, not late.
  EXPECT_EQ(v.all.turns, 50u);
  EXPECT_EQ(v.all.open, 10u);
  EXPECT_EQ(v.all.late.judged, 40u);
  EXPECT_EQ(v.all.late.late, 0u);
  EXPECT_EQ(v.routes.at(Route::Unknown).late.judged, 0u);
  // Costs over the 21 elapsed days, not the 28 of the window.
  const double months = 21.0 / (365.2425 / 12.0);
  EXPECT_NEAR(*v.routes.at(Route::Agency).cost_in_window, 4000 * months, 1e-9);
  EXPECT_NEAR(*v.routes.at(Route::Agency).cost_per_answer, 4000 * months / 40, 1e-9);
  // An answer given after the judging instant had not come yet; a turn asked after it,
  // not been asked.
  Builder c;
  c.answered(Route::Agency, 1, hours{4}, now - hours{3});  // answered an hour from now
  c.answered(Route::Agency, 1, minutes{5}, now + hours{1});
  auto w = evaluate(c.facts, a, {}, kFrom, kUntil, now);
  EXPECT_EQ(w.all.turns, 1u);
  EXPECT_EQ(w.routes.at(Route::Agency).answered, 0u);
  EXPECT_EQ(w.routes.at(Route::Agency).late.late, 1u);
  // A judging instant after the window's end changes nothing.
  EXPECT_EQ(evaluate(c.facts, a, {}, kFrom, kUntil, kUntil + hours{1}).judged_at, kUntil);
  EXPECT_EQ(evaluate(c.facts, a, {}, kFrom, kUntil).judged_at, kUntil);
}

TEST(Rules, InsufficientDataBelowMinTurns) {
  Builder b;
  b.late(Route::Agency, 29).onTime(Route::Internal, 100);
  auto v = b.evaluate();
  EXPECT_EQ(v.verdict, Verdict::InsufficientData);
  ASSERT_THAT(codes(v), ::testing::ElementsAre("insufficient_turns"));
  EXPECT_EQ(v.reasons[0].number("judged"), 29);
  EXPECT_EQ(v.reasons[0].number("min_turns"), 30);
  EXPECT_EQ(sentence(v.reasons[0], Language::English),
            "The agency has only 29 judged questions in the window, fewer than the 30 needed to conclude.");
  b.late(Route::Agency, 1);  // 30: enough
  EXPECT_EQ(b.evaluate().verdict, Verdict::Insource);
  config::VerdictConfig strict;
  strict.min_turns = 31;
  EXPECT_EQ(b.evaluate(strict).verdict, Verdict::InsufficientData);
}

TEST(Rules, InsourceWhenTheAgencyIntervalIsAboveTheInternalOne) {
  Builder b;
  b.late(Route::Agency, 20).onTime(Route::Agency, 20);
  b.late(Route::Internal, 1).onTime(Route::Internal, 39);
  auto v = b.evaluate();
  EXPECT_EQ(v.verdict, Verdict::Insource);
  EXPECT_THAT(codes(v), ::testing::ElementsAre("agency_late", "agency_interval_above_internal"));
  const auto& r = v.reasons[1];
  EXPECT_GT(r.number("agency_lower"), r.number("internal_upper"));
  EXPECT_DOUBLE_EQ(r.number("agency_lower"), wilsonInterval(20, 40).lower);
  EXPECT_DOUBLE_EQ(r.number("internal_upper"), wilsonInterval(1, 40).upper);
}

TEST(Rules, OverlappingIntervalsKeepTheAgency) {
  Builder b;
  b.late(Route::Agency, 6).onTime(Route::Agency, 34);      // 15%
  b.late(Route::Internal, 3).onTime(Route::Internal, 37);  // 7.5%
  auto v = b.evaluate();
  EXPECT_EQ(v.verdict, Verdict::Keep);
  EXPECT_THAT(codes(v), ::testing::ElementsAre("agency_late_not_worse_than_internal"));
}

TEST(Rules, LateRatioAtTheTargetIsNotLate) {
  Builder b;
  // 3 of 30 late (exactly 10%), and all of the lateness waits for relays.
  b.answered(Route::Agency, 3, hours{3}, kBusiness, hours{2} + minutes{50});
  b.onTime(Route::Agency, 27);
  auto v = b.evaluate();
  EXPECT_EQ(v.verdict, Verdict::Keep);
  EXPECT_THAT(codes(v), ::testing::ElementsAre("agency_within_target", "no_internal_baseline"));
  b.answered(Route::Agency, 1, hours{3}, kBusiness, hours{2} + minutes{50});  // 4 of 31
  EXPECT_EQ(b.evaluate().verdict, Verdict::Insource);
  config::VerdictConfig lenient;
  lenient.max_late_ratio = 0.2;
  EXPECT_EQ(b.evaluate(lenient).verdict, Verdict::Keep);
}

TEST(Rules, InsourceFromTheRelayShareBoundary) {
  // Agency: 20 of 40 late (2 h waits), 20 on time (20 min). Internal baseline as bad, so
  // only the relay share can argue for in-house. Relay legs on the late turns: share =
  // 20 r / (20 * 7200 + 20 * 1200) = r / 8400, so r = 4200 s gives exactly 0.5.
  auto build = [](seconds relay) {
    Builder b;
    b.answered(Route::Agency, 20, hours{2}, kBusiness, relay).onTime(Route::Agency, 20);
    b.late(Route::Internal, 20).onTime(Route::Internal, 20);
    return b.evaluate();
  };
  auto at_boundary = build(seconds{4200});
  EXPECT_DOUBLE_EQ(*at_boundary.relay_share, 0.5);
  EXPECT_EQ(at_boundary.verdict, Verdict::Insource);
  EXPECT_THAT(codes(at_boundary), ::testing::ElementsAre("agency_late", "relay_share"));
  auto below = build(seconds{4199});
  EXPECT_LT(*below.relay_share, 0.5);
  EXPECT_EQ(below.verdict, Verdict::Keep);
  EXPECT_THAT(codes(below), ::testing::ElementsAre("agency_late_not_worse_than_internal"));
}

TEST(Rules, WithoutBaselineTheWhatIfDecides) {
  // No internal turns. Agency: 30 of 100 late, each late turn waiting 2 h of which
  // 90 min for a relay (share 45/95 < 0.5); without relays they would be on time.
  Builder b;
  b.answered(Route::Agency, 30, hours{2}, kBusiness, minutes{90}).answered(Route::Agency, 70, minutes{30});
  auto v = b.evaluate();
  EXPECT_LT(*v.relay_share, 0.5);
  EXPECT_DOUBLE_EQ(*v.whatif_late_ratio, 0.0);
  EXPECT_EQ(v.verdict, Verdict::Insource);
  EXPECT_THAT(codes(v),
              ::testing::ElementsAre("agency_late", "relays_explain_lateness", "no_internal_baseline"));

  // Same lateness, but relays only take 30 min: still late without them.
  Builder c;
  c.answered(Route::Agency, 30, hours{2}, kBusiness, minutes{30}).answered(Route::Agency, 70, minutes{30});
  auto w = c.evaluate();
  EXPECT_DOUBLE_EQ(*w.whatif_late_ratio, 0.3);
  EXPECT_EQ(w.verdict, Verdict::Keep);
  // The excess is certain (its lower bound is above the target); what is missing is an
  // explanation and a baseline, and the reason says so.
  EXPECT_GT(w.routes.at(Route::Agency).late_interval.lower, 0.10);
  EXPECT_THAT(codes(w), ::testing::ElementsAre("agency_late_without_comparison", "no_internal_baseline"));

  // Agency interval not wholly above the target: 5 of 30 late (lower bound < 10%).
  Builder d;
  d.answered(Route::Agency, 5, hours{2}, kBusiness, minutes{90}).answered(Route::Agency, 25, minutes{30});
  auto x = d.evaluate();
  EXPECT_LT(x.routes.at(Route::Agency).late_interval.lower, 0.10);
  EXPECT_EQ(x.verdict, Verdict::Keep);
  EXPECT_THAT(codes(x), ::testing::ElementsAre("agency_late_unexplained", "no_internal_baseline"));
}

TEST(Rules, TheSentenceSaysWhenRelaysExplainTheLatenessByTheWhatIf) {
  // 40 agency answers: 34 in 50 minutes, 6 in 70 minutes of which 20 waiting for a relay.
  // 15% late, not certainly above the target; without the relays, none would be late.
  Builder b;
  b.answered(Route::Agency, 34, minutes{50}).answered(Route::Agency, 6, minutes{70}, kBusiness, minutes{20});
  auto v = b.evaluate();
  ASSERT_THAT(codes(v), ::testing::ElementsAre("agency_late_unexplained", "no_internal_baseline"));
  EXPECT_DOUBLE_EQ(v.reasons[0].number("whatif_late_ratio"), 0.0);
  EXPECT_EQ(sentence(v.reasons[0], Language::English),
            "The agency answers 15.0% of questions late (target 10.0%); without the wait for internal relays "
            "(5.7% of the wait) its late ratio would fall to 0.0%, but the excess is not certain (as low as "
            "7.1%) and, with no internal baseline, nothing shows that an in-house team would do better.");
  EXPECT_EQ(
      sentence(v.reasons[0], Language::French),
      "L'agence répond en retard à 15,0\u00a0% des questions (objectif 10,0\u00a0%) ; sans l'attente des "
      "relais internes (5,7\u00a0% de l'attente), son taux de retard tomberait à 0,0\u00a0%, mais l'écart "
      "n'est pas certain (au plus bas 7,1\u00a0%) et, sans référence interne, rien ne montre qu'une "
      "équipe interne ferait mieux.");
  // With an internal baseline no better: the same what-if, in the baseline's sentence.
  b.late(Route::Internal, 3).onTime(Route::Internal, 37);
  auto w = b.evaluate();
  ASSERT_THAT(codes(w), ::testing::ElementsAre("agency_late_not_worse_than_internal"));
  const auto en = sentence(w.reasons[0], Language::English);
  EXPECT_THAT(en, ::testing::HasSubstr("; without the wait for internal relays (5.7% of the wait), the "
                                       "agency's late ratio would fall to 0.0%."));
  EXPECT_THAT(en, ::testing::Not(::testing::HasSubstr("explain only")));
  EXPECT_THAT(sentence(w.reasons[0], Language::French),
              ::testing::HasSubstr("le taux de retard de l'agence tomberait à 0,0\u00a0%."));
  // Relays that do not bring the agency under the target keep the former sentence.
  Builder c;
  c.answered(Route::Agency, 34, minutes{50}).answered(Route::Agency, 6, minutes{70}, kBusiness, minutes{5});
  auto x = c.evaluate();
  ASSERT_THAT(codes(x), ::testing::ElementsAre("agency_late_unexplained", "no_internal_baseline"));
  EXPECT_DOUBLE_EQ(x.reasons[0].number("whatif_late_ratio"), 0.15);
  EXPECT_THAT(sentence(x.reasons[0], Language::English),
              ::testing::HasSubstr("internal relays do not explain it"));
}

// 40 judged turns per route and period, of which the given numbers are late.
Builder split(int internal_business, int agency_business, int internal_off, int agency_off) {
  Builder b;
  b.late(Route::Internal, internal_business, kBusiness)
      .onTime(Route::Internal, 40 - internal_business, kBusiness);
  b.late(Route::Internal, internal_off, kOff).onTime(Route::Internal, 40 - internal_off, kOff);
  b.late(Route::Agency, agency_business, kBusiness).onTime(Route::Agency, 40 - agency_business, kBusiness);
  b.late(Route::Agency, agency_off, kOff).onTime(Route::Agency, 40 - agency_off, kOff);
  return b;
}

TEST(Rules, HybridWhenInternalWinsInHoursAndLosesOffHours) {
  auto v = split(1, 16, 20, 2).evaluate();
  EXPECT_EQ(v.verdict, Verdict::Hybrid);
  EXPECT_THAT(codes(v), ::testing::ElementsAre("internal_better_in_hours", "agency_better_off_hours"));
  EXPECT_DOUBLE_EQ(v.reasons[0].number("internal_late_ratio"), 0.025);
  EXPECT_DOUBLE_EQ(v.reasons[0].number("agency_late_ratio"), 0.4);
  EXPECT_DOUBLE_EQ(v.reasons[1].number("internal_late_ratio"), 0.5);
  EXPECT_DOUBLE_EQ(v.reasons[1].number("agency_late_ratio"), 0.05);

  // The same direction, but the intervals overlap in business hours (2 of 40 against 10
  // of 40): not clear enough to split the role.
  auto o = split(2, 10, 20, 2).evaluate();
  EXPECT_EQ(o.verdict, Verdict::Keep);
  EXPECT_THAT(codes(o), ::testing::Contains("hours_split_uncertain"));

  // One late internal turn off hours, against 40 agency turns on time, must not decide:
  // each route needs min_turns judged turns in each period.
  Builder tiny;
  tiny.onTime(Route::Internal, 40, kBusiness).late(Route::Internal, 1, kOff);
  tiny.late(Route::Agency, 1, kBusiness).onTime(Route::Agency, 39, kBusiness).onTime(Route::Agency, 40, kOff);
  auto t = tiny.evaluate();
  EXPECT_EQ(t.verdict, Verdict::Keep);
  EXPECT_THAT(codes(t), ::testing::ElementsAre("agency_within_target", "hours_split_uncertain"));

  // Equal off-hours ratios: internal is not worse off hours, so no hybrid.
  EXPECT_NE(split(2, 10, 4, 4).evaluate().verdict, Verdict::Hybrid);
}

TEST(Rules, ThresholdsComeFromTheConfiguration) {
  Builder b;
  b.late(Route::Agency, 12).onTime(Route::Agency, 28);  // 30%
  b.answered(Route::Agency, 0, hours{2});
  config::VerdictConfig rules;
  rules.min_turns = 40;
  rules.max_late_ratio = 0.05;
  auto v = b.evaluate(rules);
  ASSERT_EQ(v.verdict, Verdict::Keep);  // no baseline and no relays: nothing explains the lateness
  EXPECT_DOUBLE_EQ(v.reasons[0].number("max_late_ratio"), 0.05);
  rules.min_relay_share = 0;  // refused by the configuration; a share of 0 explains nothing all the same
  EXPECT_EQ(b.evaluate(rules).verdict, Verdict::Keep);
}

// The relay share argues for in-house only when measured on min_turns answered turns: one
// slow relayed answer among questions nobody answered says nothing of where the
// knowledge is, and the reason says what it was measured on.
TEST(Rules, ARelayShareOfTooFewAnsweredTurnsDecidesNothing) {
  Builder b;
  b.answered(Route::Agency, 1, hours{3}, kBusiness, hours{2});
  for (int i = 0; i < 29; ++i) b.open(kBusiness + seconds{10 + i});
  auto v = b.evaluate();
  EXPECT_DOUBLE_EQ(v.relay_share.value_or(0), 2.0 / 3.0);
  ASSERT_EQ(v.verdict, Verdict::Keep);
  ASSERT_THAT(codes(v), ::testing::ElementsAre("agency_late_without_comparison", "no_internal_baseline"));
  EXPECT_THAT(
      sentence(v.reasons[0], Language::English),
      ::testing::HasSubstr("internal relays do not explain it (66.7% of the wait, but over only 1 answered "
                           "question: too few to judge)"));
  EXPECT_THAT(sentence(v.reasons[0], Language::French),
              ::testing::HasSubstr("(66,7\u00a0% de l'attente, mais sur 1 question répondue seulement : trop "
                                   "peu pour en juger)"));

  // The same with 30 such answers: the share is measured, and decides.
  Builder enough;
  enough.answered(Route::Agency, 30, hours{3}, kBusiness, hours{2});
  auto e = enough.evaluate();
  EXPECT_EQ(e.verdict, Verdict::Insource);
  EXPECT_THAT(codes(e), ::testing::Contains("relay_share"));

  // No answered turn to measure it on: no number, and the sentence says so.
  Reason unmeasured{"agency_late_without_comparison",
                    "agency",
                    {{"late_ratio", 1},
                     {"max_late_ratio", 0.1},
                     {"agency_lower", 0.9},
                     {"min_relay_share", 0.5},
                     {"answered", 0},
                     {"min_turns", 30}}};
  EXPECT_THAT(sentence(unmeasured, Language::English),
              ::testing::HasSubstr("internal relays do not explain it (not measured: no answered wait)"));
  EXPECT_THAT(
      sentence(unmeasured, Language::French),
      ::testing::HasSubstr("ne l'expliquent pas (non mesurée : aucune attente de question répondue) et"));
  unmeasured.code = "agency_late_unexplained";
  EXPECT_THAT(
      sentence(unmeasured, Language::French),
      ::testing::HasSubstr("ne l'expliquent pas (non mesurée : aucune attente de question répondue)."));
  // The what-if without a measured share: no parenthesis that would contradict it.
  unmeasured.numbers.emplace_back("whatif_late_ratio", 0.05);
  EXPECT_THAT(sentence(unmeasured, Language::English),
              ::testing::HasSubstr("without the wait for internal relays its late ratio would fall to 5.0%"));
  EXPECT_THAT(sentence(unmeasured, Language::French),
              ::testing::HasSubstr("sans l'attente des relais internes, son taux de retard tomberait à 5,0"));
}

TEST(Text, EverySentenceInBothLanguages) {
  Reason late{"agency_late",
              "agency",
              {{"late_ratio", 4.0 / 30}, {"max_late_ratio", 0.1}, {"late", 4}, {"judged", 30}}};
  EXPECT_EQ(sentence(late, Language::English),
            "The agency answers 13.3% of questions late (4 of 30), above the 10.0% target.");
  EXPECT_EQ(sentence(late, Language::French),
            "L'agence répond en retard à 13,3\u00a0% des questions (4 sur 30), au-delà de l'objectif de "
            "10,0\u00a0%.");
  Reason few{"insufficient_turns",
             "agency",
             {{"judged", 12}, {"min_turns", 30}, {"answered", 11}, {"unanswered", 1}}};
  EXPECT_EQ(sentence(few, Language::English),
            "The agency has only 12 judged questions in the window, fewer than the 30 needed to conclude. In "
            "all, 1 judged question was left unanswered.");
  EXPECT_EQ(
      sentence(few, Language::French),
      "L'agence n'a que 12 questions jugées dans la période, moins que les 30 nécessaires pour conclure. "
      "Au total, 1 question jugée est restée sans réponse.");
  Reason within{
      "agency_within_target", "agency", {{"late_ratio", 0.05}, {"max_late_ratio", 0.1}, {"unanswered", 3}}};
  EXPECT_EQ(sentence(within, Language::English),
            "The agency answers 5.0% of questions late (counting 3 judged questions left unanswered), within "
            "the 10.0% target.");
  EXPECT_EQ(sentence(within, Language::French),
            "L'agence répond en retard à 5,0\u00a0% des questions (dont 3 questions jugées restées sans "
            "réponse), dans l'objectif de 10,0\u00a0%.");
  // Enough decimals for a ratio and the target it is compared with to read differently.
  Reason just_above{"agency_late",
                    "agency",
                    {{"late_ratio", 0.1001}, {"max_late_ratio", 0.1}, {"late", 1001}, {"judged", 10000}}};
  EXPECT_EQ(sentence(just_above, Language::English),
            "The agency answers 10.01% of questions late (1001 of 10000), above the 10.00% target.");
  EXPECT_EQ(
      sentence(just_above, Language::French),
      "L'agence répond en retard à 10,01\u00a0% des questions (1001 sur 10000), au-delà de l'objectif de "
      "10,00\u00a0%.");
  Reason certain{"agency_late_without_comparison",
                 "agency",
                 {{"late_ratio", 0.1104},
                  {"max_late_ratio", 0.1},
                  {"agency_lower", 0.10003},
                  {"relay_share", 0.02},
                  {"min_relay_share", 0.5},
                  {"whatif_late_ratio", 0.11}}};
  EXPECT_THAT(
      sentence(certain, Language::English),
      ::testing::StartsWith("The agency answers 11.040% of questions late (target 10.000%), clearly above "
                            "it (at least 10.003%), "));
  Reason just_within{"agency_within_target", "agency", {{"late_ratio", 0.0996}, {"max_late_ratio", 0.1}}};
  EXPECT_EQ(sentence(just_within, Language::English),
            "The agency answers 9.96% of questions late, within the "
            "10.00% target.");
  for (const char* code :
       {"insufficient_turns", "no_internal_baseline", "agency_interval_above_internal", "relay_share",
        "relays_explain_lateness", "internal_better_in_hours", "agency_better_off_hours",
        "agency_within_target", "agency_late_not_worse_than_internal", "agency_late_unexplained",
        "agency_late_without_comparison", "hours_split_uncertain"}) {
    Reason r{code, "agency", {}};
    auto en = sentence(r, Language::English);
    auto fr = sentence(r, Language::French);
    EXPECT_NE(en, code);
    EXPECT_NE(fr, code);
    EXPECT_NE(en, fr);
  }
}

}  // namespace
}  // namespace replywatch::verdict
