// A minimal iCalendar (RFC 5545) reader for holiday calendars: whole days of VEVENTs.
#include <date/date.h>
#include <date/tz.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "daemon/config/config.h"
#include "daemon/core/result.h"

namespace replywatch::config {
namespace {

// More days than this in one event is taken for a mistake (a DTEND years later).
constexpr int kMaxEventDays = 366;

struct Line {
  std::string text;
  int number = 0;  // 1-based line where the (unfolded) content line starts
};

// Splits into content lines, joining folded lines (a line starting with a space or a
// tab continues the previous one) and dropping CR.
std::vector<Line> unfold(std::string_view text) {
  std::vector<Line> lines;
  int number = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view raw = text.substr(pos, end - pos);
    ++number;
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    if (!raw.empty() && (raw.front() == ' ' || raw.front() == '\t') && !lines.empty()) {
      lines.back().text.append(raw.substr(1));
    } else if (!raw.empty()) {
      lines.push_back({std::string(raw), number});
    }
    if (end == text.size()) break;
    pos = end + 1;
  }
  return lines;
}

std::string upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

// What an event says of its days, in the account's local time: a DATE is an all-day
// bound (local midnight), a DATE-TIME is converted to the account's zone.
struct EventBounds {
  date::local_seconds start{};
  date::local_seconds end{};
  std::chrono::seconds duration{0};
  bool has_start = false;
  bool has_end = false;
  bool has_duration = false;
};

// The parameters of a content line's name part ("DTSTART;TZID=Europe/Paris;VALUE=DATE"),
// names upper-cased, values unquoted.
std::map<std::string, std::string> parametersOf(std::string_view head) {
  std::map<std::string, std::string> out;
  std::size_t pos = head.find(';');
  while (pos != std::string_view::npos) {
    const std::size_t next = head.find(';', pos + 1);
    const std::string_view param =
        head.substr(pos + 1, next == std::string_view::npos ? next : next - pos - 1);
    const std::size_t eq = param.find('=');
    if (eq != std::string_view::npos) {
      std::string_view value = param.substr(eq + 1);
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
        value = value.substr(1, value.size() - 2);
      out[upper(param.substr(0, eq))] = std::string(value);
    }
    pos = next;
  }
  return out;
}

bool digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(),
                                   [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
}

int number(std::string_view s) { return std::stoi(std::string(s)); }

const date::time_zone* zoneNamed(const std::string& name) {
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    return nullptr;
  }
}

// The value of property `name`: "20261225", "20261225T000000" (floating: the account's
// local time), "20261224T230000Z" (UTC) or, with `tzid`, a local time of that zone;
// converted to `account_zone`. An Error saying what is wrong otherwise.
Result<date::local_seconds> parseIcalTime(std::string_view name, std::string_view value,
                                          const std::string* tzid, const date::time_zone& account_zone) {
  auto invalid = [&] {
    return makeError("parse_error", fmt::format("invalid {} \"{}\" (use a date such as 20261225)", name,
                                                std::string(value.substr(0, 40))));
  };
  if (value.size() < 8 || !digits(value.substr(0, 8))) return invalid();
  const date::year_month_day ymd{date::year{number(value.substr(0, 4))},
                                 date::month{static_cast<unsigned>(number(value.substr(4, 2)))},
                                 date::day{static_cast<unsigned>(number(value.substr(6, 2)))}};
  if (!ymd.ok()) return invalid();
  const date::local_days day{ymd};
  if (value.size() == 8) return date::local_seconds{day};
  const bool utc = value.size() == 16 && value.back() == 'Z';
  if ((value.size() != 15 && !utc) || value[8] != 'T' || !digits(value.substr(9, 6))) return invalid();
  const int h = number(value.substr(9, 2));
  const int m = number(value.substr(11, 2));
  const int sec = number(value.substr(13, 2));
  if (h > 23 || m > 59 || sec > 60) return invalid();
  const date::local_seconds local =
      day + std::chrono::hours{h} + std::chrono::minutes{m} + std::chrono::seconds{sec};
  if (utc) {
    const date::sys_seconds instant{local.time_since_epoch()};
    return account_zone.to_local(instant);
  }
  if (tzid != nullptr) {
    const date::time_zone* zone = zoneNamed(*tzid);
    if (zone == nullptr) {
      return makeError("parse_error",
                       fmt::format("unknown time zone \"{}\" in the TZID of {} (use an IANA name such as "
                                   "Europe/Paris)",
                                   tzid->substr(0, 60), name));
    }
    // A time skipped by a change to summer time is taken as the instant of the change,
    // one repeated by the change back as its first occurrence.
    const date::sys_seconds instant = zone->to_sys(local, date::choose::earliest);
    return account_zone.to_local(instant);
  }
  return local;  // floating: the account's local time
}

