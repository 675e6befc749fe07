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
#include <vector>

#include "daemon/core/model.h"
#include "daemon/tracker/tracker.h"

namespace replywatch::tracker {

class EscalationBook {
 public:
  // Records the current state of one escalation record (inserted, updated, linked,
  // relinked, or its linked turn changed), replacing what was held for (source, id).
  // `turn` is the linked turn as stored; it is ignored when record.turn is unset.
  void put(const EscalationRecord& record, const std::optional<Turn>& turn);

  // Forgets every record (before a reload from the store); what retire() retired stays.
  void clear() { entries_.clear(); }

  std::size_t size() const { return entries_.size(); }

  // Adds the relay measurements to `snapshot` (escalations and phases): those of the
  // records held, plus what records no longer held counted (retire()). Open turns
  // are not part of the phase split. Cost: linear in the records held.
  void fill(Snapshot& snapshot) const;

  // What records no longer held counted (retire()), with the keys of Snapshot: kept by
  // the pipeline across restarts.
  using RetiredEscalations = std::map<std::pair<std::string, std::string>, EscalationStats>;
  using RetiredPhases = std::map<std::pair<std::string, std::string>, PhaseStats>;
  struct Retired {
    RetiredEscalations escalations;
    RetiredPhases phases;
  };
  const RetiredEscalations& retiredEscalations() const { return retired_escalations_; }
  const RetiredPhases& retiredPhases() const { return retired_phases_; }

  // What retire(keys) would make of retiredEscalations() and retiredPhases(): those plus
  // what the records held under `keys` (source, id) count. Keys not held add nothing.
  // The records of one linked turn count their phases together: a pruning deletes them
  // together. Cost: linear in `keys`.
  Retired retiredWith(const std::vector<std::pair<std::string, std::string>>& keys) const;
  // Forgets the records held under `keys` (source, id), pruned from the store, and adds
  // what they counted to what fill() goes on adding, so that the relay counters never go
  // down because pruning removed records.
  void retire(const std::vector<std::pair<std::string, std::string>>& keys);
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
  // Adds what `entries` count to `escalations` and `phases`.
  static void count(const std::vector<const Entry*>& entries, RetiredEscalations& escalations,
                    RetiredPhases& phases);
  std::map<std::pair<std::string, std::string>, Entry> entries_;  // by (source, id)
  // What records no longer held counted, with the keys of Snapshot.
  RetiredEscalations retired_escalations_;
  RetiredPhases retired_phases_;
};

}  // namespace replywatch::tracker
