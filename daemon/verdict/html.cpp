// The management report as one self-contained HTML page: inline CSS and SVG charts, no
// script, no external asset.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <set>

#include "daemon/verdict/labels.h"
#include "daemon/verdict/report.h"

namespace replywatch::verdict {
namespace {

using labels::text;

constexpr std::string_view kInternalColor = "#2b6cb0";
constexpr std::string_view kAgencyColor = "#dd6b20";
constexpr std::string_view kGrid = "#e2e8f0";
constexpr std::string_view kInk = "#4a5568";
constexpr std::array<std::string_view, 7> kDayKeys = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

std::string_view colorOf(Route r) { return r == Route::Internal ? kInternalColor : kAgencyColor; }

std::string escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// "2026-11-23 04:50 UTC".
std::string shortTime(Timestamp t) {
  std::string s = formatRfc3339(t);
  return s.substr(0, 10) + " " + s.substr(11, 5) + " UTC";
}

std::string_view verdictColor(Verdict v) {
  switch (v) {
    case Verdict::Insource: return "#c53030";
    case Verdict::Keep: return "#2f855a";
    case Verdict::Hybrid: return "#6b46c1";
    case Verdict::InsufficientData: break;
  }
  return "#718096";
}

std::string legend(Language lang) {
  return fmt::format(
      "<div class=\"legend\"><span><i style=\"background:{}\"></i>{}</span><span><i "
      "style=\"background:{}\"></i>{}</span></div>",
      kInternalColor, labels::routeName(Route::Internal, lang), kAgencyColor,
      labels::routeName(Route::Agency, lang));
}

// A nice upper bound for an axis showing ratios up to `v`.
double ratioCeiling(double v) {
  for (double c : {0.1, 0.2, 0.4, 0.8, 1.0}) {
    if (v <= c + 1e-12) return c;
  }
  return 1.0;
}

std::string svgOpen(int width, int height, std::string_view label) {
  return fmt::format(
      "<svg class=\"chart\" viewBox=\"0 0 {} {}\" width=\"100%\" role=\"img\" aria-label=\"{}\" "
      "xmlns=\"http://www.w3.org/2000/svg\"><title>{}</title>",
      width, height, escape(label), escape(label));
}

// Horizontal grid lines with percentage labels, from 0 to `top`.
std::string yGrid(double top, double x0, double x1, double y0, double y1, Language lang) {
  std::string out;
  for (int i = 0; i <= 4; ++i) {
    double v = top * i / 4.0;
    double y = y0 - (y0 - y1) * i / 4.0;
    out += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\"/>", x0, y,
                       x1, y, kGrid);
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\" class=\"axis\">{}</text>", x0 - 6,
                       y + 4, escape(labels::percent(v, lang)));
  }
  return out;
}

