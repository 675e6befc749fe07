#pragma once
// Where stored question turns meet their escalation legs: the one function that builds
// the verdict's input (a turn and the split of its wait by phase) from the store.
#include <string>
#include <vector>

#include "daemon/core/result.h"
#include "daemon/store/store.h"
#include "daemon/verdict/verdict.h"

namespace replywatch::app {

// The facts of every turn of `accounts` asked in [from, until), account by account in
// the order given, each account's in the store's order, with each wait split by
// tracker::decomposeWait() as of `until` over the relay legs linked to the turn
// (Store::escalationsFor); a turn without legs is all `direct`. One store query per
// account: each reads its account's range of the store's index in order.
// Blocks on the store's read connection; callable from any thread.
Result<std::vector<verdict::TurnFact>> loadTurnFacts(store::Store& store, Timestamp from, Timestamp until,
                                                     const std::vector<std::string>& accounts);

}  // namespace replywatch::app
