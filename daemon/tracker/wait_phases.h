#pragma once
// Where a question's wait goes once internal relays are involved. Pure functions over
// a turn's interval and the escalation legs linked to it; shared by the relay
// measurements (questions listing, phase counters) and the verdict.
#include <chrono>
#include <optional>
#include <span>

#include "daemon/core/timestamp.h"

namespace replywatch::tracker {

// One escalation of a question to an internal relay, as far as timing goes.
struct EscalationLeg {
  Timestamp requested_at{};
  std::optional<Timestamp> answered_at;  // nullopt: the relay has not answered yet
};

// A turn's wait split by phase. For a turn with no leg overlapping it, the whole wait is
// `direct`. Otherwise `before_escalation` runs from the question to the first relay
// request inside the turn, `relay` is the time at least one relay leg was pending
// (union of the legs, clipped to the turn), and `after_relay` is the rest (time from the
// relays' answers to the public reply, and gaps between legs). The four phases always
// add up to the wait.
struct WaitPhases {
  bool escalated = false;                        // at least one leg overlaps the turn
  std::chrono::milliseconds escalation_wait{0};  // sum over legs of their overlap with the turn
  std::chrono::milliseconds before_escalation{0};
  std::chrono::milliseconds relay{0};
  std::chrono::milliseconds after_relay{0};
  std::chrono::milliseconds direct{0};

  std::chrono::milliseconds total() const { return before_escalation + relay + after_relay + direct; }
  bool operator==(const WaitPhases&) const = default;
};

// Splits the wait of the turn asked at `asked_at` and answered at `answered_at` (an
// open turn is measured up to `now`). Legs may be in any order, overlap each other, start
// before the question or end after the answer (only the overlap counts); a leg with no
// answer yet is pending up to the end of the turn. A negative interval gives all zeros.
WaitPhases decomposeWait(Timestamp asked_at, std::optional<Timestamp> answered_at,
                         std::span<const EscalationLeg> legs, Timestamp now);

}  // namespace replywatch::tracker
