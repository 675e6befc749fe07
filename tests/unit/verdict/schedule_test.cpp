// Business hours, hour of the week and weeks in the account's time zone, across the DST
// changes of Europe/Paris and around holidays.
#include <gtest/gtest.h>

#include "daemon/verdict/schedule.h"

namespace replywatch::verdict {
namespace {

Timestamp at(const char* text) { return *parseRfc3339(text); }

config::AccountConfig paris() {
  config::AccountConfig a;
  a.name = "acme-fr";
  a.timezone = "Europe/Paris";
  for (std::size_t day = 0; day < 5; ++day) a.business_hours.week[day] = {{9 * 60, 18 * 60}};
  a.business_hours.holidays = {"2026-05-01"};
  return a;
}

TEST(Schedule, BusinessHoursFollowTheSpringDstChange) {
  Schedule s(paris());
  // Friday 27 March 2026, CET (UTC+1).
  EXPECT_FALSE(s.inBusinessHours(at("2026-03-27T07:30:00Z")));  // 08:30 local
  EXPECT_TRUE(s.inBusinessHours(at("2026-03-27T08:30:00Z")));   // 09:30 local
  EXPECT_TRUE(s.inBusinessHours(at("2026-03-27T16:59:59Z")));   // 17:59:59 local
  EXPECT_FALSE(s.inBusinessHours(at("2026-03-27T17:00:00Z")));  // 18:00 local, end excluded
  // Monday 30 March 2026, CEST (UTC+2) since Sunday 01:00 UTC.
  EXPECT_TRUE(s.inBusinessHours(at("2026-03-30T07:30:00Z")));   // 09:30 local
  EXPECT_FALSE(s.inBusinessHours(at("2026-03-30T06:30:00Z")));  // 08:30 local
  EXPECT_TRUE(s.inBusinessHours(at("2026-03-30T15:59:00Z")));   // 17:59 local
  EXPECT_FALSE(s.inBusinessHours(at("2026-03-30T16:00:00Z")));  // 18:00 local
}

TEST(Schedule, BusinessHoursFollowTheAutumnDstChange) {
  Schedule s(paris());
  EXPECT_TRUE(s.inBusinessHours(at("2026-10-23T07:30:00Z")));   // Friday 09:30 CEST
  EXPECT_FALSE(s.inBusinessHours(at("2026-10-26T07:30:00Z")));  // Monday 08:30 CET
  EXPECT_TRUE(s.inBusinessHours(at("2026-10-26T08:30:00Z")));   // Monday 09:30 CET
  EXPECT_FALSE(s.inBusinessHours(at("2026-10-25T10:00:00Z")));  // Sunday: closed
}

TEST(Schedule, HolidaysAreLocalDates) {
  Schedule s(paris());
  EXPECT_FALSE(s.inBusinessHours(at("2026-05-01T10:00:00Z")));  // Friday, Fête du travail
  EXPECT_TRUE(s.inBusinessHours(at("2026-04-30T10:00:00Z")));

  config::AccountConfig a = paris();
  a.business_hours.week[3] = {{0, 24 * 60}};   // Thursday all day
  a.business_hours.week[4] = {{0, 24 * 60}};   // Friday all day
  a.business_hours.holidays = {"2026-12-24"};  // a Thursday
  Schedule t(a);
  EXPECT_FALSE(t.inBusinessHours(at("2026-12-24T22:30:00Z")));  // Thursday 23:30 local: holiday
  EXPECT_TRUE(t.inBusinessHours(at("2026-12-24T23:30:00Z")));   // Friday 00:30 local, though 24 Dec in UTC
}

TEST(Schedule, HourOfWeekAcrossDstChanges) {
  Schedule s(paris());
  EXPECT_EQ(s.hourOfWeek(at("2026-03-30T00:00:00Z")), 2);            // Monday 02:00 CEST
  EXPECT_EQ(s.hourOfWeek(at("2026-03-29T00:30:00Z")), 6 * 24 + 1);   // Sunday 01:30 CET
  EXPECT_EQ(s.hourOfWeek(at("2026-03-29T01:30:00Z")), 6 * 24 + 3);   // Sunday 03:30 CEST (02:xx skipped)
  EXPECT_EQ(s.hourOfWeek(at("2026-10-25T00:30:00Z")), 6 * 24 + 2);   // Sunday 02:30 CEST
  EXPECT_EQ(s.hourOfWeek(at("2026-10-25T01:30:00Z")), 6 * 24 + 2);   // Sunday 02:30 CET, again
  EXPECT_EQ(s.hourOfWeek(at("2026-11-22T22:59:59Z")), 6 * 24 + 23);  // Sunday 23:59:59 CET
  Schedule utc(config::AccountConfig{});
  EXPECT_EQ(utc.hourOfWeek(at("2026-11-23T05:00:00Z")), 5);  // Monday 05:00 UTC
}

TEST(Schedule, WeeksStartOnLocalMonday) {
  Schedule s(paris());
  EXPECT_EQ(s.weekOf(at("2026-03-29T21:30:00Z")), "2026-03-23");  // Sunday 23:30 CEST
  EXPECT_EQ(s.weekOf(at("2026-03-29T22:30:00Z")), "2026-03-30");  // Monday 00:30 CEST
  EXPECT_EQ(s.localDate(at("2026-12-31T23:30:00Z")), "2027-01-01");
}

}  // namespace
}  // namespace replywatch::verdict
