#pragma once
// Business hours' holiday dates as calendar days, for the schedules that ask "is this
// local day a holiday" (the verdict's business hours, the simulator's office hours).
#include <date/date.h>

#include <vector>

#include "daemon/config/config.h"

namespace replywatch::config {

// The dates of `hours.holidays` ("YYYY-MM-DD", already validated by the loader), sorted.
// Throws std::runtime_error naming a date the loader would have refused (a programmer
// error: business hours built without the loader).
std::vector<date::local_days> holidayDays(const BusinessHours& hours);

}  // namespace replywatch::config
