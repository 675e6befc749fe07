#include <gtest/gtest.h>

#include "daemon/simulate/office_hours.h"

namespace replywatch::simulate {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

Timestamp at(const char* text) { return *parseRfc3339(text); }

config::BusinessHours nineToSix() {
  config::BusinessHours week;
  for (std::size_t day = 0; day < 5; ++day) week.week[day].push_back(config::TimeRange{9 * 60, 18 * 60});
  return week;
}

TEST(SimulateOfficeHours, ContainsFollowsTheLocalWeek) {
  const OfficeHours office("Europe/Paris", nineToSix());
  // Wednesday 4 November 2026, Paris is UTC+1.
  EXPECT_FALSE(office.contains(at("2026-11-04T07:59:59Z")));
  EXPECT_TRUE(office.contains(at("2026-11-04T08:00:00Z")));
  EXPECT_TRUE(office.contains(at("2026-11-04T16:59:59Z")));
  EXPECT_FALSE(office.contains(at("2026-11-04T17:00:00Z")));
  EXPECT_FALSE(office.contains(at("2026-11-07T10:00:00Z")));  // Saturday
}

TEST(SimulateOfficeHours, WorkingTimeStopsAtClosingAndSkipsTheWeekend) {
  const OfficeHours office("Europe/Paris", nineToSix());
  // Friday 16:30 local plus two office hours: 90 minutes on Friday, 30 on Monday.
  EXPECT_EQ(office.addWorkingTime(at("2026-11-06T15:30:00Z"), hours{2}), at("2026-11-09T08:30:00Z"));
  // Saturday: starts at Monday's opening.
  EXPECT_EQ(office.addWorkingTime(at("2026-11-07T12:00:00Z"), minutes{10}), at("2026-11-09T08:10:00Z"));
  // Within the day.
  EXPECT_EQ(office.addWorkingTime(at("2026-11-04T09:00:00Z"), minutes{45}), at("2026-11-04T09:45:00Z"));
  // Exactly the rest of the day ends at the next opening, never on the closing instant.
  EXPECT_EQ(office.addWorkingTime(at("2026-11-04T16:00:00Z"), hours{1}), at("2026-11-05T08:00:00Z"));
}

TEST(SimulateOfficeHours, HolidaysAreClosed) {
  auto hours_config = nineToSix();
  hours_config.holidays = {"2026-11-11"};
  const OfficeHours office("Europe/Paris", hours_config);
  EXPECT_FALSE(office.contains(at("2026-11-11T10:00:00Z")));
  EXPECT_EQ(office.addWorkingTime(at("2026-11-10T16:30:00Z"), hours{1}), at("2026-11-12T08:30:00Z"));
}

TEST(SimulateOfficeHours, FollowsDaylightSavingTime) {
  const OfficeHours office("Europe/Paris", nineToSix());
  // Friday 23 October 2026 is summer time (UTC+2); Monday 26 October winter time (UTC+1).
  EXPECT_TRUE(office.contains(at("2026-10-23T07:00:00Z")));
  EXPECT_FALSE(office.contains(at("2026-10-26T07:00:00Z")));
  EXPECT_EQ(office.addWorkingTime(at("2026-10-23T15:00:00Z"), hours{2}), at("2026-10-26T09:00:00Z"));
}

TEST(SimulateOfficeHours, NeverOpenGivesNothing) {
  const OfficeHours office("UTC", config::BusinessHours{});
  EXPECT_TRUE(office.empty());
  EXPECT_FALSE(office.contains(at("2026-11-04T10:00:00Z")));
  EXPECT_FALSE(office.addWorkingTime(at("2026-11-04T10:00:00Z"), minutes{1}).has_value());
}

}  // namespace
}  // namespace replywatch::simulate