// RFC 5545 durations: "P2D", "P1W", "PT12H", "P1DT12H30M", "+P1D"; nullopt otherwise
// (negative durations included: an event does not end before it starts).
std::optional<std::chrono::seconds> parseIcalDuration(std::string_view s) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.size() < 3 || s.front() != 'P') return std::nullopt;
  s.remove_prefix(1);
  long long total = 0;
  bool in_time = false;
  bool any = false;
  while (!s.empty()) {
    if (s.front() == 'T') {
      if (in_time) return std::nullopt;
      in_time = true;
      s.remove_prefix(1);
      continue;
    }
    std::size_t n = 0;
    while (n < s.size() && std::isdigit(static_cast<unsigned char>(s[n])) != 0) ++n;
    if (n == 0 || n > 6 || n == s.size()) return std::nullopt;
    const long long v = std::stoll(std::string(s.substr(0, n)));
    const char unit = s[n];
    long long factor = 0;
    if (!in_time && unit == 'W') factor = 7 * 86400;
    if (!in_time && unit == 'D') factor = 86400;
    if (in_time && unit == 'H') factor = 3600;
    if (in_time && unit == 'M') factor = 60;
    if (in_time && unit == 'S') factor = 1;
    if (factor == 0) return std::nullopt;
    total += v * factor;
    any = true;
    s.remove_prefix(n + 1);
  }
  if (!any) return std::nullopt;
  return std::chrono::seconds{total};
}

std::string isoDate(date::local_days day) { return date::format("%F", day); }

}  // namespace

std::vector<std::string> parseIcalHolidays(std::string_view text, const std::string& file,
                                           const std::string& timezone, std::vector<Problem>& problems) {
  const date::time_zone* account_zone = zoneNamed(timezone);
  if (account_zone == nullptr) account_zone = date::locate_zone("UTC");
  std::set<std::string> days;
  bool in_event = false;
  int event_line = 0;
  EventBounds event;
  bool recurring = false;
  bool bad = false;
  bool saw_calendar = false;
  for (const auto& line : unfold(text)) {
    auto colon = line.text.find(':');
    if (colon == std::string::npos) continue;
    std::string_view head = std::string_view(line.text).substr(0, colon);
    std::string_view value = std::string_view(line.text).substr(colon + 1);
    std::string name = upper(head.substr(0, head.find(';')));
    if (name == "BEGIN" && upper(value) == "VCALENDAR") saw_calendar = true;
    if (name == "BEGIN" && upper(value) == "VEVENT") {
      in_event = true;
      event_line = line.number;
      event = EventBounds{};
      recurring = false;
      bad = false;
      continue;
    }
    if (!in_event) continue;
    if (name == "DTSTART" || name == "DTEND") {
      const auto params = parametersOf(head);
      const auto tzid = params.find("TZID");
      auto parsed = parseIcalTime(name, value, tzid == params.end() ? nullptr : &tzid->second, *account_zone);
      if (!parsed) {
        problems.push_back({file, line.number, parsed.error().message});
        bad = true;
      } else {
        (name == "DTSTART" ? event.start : event.end) = *parsed;
        (name == "DTSTART" ? event.has_start : event.has_end) = true;
      }
    } else if (name == "DURATION") {
      const auto duration = parseIcalDuration(value);
      if (duration) {
        event.duration = *duration;
        event.has_duration = true;
      } else {
        problems.push_back({file, line.number,
                            fmt::format("invalid DURATION \"{}\" (use a duration such as P1D, P2W or PT12H)",
                                        std::string(value).substr(0, 40))});
        bad = true;
      }
    } else if (name == "RRULE" || name == "RDATE") {
      recurring = true;
    } else if (name == "END" && upper(value) == "VEVENT") {
      in_event = false;
      if (bad) continue;
      if (recurring) {
        problems.push_back({file, event_line,
                            "recurring events (RRULE, RDATE) are not supported in a holiday calendar; "
                            "give each day off as its own event"});
        continue;
      }
      if (!event.has_start) {
        problems.push_back({file, event_line, "event without DTSTART"});
        continue;
      }
      if (event.has_end && event.has_duration) {
        problems.push_back({file, event_line, "event with both DTEND and DURATION (give one of them)"});
        continue;
      }
      // The local days the event covers, its end exclusive: an all-day event ending on
      // 12 November covers up to the 11th, a timed one the days it touches; an event
      // ending when it starts (or without an end) covers its first day.
      const date::local_seconds from = event.start;
      date::local_seconds to = from;
      if (event.has_end) to = event.end;
      if (event.has_duration) to = from + event.duration;
      const date::local_days first = date::floor<date::days>(from);
      date::local_days last = first;
      if (to > from) last = date::floor<date::days>(to - std::chrono::seconds{1});
      if ((last - first).count() >= kMaxEventDays) {
        problems.push_back({file, event_line,
                            fmt::format("event from {} to {} is longer than {} days", isoDate(first),
                                        isoDate(last), kMaxEventDays)});
        continue;
      }
      for (auto d = first; d <= last; d += date::days{1}) days.insert(isoDate(d));
    }
  }
  if (!saw_calendar) {
    problems.push_back({file, 1, "not an iCalendar file (no BEGIN:VCALENDAR)"});
  } else if (in_event) {
    problems.push_back({file, event_line, "event not closed (END:VEVENT missing)"});
  }
  return {days.begin(), days.end()};
}

}  // namespace replywatch::config
