#pragma once
// Generates an account's traffic from a Scenario: the messages of every conversation
// (question, follow-up, public answer) and the relay feed's escalation records, as a
// snapshot taken at the end of the simulated period (later answers are not in it yet).
// Deterministic: the same scenario gives the same traffic on every platform.
#include <date/tz.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daemon/core/timestamp.h"
#include "daemon/simulate/scenario.h"

namespace replywatch::simulate {

// Who answered a simulated question, by the end of the period.
enum class Outcome { Internal, Agency, AgencyAfterRelay, Unanswered, OpenAtEnd };

struct SimMessage {
  std::string id;
  std::string conversation_id;
  std::string in_reply_to;  // empty for the question
  std::string author_id;
  std::string author_name;
  bool brand = false;
  Timestamp created_at;
  std::string text;
};

// One relay feed record, as the relay connector reads it.
struct SimEscalation {
  std::string id;
  std::string account;  // empty: the relay source's account
  std::string question_ref;
  Timestamp requested_at;
  std::string requested_by;
  std::string relay;
  std::optional<Timestamp> answered_at;  // unset: not answered by the end of the period
};

// One simulated question and what became of it (tests check the profile with these).
struct SimQuestion {
  std::string id;
  Timestamp asked_at;
  Outcome outcome = Outcome::Unanswered;
  std::optional<Timestamp> answered_at;
  bool escalated = false;  // an escalation record was requested before the end
  bool in_burst = false;
};

struct Summary {
  std::uint64_t questions = 0;
  std::uint64_t messages = 0;
  std::uint64_t follow_ups = 0;
  std::uint64_t answered_internal = 0;
  std::uint64_t answered_agency = 0;  // including after a relay
  std::uint64_t answered_after_relay = 0;
  std::uint64_t escalated = 0;  // questions with a relay record (= relay records)
  std::uint64_t unanswered = 0;
  std::uint64_t open_at_end = 0;  // to be answered, but after the end of the period
  std::uint64_t in_bursts = 0;
};

struct Traffic {
  Timestamp start;
  Timestamp end;
  std::vector<SimMessage> messages;        // ordered by (created_at, id)
  std::vector<SimEscalation> escalations;  // ordered by (requested_at, id)
  std::vector<SimQuestion> questions;      // in arrival order
  Summary summary;
};

// The traffic of [start, start + days), as seen at its end or at `cut` when that comes
// first (the command passes the current time: replywatch refuses times in the future).
// `start` is the resolved simulation start.
Traffic generate(const Scenario& scenario, Timestamp start, std::optional<Timestamp> cut = std::nullopt);

// The arrival intensity at `t` in questions per hour (profile times bursts).
double arrivalRate(const Scenario& scenario, const date::time_zone& zone, Timestamp start, Timestamp t);

}  // namespace replywatch::simulate
