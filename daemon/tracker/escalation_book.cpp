#include "daemon/tracker/escalation_book.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "daemon/tracker/wait_phases.h"

namespace replywatch::tracker {
namespace {

double seconds(std::chrono::milliseconds d) { return static_cast<double>(d.count()) / 1000.0; }

// Calls op(figure of `a`, same figure of `b`) for every figure of the relay statistics.
template <typename Op>
void eachFigure(EscalationStats& a, const EscalationStats& b, Op op) {
  op(a.escalations_total, b.escalations_total);
  op(a.answered_total, b.answered_total);
  op(a.wait_seconds_sum, b.wait_seconds_sum);
  for (std::size_t i = 0; i < a.bucket_counts.size(); ++i) op(a.bucket_counts[i], b.bucket_counts[i]);
}
template <typename Op>
void eachFigure(PhaseStats& a, const PhaseStats& b, Op op) {
  op(a.before_escalation_seconds, b.before_escalation_seconds);
  op(a.relay_seconds, b.relay_seconds);
  op(a.after_relay_seconds, b.after_relay_seconds);
  op(a.escalated_wait_seconds, b.escalated_wait_seconds);
}

constexpr auto kAdd = [](auto& figure, const auto& more) { figure += more; };
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

void EscalationBook::count(const std::vector<const Entry*>& entries, RetiredEscalations& escalations,
                           RetiredPhases& phases) {
  // Legs of each linked turn, with the turn as stored.
  struct Linked {
    const Turn* turn = nullptr;
    std::vector<EscalationLeg> legs;
  };
  std::map<TurnKey, Linked> by_turn;
  for (const Entry* entry : entries) {
    if (!entry->turn) continue;
    const Escalation& e = entry->record.escalation;
    auto& stats = escalations[{e.account, std::string(toString(entry->record.route))}];
    ++stats.escalations_total;
    if (e.answered_at) {
      const double wait = std::max(0.0, seconds(*e.answered_at - e.requested_at));
      ++stats.answered_total;
      stats.wait_seconds_sum += wait;
      const auto bucket = std::lower_bound(kResponseBuckets.begin(), kResponseBuckets.end(), wait);
      if (bucket != kResponseBuckets.end()) ++stats.bucket_counts[bucket - kResponseBuckets.begin()];
    }
    Linked& linked = by_turn[keyOf(*entry->turn)];
    linked.turn = &*entry->turn;
    linked.legs.push_back({e.requested_at, e.answered_at});
  }
  for (const auto& [key, linked] : by_turn) {
    const Turn& turn = *linked.turn;
    if (!turn.answered_at) continue;
    const WaitPhases split = decomposeWait(turn.asked_at, turn.answered_at, linked.legs, *turn.answered_at);
    if (!split.escalated) continue;
    auto& stats = phases[{turn.account, std::string(toString(turn.route))}];
    stats.before_escalation_seconds += seconds(split.before_escalation);
    stats.relay_seconds += seconds(split.relay);
    stats.after_relay_seconds += seconds(split.after_relay);
    stats.escalated_wait_seconds += seconds(split.total());
  }
}

void EscalationBook::fill(Snapshot& snapshot) const {
  std::vector<const Entry*> held;
  held.reserve(entries_.size());
  for (const auto& [key, entry] : entries_) held.push_back(&entry);
  count(held, snapshot.escalations, snapshot.phases);
  for (const auto& [key, retired] : retired_escalations_)
    eachFigure(snapshot.escalations[key], retired, kAdd);
  for (const auto& [key, retired] : retired_phases_) eachFigure(snapshot.phases[key], retired, kAdd);
}

EscalationBook::Retired EscalationBook::retiredWith(
    const std::vector<std::pair<std::string, std::string>>& keys) const {
  std::vector<const Entry*> going;
  going.reserve(keys.size());
  for (const auto& key : keys) {
    auto it = entries_.find(key);
    if (it != entries_.end()) going.push_back(&it->second);
  }
  Retired retired{retired_escalations_, retired_phases_};
  count(going, retired.escalations, retired.phases);
  return retired;
}

void EscalationBook::retire(const std::vector<std::pair<std::string, std::string>>& keys) {
  Retired retired = retiredWith(keys);
  retired_escalations_ = std::move(retired.escalations);
  retired_phases_ = std::move(retired.phases);
  for (const auto& key : keys) entries_.erase(key);
}

}  // namespace replywatch::tracker
