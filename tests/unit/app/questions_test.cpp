#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>

#include "daemon/app/questions.h"

namespace replywatch::app {
namespace {

Turn turnAt(std::int64_t asked_ms, std::string source, std::string conversation, std::string question) {
  Turn t;
  t.asked_at = fromMillis(asked_ms);
  t.source = std::move(source);
  t.conversation_id = std::move(conversation);
  t.question_id = std::move(question);
  return t;
}

TEST(TurnCursor, NamesThePlaceOfItsTurn) {
  for (const Turn& t : {turnAt(1508544000123, "twcs", "119237", "119238"),
                        turnAt(-5, "export", "a \"quoted\" id, with commas & slashes /?", "é\n\t\x01"),
                        turnAt(0, "s", "", "")}) {
    const std::string cursor = turnCursor(t);
    EXPECT_EQ(cursor.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
              std::string::npos)
        << cursor;
    auto place = parseTurnCursor(cursor);
    ASSERT_TRUE(place.has_value()) << cursor;
    EXPECT_EQ(place->asked_at, t.asked_at);
    EXPECT_EQ(place->source, t.source);
    EXPECT_EQ(place->conversation_id, t.conversation_id);
    EXPECT_EQ(place->question_id, t.question_id);
  }
}

TEST(TurnCursor, RefusesWhatItDidNotMake) {
  const std::string good = turnCursor(turnAt(1000, "s", "c", "q"));
  for (const std::string& bad : {
           std::string(), std::string("not-a-cursor"), good.substr(0, good.size() - 1),  // cut
           good + "=",          // padding is not written
           std::string("W10"),  // [] : not four fields
           // ["x","s","c","q"], [1,2,"c","q"], [18446744073709551615,"s","c","q"]
           std::string("WyJ4IiwicyIsImMiLCJxIl0"), std::string("WzEsMiwiYyIsInEiXQ"),
           std::string("WzE4NDQ2NzQ0MDczNzA5NTUxNjE1LCJzIiwiYyIsInEiXQ"),
           std::string(5000, 'A'),  // too long for a cursor
       }) {
    EXPECT_FALSE(parseTurnCursor(bad).has_value()) << bad;
  }
  std::string standard = good;  // the standard alphabet instead of the URL-safe one
  bool changed = false;
  for (char& c : standard) {
    if (c == '_') {
      c = '/';
      changed = true;
    }
  }
  if (changed) {
    EXPECT_FALSE(parseTurnCursor(standard).has_value()) << standard;
  }
}

TEST(NextPageTarget, KeepsTheFiltersAndGivesTheWindowAsInstants) {
  const Turn last = turnAt(1000, "s", "c", "q");
  store::TurnQuery query;
  query.since = fromMillis(1'700'000'000'000);
  const std::string target = nextPageTarget(
      "/api/v1/questions", "limit=2&since=7d&after=old&account=acme%2Dfr&x=a<b&&sinced=1", query, last);
  EXPECT_EQ(target, "/api/v1/questions?limit=2&account=acme%2Dfr&x=a%3Cb&sinced=1&since=" +
                        formatRfc3339Millis(*query.since) + "&after=" + turnCursor(last));
  EXPECT_EQ(nextPageTarget("/p", "", store::TurnQuery{}, last), "/p?after=" + turnCursor(last));
}

TEST(NextPageTarget, KeepsTheBoundsToTheMillisecond) {
  // until=1h asked at 11:00:00.500: the first page's bound is 10:00:00.500, and the turns
  // asked in 10:00:00.000-10:00:00.499 are the last of the listing. Cut to the second,
  // the next page's bound would leave them out.
  const Timestamp now = *parseRfc3339("2026-11-20T11:00:00.500Z");
  auto query = makeTurnQuery(std::nullopt, "2d", "1h", now);
  ASSERT_TRUE(query.ok());
  const Turn last = turnAt(1'795'000'000'000, "s", "c", "q");
  const std::string target = nextPageTarget("/api/v1/questions", "limit=1&since=2d&until=1h", *query, last);
  EXPECT_EQ(target,
            "/api/v1/questions?limit=1&since=2026-11-18T11:00:00.500Z&until=2026-11-20T10:00:00.500Z&after=" +
                turnCursor(last));
  // The next page's request reads back the same instants.
  auto next = makeTurnQuery(std::nullopt, "2026-11-18T11:00:00.500Z", "2026-11-20T10:00:00.500Z", now);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->since, query->since);
  EXPECT_EQ(next->until, query->until);
}

TEST(ParseTimeBound, ADurationNeedsItsUnit) {
  const Timestamp now = *parseRfc3339("2026-11-24T12:00:00Z");
  EXPECT_EQ(parseTimeBound("90s", now), now - std::chrono::seconds{90});
  EXPECT_EQ(parseTimeBound("7d", now), now - std::chrono::hours{7 * 24});
  EXPECT_EQ(parseTimeBound("2026-11-01", now), parseRfc3339("2026-11-01T00:00:00Z"));
  EXPECT_EQ(parseTimeBound("2026-11-01T10:00:00.250Z", now), parseRfc3339("2026-11-01T10:00:00.250Z"));
  // A Unix time, a compact date, a bare number of seconds: none is read as seconds ago.
  for (const char* bare : {"1700000000", "20261101", "90", "0"}) {
    EXPECT_EQ(parseTimeBound(bare, now), std::nullopt) << bare;
    auto query = makeTurnQuery(std::nullopt, std::string(bare), std::nullopt, now);
    ASSERT_FALSE(query.ok()) << bare;
    EXPECT_EQ(
        query.error().message,
        fmt::format("invalid since \"{}\": expected an RFC 3339 time, a date (YYYY-MM-DD) or a duration "
                    "such as 7d (a number needs a unit: 90s, 15m, 12h, 7d, 2w)",
                    bare));
  }
  auto query = makeTurnQuery(std::nullopt, std::nullopt, "soon", now);
  ASSERT_FALSE(query.ok());
  EXPECT_EQ(
      query.error().message,
      "invalid until \"soon\": expected an RFC 3339 time, a date (YYYY-MM-DD) or a duration such as 7d");
}

TEST(MakeTurnQuery, AnyWellFormedAccountNameIsAFilter) {
  const Timestamp now = fromMillis(1'795'435'200'000);
  // Configured or named by the data only (a twcs brand author is an account of its own).
  for (const std::string name : {"acme-fr", "AmazonHelp", "Ask_Spectrum", "caf\u00e9 cr\u00e8me", "O2"}) {
    auto query = makeTurnQuery(name, std::nullopt, std::nullopt, now);
    ASSERT_TRUE(query.ok()) << name << ": " << query.error().message;
    EXPECT_EQ(query->account, name);
  }
  for (const std::string& bad : {std::string(), std::string(257, 'a'), std::string("\xff\xfe"),
                                 std::string("a\nb"), std::string("a\0b", 3), std::string("\x7f")}) {
    auto query = makeTurnQuery(bad, std::nullopt, std::nullopt, now);
    ASSERT_FALSE(query.ok()) << bad;
    EXPECT_EQ(query.error().reason, "bad_request");
    EXPECT_EQ(query.error().message.rfind("invalid account:", 0), 0u) << query.error().message;
  }
  EXPECT_TRUE(makeTurnQuery(std::string(256, 'a'), std::nullopt, std::nullopt, now).ok());
}

}  // namespace
}  // namespace replywatch::app