std::string distributionChart(const AccountVerdict& a, Language lang) {
  static constexpr std::array<double, 10> kEdges = {0,    300,   900,   1800,  3600,
                                                    7200, 14400, 28800, 86400, 1e300};
  static constexpr std::array<std::string_view, 9> kNames = {
      "<5 min", "5–15 min", "15–30 min", "30–60 min", "1–2 h", "2–4 h", "4–8 h", "8–24 h", ">24 h"};
  std::array<std::array<double, 9>, 2> share{};
  double top = 0;
  for (int k = 0; k < 2; ++k) {
    const auto& f = a.routes.at(k == 0 ? Route::Internal : Route::Agency);
    for (double w : f.waits) {
      for (std::size_t b = 0; b < 9; ++b) {
        if (w >= kEdges[b] && w < kEdges[b + 1]) share[static_cast<std::size_t>(k)][b] += 1;
      }
    }
    for (auto& s : share[static_cast<std::size_t>(k)]) {
      s = f.waits.empty() ? 0 : s / static_cast<double>(f.waits.size());
      top = std::max(top, s);
    }
  }
  top = ratioCeiling(std::max(top, 0.1));
  const int width = 660, height = 270;
  const double x0 = 56, x1 = width - 10, y0 = height - 44, y1 = 14;
  const double group = (x1 - x0) / 9.0;
  std::string out = svgOpen(width, height, text("distribution", lang));
  out += yGrid(top, x0, x1, y0, y1, lang);
  const auto threshold = static_cast<double>(a.threshold.count());
  for (std::size_t b = 0; b < 9; ++b) {
    const double gx = x0 + group * static_cast<double>(b);
    for (int k = 0; k < 2; ++k) {
      const double v = share[static_cast<std::size_t>(k)][b];
      const double h = (y0 - y1) * v / top;
      const double bw = group * 0.34;
      const double x = gx + group * 0.14 + bw * k;
      out += fmt::format(
          "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" rx=\"2\" "
          "fill=\"{}\"><title>{}: "
          "{}</title></rect>",
          x, y0 - h, bw, std::max(h, 0.0), colorOf(k == 0 ? Route::Internal : Route::Agency),
          labels::routeName(k == 0 ? Route::Internal : Route::Agency, lang),
          escape(labels::percent(v, lang)));
    }
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" class=\"axis\">{}</text>",
                       gx + group / 2, y0 + 18, escape(kNames[b]));
    if (b > 0 && std::abs(kEdges[b] - threshold) < 0.5) {
      out += fmt::format(
          "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"#c53030\" "
          "stroke-dasharray=\"5 4\" stroke-width=\"1.5\"/><text x=\"{3:.1f}\" y=\"{4:.1f}\" class=\"axis\" "
          "fill=\"#c53030\">{5}</text>",
          gx, y0, y1, gx + 4, y1 + 10, escape(labels::duration(threshold, lang)));
    }
  }
  out += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\"/>", x0, y0,
                     x1, y0, kInk);
  out += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\" class=\"axis\">{}</text>",
                     (x0 + x1) / 2, height - 6, text("share_of_answers", lang));
  return out + "</svg>";
}

std::string weeklyChart(const AccountVerdict& a, Language lang) {
  std::set<std::string> weeks;
  double top = a.rules.max_late_ratio * 1.5;
  for (Route r : {Route::Internal, Route::Agency}) {
    for (const auto& [w, c] : a.routes.at(r).weeks) {
      weeks.insert(w);
      top = std::max(top, c.ratio().value_or(0));
    }
  }
  top = ratioCeiling(top);
  const std::vector<std::string> order(weeks.begin(), weeks.end());
  const int width = 660, height = 250;
  const double x0 = 56, x1 = width - 16, y0 = height - 40, y1 = 14;
  auto x_of = [&](std::size_t i) {
    return order.size() <= 1
               ? (x0 + x1) / 2
               : x0 + 20 + (x1 - x0 - 40) * static_cast<double>(i) / static_cast<double>(order.size() - 1);
  };
  auto y_of = [&](double v) { return y0 - (y0 - y1) * v / top; };
  std::string out = svgOpen(width, height, text("weeks", lang));
  out += yGrid(top, x0, x1, y0, y1, lang);
  const double target_y = y_of(a.rules.max_late_ratio);
  out += fmt::format(
      "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#c53030\" stroke-dasharray=\"5 "
      "4\" "
      "stroke-width=\"1.5\"/><text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\" class=\"axis\" "
      "fill=\"#c53030\">{} {}</text>",
      x0, target_y, x1, target_y, x1, target_y - 5, text("target", lang),
      escape(labels::percent(a.rules.max_late_ratio, lang)));
  for (std::size_t i = 0; i < order.size(); ++i) {
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" class=\"axis\">{}</text>",
                       x_of(i), y0 + 18, order[i].substr(5));
  }
  for (Route r : {Route::Internal, Route::Agency}) {
    const auto& weekly = a.routes.at(r).weeks;
    std::string points;
    std::string dots;
    for (std::size_t i = 0; i < order.size(); ++i) {
      auto it = weekly.find(order[i]);
      if (it == weekly.end() || !it->second.ratio()) continue;
      const double x = x_of(i), y = y_of(*it->second.ratio());
      points += fmt::format("{:.1f},{:.1f} ", x, y);
      dots += fmt::format(
          "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"4\" fill=\"{}\"><title>{} {}: {} ({}/{})</title></circle>",
          x, y, colorOf(r), labels::routeName(r, lang), order[i],
          escape(labels::percent(it->second.ratio(), lang)), it->second.late, it->second.judged);
    }
    if (!points.empty()) {
      out += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2.5\"/>", points,
                         colorOf(r));
    }
    out += dots;
  }
  out += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\"/>", x0, y0,
                     x1, y0, kInk);
  return out + "</svg>";
}

