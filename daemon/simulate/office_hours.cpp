#include "daemon/simulate/office_hours.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "daemon/config/holidays.h"

namespace replywatch::simulate {
namespace {

constexpr int kSearchDays = 370;

// Monday = 0 ... Sunday = 6.
std::size_t mondayIndex(date::local_days day) {
  return static_cast<std::size_t>((date::weekday{day} - date::Monday).count());
}

}  // namespace

OfficeHours::OfficeHours(const std::string& zone_name, const config::BusinessHours& hours)
    : zone_(date::locate_zone(zone_name)), week_(hours.week) {
  for (auto& ranges : week_) {
    std::sort(ranges.begin(), ranges.end(), [](const config::TimeRange& a, const config::TimeRange& b) {
      return a.start_minute < b.start_minute;
    });
  }
  holidays_ = config::holidayDays(hours);
}

bool OfficeHours::empty() const {
  return std::all_of(week_.begin(), week_.end(), [](const auto& ranges) { return ranges.empty(); });
}

bool OfficeHours::contains(Timestamp t) const {
  auto interval = intervalFrom(t);
  return interval && interval->first <= t;
}

std::optional<std::pair<Timestamp, Timestamp>> OfficeHours::intervalFrom(Timestamp t) const {
  if (empty()) return std::nullopt;
  const auto local = zone_->to_local(t);
  const auto first_day = date::floor<date::days>(local);
  // Start one day early: a range of the previous local day can still be open after a DST
  // change shortened the night.
  for (int offset = -1; offset <= kSearchDays; ++offset) {
    const auto day = first_day + date::days{offset};
    if (std::binary_search(holidays_.begin(), holidays_.end(), day)) continue;
    for (const auto& range : week_[mondayIndex(day)]) {
      const auto open = std::chrono::time_point_cast<std::chrono::milliseconds>(
          zone_->to_sys(day + std::chrono::minutes{range.start_minute}, date::choose::earliest));
      const auto close = std::chrono::time_point_cast<std::chrono::milliseconds>(
          zone_->to_sys(day + std::chrono::minutes{range.end_minute}, date::choose::earliest));
      if (close > t && close > open) return std::make_pair(open, close);
    }
  }
  return std::nullopt;
}

std::optional<Timestamp> OfficeHours::addWorkingTime(Timestamp t, std::chrono::seconds work) const {
  auto cursor = t;
  std::chrono::milliseconds left = work;
  for (;;) {
    auto interval = intervalFrom(cursor);
    if (!interval) return std::nullopt;
    const auto from = std::max(cursor, interval->first);
    if (interval->second - from > left) return from + left;
    left -= interval->second - from;
    cursor = interval->second;
  }
}

}  // namespace replywatch::simulate
