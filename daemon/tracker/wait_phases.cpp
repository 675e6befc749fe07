#include "daemon/tracker/wait_phases.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace replywatch::tracker {

WaitPhases decomposeWait(Timestamp asked_at, std::optional<Timestamp> answered_at,
                         std::span<const EscalationLeg> legs, Timestamp now) {
  WaitPhases phases;
  const Timestamp end = answered_at.value_or(now);
  if (end <= asked_at) return phases;

  // Legs clipped to the turn; those that do not overlap it are no part of this wait.
  std::vector<std::pair<Timestamp, Timestamp>> clipped;
  clipped.reserve(legs.size());
  for (const auto& leg : legs) {
    const Timestamp from = std::max(leg.requested_at, asked_at);
    const Timestamp to = std::min(leg.answered_at.value_or(end), end);
    if (to <= from) continue;
    clipped.emplace_back(from, to);
    phases.escalation_wait += to - from;
  }
  if (clipped.empty()) {
    phases.direct = end - asked_at;
    return phases;
  }
  phases.escalated = true;
  std::sort(clipped.begin(), clipped.end());
  phases.before_escalation = clipped.front().first - asked_at;
  // Union of the clipped legs.
  Timestamp run_from = clipped.front().first;
  Timestamp run_to = clipped.front().second;
  for (const auto& [from, to] : clipped) {
    if (from > run_to) {
      phases.relay += run_to - run_from;
      run_from = from;
    }
    run_to = std::max(run_to, to);
  }
  phases.relay += run_to - run_from;
  phases.after_relay = (end - asked_at) - phases.before_escalation - phases.relay;
  return phases;
}

}  // namespace replywatch::tracker
