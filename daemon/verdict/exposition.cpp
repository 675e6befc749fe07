// The verdict metrics in the Prometheus text format (METRICS.md, "Verdict").
#include <fmt/format.h>

#include <array>
#include <iterator>

#include "daemon/verdict/report.h"

namespace replywatch::verdict {
namespace {

constexpr std::array<std::string_view, 7> kDays = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
constexpr std::array<std::string_view, 24> kHours = {"00", "01", "02", "03", "04", "05", "06", "07",
                                                     "08", "09", "10", "11", "12", "13", "14", "15",
                                                     "16", "17", "18", "19", "20", "21", "22", "23"};

// Appends `v` as a label value: backslash, double quote and newline escaped.
void appendEscaped(std::string& out, std::string_view v) {
  if (v.find_first_of("\\\"\n") == std::string_view::npos) {
    out.append(v);
    return;
  }
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
}

class Writer {
 public:
  void family(std::string_view name, std::string_view help) {
    out_ += fmt::format("# HELP {} {}\n# TYPE {} gauge\n", name, help, name);
    name_ = name;
  }
  void sample(std::initializer_list<std::pair<std::string_view, std::string_view>> labels, double value) {
    out_ += name_;
    if (labels.size() > 0) {
      out_ += '{';
      bool first = true;
      for (const auto& [k, v] : labels) {
        if (!first) out_ += ',';
        first = false;
        out_.append(k);
        out_ += "=\"";
        appendEscaped(out_, v);
        out_ += '"';
      }
      out_ += '}';
    }
    out_ += ' ';
    fmt::format_to(std::back_inserter(out_), "{}", value);
    out_ += '\n';
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
  std::string_view name_;
};

}  // namespace

std::string renderMetrics(const Snapshot* snapshot) {
  Writer w;
  w.family("replywatch_verdict_last_evaluation_timestamp_seconds",
           "Unix time of the last verdict evaluation; 0 before the first.");
  w.sample({}, snapshot ? static_cast<double>(toMillis(snapshot->evaluated_at)) / 1000.0 : 0.0);
  if (snapshot == nullptr) return w.take();
  const auto& accounts = snapshot->accounts;
  auto routes = [](const AccountVerdict& a, auto&& fn) {
    for (const auto& [route, f] : a.routes) fn(toString(route), f);
  };

  w.family("replywatch_verdict", "Current verdict per account (state set: 1 for the current verdict).");
  for (const auto& a : accounts) {
    for (Verdict v : kVerdicts)
      w.sample({{"account", a.account}, {"verdict", toString(v)}}, a.verdict == v ? 1 : 0);
  }
  w.family("replywatch_inhouse_recommended", "1 when the verdict is insource, else 0.");
  for (const auto& a : accounts) w.sample({{"account", a.account}}, a.verdict == Verdict::Insource ? 1 : 0);
  w.family("replywatch_window_turns", "Judged question turns in the verdict window.");
  for (const auto& a : accounts) {
    routes(a, [&](std::string_view r, const RouteFigures& f) {
      w.sample({{"account", a.account}, {"route", r}}, static_cast<double>(f.late.judged));
    });
  }
  w.family("replywatch_window_unanswered_turns",
           "Judged question turns of the verdict window still unanswered at its end.");
  for (const auto& a : accounts) {
    routes(a, [&](std::string_view r, const RouteFigures& f) {
      w.sample({{"account", a.account}, {"route", r}}, static_cast<double>(f.unanswered));
    });
  }
  w.family("replywatch_window_late_ratio", "Late judged turns over judged turns in the verdict window.");
  for (const auto& a : accounts) {
    routes(a, [&](std::string_view r, const RouteFigures& f) {
      if (auto ratio = f.late.ratio()) w.sample({{"account", a.account}, {"route", r}}, *ratio);
    });
  }
  w.family("replywatch_window_late_ratio_lower", "Lower bound of the 95% Wilson interval of the late ratio.");
  for (const auto& a : accounts) {
    routes(a, [&](std::string_view r, const RouteFigures& f) {
      if (f.late.judged > 0) w.sample({{"account", a.account}, {"route", r}}, f.late_interval.lower);
    });
  }
  w.family("replywatch_window_late_ratio_upper", "Upper bound of the 95% Wilson interval of the late ratio.");
  for (const auto& a : accounts) {
    routes(a, [&](std::string_view r, const RouteFigures& f) {
      if (f.late.judged > 0) w.sample({{"account", a.account}, {"route", r}}, f.late_interval.upper);
    });
  }
  // A gauge: "quantile" is the label of summaries, whose _sum and _count are counters.
  w.family("replywatch_window_wait_seconds",
           "Exact percentiles (50th, 90th) of answered turns' waits in the verdict window.");
  for (const auto& a : accounts) {
    routes(a, [&](std::string_view r, const RouteFigures& f) {
      if (f.median_wait_seconds)
        w.sample({{"account", a.account}, {"route", r}, {"percentile", "50"}}, *f.median_wait_seconds);
      if (f.p90_wait_seconds)
        w.sample({{"account", a.account}, {"route", r}, {"percentile", "90"}}, *f.p90_wait_seconds);
    });
  }
  w.family("replywatch_window_period_late_ratio",
           "Late ratio of turns asked in business hours or off hours.");
  for (const auto& a : accounts) {
    routes(a, [&](std::string_view r, const RouteFigures& f) {
      if (auto ratio = f.business.ratio())
        w.sample({{"account", a.account}, {"route", r}, {"period", "business"}}, *ratio);
      if (auto ratio = f.off.ratio())
        w.sample({{"account", a.account}, {"route", r}, {"period", "off"}}, *ratio);
    });
  }
  for (bool ratio_family : {true, false}) {
    if (ratio_family) {
      w.family("replywatch_window_hour_of_week_late_ratio",
               "Late ratio of turns asked in this hour of the week (account's time zone).");
    } else {
      w.family("replywatch_window_hour_of_week_turns",
               "Judged turns asked in this hour of the week (account's time zone).");
    }
    for (const auto& a : accounts) {
      routes(a, [&](std::string_view r, const RouteFigures& f) {
        for (int cell = 0; cell < kHoursPerWeek; ++cell) {
          const auto& c = f.hour_of_week[static_cast<std::size_t>(cell)];
          const std::string_view hour = kHours[static_cast<std::size_t>(cell % 24)];
          const auto day = kDays[static_cast<std::size_t>(cell / 24)];
          if (!ratio_family) {
            w.sample({{"account", a.account}, {"route", r}, {"day", day}, {"hour", hour}},
                     static_cast<double>(c.judged));
          } else if (auto ratio = c.ratio()) {
            w.sample({{"account", a.account}, {"route", r}, {"day", day}, {"hour", hour}}, *ratio);
          }
        }
      });
    }
  }
  w.family("replywatch_window_relay_share",
           "Fraction of the agency's wait spent waiting for internal relays.");
  for (const auto& a : accounts) {
    if (a.relay_share) w.sample({{"account", a.account}}, *a.relay_share);
  }
  w.family("replywatch_window_whatif_late_ratio", "Agency late ratio with the internal relay leg removed.");
  for (const auto& a : accounts) {
    if (a.whatif_late_ratio) w.sample({{"account", a.account}}, *a.whatif_late_ratio);
  }
  w.family("replywatch_window_cost_per_ontime_answer",
           "Route cost over the window divided by its answers within the threshold.");
  for (const auto& a : accounts) {
    routes(a, [&](std::string_view r, const RouteFigures& f) {
      if (f.cost_per_ontime_answer) {
        w.sample({{"account", a.account}, {"route", r}, {"currency", a.cost.currency}},
                 *f.cost_per_ontime_answer);
      }
    });
  }
  return w.take();
}

}  // namespace replywatch::verdict
