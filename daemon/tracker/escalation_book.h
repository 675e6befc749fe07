#pragma once
// The escalation records held in memory by the ingest pipeline, each with the turn it is
// linked to as stored, and the relay measurements derived from them for metrics
// (escalation counts and waits, the phase split of escalated answered turns).
//
// Threading: not synchronized; the pipeline calls it under its own mutex. No I/O.
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "daemon/core/model.h"
#include "daemon/tracker/tracker.h"

namespace replywatch::tracker {

class EscalationBook {
 public:
  // Records the current state of one escalation record (inserted, updated, linked,
  // relinked, or its linked turn changed), replacing what was held for (source, id).
  // `turn` is the linked turn as stored; it is ignored when record.turn is unset.
  void put(const EscalationRecord& record, const std::optional<Turn>& turn);

  // Forgets every record (before a reload from the store); what keepCountsOf() retired
  // stays.
  void clear() { entries_.clear(); }

  std::size_t size() const { return entries_.size(); }

  // Adds the relay measurements to `snapshot` (escalations and phases): those of the
  // records held, plus what records no longer held counted (keepCountsOf). Open turns
  // are not part of the phase split. Cost: linear in the records held.
  void fill(Snapshot& snapshot) const;

  // After clear() and a reload of what the store kept (a pruning): `before`, filled by
  // fill() before clear(), minus what the book counts now, is what the pruned records
  // counted; fill() goes on adding it, so the relay counters never go down because
  // pruning removed records (each figure by itself: one that grew is not offset).
  void keepCountsOf(const Snapshot& before);

  // What records no longer held counted (keepCountsOf()), with the keys of Snapshot: kept
  // by the pipeline across restarts.
  using RetiredEscalations = std::map<std::pair<std::string, std::string>, EscalationStats>;
  using RetiredPhases = std::map<std::pair<std::string, std::string>, PhaseStats>;
  const RetiredEscalations& retiredEscalations() const { return retired_escalations_; }
  const RetiredPhases& retiredPhases() const { return retired_phases_; }
  // Replaces them (at restore, with what a previous run kept).
  void setRetired(RetiredEscalations escalations, RetiredPhases phases) {
    retired_escalations_ = std::move(escalations);
    retired_phases_ = std::move(phases);
  }

 private:
  struct Entry {
    EscalationRecord record;
    std::optional<Turn> turn;  // set when the record is linked
  };
  std::map<std::pair<std::string, std::string>, Entry> entries_;  // by (source, id)
  // What records no longer held counted, with the keys of Snapshot.
  RetiredEscalations retired_escalations_;
  RetiredPhases retired_phases_;
};

}  // namespace replywatch::tracker
