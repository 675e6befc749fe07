// The management report as Markdown.
#include <fmt/format.h>

#include "daemon/verdict/labels.h"
#include "daemon/verdict/report.h"

namespace replywatch::verdict {
namespace {

using labels::text;

constexpr std::array<Route, 3> kRoutes = {Route::Internal, Route::Agency, Route::Unknown};

std::string row(std::string_view label, const AccountVerdict& a, auto&& cell) {
  std::string out = fmt::format("| {} |", label);
  for (Route r : kRoutes) out += fmt::format(" {} |", cell(a.routes.at(r)));
  out += fmt::format(" {} |\n", cell(a.all));
  return out;
}

}  // namespace

std::string renderReportMarkdown(const std::vector<AccountVerdict>& accounts, Language lang,
                                 Timestamp generated_at) {
  std::string out = fmt::format("# {}\n\n{}: {}\n", text("title", lang), text("generated", lang),
                                formatRfc3339(generated_at));
  for (const auto& a : accounts) {
    auto pct = [lang](std::optional<double> v) { return labels::percent(v, lang); };
    auto dur = [lang](std::optional<double> v) { return labels::duration(v, lang); };
    auto num = [lang](std::uint64_t v) { return labels::integer(v, lang); };
    out += fmt::format("\n## {}\n\n", a.account);
    std::string as_of;
    if (a.judged_at < a.until) {
      as_of = fmt::format(" ({} {}{} {})", text("as_of", lang), formatRfc3339(a.judged_at),
                          lang == Language::French ? " ;" : ";", text("not_over", lang));
    }
    out += fmt::format("{}: {} {} {}{} · {}: {} · {}: {}\n\n", text("window", lang), formatRfc3339(a.from),
                       text("to", lang), formatRfc3339(a.until), as_of, text("threshold", lang),
                       dur(static_cast<double>(a.threshold.count())), text("timezone", lang), a.timezone);
    out += fmt::format("### {}: {} (`{}`)\n\n{}\n\n", text("verdict", lang),
                       labels::verdictTitle(a.verdict, lang), toString(a.verdict),
                       labels::verdictSummary(a.verdict, lang));
    out += fmt::format("**{}**\n\n", text("reasons", lang));
    for (const auto& r : a.reasons) out += fmt::format("- {} (`{}`)\n", sentence(r, lang), r.code);

    out += fmt::format("\n### {}\n\n|  |", text("figures", lang));
    for (Route r : kRoutes) out += fmt::format(" {} |", labels::routeName(r, lang));
    out += fmt::format(" {} |\n|---|---:|---:|---:|---:|\n", text("all", lang));
    out += row(text("turns", lang), a, [&](const RouteFigures& f) { return num(f.turns); });
    out += row(text("answered", lang), a, [&](const RouteFigures& f) { return num(f.answered); });
    out += row(text("open", lang), a, [&](const RouteFigures& f) { return num(f.open); });
    out += row(text("judged", lang), a, [&](const RouteFigures& f) { return num(f.late.judged); });
    out += row(text("late", lang), a, [&](const RouteFigures& f) { return num(f.late.late); });
    out += row(text("unanswered", lang), a, [&](const RouteFigures& f) { return num(f.unanswered); });
    out += row(text("late_ratio", lang), a, [&](const RouteFigures& f) { return pct(f.late.ratio()); });
    out += row(text("interval", lang), a, [&](const RouteFigures& f) {
      if (f.late.judged == 0) return std::string("–");
      return fmt::format("{} – {}", pct(f.late_interval.lower), pct(f.late_interval.upper));
    });
    out += row(text("median", lang), a, [&](const RouteFigures& f) { return dur(f.median_wait_seconds); });
    out += row(text("p90", lang), a, [&](const RouteFigures& f) { return dur(f.p90_wait_seconds); });
    out += row(text("business", lang), a, [&](const RouteFigures& f) { return pct(f.business.ratio()); });
    out += row(text("off", lang), a, [&](const RouteFigures& f) { return pct(f.off.ratio()); });
    if (a.cost.configured()) {
      auto money = [&](std::optional<double> v) { return labels::money(v, a.cost.currency, lang); };
      out +=
          row(text("cost_window", lang), a, [&](const RouteFigures& f) { return money(f.cost_in_window); });
      out +=
          row(text("cost_answer", lang), a, [&](const RouteFigures& f) { return money(f.cost_per_answer); });
      out += row(text("cost_ontime", lang), a,
                 [&](const RouteFigures& f) { return money(f.cost_per_ontime_answer); });
    }
    out += fmt::format("\n- {}: {}\n- {}: {}\n", text("relay_share", lang), pct(a.relay_share),
                       text("whatif", lang), pct(a.whatif_late_ratio));

    out += fmt::format("\n### {}\n\n| {} | {} | {} |\n|---|---:|---:|\n", text("weeks", lang),
                       text("week_of", lang), labels::routeName(Route::Internal, lang),
                       labels::routeName(Route::Agency, lang));
    std::map<std::string, std::pair<std::string, std::string>> weeks;
    for (Route r : {Route::Internal, Route::Agency}) {
      for (const auto& [week, c] : a.routes.at(r).weeks) {
        auto cell = fmt::format("{} ({}/{})", pct(c.ratio()), c.late, c.judged);
        (r == Route::Internal ? weeks[week].first : weeks[week].second) = cell;
      }
    }
    for (const auto& [week, cells] : weeks) {
      out += fmt::format("| {} | {} | {} |\n", week, cells.first.empty() ? "–" : cells.first,
                         cells.second.empty() ? "–" : cells.second);
    }

    out += fmt::format("\n### {}\n\n|  | {} | {} | {} | {} |\n|---|---:|---:|---:|---:|\n",
                       text("phases", lang), text("direct", lang), text("before_escalation", lang),
                       text("relay", lang), text("after_relay", lang));
    for (Route r : {Route::Internal, Route::Agency}) {
      const auto& p = a.routes.at(r).phases;
      const double total = p.total();
      auto share = [&](double v) { return total > 0 ? pct(v / total) : std::string("–"); };
      out += fmt::format("| {} | {} | {} | {} | {} |\n", labels::routeName(r, lang), share(p.direct),
                         share(p.before_escalation), share(p.relay), share(p.after_relay));
    }
  }
  out += fmt::format("\n---\n\n{}\n", text("method", lang));
  return out;
}

}  // namespace replywatch::verdict
