#include "daemon/simulate/scenario.h"

#include <date/date.h>
#include <date/tz.h>
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <fstream>
#include <sstream>

namespace replywatch::simulate {
namespace {

using config::Problem;

// "YYYY-MM-DD" as a valid calendar date.
std::optional<date::sys_days> parseDate(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  int fields[3] = {0, 0, 0};
  const std::size_t starts[3] = {0, 5, 8};
  const std::size_t lengths[3] = {4, 2, 2};
  for (int f = 0; f < 3; ++f) {
    for (std::size_t i = 0; i < lengths[f]; ++i) {
      const char c = text[starts[f] + i];
      if (c < '0' || c > '9') return std::nullopt;
      fields[f] = fields[f] * 10 + (c - '0');
    }
  }
  const date::year_month_day ymd{date::year{fields[0]}, date::month{static_cast<unsigned>(fields[1])},
                                 date::day{static_cast<unsigned>(fields[2])}};
  if (!ymd.ok()) return std::nullopt;
  return date::sys_days{ymd};
}

constexpr std::array<const char*, 7> kWeekdays = {"monday", "tuesday",  "wednesday", "thursday",
                                                  "friday", "saturday", "sunday"};

// Reads one scenario file, recording problems instead of stopping at the first.
class Reader {
 public:
  Reader(std::string file, std::vector<Problem>& problems) : file_(std::move(file)), problems_(problems) {}

  void add(const YAML::Node& node, std::string message) {
    problems_.push_back({file_, config::lineOf(node), std::move(message)});
  }

  void keys(const YAML::Node& map, const std::vector<std::string>& allowed, const std::string& where) {
    if (!map.IsMap()) {
      add(map, fmt::format("{} must be a mapping", where));
      return;
    }
    config::checkKeys(map, allowed, file_, where, problems_);
  }

  void string(const YAML::Node& map, const std::string& key, const std::string& where, std::string& out) {
    if (!map[key].IsDefined() || map[key].IsNull()) return;
    out = config::readString(map, key, file_, where, problems_);
  }

  // A number in [min, max].
  void number(const YAML::Node& node, const std::string& what, double min, double max, double& out) {
    if (!node.IsDefined() || node.IsNull()) return;
    double value = 0;
    if (!node.IsScalar() || !YAML::convert<double>::decode(node, value) || !std::isfinite(value)) {
      add(node, fmt::format("{} must be a number", what));
      return;
    }
    if (value < min || value > max) {
      add(node, fmt::format("{} must be between {} and {}", what, min, max));
      return;
    }
    out = value;
  }

  void integer(const YAML::Node& node, const std::string& what, std::uint64_t min, std::uint64_t max,
               std::uint64_t& out) {
    if (!node.IsDefined() || node.IsNull()) return;
    std::uint64_t value = 0;
    if (!node.IsScalar() || node.Scalar().starts_with('-') ||
        !YAML::convert<std::uint64_t>::decode(node, value)) {
      add(node, fmt::format("{} must be a whole number", what));
      return;
    }
    if (value < min || value > max) {
      add(node, fmt::format("{} must be between {} and {}", what, min, max));
      return;
    }
    out = value;
  }

  void probability(const YAML::Node& node, const std::string& what, double& out) {
    number(node, what, 0, 1, out);
  }

  template <std::size_t N>
  void weights(const YAML::Node& node, const std::string& what, std::array<double, N>& out) {
    if (!node.IsDefined() || node.IsNull()) return;
    if (!node.IsSequence() || node.size() != N) {
      add(node, fmt::format("{} must be a list of {} numbers", what, N));
      return;
    }
    std::array<double, N> values{};
    double sum = 0;
    for (std::size_t i = 0; i < N; ++i) {
      values[i] = -1;
      number(node[i], fmt::format("{}[{}]", what, i), 0, 1e6, values[i]);
      if (values[i] < 0) return;
      sum += values[i];
    }
    if (sum <= 0) {
      add(node, fmt::format("{} must not all be zero", what));
      return;
    }
    out = values;
  }

  void duration(const YAML::Node& map, const std::string& key, const std::string& where,
                std::chrono::seconds& out, bool allow_zero) {
    auto d = config::readDuration(map, key, file_, where, problems_);
    if (!d) return;
    if (!allow_zero && d->count() <= 0) {
      add(map[key], fmt::format("{} in {} must be longer than zero", key, where));
      return;
    }
    out = *d;
  }

  void logNormal(const YAML::Node& map, const std::string& key, const std::string& where, LogNormal& out) {
    YAML::Node node = map[key];
    if (!node.IsDefined() || node.IsNull()) return;
    const std::string inner = fmt::format("{} of {}", key, where);
    keys(node, {"median", "p90"}, inner);
    if (!node.IsMap()) return;
    LogNormal value = out;
    duration(node, "median", inner, value.median, true);
    if (node["median"].IsDefined() && !node["p90"].IsDefined()) value.p90 = value.median;
    duration(node, "p90", inner, value.p90, true);
    if (value.p90 < value.median) {
      add(node, fmt::format("p90 of {} must not be shorter than its median", inner));
      return;
    }
    out = value;
  }

