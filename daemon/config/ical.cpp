// A minimal iCalendar (RFC 5545) reader for holiday calendars: whole days of VEVENTs.
#include <date/date.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <string>

#include "daemon/config/config.h"

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

// "20261225" or "20261225T000000[Z]" -> the date; nullopt otherwise.
std::optional<date::year_month_day> parseIcalDate(std::string_view value) {
  if (value.size() < 8) return std::nullopt;
  for (std::size_t i = 0; i < 8; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(value[i]))) return std::nullopt;
  }
  if (value.size() > 8 && value[8] != 'T') return std::nullopt;
  int y = std::stoi(std::string(value.substr(0, 4)));
  auto m = static_cast<unsigned>(std::stoi(std::string(value.substr(4, 2))));
  auto d = static_cast<unsigned>(std::stoi(std::string(value.substr(6, 2))));
  date::year_month_day ymd{date::year{y}, date::month{m}, date::day{d}};
  if (!ymd.ok()) return std::nullopt;
  return ymd;
}

std::string isoDate(date::sys_days day) { return date::format("%F", day); }

}  // namespace

std::vector<std::string> parseIcalHolidays(std::string_view text, const std::string& file,
                                           std::vector<Problem>& problems) {
  std::set<std::string> days;
  bool in_event = false;
  int event_line = 0;
  std::optional<date::year_month_day> start, end;
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
      start.reset();
      end.reset();
      recurring = false;
      bad = false;
      continue;
    }
    if (!in_event) continue;
    if (name == "DTSTART" || name == "DTEND") {
      auto parsed = parseIcalDate(value);
      if (!parsed) {
        problems.push_back({file, line.number,
                            fmt::format("invalid {} \"{}\" (use a date such as 20261225)", name,
                                        std::string(value).substr(0, 40))});
        bad = true;
      } else {
        (name == "DTSTART" ? start : end) = parsed;
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
      if (!start) {
        problems.push_back({file, event_line, "event without DTSTART"});
        continue;
      }
      date::sys_days first{*start};
      date::sys_days last = first;
      if (end) {
        date::sys_days stop{*end};
        if (stop <= first) {
          last = first;  // DTEND equal to DTSTART (or a date-time on the same day): one day
        } else {
          last = stop - date::days{1};  // DTEND of an all-day event is exclusive
        }
      }
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
