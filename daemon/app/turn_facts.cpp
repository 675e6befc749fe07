#include "daemon/app/turn_facts.h"

#include "daemon/tracker/wait_phases.h"

namespace replywatch::app {

Result<std::vector<verdict::TurnFact>> loadTurnFacts(store::Store& store, Timestamp from, Timestamp until,
                                                     const std::optional<std::string>& account) {
  store::TurnQuery query;
  query.account = account;
  query.since = from;
  query.until = until;
  auto turns = store.turns(query);
  if (!turns) return turns.error();
  std::vector<verdict::TurnFact> facts;
  facts.reserve(turns->size());
  for (auto& turn : *turns) {
    // No escalation legs are stored yet: see the header.
    const std::vector<tracker::EscalationLeg> legs;
    auto phases = tracker::decomposeWait(turn.asked_at, turn.answered_at, legs, until);
    facts.push_back({std::move(turn), phases});
  }
  return facts;
}

}  // namespace replywatch::app
