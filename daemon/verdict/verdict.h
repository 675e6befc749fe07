#pragma once
// The verdict engine: from the question turns of one account over a window, the figures
// per route (counts, exact wait percentiles, late ratio with its Wilson interval,
// business hours versus off hours, hour of the week, weeks, wait phases, costs) and the
// make-or-buy verdict with its reasons. Pure functions over plain data, callable from any
// thread; nothing here reads the store or the clock.
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/config.h"
#include "daemon/core/model.h"
#include "daemon/tracker/wait_phases.h"
#include "daemon/verdict/schedule.h"
#include "daemon/verdict/statistics.h"

namespace replywatch::verdict {

// What the verdict knows about one question turn: the stored turn and where its wait went.
struct TurnFact {
  Turn turn;
  tracker::WaitPhases phases;  // decomposeWait() of the turn (all `direct` without relay data)
};

// Late turns over judged turns.
struct LateCount {
  std::uint64_t judged = 0;
  std::uint64_t late = 0;
  std::optional<double> ratio() const {
    if (judged == 0) return std::nullopt;
    return static_cast<double>(late) / static_cast<double>(judged);
  }
};

// Seconds of answered turns' waits by phase (see tracker/wait_phases.h).
struct PhaseTotals {
  double before_escalation = 0;
  double relay = 0;
  double after_relay = 0;
  double direct = 0;
  double total() const { return before_escalation + relay + after_relay + direct; }
};

// The window's figures for one route (or the whole account).
struct RouteFigures {
  std::uint64_t turns = 0;       // asked in the window
  std::uint64_t answered = 0;    // of which answered
  std::uint64_t open = 0;        // of which still open at `until`
  std::uint64_t unanswered = 0;  // judged turns still open at `until` (each late)
  std::uint64_t on_time = 0;     // answered within the threshold
  std::uint64_t escalated = 0;
  LateCount late;  // over the turns old enough to be judged
  Interval late_interval{0.0, 1.0};
  std::optional<double> median_wait_seconds;  // answered turns, exact
  std::optional<double> p90_wait_seconds;
  LateCount business;  // asked in business hours
  LateCount off;       // asked off hours
  std::array<LateCount, kHoursPerWeek> hour_of_week{};
  std::map<std::string, LateCount> weeks;  // local Monday "YYYY-MM-DD" -> counts
  PhaseTotals phases;
  std::vector<double> waits;  // answered turns' waits in seconds, sorted (for the report)
  std::optional<double> cost_in_window;
  std::optional<double> cost_per_answer;
  std::optional<double> cost_per_ontime_answer;
};

enum class Verdict : std::uint8_t { InsufficientData = 0, Insource = 1, Hybrid = 2, Keep = 3 };
inline constexpr std::array<Verdict, 4> kVerdicts = {Verdict::Insource, Verdict::Keep, Verdict::Hybrid,
                                                     Verdict::InsufficientData};
std::string_view toString(Verdict v);  // insource | keep | hybrid | insufficient_data

// Why a verdict was reached: which rule fired, with its numbers. `code` is one of the
// fixed codes documented in README.md ("The verdict"); `route` names the route the
// numbers are about, when there is one.
struct Reason {
  std::string code;
  std::string route;
  std::vector<std::pair<std::string, double>> numbers;  // in a fixed order per code
  double number(std::string_view name) const;           // 0 when absent
  bool has(std::string_view name) const { return find(name) != nullptr; }
  const double* find(std::string_view name) const;  // null when absent
};

enum class Language : std::uint8_t { English, French };
std::optional<Language> parseLanguage(std::string_view s);  // "en" | "fr"

// One plain sentence for a reason, in the language asked for.
std::string sentence(const Reason& reason, Language language);

// Everything computed for one account over one window.
struct AccountVerdict {
  std::string account;
  std::string timezone;
  std::chrono::seconds threshold{0};
  Timestamp from{};                         // window start (inclusive, asked_at)
  Timestamp until{};                        // window end (exclusive), as asked
  Timestamp judged_at{};                    // the instant lateness is judged at: `until`, or earlier
                                            // for a window not over yet (see evaluate())
  std::map<Route, RouteFigures> routes;     // internal, agency and unknown, always present (see evaluate())
  RouteFigures all;                         // every turn of the account
  std::optional<double> relay_share;        // agency: relay time over wait time
  std::optional<double> whatif_late_ratio;  // agency late ratio with each wait reduced by its relay leg
  LateCount whatif;
  config::CostConfig cost;
  config::VerdictConfig rules;  // the thresholds the verdict was decided with
  Verdict verdict = Verdict::InsufficientData;
  std::vector<Reason> reasons;
};

// The figures of one account over [from, until), judged at `until`. `facts` are the
// account's turns (others are ignored); turns asked outside the window are ignored.
// A turn is judged when it is old enough for its lateness to be known
// (until - asked_at > threshold), and late when answered after more than the threshold
// or still open past it. An answer given after `until` did not exist yet: the turn is
// open at `until` (judged and late as such, not among the waits) but counts for the
// route that answered it. A judged turn never answered counts for the route on duty:
// the agency when it answered (by `until` or later) any turn of the window, as it
// covers around the clock; otherwise the internal route when it answered any;
// otherwise `unknown`. A turn not answered and too young to be judged counts under
// `unknown`. The agency's what-if covers all its judged turns, open ones waiting up to
// `until`; its relay share, only the waits of its answered turns.
// With `judged_at` before `until` (a window not over yet, such as the current month),
// everything above is as of `judged_at` instead: turns asked in [from, judged_at), judged
// and late at `judged_at`, answers given after it still to come, and costs over the
// elapsed [from, judged_at) only; `until` stays the window's end as asked.
AccountVerdict evaluate(const std::vector<TurnFact>& facts, const config::AccountConfig& account,
                        const config::VerdictConfig& rules, Timestamp from, Timestamp until,
                        std::optional<Timestamp> judged_at = std::nullopt);

// Applies the verdict rules to computed figures (fills `verdict` and `reasons`).
void decide(AccountVerdict& result, const config::VerdictConfig& rules);

}  // namespace replywatch::verdict
