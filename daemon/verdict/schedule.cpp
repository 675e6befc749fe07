#include "daemon/verdict/schedule.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "daemon/config/holidays.h"

namespace replywatch::verdict {
namespace {

// Monday = 0 ... Sunday = 6.
int mondayIndex(date::local_days day) {
  return static_cast<int>((date::weekday{day} - date::Monday).count());
}

}  // namespace

Schedule::Schedule(const config::AccountConfig& account)
    : zone_(date::locate_zone(account.timezone)),
      week_(account.business_hours.week),
      holidays_(config::holidayDays(account.business_hours)) {}

date::local_time<std::chrono::milliseconds> Schedule::local(Timestamp t) const { return zone_->to_local(t); }

bool Schedule::inBusinessHours(Timestamp t) const {
  auto lt = local(t);
  auto day = date::floor<date::days>(lt);
  if (std::binary_search(holidays_.begin(), holidays_.end(), day)) return false;
  auto minute = static_cast<int>(std::chrono::duration_cast<std::chrono::minutes>(lt - day).count());
  for (const auto& range : week_[static_cast<std::size_t>(mondayIndex(day))]) {
    if (minute >= range.start_minute && minute < range.end_minute) return true;
  }
  return false;
}

int Schedule::hourOfWeek(Timestamp t) const {
  auto lt = local(t);
  auto day = date::floor<date::days>(lt);
  auto hour = static_cast<int>(std::chrono::duration_cast<std::chrono::hours>(lt - day).count());
  return mondayIndex(day) * 24 + hour;
}

std::string Schedule::weekOf(Timestamp t) const {
  auto day = date::floor<date::days>(local(t));
  return date::format("%F", day - date::days{mondayIndex(day)});
}

std::string Schedule::localDate(Timestamp t) const {
  return date::format("%F", date::floor<date::days>(local(t)));
}

}  // namespace replywatch::verdict
