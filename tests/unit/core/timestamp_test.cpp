// Durations as the configuration and the API's since/until take them: every form, and
// numbers too large to be a duration refused rather than wrapped around. RFC 3339 text
// to the millisecond.
#include <gtest/gtest.h>

#include <chrono>

#include "daemon/core/timestamp.h"

namespace replywatch {
namespace {

using std::chrono::seconds;

TEST(Duration, EveryForm) {
  EXPECT_EQ(parseDuration("90"), seconds{90});
  EXPECT_EQ(parseDuration("90s"), seconds{90});
  EXPECT_EQ(parseDuration("15m"), seconds{900});
  EXPECT_EQ(parseDuration("1h30m"), seconds{5400});
  EXPECT_EQ(parseDuration("28d"), seconds{28 * 86400});
  EXPECT_EQ(parseDuration("2w"), seconds{14 * 86400});
  for (const char* bad : {"", "h", "1x", "1h30", "-5m", "1.5h", " 1h"}) {
    EXPECT_EQ(parseDuration(bad), std::nullopt) << bad;
  }
}

TEST(Duration, AThousandYearsAtMost) {
  EXPECT_EQ(parseDuration(std::to_string(kMaxDurationSeconds)), seconds{kMaxDurationSeconds});
  EXPECT_EQ(parseDuration(std::to_string(kMaxDurationSeconds + 1)), std::nullopt);
  EXPECT_EQ(parseDuration("52000w"), seconds{52000LL * 7 * 86400});
  EXPECT_EQ(parseDuration("53000w"), std::nullopt);
  // Values whose product or sum would overflow 64 bits.
  EXPECT_EQ(parseDuration("9223372036854775807"), std::nullopt);
  EXPECT_EQ(parseDuration("99999999999999999999"), std::nullopt);
  EXPECT_EQ(parseDuration("1099511627776w1099511627776w1099511627776w"), std::nullopt);
  EXPECT_EQ(parseDuration("30000000000s30000000000s"), std::nullopt);
}

TEST(Rfc3339, MillisecondsKeepTheWholeInstant) {
  for (std::int64_t ms :
       {1'795'168'800'000LL, 1'795'168'800'500LL, 1'795'168'800'007LL, 1'795'168'800'999LL, -1LL, 0LL}) {
    const Timestamp t = fromMillis(ms);
    const std::string text = formatRfc3339Millis(t);
    EXPECT_EQ(parseRfc3339(text), t) << text;
  }
  EXPECT_EQ(formatRfc3339Millis(fromMillis(1'795'168'800'050LL)), "2026-11-20T10:00:00.050Z");
  EXPECT_EQ(formatRfc3339Millis(fromMillis(1'795'168'800'000LL)), "2026-11-20T10:00:00.000Z");
  EXPECT_EQ(formatRfc3339Millis(fromMillis(-1)), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(formatRfc3339(fromMillis(1'795'168'800'999LL)), "2026-11-20T10:00:00Z");
}

}  // namespace
}  // namespace replywatch
