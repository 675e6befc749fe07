#include "daemon/simulate/traffic.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <numeric>

#include "daemon/simulate/office_hours.h"

namespace replywatch::simulate {
namespace {

using std::chrono::seconds;

constexpr std::array<const char*, 12> kQuestions = {
    "Bonjour, ma commande n'est toujours pas arrivée, que faire ?",
    "Hello, where is my refund? I returned the parcel two weeks ago.",
    "Est-ce que le modèle Orion est compatible avec les ampoules LED ?",
    "Can I change the delivery address of my order?",
    "Pourquoi mon paiement a-t-il été refusé ?",
    "Is the store in Lyon open on Sunday?",
    "Bonjour, comment annuler mon abonnement ?",
    "My package arrived damaged, what should I do?",
    "Quand est-ce que la promo de Noël commence ?",
    "Do you ship to Belgium?",
    "Le site affiche une erreur au moment de payer, c'est normal ?",
    "How long is the warranty on the Orion lamp?",
};
constexpr std::array<const char*, 4> kFollowUps = {
    "Toujours rien ?",
    "Any news?",
    "Quelqu'un peut répondre ?",
    "Hello? Still waiting for an answer.",
};
constexpr std::array<const char*, 6> kAnswers = {
    "Bonjour, merci pour votre message, nous regardons cela tout de suite en message privé.",
    "Hello, thanks for reaching out! We have sent you a direct message with the details.",
    "Bonjour, oui, c'est bien possible. Toutes les infos sont sur notre page d'aide.",
    "Hi, sorry for the trouble. Could you send us your order number in a private message?",
    "Bonjour, nous sommes désolés pour ce désagrément, le nécessaire est fait.",
    "Hi, yes we do! Shipping takes three to five working days.",
};
constexpr std::array<const char*, 3> kRelayAnswers = {
    "Bonjour, notre équipe produit nous confirme que c'est réglé, merci pour votre patience.",
    "Hi, our billing team has checked: the refund is on its way.",
    "Bonjour, après vérification auprès du service concerné, tout est en ordre.",
};

// SplitMix64: derives independent stream seeds from the scenario's seed.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

template <std::size_t N>
double mean(const std::array<double, N>& values) {
  return std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(N);
}

template <std::size_t N>
const char* pick(Random& random, const std::array<const char*, N>& texts) {
  return texts[random.below(N)];
}

Timestamp burstStart(const Burst& burst, Timestamp start) {
  return burst.start ? *burst.start : start + burst.offset;
}

double burstMultiplier(const Scenario& scenario, Timestamp start, Timestamp t) {
  double multiplier = 1.0;
  for (const auto& burst : scenario.bursts) {
    const auto from = burstStart(burst, start);
    if (t >= from && t < from + burst.length) multiplier *= burst.multiplier;
  }
  return multiplier;
}

double maxRate(const Scenario& scenario, Timestamp start) {
  // The multiplier is piecewise constant and highest at the start of some burst.
  double burst = 1.0;
  for (const auto& b : scenario.bursts)
    burst = std::max(burst, burstMultiplier(scenario, start, burstStart(b, start)));
  const double hour = *std::max_element(scenario.hour_weights.begin(), scenario.hour_weights.end());
  const double day = *std::max_element(scenario.weekday_weights.begin(), scenario.weekday_weights.end());
  return scenario.questions_per_day / 24.0 * hour / mean(scenario.hour_weights) * day /
         mean(scenario.weekday_weights) * burst;
}

Timestamp wholeSeconds(Timestamp t) { return std::chrono::floor<seconds>(t); }

}  // namespace

double arrivalRate(const Scenario& scenario, const date::time_zone& zone, Timestamp start, Timestamp t) {
  const auto local = zone.to_local(t);
  const auto day = date::floor<date::days>(local);
  const auto hour = static_cast<std::size_t>(std::chrono::floor<std::chrono::hours>(local - day).count());
  const auto weekday = static_cast<std::size_t>((date::weekday{day} - date::Monday).count());
  return scenario.questions_per_day / 24.0 * scenario.hour_weights[hour] / mean(scenario.hour_weights) *
         scenario.weekday_weights[weekday] / mean(scenario.weekday_weights) *
         burstMultiplier(scenario, start, t);
}

Traffic generate(const Scenario& scenario, Timestamp start, std::optional<Timestamp> cut) {
  Traffic traffic;
  traffic.start = wholeSeconds(start);
  traffic.end = traffic.start + date::days{scenario.days};
  if (cut) traffic.end = std::max(traffic.start, std::min(traffic.end, wholeSeconds(*cut)));
  const auto& zone = *date::locate_zone(scenario.timezone);
  const OfficeHours office(scenario.timezone, scenario.office_hours);
  std::uint64_t next_id = scenario.first_id != 0
                              ? scenario.first_id
                              : static_cast<std::uint64_t>(
                                    std::chrono::floor<seconds>(traffic.start).time_since_epoch().count()) *
                                    1'000'000ULL;
  auto new_id = [&] { return std::to_string(next_id++); };

  // Arrivals: a Poisson process whose rate follows the profile, by thinning a faster
  // homogeneous one. A separate stream decides what happens to each question, so the
  // arrivals do not depend on the answering parameters.
  Random arrivals(mix(scenario.seed));
  Random fate(mix(scenario.seed ^ 0x5eedf00dULL));
  const double max_per_hour = maxRate(scenario, traffic.start);
  const double start_s =
      static_cast<double>(std::chrono::floor<seconds>(traffic.start).time_since_epoch().count());
  const double end_s =
      static_cast<double>(std::chrono::floor<seconds>(traffic.end).time_since_epoch().count());
  double clock = start_s;
  for (;;) {
    clock += arrivals.exponential(3600.0 / max_per_hour);
    if (clock >= end_s) break;
    const Timestamp t{seconds{static_cast<std::int64_t>(clock)}};
    if (!(arrivals.uniform() * max_per_hour < arrivalRate(scenario, zone, traffic.start, t))) continue;

    SimQuestion q;
    q.id = new_id();
    q.asked_at = t;
    q.in_burst = burstMultiplier(scenario, traffic.start, t) != 1.0;
    const std::string member = fmt::format("u{}", fate.below(scenario.members) + 1);
    const std::string member_name = fmt::format("Member {}", member.substr(1));
    const std::string mention = "@" + scenario.brand_id + " ";
    traffic.messages.push_back(
        {q.id, q.id, "", member, member_name, false, t, mention + pick(fate, kQuestions)});

    const bool follows_up = fate.chance(scenario.follow_up_probability);
    const seconds follow_up_after = follows_up ? fate.duration(scenario.follow_up_delay) : seconds{0};
    const bool unanswered = fate.chance(scenario.unanswered_probability);

    std::optional<Timestamp> answer;
    const Team* team = nullptr;
    const char* answer_text = nullptr;
    std::optional<SimEscalation> escalation;
    if (!unanswered) {
      if (office.contains(t) && fate.chance(scenario.internal_share)) {
        team = &scenario.internal;
        answer = office.addWorkingTime(t, fate.duration(scenario.internal.response));
        answer_text = pick(fate, kAnswers);
        q.outcome = Outcome::Internal;
      } else if (fate.chance(scenario.escalation_probability)) {
        team = &scenario.agency;
        SimEscalation e{"R-" + q.id,
                        scenario.account,
                        q.id,
                        t + fate.duration(scenario.escalation_delay),
                        scenario.agency.handler,
                        scenario.relay_name,
                        std::nullopt};
        e.answered_at = office.addWorkingTime(e.requested_at, fate.duration(scenario.relay_delay));
        if (e.answered_at) answer = *e.answered_at + fate.duration(scenario.after_relay);
        answer_text = pick(fate, kRelayAnswers);
        q.outcome = Outcome::AgencyAfterRelay;
        escalation = e;
      } else {
        team = &scenario.agency;
        answer = t + fate.duration(scenario.agency.response);
        answer_text = pick(fate, kAnswers);
        q.outcome = Outcome::Agency;
      }
    }

    // Ids are given whether or not the message falls before the end, so cutting the
    // period earlier never renumbers what is kept.
    const std::string follow_up_id = follows_up ? new_id() : std::string{};
    const std::string answer_id = answer ? new_id() : std::string{};
    std::string last_member_message = q.id;
    const Timestamp follow_up_at = t + follow_up_after;
    if (follows_up && follow_up_at < traffic.end && (!answer || follow_up_at < *answer)) {
      const std::string& id = follow_up_id;
      traffic.messages.push_back(
          {id, q.id, q.id, member, member_name, false, follow_up_at, mention + pick(fate, kFollowUps)});
      last_member_message = id;
      ++traffic.summary.follow_ups;
    }
    if (escalation && escalation->requested_at < traffic.end) {
      if (escalation->answered_at && *escalation->answered_at >= traffic.end) escalation->answered_at.reset();
      q.escalated = true;
      traffic.escalations.push_back(*escalation);
    }
    if (answer && *answer < traffic.end) {
      traffic.messages.push_back({answer_id, q.id, last_member_message, team->author_id, team->author_name,
                                  true, *answer, fmt::format("{} {}", answer_text, team->signature)});
      q.answered_at = answer;
    } else if (!unanswered) {
      q.outcome = Outcome::OpenAtEnd;
    }

    auto& s = traffic.summary;
    ++s.questions;
    if (q.in_burst) ++s.in_bursts;
    if (q.escalated) ++s.escalated;
    switch (q.outcome) {
      case Outcome::Internal: ++s.answered_internal; break;
      case Outcome::Agency: ++s.answered_agency; break;
      case Outcome::AgencyAfterRelay:
        ++s.answered_agency;
        ++s.answered_after_relay;
        break;
      case Outcome::Unanswered: ++s.unanswered; break;
      case Outcome::OpenAtEnd: ++s.open_at_end; break;
    }
    traffic.questions.push_back(std::move(q));
  }
  traffic.summary.messages = traffic.messages.size();

  // Ids are decimal numbers without leading zeros: shorter is smaller.
  auto id_less = [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  };
  std::stable_sort(traffic.messages.begin(), traffic.messages.end(),
                   [&](const SimMessage& a, const SimMessage& b) {
                     return a.created_at != b.created_at ? a.created_at < b.created_at : id_less(a.id, b.id);
                   });
  std::stable_sort(traffic.escalations.begin(), traffic.escalations.end(),
                   [](const SimEscalation& a, const SimEscalation& b) {
                     return a.requested_at != b.requested_at ? a.requested_at < b.requested_at : a.id < b.id;
                   });
  return traffic;
}

}  // namespace replywatch::simulate
