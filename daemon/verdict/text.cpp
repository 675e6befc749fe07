// Reasons as sentences, in English and French.
#include <fmt/format.h>

#include <string_view>
#include <utility>
#include <vector>

#include "daemon/verdict/labels.h"
#include "daemon/verdict/verdict.h"

namespace replywatch::verdict {
namespace {

// The numbers each reason's sentence compares (a ratio and its target or bound).
std::vector<std::pair<std::string_view, std::string_view>> comparedNumbers(std::string_view code) {
  if (code == "agency_late" || code == "agency_within_target") return {{"late_ratio", "max_late_ratio"}};
  if (code == "agency_interval_above_internal") return {{"agency_lower", "internal_upper"}};
  if (code == "relay_share") return {{"relay_share", "min_relay_share"}};
  if (code == "relays_explain_lateness") {
    return {{"agency_lower", "max_late_ratio"}, {"whatif_late_ratio", "max_late_ratio"}};
  }
  if (code == "internal_better_in_hours" || code == "agency_better_off_hours") {
    return {{"internal_late_ratio", "agency_late_ratio"}};
  }
  if (code == "agency_late_not_worse_than_internal") {
    return {{"late_ratio", "max_late_ratio"},
            {"internal_upper", "agency_lower"},
            {"whatif_late_ratio", "max_late_ratio"}};
  }
  if (code == "agency_late_without_comparison" || code == "agency_late_unexplained") {
    return {{"late_ratio", "max_late_ratio"},
            {"agency_lower", "max_late_ratio"},
            {"whatif_late_ratio", "max_late_ratio"}};
  }
  return {};
}

// The decimals of a sentence's percentages: one, or as many (up to three) as it takes for
// two compared numbers that differ to read differently ("10.01%, above the 10.00% target"
// rather than "10.0%, above the 10.0% target").
int decimalsOf(const Reason& r, Language lang) {
  constexpr int kMostDecimals = 3;
  int decimals = 1;
  for (const auto& [a, b] : comparedNumbers(r.code)) {
    const double x = r.number(a);
    const double y = r.number(b);
    while (decimals < kMostDecimals && x != y &&
           labels::percent(x, lang, decimals) == labels::percent(y, lang, decimals)) {
      ++decimals;
    }
  }
  return decimals;
}

std::string count(double value) { return fmt::format("{:.0f}", value); }

// "1 judged question" / "3 judged questions": the count and the words for it.
std::string counted(double value, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", count(value), value == 1 ? one : many);
}

}  // namespace

std::string sentence(const Reason& r, Language lang) {
  const bool fr = lang == Language::French;
  auto n = [&r](std::string_view name) { return r.number(name); };
  // Whether the relays explain the lateness by the what-if: without their wait, the
  // agency's late ratio would fall below the target (as relays_explain_lateness has it).
  const double* whatif = r.find("whatif_late_ratio");
  const bool relays_explain = whatif != nullptr && *whatif < r.number("max_late_ratio");
  const int decimals = decimalsOf(r, lang);
  auto pct = [&](std::string_view name) { return labels::percent(r.number(name), lang, decimals); };
  // The relay share of the agency's wait, with what it was measured on.
  auto relay_wait = [&]() -> std::string {
    if (!r.has("relay_share")) {
      return fr ? "non mesurée : aucune attente de question répondue" : "not measured: no answered wait";
    }
    if (r.has("answered") && n("answered") < n("min_turns")) {
      return fr ? fmt::format("{} de l'attente, mais sur {} seulement : trop peu pour en juger",
                              pct("relay_share"),
                              counted(n("answered"), "question répondue", "questions répondues"))
                : fmt::format("{} of the wait, but over only {}: too few to judge", pct("relay_share"),
                              counted(n("answered"), "answered question", "answered questions"));
    }
    return fr ? fmt::format("{} de l'attente", pct("relay_share"))
              : fmt::format("{} of the wait", pct("relay_share"));
  };
  // The same in parentheses after "the wait for internal relays", or nothing when no
  // share was measured (the what-if, which open turns' relay legs feed too, stands alone).
  auto relay_aside = [&]() -> std::string {
    return r.has("relay_share") ? " (" + relay_wait() + ")" : std::string();
  };
  if (r.code == "insufficient_turns") {
    // The account's judged questions nobody answered by the end of the window.
    const double unanswered = n("unanswered");
    std::string left;
    if (unanswered > 0) {
      left = fr ? counted(unanswered, "question jugée est restée", "questions jugées sont restées") +
                      " sans réponse"
                : counted(unanswered, "judged question was", "judged questions were") + " left unanswered";
    }
    if (n("judged") == 0 && n("answered") == 0) {
      const std::string first = fr ? "L'agence n'a répondu à aucune question dans la période"
                                   : "The agency answered no question in the window";
      return fr ? fmt::format("{}{}. Il faut au moins {} questions jugées de l'agence pour conclure.", first,
                              left.empty() ? "" : " ; " + left, count(n("min_turns")))
                : fmt::format("{}{}. At least {} judged questions of the agency are needed to conclude.",
                              first, left.empty() ? "" : "; " + left, count(n("min_turns")));
    }
    return fr ? fmt::format(
                    "L'agence n'a que {} questions jugées dans la période, moins que les {} nécessaires "
                    "pour conclure.{}",
                    count(n("judged")), count(n("min_turns")), left.empty() ? "" : " Au total, " + left + ".")
              : fmt::format(
                    "The agency has only {} judged questions in the window, fewer than the {} needed "
                    "to conclude.{}",
                    count(n("judged")), count(n("min_turns")), left.empty() ? "" : " In all, " + left + ".");
  }
  if (r.code == "no_internal_baseline") {
    return fr ? fmt::format(
                    "L'équipe interne n'a que {} questions jugées (moins de {}) : pas de référence "
                    "interne, l'agence est comparée à l'objectif.",
                    count(n("judged")), count(n("min_turns")))
              : fmt::format(
                    "The internal team has only {} judged questions (fewer than {}): no internal "
                    "baseline, the agency is compared with the target.",
                    count(n("judged")), count(n("min_turns")));
  }
  if (r.code == "agency_late") {
    return fr ? fmt::format(
                    "L'agence répond en retard à {} des questions ({} sur {}), au-delà de l'objectif "
                    "de {}.",
                    pct("late_ratio"), count(n("late")), count(n("judged")), pct("max_late_ratio"))
              : fmt::format("The agency answers {} of questions late ({} of {}), above the {} target.",
                            pct("late_ratio"), count(n("late")), count(n("judged")), pct("max_late_ratio"));
  }
  if (r.code == "agency_interval_above_internal") {
    return fr ? fmt::format(
                    "L'écart est net : l'intervalle de confiance à 95 % de l'agence ({} à {}) est "
                    "entièrement au-dessus de celui de l'équipe interne ({} à {}).",
                    pct("agency_lower"), pct("agency_upper"), pct("internal_lower"), pct("internal_upper"))
              : fmt::format(
                    "The gap is clear: the agency's 95% confidence interval ({} to {}) lies wholly "
                    "above the internal team's ({} to {}).",
                    pct("agency_lower"), pct("agency_upper"), pct("internal_lower"), pct("internal_upper"));
  }
  if (r.code == "relay_share") {
    return fr ? fmt::format(
                    "L'agence passe {} de son temps d'attente à attendre des informations internes "
                    "(seuil {}) : le savoir est en interne.",
                    pct("relay_share"), pct("min_relay_share"))
              : fmt::format(
                    "The agency spends {} of its wait waiting for internal relays (threshold {}): the "
                    "knowledge is in-house.",
                    pct("relay_share"), pct("min_relay_share"));
  }
  if (r.code == "relays_explain_lateness") {
    return fr ? fmt::format(
                    "Même au plus bas ({}), le taux de retard de l'agence dépasse l'objectif de {} ; "
                    "sans l'attente des relais internes il tomberait à {}.",
                    pct("agency_lower"), pct("max_late_ratio"), pct("whatif_late_ratio"))
              : fmt::format(
                    "Even at its lowest ({}), the agency's late ratio exceeds the {} target; without "
                    "the wait for internal relays it would fall to {}.",
                    pct("agency_lower"), pct("max_late_ratio"), pct("whatif_late_ratio"));
  }
  if (r.code == "internal_better_in_hours") {
    return fr ? fmt::format(
                    "Aux heures ouvrées, l'équipe interne est plus réactive : {} de retards contre {} "
                    "pour l'agence.",
                    pct("internal_late_ratio"), pct("agency_late_ratio"))
              : fmt::format(
                    "In business hours the internal team is more responsive: {} late against {} for "
                    "the agency.",
                    pct("internal_late_ratio"), pct("agency_late_ratio"));
  }
  if (r.code == "agency_better_off_hours") {
    return fr ? fmt::format(
                    "Hors heures ouvrées, l'agence fait mieux : {} de retards contre {} pour l'équipe "
                    "interne. Recommandation : internaliser aux heures de bureau, garder l'agence en "
                    "dehors.",
                    pct("agency_late_ratio"), pct("internal_late_ratio"))
              : fmt::format(
                    "Off hours the agency does better: {} late against {} for the internal team. "
                    "Recommendation: in-house during office hours, agency coverage outside them.",
                    pct("agency_late_ratio"), pct("internal_late_ratio"));
  }
  if (r.code == "agency_within_target") {
    // Its judged questions left unanswered are among the late ones.
    const double unanswered = n("unanswered");
    std::string left;
    if (unanswered > 0) {
      left = fr ? " (dont " + counted(unanswered, "question jugée restée", "questions jugées restées") +
                      " sans réponse)"
                : " (counting " + counted(unanswered, "judged question", "judged questions") +
                      " left unanswered)";
    }
    return fr ? fmt::format("L'agence répond en retard à {} des questions{}, dans l'objectif de {}.",
                            pct("late_ratio"), left, pct("max_late_ratio"))
              : fmt::format("The agency answers {} of questions late{}, within the {} target.",
                            pct("late_ratio"), left, pct("max_late_ratio"));
  }
  if (r.code == "agency_late_not_worse_than_internal" && relays_explain) {
    return fr ? fmt::format(
                    "L'agence répond en retard à {} des questions (objectif {}), mais l'équipe interne "
                    "ne fait pas nettement mieux (borne haute {} contre borne basse {} pour l'agence) ; "
                    "sans l'attente des relais internes{}, le taux de retard de "
                    "l'agence tomberait à {}.",
                    pct("late_ratio"), pct("max_late_ratio"), pct("internal_upper"), pct("agency_lower"),
                    relay_aside(), pct("whatif_late_ratio"))
              : fmt::format(
                    "The agency answers {} of questions late (target {}), but the internal team is not "
                    "clearly better (upper bound {} against the agency's lower bound {}); without the "
                    "wait for internal relays{}, the agency's late ratio would fall to {}.",
                    pct("late_ratio"), pct("max_late_ratio"), pct("internal_upper"), pct("agency_lower"),
                    relay_aside(), pct("whatif_late_ratio"));
  }
  if (r.code == "agency_late_not_worse_than_internal") {
    return fr ? fmt::format(
                    "L'agence répond en retard à {} des questions (objectif {}), mais l'équipe interne "
                    "ne fait pas nettement mieux (borne haute {} contre borne basse {} pour l'agence) "
                    "et les relais internes ne l'expliquent pas ({}).",
                    pct("late_ratio"), pct("max_late_ratio"), pct("internal_upper"), pct("agency_lower"),
                    relay_wait())
              : fmt::format(
                    "The agency answers {} of questions late (target {}), but the internal team is not "
                    "clearly better (upper bound {} against the agency's lower bound {}) and internal "
                    "relays do not explain it ({}).",
                    pct("late_ratio"), pct("max_late_ratio"), pct("internal_upper"), pct("agency_lower"),
                    relay_wait());
  }
  if (r.code == "agency_late_without_comparison") {
    return fr ? fmt::format(
                    "L'agence répond en retard à {} des questions (objectif {}), nettement au-delà "
                    "(au moins {}), mais les relais internes ne l'expliquent pas ({}) et "
                    "aucune référence interne ne montre qu'une équipe interne ferait mieux.",
                    pct("late_ratio"), pct("max_late_ratio"), pct("agency_lower"), relay_wait())
              : fmt::format(
                    "The agency answers {} of questions late (target {}), clearly above it (at least "
                    "{}), but internal relays do not explain it ({}) and no internal "
                    "baseline shows that an in-house team would do better.",
                    pct("late_ratio"), pct("max_late_ratio"), pct("agency_lower"), relay_wait());
  }
  if (r.code == "hours_split_uncertain") {
    return fr ? fmt::format(
                    "L'équipe interne semble meilleure aux heures ouvrées et l'agence en dehors, mais "
                    "sur trop peu de questions ou avec des intervalles qui se chevauchent pour le "
                    "conclure (au moins {} questions jugées par route et par période).",
                    count(n("min_turns")))
              : fmt::format(
                    "The internal team looks better in business hours and the agency off hours, but "
                    "on too few questions or with overlapping intervals to conclude (at least {} "
                    "judged questions per route and period).",
                    count(n("min_turns")));
  }
  if (r.code == "agency_late_unexplained" && relays_explain) {
    return fr ? fmt::format(
                    "L'agence répond en retard à {} des questions (objectif {}) ; sans l'attente des "
                    "relais internes{}, son taux de retard tomberait à {}, mais l'écart "
                    "n'est pas certain (au plus bas {}) et, sans référence interne, rien ne montre "
                    "qu'une équipe interne ferait mieux.",
                    pct("late_ratio"), pct("max_late_ratio"), relay_aside(), pct("whatif_late_ratio"),
                    pct("agency_lower"))
              : fmt::format(
                    "The agency answers {} of questions late (target {}); without the wait for internal "
                    "relays{} its late ratio would fall to {}, but the excess is not "
                    "certain (as low as {}) and, with no internal baseline, nothing shows that an "
                    "in-house team would do better.",
                    pct("late_ratio"), pct("max_late_ratio"), relay_aside(), pct("whatif_late_ratio"),
                    pct("agency_lower"));
  }
  if (r.code == "agency_late_unexplained") {
    return fr ? fmt::format(
                    "L'agence répond en retard à {} des questions (objectif {}), mais l'écart n'est "
                    "pas certain (au plus bas {}) et les relais internes ne l'expliquent pas ({}).",
                    pct("late_ratio"), pct("max_late_ratio"), pct("agency_lower"), relay_wait())
              : fmt::format(
                    "The agency answers {} of questions late (target {}), but the excess is not certain "
                    "(as low as {}) and internal relays do not explain it ({}).",
                    pct("late_ratio"), pct("max_late_ratio"), pct("agency_lower"), relay_wait());
  }
  return r.code;
}

}  // namespace replywatch::verdict
