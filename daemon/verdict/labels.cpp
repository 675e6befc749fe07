#include "daemon/verdict/labels.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>

namespace replywatch::verdict::labels {
namespace {

struct Entry {
  std::string_view key, en, fr;
};

constexpr std::array kEntries = {
    Entry{"title", "Community reactivity: make or buy",
          "Réactivité communautaire : internaliser ou externaliser"},
    Entry{"generated", "Generated", "Généré le"},
    Entry{"window", "Window", "Période"},
    Entry{"to", "to", "au"},
    Entry{"as_of", "figures as of", "chiffres arrêtés au"},
    Entry{"not_over", "the window is not over", "la période n'est pas terminée"},
    Entry{"threshold", "Late after", "En retard après"},
    Entry{"timezone", "Time zone", "Fuseau horaire"},
    Entry{"verdict", "Verdict", "Verdict"},
    Entry{"reasons", "Why", "Pourquoi"},
    Entry{"figures", "Figures", "Chiffres"},
    Entry{"all", "All", "Total"},
    Entry{"turns", "Questions", "Questions"},
    Entry{"answered", "Answered", "Répondues"},
    Entry{"open", "Still open", "Encore ouvertes"},
    Entry{"judged", "Judged", "Jugées"},
    Entry{"judged_lc", "judged", "jugées"},
    Entry{"late", "Late", "En retard"},
    Entry{"unanswered", "Judged, left unanswered", "Jugées, restées sans réponse"},
    Entry{"late_ratio", "Late ratio", "Taux de retard"},
    Entry{"interval", "95% interval", "Intervalle à 95 %"},
    Entry{"median", "Median wait", "Attente médiane"},
    Entry{"p90", "90th percentile wait", "Attente au 90e centile"},
    Entry{"business", "Late ratio in business hours", "Taux de retard aux heures ouvrées"},
    Entry{"off", "Late ratio off hours", "Taux de retard hors heures ouvrées"},
    Entry{"relay_share", "Share of the agency's wait spent on internal relays",
          "Part de l'attente de l'agence passée en relais internes"},
    Entry{"whatif", "Agency late ratio without the relay wait",
          "Taux de retard de l'agence sans l'attente des relais"},
    Entry{"cost_window", "Cost over the window", "Coût sur la période"},
    Entry{"cost_answer", "Cost per answer", "Coût par réponse"},
    Entry{"cost_ontime", "Cost per on-time answer", "Coût par réponse dans les temps"},
    Entry{"weeks", "Late ratio by week", "Taux de retard par semaine"},
    Entry{"week_of", "Week of", "Semaine du"},
    Entry{"phases", "Where the time goes", "Où passe le temps"},
    Entry{"direct", "Direct", "Direct"},
    Entry{"before_escalation", "Before escalation", "Avant escalade"},
    Entry{"relay", "Waiting for an internal relay", "Attente d'un relais interne"},
    Entry{"after_relay", "After the relay", "Après le relais"},
    Entry{"distribution", "Wait distribution (answered questions)",
          "Répartition des attentes (questions répondues)"},
    Entry{"share_of_answers", "share of answers", "part des réponses"},
    Entry{"heatmap", "Late ratio by hour of the week", "Taux de retard par heure de la semaine"},
    Entry{"heatmap_note", "Account's time zone; grey: no judged question.",
          "Fuseau du compte ; gris : aucune question jugée."},
    Entry{"target", "target", "objectif"},
    Entry{"no_data", "No judged question in this window.", "Aucune question jugée sur la période."},
    Entry{
        "method",
        "A question is judged once it is older than the threshold; it is late when answered after the "
        "threshold or still open past it. A question answered after the end of the window is still open "
        "at its end and counts for the route that answered it. A judged question nobody answered counts "
        "for the route on duty: the agency when it answered any question of the window, otherwise the "
        "internal team when it did, otherwise none (unattributed). Percentiles are exact (linear "
        "interpolation); intervals are 95% Wilson score intervals.",
        "Une question est jugée dès qu'elle est plus ancienne que le seuil ; elle est en retard si la "
        "réponse arrive après le seuil ou si elle reste ouverte au-delà. Une question répondue après la fin "
        "de la période est encore ouverte à cette fin et compte pour la voie qui y a répondu. Une question "
        "jugée restée sans réponse compte pour la voie de permanence : l'agence si elle a répondu à une "
        "question de la période, sinon l'équipe interne si elle l'a fait, sinon aucune (non attribuée). "
        "Les centiles sont exacts (interpolation linéaire) ; les intervalles sont des intervalles de "
        "Wilson à 95 %."},
    Entry{"mon", "Mon", "lun"},
    Entry{"tue", "Tue", "mar"},
    Entry{"wed", "Wed", "mer"},
    Entry{"thu", "Thu", "jeu"},
    Entry{"fri", "Fri", "ven"},
    Entry{"sat", "Sat", "sam"},
    Entry{"sun", "Sun", "dim"},
    Entry{"costs", "Costs", "Coûts"},
};

std::string groupThousands(std::string digits, std::string_view separator) {
  std::string out;
  int count = 0;
  for (std::size_t i = digits.size(); i > 0; --i) {
    if (count > 0 && count % 3 == 0) out.insert(0, separator);
    out.insert(out.begin(), digits[i - 1]);
    ++count;
  }
  return out;
}

}  // namespace

std::string_view text(std::string_view key, Language lang) {
  for (const auto& e : kEntries) {
    if (e.key == key) return lang == Language::French ? e.fr : e.en;
  }
  return key;
}

std::string_view routeName(Route route, Language lang) {
  const bool fr = lang == Language::French;
  switch (route) {
    case Route::Internal: return fr ? "Interne" : "Internal";
    case Route::Agency: return fr ? "Agence" : "Agency";
    case Route::Unknown: break;
  }
  return fr ? "Non attribué" : "Unattributed";
}

std::string_view verdictTitle(Verdict v, Language lang) {
  const bool fr = lang == Language::French;
  switch (v) {
    case Verdict::Insource:
      return fr ? "Internaliser le community management" : "Bring community management in-house";
    case Verdict::Keep: return fr ? "Garder l'organisation actuelle" : "Keep the current set-up";
    case Verdict::Hybrid:
      return fr ? "Modèle hybride : interne en journée, agence hors heures"
                : "Hybrid: in-house in office hours, agency off hours";
    case Verdict::InsufficientData: break;
  }
  return fr ? "Pas assez de données pour conclure" : "Not enough data to conclude";
}

std::string_view verdictSummary(Verdict v, Language lang) {
  const bool fr = lang == Language::French;
  switch (v) {
    case Verdict::Insource:
      return fr ? "La réactivité mesurée plaide pour ramener le rôle en interne."
                : "The measured reactivity argues for bringing the role in-house.";
    case Verdict::Keep:
      return fr ? "La réactivité mesurée ne justifie pas de changer d'organisation."
                : "The measured reactivity does not justify a change.";
    case Verdict::Hybrid:
      return fr ? "Chaque organisation gagne sur une plage horaire différente."
                : "Each set-up wins at a different time of day.";
    case Verdict::InsufficientData: break;
  }
  return fr ? "Il faut plus de questions jugées sur la période."
            : "More judged questions are needed in the window.";
}

std::string percent(std::optional<double> ratio, Language lang, int decimals) {
  if (!ratio) return "–";
  std::string s = fmt::format("{:.{}f}", *ratio * 100.0, decimals);
  if (lang == Language::French) {
    std::replace(s.begin(), s.end(), '.', ',');
    return s + "\u00a0%";
  }
  return s + "%";
}

std::string duration(std::optional<double> seconds, Language lang) {
  if (!seconds) return "–";
  const auto s = static_cast<long long>(std::llround(*seconds));
  if (s < 60) return fmt::format("{}\u00a0s", s);
  if (s < 3600) return fmt::format("{}\u00a0min", s / 60);
  if (s < 86400) return fmt::format("{}\u00a0h\u00a0{:02d}", s / 3600, (s % 3600) / 60);
  return fmt::format("{}\u00a0{}\u00a0{}\u00a0h", s / 86400, lang == Language::French ? "j" : "d",
                     (s % 86400) / 3600);
}

std::string money(std::optional<double> amount, const std::string& currency, Language lang) {
  if (!amount) return "–";
  const auto cents = static_cast<long long>(std::llround(*amount * 100.0));
  std::string whole = groupThousands(std::to_string(cents / 100), lang == Language::French ? "\u202f" : ",");
  return fmt::format("{}{}{:02d}\u00a0{}", whole, lang == Language::French ? "," : ".", cents % 100,
                     currency);
}

std::string integer(std::uint64_t n, Language lang) {
  return groupThousands(std::to_string(n), lang == Language::French ? "\u202f" : ",");
}

}  // namespace replywatch::verdict::labels
