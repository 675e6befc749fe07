#include "daemon/config/holidays.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace replywatch::config {

std::vector<date::local_days> holidayDays(const BusinessHours& hours) {
  std::vector<date::local_days> days;
  days.reserve(hours.holidays.size());
  for (const auto& text : hours.holidays) {
    std::istringstream in(text);
    date::local_days day;
    in >> date::parse("%F", day);
    if (in.fail()) throw std::runtime_error("invalid holiday date " + text);
    days.push_back(day);
  }
  std::sort(days.begin(), days.end());
  return days;
}

}  // namespace replywatch::config