  std::optional<Timestamp> time(const YAML::Node& node, const std::string& what) {
    if (!node.IsScalar()) {
      add(node, fmt::format("{} must be an RFC 3339 time or a date", what));
      return std::nullopt;
    }
    auto t = parseStartTime(node.Scalar());
    if (!t)
      add(node, fmt::format("invalid time \"{}\" for {} (use e.g. 2026-10-01 or 2026-10-01T08:00:00Z)",
                            node.Scalar(), what));
    return t;
  }

  void team(const YAML::Node& node, const std::string& where, Team& out, std::vector<std::string> extra) {
    std::vector<std::string> allowed = {"handler", "author_id", "author_name", "signature", "response"};
    allowed.insert(allowed.end(), extra.begin(), extra.end());
    keys(node, allowed, where);
    if (!node.IsMap()) return;
    string(node, "handler", where, out.handler);
    string(node, "author_id", where, out.author_id);
    string(node, "author_name", where, out.author_name);
    string(node, "signature", where, out.signature);
    logNormal(node, "response", where, out.response);
    if (out.author_id.empty()) add(node, fmt::format("author_id of {} must not be empty", where));
  }

  void officeHours(const YAML::Node& node, const std::string& where, config::BusinessHours& out) {
    std::vector<std::string> allowed(kWeekdays.begin(), kWeekdays.end());
    allowed.emplace_back("holidays");
    keys(node, allowed, where);
    if (!node.IsMap()) return;
    config::BusinessHours hours;
    for (std::size_t day = 0; day < kWeekdays.size(); ++day) {
      YAML::Node ranges = node[kWeekdays[day]];
      if (!ranges.IsDefined() || ranges.IsNull()) continue;
      if (!ranges.IsSequence()) {
        add(ranges,
            fmt::format("{} of {} must be a list of ranges such as \"09:00-18:00\"", kWeekdays[day], where));
        continue;
      }
      for (const auto& r : ranges) {
        auto range = r.IsScalar() ? config::parseTimeRange(r.Scalar()) : std::nullopt;
        if (!range) {
          add(r, fmt::format("invalid range in {} of {} (use e.g. \"09:00-18:00\")", kWeekdays[day], where));
          continue;
        }
        hours.week[day].push_back(*range);
      }
    }
    for (const auto& h : node["holidays"]) {
      if (!h.IsScalar() || !parseDate(h.Scalar())) {
        add(h, fmt::format("invalid holiday in {} (use YYYY-MM-DD)", where));
        continue;
      }
      hours.holidays.push_back(h.Scalar());
    }
    out = hours;
  }

