#pragma once
// What `replywatch simulate` generates: the traffic model of one account (arrival rate
// with its daily and weekly profile, crisis bursts, who answers and how fast, relay
// escalations, unanswered questions), with defaults, and its YAML scenario file. See
// the "Simulated traffic" section of README.md for the file's keys.
#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "daemon/config/config.h"
#include "daemon/core/timestamp.h"
#include "daemon/simulate/random.h"

namespace replywatch::simulate {

// Who answers on the brand's behalf.
struct Team {
  std::string handler;      // its handler name in the replywatch configuration (relay records' requested_by)
  std::string author_id;    // author id of its replies (author_is_brand true)
  std::string author_name;  // display name of its replies
  std::string signature;    // appended to every reply, e.g. "-AB"; handler text rules match it
  LogNormal response;       // time to answer (office time for the internal team, wall clock for the agency)
};

// A period when questions arrive `multiplier` times faster (a crisis).
struct Burst {
  std::optional<Timestamp> start;  // absolute start; when unset, `offset` after the simulation start
  std::chrono::seconds offset{0};
  std::chrono::seconds length{0};
  double multiplier = 1.0;
};

struct Scenario {
  std::uint64_t seed = 1;
  std::optional<Timestamp> start;  // unset: `days` days before today's midnight UTC (see resolveStart)
  int days = 28;
  std::string account;  // written into relay records when not empty
  std::string brand_id = "acme_fr";
  std::string brand_name = "Acme France";
  std::string timezone = "Europe/Paris";  // of the profile and of the office hours
  double questions_per_day = 40;
  std::uint64_t members = 2000;  // community members asking (ids u1 ... uN)
  // Relative arrival weights by local hour (0 = 00:00-01:00) and weekday (0 = Monday).
  std::array<double, 24> hour_weights{0.3, 0.2, 0.1, 0.1, 0.1, 0.2, 0.4, 0.7, 1.0, 1.2, 1.2, 1.2,
                                      1.3, 1.2, 1.1, 1.1, 1.2, 1.4, 1.7, 2.0, 2.2, 2.1, 1.6, 0.9};
  std::array<double, 7> weekday_weights{0.9, 0.9, 0.9, 0.95, 1.0, 1.3, 1.35};
  double follow_up_probability = 0.15;  // the member writes again before the answer
  LogNormal follow_up_delay{std::chrono::minutes{3}, std::chrono::minutes{15}};
  double unanswered_probability = 0.02;  // nobody ever answers
  std::vector<Burst> bursts;
  std::uint64_t first_id = 0;  // first message id; 0: start's Unix seconds times 10^6

  Team internal{"inhouse-jk", "acme_fr", "Acme France", "^JK",
                LogNormal{std::chrono::minutes{20}, std::chrono::minutes{50}}};
  double internal_share = 0.6;  // of the questions asked in office hours, the share the internal team takes
  config::BusinessHours
      office_hours;  // the internal team's (and the relays'); default Monday-Friday 09:00-18:00

  Team agency{"agency-ab", "acme_fr", "Acme France", "-AB",
              LogNormal{std::chrono::minutes{15}, std::chrono::minutes{40}}};

  std::string relay_name = "product-experts";
  double escalation_probability = 0.25;  // the agency passes the question to an internal relay
  LogNormal escalation_delay{std::chrono::minutes{10}, std::chrono::minutes{30}};  // question -> escalation
  LogNormal relay_delay{std::chrono::hours{1}, std::chrono::hours{4}};  // office time until the relay answers
  LogNormal after_relay{std::chrono::minutes{10}, std::chrono::minutes{30}};  // relay answer -> public answer

  Scenario();
};

// Reads a scenario file over the defaults. Throws config::ConfigError listing every
// problem (unknown keys, wrong types, out-of-range values) as file:line.
Scenario loadScenario(const std::filesystem::path& file);
// The same from text (`file_name` only names it in problems).
Scenario loadScenarioString(const std::string& yaml, const std::string& file_name);

// Checks values that flags may have changed after loading; throws config::ConfigError.
void validateScenario(const Scenario& scenario);

// The simulation start: `scenario.start`, or `days` days before the UTC midnight that
// starts `now`'s day, so the traffic ends before `now` and a day's runs are identical.
Timestamp resolveStart(const Scenario& scenario, Timestamp now);

// Parses a start time: RFC 3339 or a date ("2026-10-01", UTC midnight).
std::optional<Timestamp> parseStartTime(std::string_view text);

}  // namespace replywatch::simulate
