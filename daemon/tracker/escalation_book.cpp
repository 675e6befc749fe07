#include "daemon/tracker/escalation_book.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "daemon/tracker/wait_phases.h"

namespace replywatch::tracker {
namespace {

double seconds(std::chrono::milliseconds d) { return static_cast<double>(d.count()) / 1000.0; }

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

}  // namespace replywatch::tracker
