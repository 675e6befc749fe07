#include "daemon/app/turn_facts.h"

#include "daemon/tracker/wait_phases.h"

namespace replywatch::app {

Result<std::vector<verdict::TurnFact>> loadTurnFacts(store::Store& store, Timestamp from, Timestamp until,
                                                     const std::vector<std::string>& accounts) {
  std::vector<verdict::TurnFact> facts;
  std::vector<tracker::EscalationLeg> legs;
  for (const std::string& account : accounts) {
    store::TurnQuery query;
    query.account = account;
    query.since = from;
    query.until = until;
    auto turns = store.turns(query);
    if (!turns) return turns.error();
    std::vector<TurnKey> keys;
    keys.reserve(turns->size());
    for (const auto& turn : *turns) keys.push_back(keyOf(turn));
    auto linked = store.escalationsFor(keys);
    if (!linked) return linked.error();
    for (std::size_t i = 0; i < turns->size(); ++i) {
      // The wait as it stood at `until`: a leg requested later did not exist yet, and an
      // answer (the turn's or a relay's) given later had not come (the engine counts
      // such a turn as open too).
      const auto by_until = [until](std::optional<Timestamp> t) {
        return t && *t <= until ? t : std::nullopt;
      };
      legs.clear();
      for (const auto& record : (*linked)[i]) {
        if (record.escalation.requested_at >= until) continue;
        legs.push_back({record.escalation.requested_at, by_until(record.escalation.answered_at)});
      }
      Turn& turn = (*turns)[i];
      auto phases = tracker::decomposeWait(turn.asked_at, by_until(turn.answered_at), legs, until);
      facts.push_back({std::move(turn), phases});
    }
  }
  return facts;
}

}  // namespace replywatch::app
