#pragma once
// An account's week as its time zone sees it: whether an instant falls in business hours
// (weekly ranges, minus holidays), its hour of the week, and the week it belongs to.
// Built once from the account configuration; const methods are thread-safe.
#include <date/tz.h>

#include <array>
#include <string>
#include <vector>

#include "daemon/config/config.h"
#include "daemon/core/timestamp.h"

namespace replywatch::verdict {

inline constexpr int kHoursPerWeek = 168;

class Schedule {
 public:
  // Throws std::runtime_error for an unknown time zone (the configuration loader has
  // validated it, so this is a programmer error).
  explicit Schedule(const config::AccountConfig& account);

  // In a business-hours range of its local weekday, and that local date is no holiday.
  bool inBusinessHours(Timestamp t) const;
  // 0 = Monday 00:00-01:00 ... 167 = Sunday 23:00-24:00, local time. During the repeated
  // hour of a DST change both instants map to the same local hour.
  int hourOfWeek(Timestamp t) const;
  // The local date of the Monday starting the week of `t`, as "YYYY-MM-DD".
  std::string weekOf(Timestamp t) const;
  // The local date of `t` as "YYYY-MM-DD".
  std::string localDate(Timestamp t) const;

 private:
  date::local_time<std::chrono::milliseconds> local(Timestamp t) const;

  const date::time_zone* zone_;
  std::array<std::vector<config::TimeRange>, 7> week_;
  std::vector<date::local_days> holidays_;  // sorted
};

}  // namespace replywatch::verdict
