// The verdict engine: window figures per route and the verdict rules (README.md,
// "The verdict").
#include <algorithm>
#include <cmath>

#include "daemon/verdict/verdict.h"

namespace replywatch::verdict {
namespace {

// An average month: 365.2425 / 12 days.
constexpr double kSecondsPerMonth = 365.2425 / 12.0 * 86400.0;

void countInto(LateCount& c, bool late) {
  ++c.judged;
  if (late) ++c.late;
}

struct TurnView {
  bool answered = false;
  double wait_seconds = 0;  // answered turns
  bool judged = false;
  bool late = false;
  bool business = false;
  int hour_of_week = 0;
  std::string week;
};

void add(RouteFigures& f, const TurnFact& fact, const TurnView& v) {
  ++f.turns;
  if (v.answered) {
    ++f.answered;
    f.waits.push_back(v.wait_seconds);
    if (!v.late) ++f.on_time;
    f.phases.before_escalation += toSeconds(fact.phases.before_escalation);
    f.phases.relay += toSeconds(fact.phases.relay);
    f.phases.after_relay += toSeconds(fact.phases.after_relay);
    f.phases.direct += toSeconds(fact.phases.direct);
  } else {
    ++f.open;
  }
  if (fact.phases.escalated) ++f.escalated;
  if (!v.judged) return;
  if (!v.answered) ++f.unanswered;
  countInto(f.late, v.late);
  countInto(v.business ? f.business : f.off, v.late);
  countInto(f.hour_of_week[static_cast<std::size_t>(v.hour_of_week)], v.late);
  countInto(f.weeks[v.week], v.late);
}

void finish(RouteFigures& f, std::optional<double> per_month, double months) {
  f.late_interval = wilsonInterval(f.late.late, f.late.judged);
  std::vector<double> scratch = f.waits;
  f.median_wait_seconds = quantile(scratch, 0.5);
  f.p90_wait_seconds = quantile(scratch, 0.9);
  std::sort(f.waits.begin(), f.waits.end());
  if (per_month) {
    f.cost_in_window = *per_month * months;
    if (f.answered > 0) f.cost_per_answer = *f.cost_in_window / static_cast<double>(f.answered);
    if (f.on_time > 0) f.cost_per_ontime_answer = *f.cost_in_window / static_cast<double>(f.on_time);
  }
}

Reason reason(std::string code, std::string route, std::vector<std::pair<std::string, double>> numbers) {
  return Reason{std::move(code), std::move(route), std::move(numbers)};
}

}  // namespace

std::string_view toString(Verdict v) {
  switch (v) {
    case Verdict::Insource: return "insource";
    case Verdict::Keep: return "keep";
    case Verdict::Hybrid: return "hybrid";
    case Verdict::InsufficientData: break;
  }
  return "insufficient_data";
}

std::optional<Language> parseLanguage(std::string_view s) {
  if (s == "en") return Language::English;
  if (s == "fr") return Language::French;
  return std::nullopt;
}

const double* Reason::find(std::string_view name) const {
  for (const auto& [key, value] : numbers) {
    if (key == name) return &value;
  }
  return nullptr;
}

double Reason::number(std::string_view name) const {
  const double* value = find(name);
  return value != nullptr ? *value : 0;
}

AccountVerdict evaluate(const std::vector<TurnFact>& facts, const config::AccountConfig& account,
                        const config::VerdictConfig& rules, Timestamp from, Timestamp until,
                        std::optional<Timestamp> judged_at) {
  AccountVerdict out;
  out.account = account.name;
  out.timezone = account.timezone;
  out.threshold = account.threshold;
  out.from = from;
  out.until = until;
  // Nothing after this instant has happened yet: the rest of the window is ignored.
  const Timestamp at = judged_at ? std::min(*judged_at, until) : until;
  out.judged_at = at;
  out.cost = account.cost;
  out.rules = rules;
  for (Route r : {Route::Internal, Route::Agency, Route::Unknown}) out.routes[r];
  const Schedule schedule(account);
  const auto threshold = std::chrono::duration_cast<std::chrono::milliseconds>(account.threshold);
  RouteFigures& agency = out.routes[Route::Agency];
  double agency_relay = 0;
  double agency_wait = 0;

  const auto in_window = [&](const Turn& t) {
    return t.account == account.name && t.asked_at >= from && t.asked_at < at;
  };
  // The route on duty, held to the judged questions nobody answered: the agency when it
  // answered any question of the window (at `until` or later), since it covers around
  // the clock; otherwise the internal team when it answered any; otherwise none.
  Route on_duty = Route::Unknown;
  for (const auto& fact : facts) {
    const Turn& t = fact.turn;
    if (!in_window(t) || !t.answered_at) continue;
    if (t.route == Route::Agency) {
      on_duty = Route::Agency;
      break;
    }
    if (t.route == Route::Internal) on_duty = Route::Internal;
  }

  for (const auto& fact : facts) {
    const Turn& t = fact.turn;
    if (!in_window(t)) continue;
    TurnView v;
    // Judged at `at`: an answer given after it did not exist yet.
    v.answered = t.answered_at.has_value() && *t.answered_at <= at;
    const Timestamp end = v.answered ? *t.answered_at : at;
    if (v.answered) v.wait_seconds = toSeconds(end - t.asked_at);
    v.late = end - t.asked_at > threshold;
    v.judged = at - t.asked_at > threshold;
    if (v.judged) {
      v.business = schedule.inBusinessHours(t.asked_at);
      v.hour_of_week = schedule.hourOfWeek(t.asked_at);
      v.week = schedule.weekOf(t.asked_at);
    }
    // A turn answered after `until` counts for the route that answered it (still open at
    // `until`); a judged turn nobody answered, for the route on duty; a turn too young to
    // be judged and not answered yet, for none.
    const Route route = t.answered_at ? t.route : v.judged ? on_duty : Route::Unknown;
    add(out.routes[route], fact, v);
    add(out.all, fact, v);
    if (route != Route::Agency) continue;
    if (v.answered) {
      agency_relay += toSeconds(fact.phases.relay);
      agency_wait += v.wait_seconds;
    }
    if (v.judged) {
      // An open turn waits up to `until`, and its relay leg (as of `until`) up to there too.
      auto reduced = (end - t.asked_at) - std::min(fact.phases.relay, end - t.asked_at);
      countInto(out.whatif, reduced > threshold);
    }
  }

  // Costs over the elapsed part of the window.
  const double months = std::max(0.0, std::chrono::duration<double>(at - from).count()) / kSecondsPerMonth;
  finish(out.routes[Route::Internal], account.cost.inhouse_per_month, months);
  finish(agency, account.cost.agency_per_month, months);
  finish(out.routes[Route::Unknown], std::nullopt, months);
  finish(out.all, std::nullopt, months);
  if (agency_wait > 0) out.relay_share = agency_relay / agency_wait;
  out.whatif_late_ratio = out.whatif.ratio();
  decide(out, rules);
  return out;
}

void decide(AccountVerdict& result, const config::VerdictConfig& rules) {
  result.reasons.clear();
  const RouteFigures& agency = result.routes[Route::Agency];
  const RouteFigures& internal = result.routes[Route::Internal];
  const auto min_turns = static_cast<double>(rules.min_turns);
  const double max = rules.max_late_ratio;

  if (agency.late.judged < rules.min_turns) {
    result.verdict = Verdict::InsufficientData;
    result.reasons.push_back(reason("insufficient_turns", "agency",
                                    {{"judged", static_cast<double>(agency.late.judged)},
                                     {"min_turns", min_turns},
                                     {"answered", static_cast<double>(agency.answered)},
                                     {"unanswered", static_cast<double>(result.all.unanswered)}}));
    return;
  }
  const bool baseline = internal.late.judged >= rules.min_turns;
  const double agency_ratio = agency.late.ratio().value_or(0);
  const Interval a = agency.late_interval;
  const Interval i = internal.late_interval;
  std::vector<Reason> context;
  if (!baseline) {
    context.push_back(
        reason("no_internal_baseline", "internal",
               {{"judged", static_cast<double>(internal.late.judged)}, {"min_turns", min_turns}}));
  }

  if (agency_ratio > max) {
    std::vector<Reason> why;
    if (baseline && a.lower > i.upper) {
      why.push_back(reason("agency_interval_above_internal", "agency",
                           {{"agency_lower", a.lower},
                            {"agency_upper", a.upper},
                            {"internal_lower", i.lower},
                            {"internal_upper", i.upper}}));
    }
    // Measured on enough answered turns: one slow relayed answer among unanswered
    // questions says nothing of where the knowledge is.
    if (result.relay_share && agency.answered >= rules.min_turns && *result.relay_share > 0 &&
        *result.relay_share >= rules.min_relay_share) {
      why.push_back(
          reason("relay_share", "agency",
                 {{"relay_share", *result.relay_share}, {"min_relay_share", rules.min_relay_share}}));
    }
    if (!baseline && a.lower > max && result.whatif_late_ratio && *result.whatif_late_ratio < max) {
      why.push_back(reason("relays_explain_lateness", "agency",
                           {{"agency_lower", a.lower},
                            {"max_late_ratio", max},
                            {"whatif_late_ratio", *result.whatif_late_ratio}}));
    }
    if (!why.empty()) {
      result.verdict = Verdict::Insource;
      result.reasons.push_back(reason("agency_late", "agency",
                                      {{"late_ratio", agency_ratio},
                                       {"max_late_ratio", max},
                                       {"late", static_cast<double>(agency.late.late)},
                                       {"judged", static_cast<double>(agency.late.judged)}}));
      result.reasons.insert(result.reasons.end(), why.begin(), why.end());
      result.reasons.insert(result.reasons.end(), context.begin(), context.end());
      return;
    }
  }

  if (baseline) {
    auto ib = internal.business.ratio();
    auto ab = agency.business.ratio();
    auto io = internal.off.ratio();
    auto ao = agency.off.ratio();
    // Each of the four cells needs min_turns judged turns, and its interval must clear
    // the other route's in the same period, as for the insource rule: otherwise one late
    // turn in a small cell would decide.
    const auto enough = [&rules](const LateCount& c) { return c.judged >= rules.min_turns; };
    const auto interval = [](const LateCount& c) { return wilsonInterval(c.late, c.judged); };
    const bool looks_hybrid = ib && ab && io && ao && *ib<*ab&& * io> * ao;
    const bool clear = looks_hybrid && enough(internal.business) && enough(agency.business) &&
                       enough(internal.off) && enough(agency.off) &&
                       interval(internal.business).upper < interval(agency.business).lower &&
                       interval(agency.off).upper < interval(internal.off).lower;
    if (looks_hybrid && !clear) {
      context.push_back(reason("hours_split_uncertain", "internal", {{"min_turns", min_turns}}));
    }
    if (clear) {
      result.verdict = Verdict::Hybrid;
      result.reasons.push_back(reason("internal_better_in_hours", "internal",
                                      {{"internal_late_ratio", *ib},
                                       {"agency_late_ratio", *ab},
                                       {"internal_judged", static_cast<double>(internal.business.judged)},
                                       {"agency_judged", static_cast<double>(agency.business.judged)}}));
      result.reasons.push_back(reason("agency_better_off_hours", "agency",
                                      {{"internal_late_ratio", *io},
                                       {"agency_late_ratio", *ao},
                                       {"internal_judged", static_cast<double>(internal.off.judged)},
                                       {"agency_judged", static_cast<double>(agency.off.judged)}}));
      return;
    }
  }

  result.verdict = Verdict::Keep;
  if (agency_ratio <= max) {
    result.reasons.push_back(reason("agency_within_target", "agency",
                                    {{"late_ratio", agency_ratio},
                                     {"max_late_ratio", max},
                                     {"unanswered", static_cast<double>(agency.unanswered)}}));
  } else {
    std::vector<std::pair<std::string, double>> numbers = {
        {"late_ratio", agency_ratio}, {"max_late_ratio", max}, {"agency_lower", a.lower}};
    // No relay share without an answered turn to measure it on.
    if (result.relay_share) numbers.emplace_back("relay_share", *result.relay_share);
    numbers.emplace_back("min_relay_share", rules.min_relay_share);
    numbers.emplace_back("answered", static_cast<double>(agency.answered));
    numbers.emplace_back("min_turns", min_turns);
    if (baseline) numbers.emplace_back("internal_upper", i.upper);
    if (result.whatif_late_ratio) numbers.emplace_back("whatif_late_ratio", *result.whatif_late_ratio);
    const char* code = baseline        ? "agency_late_not_worse_than_internal"
                       : a.lower > max ? "agency_late_without_comparison"
                                       : "agency_late_unexplained";
    result.reasons.push_back(reason(code, "agency", std::move(numbers)));
  }
  result.reasons.insert(result.reasons.end(), context.begin(), context.end());
}

}  // namespace replywatch::verdict
