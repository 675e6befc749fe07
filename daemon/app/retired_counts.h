#pragma once
// What pruned data counted, kept in the store (PruneHooks::retired_counts) so that a restart
// counts it again: the running counters never go down because retention deleted what
// they counted. One JSON text: the tracker's RetiredCounts and the escalation book's
// retired relay figures. Pure functions; no I/O.
#include <string>
#include <string_view>

#include "daemon/core/result.h"
#include "daemon/tracker/escalation_book.h"
#include "daemon/tracker/tracker.h"

namespace replywatch::app {

struct Retired {
  tracker::RetiredCounts turns;
  tracker::EscalationBook::RetiredEscalations escalations;
  tracker::EscalationBook::RetiredPhases phases;
};

// The JSON text of `retired`.
std::string retiredToJson(const Retired& retired);

// Reads a text retiredToJson() wrote; an Error (reason "store") naming what is wrong
// when it cannot be read.
Result<Retired> retiredFromJson(std::string_view text);

}  // namespace replywatch::app
