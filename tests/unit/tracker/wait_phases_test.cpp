#include <gtest/gtest.h>

#include <vector>

#include "daemon/tracker/wait_phases.h"

namespace replywatch::tracker {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

Timestamp at(long s) { return Timestamp{seconds{s}}; }
EscalationLeg leg(long from, std::optional<long> to) {
  EscalationLeg l;
  l.requested_at = at(from);
  if (to) l.answered_at = at(*to);
  return l;
}

TEST(DecomposeWait, NoLegsIsAllDirect) {
  auto p = decomposeWait(at(0), at(600), {}, at(10000));
  EXPECT_FALSE(p.escalated);
  EXPECT_EQ(p.direct, seconds{600});
  EXPECT_EQ(p.total(), seconds{600});
  EXPECT_EQ(p.escalation_wait, milliseconds{0});
}

TEST(DecomposeWait, OneLegInsideTheTurn) {
  std::vector<EscalationLeg> legs = {leg(100, 1900)};
  auto p = decomposeWait(at(0), at(2000), legs, at(10000));
  EXPECT_TRUE(p.escalated);
  EXPECT_EQ(p.before_escalation, seconds{100});
  EXPECT_EQ(p.relay, seconds{1800});
  EXPECT_EQ(p.after_relay, seconds{100});
  EXPECT_EQ(p.direct, milliseconds{0});
  EXPECT_EQ(p.escalation_wait, seconds{1800});
  EXPECT_EQ(p.total(), seconds{2000});
}

TEST(DecomposeWait, LegBeforeTheQuestionCountsOnlyItsOverlap) {
  std::vector<EscalationLeg> legs = {leg(-500, 300)};
  auto p = decomposeWait(at(0), at(1000), legs, at(10000));
  EXPECT_TRUE(p.escalated);
  EXPECT_EQ(p.before_escalation, milliseconds{0});
  EXPECT_EQ(p.relay, seconds{300});
  EXPECT_EQ(p.after_relay, seconds{700});
  EXPECT_EQ(p.escalation_wait, seconds{300});
}

TEST(DecomposeWait, LegsOutsideTheTurnAreIgnored) {
  std::vector<EscalationLeg> legs = {leg(-500, -100), leg(1200, 1500)};
  auto p = decomposeWait(at(0), at(1000), legs, at(10000));
  EXPECT_FALSE(p.escalated);
  EXPECT_EQ(p.direct, seconds{1000});
}

TEST(DecomposeWait, RelayAnsweredAfterThePublicReplyIsClipped) {
  std::vector<EscalationLeg> legs = {leg(200, 5000)};
  auto p = decomposeWait(at(0), at(1000), legs, at(10000));
  EXPECT_EQ(p.before_escalation, seconds{200});
  EXPECT_EQ(p.relay, seconds{800});
  EXPECT_EQ(p.after_relay, milliseconds{0});
  EXPECT_EQ(p.escalation_wait, seconds{800});
}

TEST(DecomposeWait, OverlappingLegsCountOnceInRelayButSumInEscalationWait) {
  std::vector<EscalationLeg> legs = {leg(400, 900), leg(100, 600), leg(1200, 1300)};
  auto p = decomposeWait(at(0), at(2000), legs, at(10000));
  EXPECT_EQ(p.before_escalation, seconds{100});
  EXPECT_EQ(p.relay, seconds{800 + 100});
  EXPECT_EQ(p.after_relay, seconds{2000 - 100 - 900});
  EXPECT_EQ(p.escalation_wait, seconds{500 + 500 + 100});
  EXPECT_EQ(p.total(), seconds{2000});
}

TEST(DecomposeWait, OpenTurnAndPendingLegRunToNow) {
  std::vector<EscalationLeg> legs = {leg(300, std::nullopt)};
  auto p = decomposeWait(at(0), std::nullopt, legs, at(1000));
  EXPECT_EQ(p.before_escalation, seconds{300});
  EXPECT_EQ(p.relay, seconds{700});
  EXPECT_EQ(p.after_relay, milliseconds{0});
}

TEST(DecomposeWait, EmptyOrNegativeIntervalGivesZeros) {
  std::vector<EscalationLeg> legs = {leg(0, 10)};
  EXPECT_EQ(decomposeWait(at(100), at(100), legs, at(1000)), WaitPhases{});
  EXPECT_EQ(decomposeWait(at(100), at(50), legs, at(1000)), WaitPhases{});
}

}  // namespace
}  // namespace replywatch::tracker
