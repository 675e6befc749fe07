#include "daemon/tracker/escalation_book.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "daemon/tracker/wait_phases.h"

namespace replywatch::tracker {
namespace {

double seconds(std::chrono::milliseconds d) { return static_cast<double>(d.count()) / 1000.0; }

// What `before` has beyond `now`, figure by figure (never negative).
template <typename T>
T excess(T before, T now) {
  return before > now ? before - now : T{};
}

}  // namespace

void EscalationBook::put(const EscalationRecord& record, const std::optional<Turn>& turn) {
  Entry& entry = entries_[{record.source, record.escalation.id}];
  entry.record = record;
  if (record.turn && turn) {
    entry.turn = turn;
  } else {
    entry.record.turn.reset();
    entry.turn.reset();
  }
}

void EscalationBook::fill(Snapshot& snapshot) const {
  // Legs of each linked turn, with the turn as stored.
  struct Linked {
    const Turn* turn = nullptr;
    std::vector<EscalationLeg> legs;
  };
  std::map<TurnKey, Linked> by_turn;
  for (const auto& [key, entry] : entries_) {
    if (!entry.turn) continue;
    const Escalation& e = entry.record.escalation;
    auto& stats = snapshot.escalations[{e.account, std::string(toString(entry.record.route))}];
    ++stats.escalations_total;
    if (e.answered_at) {
      const double wait = std::max(0.0, seconds(*e.answered_at - e.requested_at));
      ++stats.answered_total;
      stats.wait_seconds_sum += wait;
      const auto bucket = std::lower_bound(kResponseBuckets.begin(), kResponseBuckets.end(), wait);
      if (bucket != kResponseBuckets.end()) ++stats.bucket_counts[bucket - kResponseBuckets.begin()];
    }
    Linked& linked = by_turn[keyOf(*entry.turn)];
    linked.turn = &*entry.turn;
    linked.legs.push_back({e.requested_at, e.answered_at});
  }
  for (const auto& [key, retired] : retired_escalations_) {
    auto& stats = snapshot.escalations[key];
    stats.escalations_total += retired.escalations_total;
    stats.answered_total += retired.answered_total;
    stats.wait_seconds_sum += retired.wait_seconds_sum;
    for (std::size_t i = 0; i < stats.bucket_counts.size(); ++i)
      stats.bucket_counts[i] += retired.bucket_counts[i];
  }
  for (const auto& [key, retired] : retired_phases_) {
    auto& stats = snapshot.phases[key];
    stats.before_escalation_seconds += retired.before_escalation_seconds;
    stats.relay_seconds += retired.relay_seconds;
    stats.after_relay_seconds += retired.after_relay_seconds;
    stats.escalated_wait_seconds += retired.escalated_wait_seconds;
  }
  for (const auto& [key, linked] : by_turn) {
    const Turn& turn = *linked.turn;
    if (!turn.answered_at) continue;
    const WaitPhases phases = decomposeWait(turn.asked_at, turn.answered_at, linked.legs, *turn.answered_at);
    if (!phases.escalated) continue;
    auto& stats = snapshot.phases[{turn.account, std::string(toString(turn.route))}];
    stats.before_escalation_seconds += seconds(phases.before_escalation);
    stats.relay_seconds += seconds(phases.relay);
    stats.after_relay_seconds += seconds(phases.after_relay);
    stats.escalated_wait_seconds += seconds(phases.total());
  }
}

void EscalationBook::keepCountsOf(const Snapshot& before) {
  Snapshot now;
  fill(now);
  for (const auto& [key, was] : before.escalations) {
    const EscalationStats is = now.escalations[key];
    EscalationStats& retired = retired_escalations_[key];
    retired.escalations_total += excess(was.escalations_total, is.escalations_total);
    retired.answered_total += excess(was.answered_total, is.answered_total);
    retired.wait_seconds_sum += excess(was.wait_seconds_sum, is.wait_seconds_sum);
    for (std::size_t i = 0; i < retired.bucket_counts.size(); ++i)
      retired.bucket_counts[i] += excess(was.bucket_counts[i], is.bucket_counts[i]);
  }
  for (const auto& [key, was] : before.phases) {
    const PhaseStats is = now.phases[key];
    PhaseStats& retired = retired_phases_[key];
    retired.before_escalation_seconds += excess(was.before_escalation_seconds, is.before_escalation_seconds);
    retired.relay_seconds += excess(was.relay_seconds, is.relay_seconds);
    retired.after_relay_seconds += excess(was.after_relay_seconds, is.after_relay_seconds);
    retired.escalated_wait_seconds += excess(was.escalated_wait_seconds, is.escalated_wait_seconds);
  }
}

}  // namespace replywatch::tracker
