// The verdict as JSON.
#include "daemon/verdict/report.h"

namespace replywatch::verdict {
namespace {

using Json = nlohmann::ordered_json;

Json optional(const std::optional<double>& v) { return v ? Json(*v) : Json(nullptr); }

Json lateJson(const LateCount& c) {
  Json j;
  j["judged"] = c.judged;
  j["late"] = c.late;
  j["late_ratio"] = optional(c.ratio());
  return j;
}

Json routeJson(const RouteFigures& f, bool detail) {
  Json j;
  j["turns"] = f.turns;
  j["answered"] = f.answered;
  j["open"] = f.open;
  j["on_time"] = f.on_time;
  j["escalated"] = f.escalated;
  j["judged"] = f.late.judged;
  j["late"] = f.late.late;
  j["unanswered"] = f.unanswered;
  j["late_ratio"] = optional(f.late.ratio());
  j["late_ratio_lower"] = f.late.judged ? Json(f.late_interval.lower) : Json(nullptr);
  j["late_ratio_upper"] = f.late.judged ? Json(f.late_interval.upper) : Json(nullptr);
  j["wait_seconds"] = {{"p50", optional(f.median_wait_seconds)}, {"p90", optional(f.p90_wait_seconds)}};
  j["business_hours"] = lateJson(f.business);
  j["off_hours"] = lateJson(f.off);
  j["phases_seconds"] = {{"before_escalation", f.phases.before_escalation},
                         {"relay", f.phases.relay},
                         {"after_relay", f.phases.after_relay},
                         {"direct", f.phases.direct}};
  if (f.cost_in_window) {
    j["cost"] = {{"in_window", *f.cost_in_window},
                 {"per_answer", optional(f.cost_per_answer)},
                 {"per_ontime_answer", optional(f.cost_per_ontime_answer)}};
  }
  if (detail) {
    Json judged = Json::array();
    Json late = Json::array();
    for (const auto& cell : f.hour_of_week) {
      judged.push_back(cell.judged);
      late.push_back(cell.late);
    }
    j["hour_of_week"] = {{"judged", std::move(judged)}, {"late", std::move(late)}};
    Json weeks = Json::array();
    for (const auto& [week, c] : f.weeks) {
      Json w = lateJson(c);
      w["week"] = week;
      weeks.push_back(std::move(w));
    }
    j["weeks"] = std::move(weeks);
    j["waits_seconds"] = f.waits;
  }
  return j;
}

}  // namespace

Json toJson(const AccountVerdict& a, bool detail) {
  Json j;
  j["account"] = a.account;
  j["timezone"] = a.timezone;
  j["threshold_seconds"] = a.threshold.count();
  j["window"] = {{"from", formatRfc3339(a.from)},
                 {"until", formatRfc3339(a.until)},
                 {"judged_at", formatRfc3339(a.judged_at)}};
  j["verdict"] = toString(a.verdict);
  j["inhouse_recommended"] = a.verdict == Verdict::Insource;
  Json reasons = Json::array();
  for (const auto& r : a.reasons) {
    Json numbers = Json::object();
    for (const auto& [name, value] : r.numbers) numbers[name] = value;
    reasons.push_back(
        {{"code", r.code},
         {"route", r.route},
         {"numbers", std::move(numbers)},
         {"text", {{"en", sentence(r, Language::English)}, {"fr", sentence(r, Language::French)}}}});
  }
  j["reasons"] = std::move(reasons);
  j["relay_share"] = optional(a.relay_share);
  j["whatif_late_ratio"] = optional(a.whatif_late_ratio);
  if (a.cost.configured()) {
    j["cost"] = {{"currency", a.cost.currency},
                 {"agency_per_month", optional(a.cost.agency_per_month)},
                 {"inhouse_per_month", optional(a.cost.inhouse_per_month)}};
  }
  Json routes;
  for (const auto& [route, figures] : a.routes)
    routes[std::string(toString(route))] = routeJson(figures, detail);
  j["routes"] = std::move(routes);
  j["all"] = routeJson(a.all, detail);
  return j;
}

Json toJson(const Snapshot& snapshot, std::chrono::seconds window) {
  Json j;
  j["evaluated_at"] = formatRfc3339(snapshot.evaluated_at);
  j["window_seconds"] = window.count();
  Json accounts = Json::array();
  for (const auto& a : snapshot.accounts) accounts.push_back(toJson(a, false));
  j["accounts"] = std::move(accounts);
  return j;
}

std::string renderReportJson(const std::vector<AccountVerdict>& accounts, Timestamp generated_at) {
  Json j;
  j["generated_at"] = formatRfc3339(generated_at);
  Json list = Json::array();
  for (const auto& a : accounts) list.push_back(toJson(a, true));
  j["accounts"] = std::move(list);
  return j.dump(2) + "\n";
}

}  // namespace replywatch::verdict