 private:
  std::string file_;
  std::vector<Problem>& problems_;
};

config::BusinessHours weekdaysNineToSix() {
  config::BusinessHours hours;
  for (std::size_t day = 0; day < 5; ++day) hours.week[day].push_back(config::TimeRange{9 * 60, 18 * 60});
  return hours;
}

void read(const YAML::Node& root, const std::string& file, Scenario& s, std::vector<Problem>& problems) {
  Reader r(file, problems);
  if (root.IsNull() || !root.IsDefined()) return;
  const std::string top = "the scenario";
  r.keys(root,
         {"seed", "start", "days", "account", "brand", "timezone", "questions_per_day", "members",
          "hour_weights", "weekday_weights", "follow_up", "unanswered_probability", "bursts", "first_id",
          "internal", "agency", "relay"},
         top);
  if (!root.IsMap()) return;
  r.integer(root["seed"], "seed", 0, UINT64_MAX, s.seed);
  if (root["start"].IsDefined() && !root["start"].IsNull()) s.start = r.time(root["start"], "start");
  auto days = static_cast<std::uint64_t>(s.days);
  r.integer(root["days"], "days", 1, 3660, days);
  s.days = static_cast<int>(days);
  r.string(root, "account", top, s.account);
  if (YAML::Node brand = root["brand"]; brand.IsDefined()) {
    r.keys(brand, {"id", "name"}, "brand");
    if (brand.IsMap()) {
      r.string(brand, "id", "brand", s.brand_id);
      r.string(brand, "name", "brand", s.brand_name);
    }
  }
  if (YAML::Node tz = root["timezone"]; tz.IsDefined()) {
    std::string name;
    r.string(root, "timezone", top, name);
    try {
      (void)date::locate_zone(name);
      s.timezone = name;
    } catch (const std::exception&) {
      r.add(tz, fmt::format("unknown time zone \"{}\" (use an IANA name such as Europe/Paris)", name));
    }
  }
  r.number(root["questions_per_day"], "questions_per_day", 0.01, 1e6, s.questions_per_day);
  r.integer(root["members"], "members", 1, 1'000'000'000, s.members);
  r.weights(root["hour_weights"], "hour_weights", s.hour_weights);
  r.weights(root["weekday_weights"], "weekday_weights", s.weekday_weights);
  if (YAML::Node f = root["follow_up"]; f.IsDefined()) {
    r.keys(f, {"probability", "delay"}, "follow_up");
    if (f.IsMap()) {
      r.probability(f["probability"], "probability of follow_up", s.follow_up_probability);
      r.logNormal(f, "delay", "follow_up", s.follow_up_delay);
    }
  }
  r.probability(root["unanswered_probability"], "unanswered_probability", s.unanswered_probability);
  r.integer(root["first_id"], "first_id", 1, UINT64_MAX / 2, s.first_id);
  if (YAML::Node bursts = root["bursts"]; bursts.IsDefined() && !bursts.IsNull()) {
    if (!bursts.IsSequence()) r.add(bursts, "bursts must be a list");
    for (std::size_t i = 0; bursts.IsSequence() && i < bursts.size(); ++i) {
      const YAML::Node b = bursts[i];
      const std::string where = fmt::format("bursts[{}]", i);
      r.keys(b, {"start", "length", "multiplier"}, where);
      if (!b.IsMap()) continue;
      Burst burst;
      if (!b["start"].IsDefined() || !b["length"].IsDefined() || !b["multiplier"].IsDefined()) {
        r.add(b, fmt::format("{} needs start, length and multiplier", where));
        continue;
      }
      // A duration is an offset from the simulation start; anything else an absolute time.
      if (auto offset = b["start"].IsScalar() ? parseDuration(b["start"].Scalar()) : std::nullopt) {
        burst.offset = *offset;
      } else {
        burst.start = r.time(b["start"], "start of " + where);
      }
      r.duration(b, "length", where, burst.length, false);
      burst.multiplier = -1;
      r.number(b["multiplier"], "multiplier of " + where, 0, 1000, burst.multiplier);
      if (burst.multiplier >= 0) s.bursts.push_back(burst);
    }
  }
  if (YAML::Node internal = root["internal"]; internal.IsDefined()) {
    r.team(internal, "internal", s.internal, {"share", "office_hours"});
    if (internal.IsMap()) {
      r.probability(internal["share"], "share of internal", s.internal_share);
      if (internal["office_hours"].IsDefined())
        r.officeHours(internal["office_hours"], "office_hours", s.office_hours);
    }
  }
  if (YAML::Node agency = root["agency"]; agency.IsDefined()) r.team(agency, "agency", s.agency, {});
  if (YAML::Node relay = root["relay"]; relay.IsDefined()) {
    r.keys(relay, {"name", "probability", "escalation_delay", "delay", "after_relay"}, "relay");
    if (relay.IsMap()) {
      r.string(relay, "name", "relay", s.relay_name);
      r.probability(relay["probability"], "probability of relay", s.escalation_probability);
      r.logNormal(relay, "escalation_delay", "relay", s.escalation_delay);
      r.logNormal(relay, "delay", "relay", s.relay_delay);
      r.logNormal(relay, "after_relay", "relay", s.after_relay);
    }
  }
}

void check(const Scenario& s, const std::string& file, std::vector<Problem>& problems) {
  auto add = [&](std::string message) { problems.push_back({file, 0, std::move(message)}); };
  if (s.days < 1) add("days must be at least 1");
  if (!(s.questions_per_day > 0)) add("questions_per_day must be above zero");
  bool office_open = false;
  for (const auto& day : s.office_hours.week) office_open = office_open || !day.empty();
  if (s.escalation_probability > 0 && !office_open) {
    add("relays answer in the internal team's office_hours, which are empty: set relay.probability to 0 or "
        "give office hours");
  }
  if (s.escalation_probability > 0 && s.relay_name.empty()) add("relay.name must not be empty");
}

Scenario loadFrom(const YAML::Node& root, const std::string& file) {
  Scenario s;
  std::vector<Problem> problems;
  read(root, file, s, problems);
  check(s, file, problems);
  if (!problems.empty()) throw config::ConfigError(std::move(problems));
  return s;
}

}  // namespace

Scenario::Scenario() : office_hours(weekdaysNineToSix()) {}

Scenario loadScenarioString(const std::string& yaml, const std::string& file_name) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    throw config::ConfigError({Problem{file_name, e.mark.line + 1, "invalid YAML: " + e.msg}});
  }
  return loadFrom(root, file_name);
}

Scenario loadScenario(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw config::ConfigError({Problem{file.string(), 0, "cannot read the scenario file"}});
  std::ostringstream text;
  text << in.rdbuf();
  return loadScenarioString(text.str(), file.string());
}

void validateScenario(const Scenario& scenario) {
  std::vector<Problem> problems;
  check(scenario, "command line", problems);
  if (!problems.empty()) throw config::ConfigError(std::move(problems));
}

Timestamp resolveStart(const Scenario& scenario, Timestamp now) {
  if (scenario.start) return *scenario.start;
  const auto midnight = std::chrono::time_point_cast<std::chrono::milliseconds>(date::floor<date::days>(now));
  return midnight - date::days{scenario.days};
}

std::optional<Timestamp> parseStartTime(std::string_view text) {
  if (auto t = parseRfc3339(text)) return t;
  auto day = parseDate(text);
  if (!day) return std::nullopt;
  return std::chrono::time_point_cast<std::chrono::milliseconds>(*day);
}

}  // namespace replywatch::simulate