// Green at 0, amber at the target, red from twice the target.
std::string heatColor(double ratio, double target) {
  const double t = std::clamp(target > 0 ? ratio / (2 * target) : ratio, 0.0, 1.0);
  struct Rgb {
    double r, g, b;
  };
  const Rgb green{56, 161, 105}, amber{236, 201, 75}, red{229, 62, 62};
  const Rgb& from = t < 0.5 ? green : amber;
  const Rgb& to = t < 0.5 ? amber : red;
  const double u = t < 0.5 ? t * 2 : (t - 0.5) * 2;
  return fmt::format("rgb({:.0f},{:.0f},{:.0f})", from.r + (to.r - from.r) * u, from.g + (to.g - from.g) * u,
                     from.b + (to.b - from.b) * u);
}

std::string heatmap(const AccountVerdict& a, Route route, Language lang) {
  const auto& f = a.routes.at(route);
  const double cw = 24, ch = 22, x0 = 40, y0 = 22;
  const int width = static_cast<int>(x0 + cw * 24 + 8), height = static_cast<int>(y0 + ch * 7 + 6);
  std::string out =
      svgOpen(width, height, fmt::format("{} — {}", text("heatmap", lang), labels::routeName(route, lang)));
  for (int h = 0; h < 24; h += 3) {
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" class=\"axis\">{:02d}h</text>",
                       x0 + cw * h + cw / 2, y0 - 8, h);
  }
  for (int d = 0; d < 7; ++d) {
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\" class=\"axis\">{}</text>", x0 - 6,
                       y0 + ch * d + ch / 2 + 4, text(kDayKeys[static_cast<std::size_t>(d)], lang));
    for (int h = 0; h < 24; ++h) {
      const auto& c = f.hour_of_week[(static_cast<std::size_t>(d) * 24) + static_cast<std::size_t>(h)];
      const auto ratio = c.ratio();
      out += fmt::format(
          "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" rx=\"3\" fill=\"{}\"><title>{} "
          "{:02d}:00 — {} ({}/{})</title></rect>",
          x0 + cw * h + 1, y0 + ch * d + 1, cw - 2, ch - 2,
          ratio ? heatColor(*ratio, a.rules.max_late_ratio) : std::string("#edf2f7"),
          text(kDayKeys[static_cast<std::size_t>(d)], lang), h, escape(labels::percent(ratio, lang)), c.late,
          c.judged);
    }
  }
  return out + "</svg>";
}

std::string phasesChart(const AccountVerdict& a, Language lang) {
  struct Phase {
    std::string_view key;
    std::string_view color;
    double PhaseTotals::*member;
  };
  static constexpr std::array<Phase, 4> kPhases = {
      Phase{"direct", "#4299e1", &PhaseTotals::direct},
      Phase{"before_escalation", "#9f7aea", &PhaseTotals::before_escalation},
      Phase{"relay", "#e53e3e", &PhaseTotals::relay},
      Phase{"after_relay", "#ed8936", &PhaseTotals::after_relay}};
  const int width = 660, height = 104;
  const double x0 = 110, x1 = width - 16, bar = 30;
  std::string out = svgOpen(width, height, text("phases", lang));
  int row = 0;
  for (Route r : {Route::Internal, Route::Agency}) {
    const auto& p = a.routes.at(r).phases;
    const double total = p.total();
    const double y = 12 + row * (bar + 16);
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\" class=\"label\">{}</text>",
                       x0 - 8, y + bar / 2 + 4, labels::routeName(r, lang));
    if (total <= 0) {
      out += fmt::format(
          "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" rx=\"4\" fill=\"#edf2f7\"/>",
          x0, y, x1 - x0, bar);
    }
    double x = x0;
    for (const auto& phase : kPhases) {
      const double v = p.*phase.member;
      if (total <= 0 || v <= 0) continue;
      const double w = (x1 - x0) * v / total;
      out += fmt::format(
          "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\"><title>{}: "
          "{}</title></rect>",
          x, y, w, bar, phase.color, text(phase.key, lang), escape(labels::percent(v / total, lang)));
      if (w > 48) {
        out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" class=\"inbar\">{}</text>",
                           x + w / 2, y + bar / 2 + 4, escape(labels::percent(v / total, lang)));
      }
      x += w;
    }
    ++row;
  }
  out += "</svg><div class=\"legend\">";
  for (const auto& phase : kPhases) {
    out += fmt::format("<span><i style=\"background:{}\"></i>{}</span>", phase.color, text(phase.key, lang));
  }
  return out + "</div>";
}

