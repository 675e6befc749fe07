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

  // Forgets everything (before a reload from the store).
  void clear() { entries_.clear(); }

  std::size_t size() const { return entries_.size(); }

  // Adds the relay measurements to `snapshot` (escalations and phases); open turns are
  // not part of the phase split. Cost: linear in the records held.
  void fill(Snapshot& snapshot) const;

 private:
  struct Entry {
    EscalationRecord record;
    std::optional<Turn> turn;  // set when the record is linked
  };
  std::map<std::pair<std::string, std::string>, Entry> entries_;  // by (source, id)
};

}  // namespace replywatch::tracker
