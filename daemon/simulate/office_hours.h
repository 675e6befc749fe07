#pragma once
// A team's weekly office hours in its time zone (minus holidays), as the simulator uses
// them: whether an instant is in office hours, and "working time" arithmetic, where the
// clock only runs while the office is open (a two-hour task started at 17:00 in a
// 09:00-18:00 office ends at 10:00 the next working day). Same ranges and holiday format
// as an account's business_hours. Const methods are thread-safe.
#include <date/tz.h>

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "daemon/config/config.h"
#include "daemon/core/timestamp.h"

namespace replywatch::simulate {

class OfficeHours {
 public:
  // Throws std::runtime_error for an unknown time zone or a malformed holiday (the
  // scenario loader has checked both).
  OfficeHours(const std::string& zone_name, const config::BusinessHours& hours);

  // No range on any weekday: the office never opens.
  bool empty() const;
  bool contains(Timestamp t) const;
  // The office interval [open, close) containing `t`, or the first one after it; nullopt
  // when none opens within a year.
  std::optional<std::pair<Timestamp, Timestamp>> intervalFrom(Timestamp t) const;
  // `t` plus `work` of office time: the instant, always inside office hours (strictly
  // before a closing time), at which that much open time has passed since `t`. nullopt
  // when the office does not open within a year.
  std::optional<Timestamp> addWorkingTime(Timestamp t, std::chrono::seconds work) const;

 private:
  const date::time_zone* zone_;
  std::array<std::vector<config::TimeRange>, 7> week_;
  std::vector<date::local_days> holidays_;  // sorted
};

}  // namespace replywatch::simulate