std::string costChart(const AccountVerdict& a, Language lang) {
  const int width = 660, height = 110;
  const double x0 = 110, x1 = width - 140, bar = 28;
  double top = 0;
  for (Route r : {Route::Internal, Route::Agency}) {
    top = std::max(top, a.routes.at(r).cost_per_ontime_answer.value_or(0));
  }
  std::string out = svgOpen(width, height, text("cost_ontime", lang));
  int row = 0;
  for (Route r : {Route::Internal, Route::Agency}) {
    const auto v = a.routes.at(r).cost_per_ontime_answer;
    const double y = 10 + row * (bar + 18);
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\" class=\"label\">{}</text>",
                       x0 - 8, y + bar / 2 + 4, labels::routeName(r, lang));
    const double w = top > 0 && v ? (x1 - x0) * *v / top : 0;
    out += fmt::format(
        "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" rx=\"4\" fill=\"{}\"/>", x0, y,
        std::max(w, 2.0), bar, colorOf(r));
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"label\">{}</text>", x0 + std::max(w, 2.0) + 8,
                       y + bar / 2 + 4, escape(labels::money(v, a.cost.currency, lang)));
    ++row;
  }
  return out + "</svg>";
}

std::string figuresTable(const AccountVerdict& a, Language lang) {
  constexpr std::array<Route, 3> kRoutes = {Route::Internal, Route::Agency, Route::Unknown};
  std::string out = "<table><thead><tr><th></th>";
  for (Route r : kRoutes) out += fmt::format("<th>{}</th>", labels::routeName(r, lang));
  out += fmt::format("<th>{}</th></tr></thead><tbody>", text("all", lang));
  auto row = [&](std::string_view key, auto&& cell) {
    out += fmt::format("<tr><th>{}</th>", text(key, lang));
    for (Route r : kRoutes) out += fmt::format("<td>{}</td>", escape(cell(a.routes.at(r))));
    out += fmt::format("<td>{}</td></tr>", escape(cell(a.all)));
  };
  auto pct = [lang](std::optional<double> v) { return labels::percent(v, lang); };
  auto dur = [lang](std::optional<double> v) { return labels::duration(v, lang); };
  row("turns", [&](const RouteFigures& f) { return labels::integer(f.turns, lang); });
  row("answered", [&](const RouteFigures& f) { return labels::integer(f.answered, lang); });
  row("open", [&](const RouteFigures& f) { return labels::integer(f.open, lang); });
  row("judged", [&](const RouteFigures& f) { return labels::integer(f.late.judged, lang); });
  row("unanswered", [&](const RouteFigures& f) { return labels::integer(f.unanswered, lang); });
  row("late_ratio", [&](const RouteFigures& f) { return pct(f.late.ratio()); });
  row("interval", [&](const RouteFigures& f) {
    return f.late.judged ? pct(f.late_interval.lower) + " – " + pct(f.late_interval.upper) : std::string("–");
  });
  row("median", [&](const RouteFigures& f) { return dur(f.median_wait_seconds); });
  row("p90", [&](const RouteFigures& f) { return dur(f.p90_wait_seconds); });
  row("business", [&](const RouteFigures& f) { return pct(f.business.ratio()); });
  row("off", [&](const RouteFigures& f) { return pct(f.off.ratio()); });
  if (a.cost.configured()) {
    row("cost_answer",
        [&](const RouteFigures& f) { return labels::money(f.cost_per_answer, a.cost.currency, lang); });
    row("cost_ontime", [&](const RouteFigures& f) {
      return labels::money(f.cost_per_ontime_answer, a.cost.currency, lang);
    });
  }
  return out + "</tbody></table>";
}

std::string kpi(std::string_view label, const std::string& value, std::string_view note = {}) {
  return fmt::format(
      "<div class=\"kpi\"><div class=\"kpi-label\">{}</div><div class=\"kpi-value\">{}</div>{}</div>",
      escape(label), escape(value),
      note.empty() ? std::string() : fmt::format("<div class=\"kpi-note\">{}</div>", escape(note)));
}

constexpr std::string_view kStyle = R"(
*{box-sizing:border-box}
body{margin:0;background:#f4f6fa;color:#1a202c;font:15px/1.5 "DejaVu Sans","Segoe UI",Helvetica,Arial,sans-serif}
header.top{background:#1a365d;color:#fff;padding:28px 40px}
header.top h1{margin:0;font-size:26px;font-weight:600}
header.top p{margin:6px 0 0;opacity:.8}
main{max-width:1120px;margin:0 auto;padding:24px 24px 48px}
section.account{margin-bottom:40px}
h2{font-size:22px;margin:8px 0 4px}
.meta{color:#4a5568;margin:0 0 16px}
.card{background:#fff;border-radius:10px;box-shadow:0 1px 3px rgba(0,0,0,.08);padding:20px 24px;margin-bottom:18px}
.verdict{border-left:8px solid var(--c)}
.badge{display:inline-block;background:var(--c);color:#fff;border-radius:999px;padding:3px 12px;font-size:13px;font-weight:600;letter-spacing:.02em}
.verdict h3{font-size:21px;margin:10px 0 4px}
.verdict ul{margin:12px 0 0;padding-left:20px}
.verdict li{margin:4px 0}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:14px;margin-bottom:18px}
.kpi{background:#fff;border-radius:10px;box-shadow:0 1px 3px rgba(0,0,0,.08);padding:14px 18px}
.kpi-label{color:#4a5568;font-size:13px}
.kpi-value{font-size:24px;font-weight:600;margin-top:2px}
.kpi-note{color:#718096;font-size:12px}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:18px}
.grid .card{margin-bottom:0}
h4{margin:0 0 10px;font-size:16px}
svg.chart{display:block;max-width:100%;height:auto}
svg .axis{font-size:11px;fill:#4a5568}
svg .label{font-size:13px;fill:#1a202c}
svg .inbar{font-size:12px;fill:#fff;font-weight:600}
.legend{display:flex;flex-wrap:wrap;gap:6px 18px;font-size:13px;color:#4a5568;margin:6px 0 0}
.legend i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:6px;vertical-align:-1px}
table{border-collapse:collapse;width:100%;font-size:14px}
th,td{padding:7px 10px;border-bottom:1px solid #edf2f7;text-align:right}
th:first-child{text-align:left;font-weight:500;color:#4a5568}
thead th{color:#1a202c;font-weight:600}
.note{color:#718096;font-size:13px}
footer{color:#718096;font-size:13px;max-width:1120px;margin:0 auto;padding:0 24px 32px}
@media (max-width:900px){.grid{grid-template-columns:1fr}}
)";

}  // namespace

std::string renderReportHtml(const std::vector<AccountVerdict>& accounts, Language lang,
                             Timestamp generated_at) {
  std::string out = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
      "content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{}</style></head><body>",
      lang == Language::French ? "fr" : "en", escape(text("title", lang)), kStyle);
  out += fmt::format("<header class=\"top\"><h1>{}</h1><p>{} {}</p></header><main>",
                     escape(text("title", lang)), text("generated", lang), formatRfc3339(generated_at));
  for (const auto& a : accounts) {
    const auto& internal = a.routes.at(Route::Internal);
    const auto& agency = a.routes.at(Route::Agency);
    out += fmt::format("<section class=\"account\" id=\"account-{}\"><h2>{}</h2>", escape(a.account),
                       escape(a.account));
    std::string as_of;
    if (a.judged_at < a.until) {
      as_of = fmt::format(" ({} {}{} {})", escape(text("as_of", lang)), shortTime(a.judged_at),
                          lang == Language::French ? " ;" : ";", escape(text("not_over", lang)));
    }
    out +=
        fmt::format("<p class=\"meta\">{} {} {} {}{} · {} {} · {} {}</p>", text("window", lang),
                    shortTime(a.from), text("to", lang), shortTime(a.until), as_of, text("threshold", lang),
                    escape(labels::duration(static_cast<double>(a.threshold.count()), lang)),
                    text("timezone", lang), escape(a.timezone));
    out += fmt::format(
        "<div class=\"card verdict\" style=\"--c:{}\"><span class=\"badge\">{} · "
        "{}</span><h3>{}</h3><p>{}</p><ul>",
        verdictColor(a.verdict), text("verdict", lang), toString(a.verdict),
        escape(labels::verdictTitle(a.verdict, lang)), escape(labels::verdictSummary(a.verdict, lang)));
    for (const auto& r : a.reasons) out += fmt::format("<li>{}</li>", escape(sentence(r, lang)));
    out += "</ul></div><div class=\"kpis\">";
    for (Route r : {Route::Internal, Route::Agency}) {
      const auto& f = a.routes.at(r);
      out += kpi(fmt::format("{} — {}", text("late_ratio", lang), labels::routeName(r, lang)),
                 labels::percent(f.late.ratio(), lang),
                 f.late.judged ? fmt::format("{} {} – {} · {} {}", text("interval", lang),
                                             labels::percent(f.late_interval.lower, lang),
                                             labels::percent(f.late_interval.upper, lang),
                                             labels::integer(f.late.judged, lang), text("judged_lc", lang))
                               : std::string(text("no_data", lang)));
    }
    out +=
        kpi(fmt::format("{} — {} / {}", text("median", lang), labels::routeName(Route::Internal, lang),
                        labels::routeName(Route::Agency, lang)),
            labels::duration(internal.median_wait_seconds, lang) + " / " +
                labels::duration(agency.median_wait_seconds, lang),
            fmt::format("{}: {} / {}", text("p90", lang), labels::duration(internal.p90_wait_seconds, lang),
                        labels::duration(agency.p90_wait_seconds, lang)));
    out += kpi(text("relay_share", lang), labels::percent(a.relay_share, lang),
               fmt::format("{}: {}", text("whatif", lang), labels::percent(a.whatif_late_ratio, lang)));
    out += "</div><div class=\"grid\">";
    out += fmt::format("<div class=\"card\"><h4>{}</h4>{}{}</div>", text("distribution", lang),
                       distributionChart(a, lang), legend(lang));
    out += fmt::format("<div class=\"card\"><h4>{}</h4>{}{}</div>", text("weeks", lang), weeklyChart(a, lang),
                       legend(lang));
    for (Route r : {Route::Internal, Route::Agency}) {
      out += fmt::format("<div class=\"card\"><h4>{} — {}</h4>{}<p class=\"note\">{}</p></div>",
                         text("heatmap", lang), labels::routeName(r, lang), heatmap(a, r, lang),
                         text("heatmap_note", lang));
    }
    out += fmt::format("<div class=\"card\"><h4>{}</h4>{}</div>", text("phases", lang), phasesChart(a, lang));
    if (a.cost.configured()) {
      out += fmt::format("<div class=\"card\"><h4>{}</h4>{}</div>", text("cost_ontime", lang),
                         costChart(a, lang));
    }
    out += fmt::format("</div><div class=\"card\" style=\"margin-top:18px\"><h4>{}</h4>{}</div></section>",
                       text("figures", lang), figuresTable(a, lang));
  }
  out += fmt::format("</main><footer>{}</footer></body></html>\n", escape(text("method", lang)));
  return out;
}

}  // namespace replywatch::verdict
