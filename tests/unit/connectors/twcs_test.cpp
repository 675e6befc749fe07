#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <array>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "connectors/x/twcs_connector.h"
#include "connectors/x/twcs_format.h"
#include "tests/unit/captured_log.h"
#include "tests/unit/connectors/test_support.h"

namespace replywatch::connectors::twcs {
namespace {

std::filesystem::path twcsFixture(const std::string& name) {
  return std::filesystem::path(REPLYWATCH_FIXTURES) / "twcs" / name;
}

struct TwcsHarness {
  explicit TwcsHarness(const std::string& yaml) : source(testing::makeSource(yaml)) {
    connector = findConnectorType("twcs")->create(ConnectorContext{source, config, clock, health, sink});
  }
  Result<ImportStats> import(const std::filesystem::path& path) { return connector->importFile(path, {}); }

  config::Config config;
  config::SourceConfig source;
  ManualClock clock{testing::at("2024-06-01T00:00:00Z")};
  SourceHealth health;
  testing::RecordingSink sink;
  std::unique_ptr<Connector> connector;
};

constexpr const char* kTwcsHeader =
    "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n";

const char* const kQuirksSource =
    "name: twcs\ntype: twcs\naccount: support\nchannel: x\nbrand_accounts: {AppleSupport: apple}\n";

TEST(TwcsFormat, CreatedAt) {
  EXPECT_EQ(parseCreatedAt("Tue Oct 31 22:10:47 +0000 2017"), testing::at("2017-10-31T22:10:47Z"));
  EXPECT_EQ(parseCreatedAt("Tue Oct 31 22:10:47 +0200 2017"), testing::at("2017-10-31T20:10:47Z"));
  EXPECT_EQ(parseCreatedAt("Tue Oct 31 22:10:47 -0130 2017"), testing::at("2017-10-31T23:40:47Z"));
  EXPECT_EQ(parseCreatedAt("2017-10-31T22:10:47Z"), testing::at("2017-10-31T22:10:47Z"));
  EXPECT_FALSE(parseCreatedAt("Tue Foo 31 22:10:47 +0000 2017"));
  EXPECT_FALSE(parseCreatedAt("Tue Feb 30 22:10:47 +0000 2017"));
  EXPECT_FALSE(parseCreatedAt("Xyz Oct 31 22:10:47 +0000 2017"));
  EXPECT_FALSE(parseCreatedAt("Tue Oct 31 25:10:47 +0000 2017"));
  EXPECT_FALSE(parseCreatedAt("Tue Oct 31 -1:00:00 +0000 2017"));  // digits only in every field
  EXPECT_FALSE(parseCreatedAt("Tue Oct 31 22:10:-5 +-1-1 2017"));
  EXPECT_FALSE(parseCreatedAt("Tue Oct 31 22:10:+5 +0000 2017"));
  EXPECT_FALSE(parseCreatedAt(""));
  // Every month and weekday name, as X writes them and in another case.
  const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (int m = 0; m < 12; ++m) {
    const std::string iso = fmt::format("2017-{:02}-03T04:05:06Z", m + 1);
    EXPECT_EQ(parseCreatedAt(fmt::format("Mon {} 03 04:05:06 +0000 2017", months[m])),
              testing::at(iso.c_str()))
        << iso;
    std::string lower = months[m];
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(parseCreatedAt(fmt::format("sUN {} 03 04:05:06 +0000 2017", lower)), testing::at(iso.c_str()))
        << lower;
  }
  EXPECT_EQ(parseCreatedAt("wed OCT 31 22:10:47 +0000 2017"), testing::at("2017-10-31T22:10:47Z"));
  EXPECT_FALSE(parseCreatedAt("Tue Oc  31 22:10:47 +0000 2017"));
  EXPECT_FALSE(parseCreatedAt("Tue Oct 31 22:10:47 +0000 2O17"));
}

// Every day of four centuries at several times and offsets, against std::chrono's
// calendar; the days that do not exist refused.
TEST(TwcsFormat, CreatedAtOnEveryDay) {
  using namespace std::chrono;
  constexpr std::array<const char*, 12> kMonthNames = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  constexpr std::array<const char*, 7> kDayNames = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  int k = 0;
  for (sys_days d = sys_days{1899y / 1 / 1}; d < sys_days{2301y / 1 / 1}; d += days{1}, ++k) {
    const year_month_day ymd{d};
    const int hh = k % 24;
    const int mm = k * 7 % 60;
    const int ss = k * 13 % 60;
    const int off = (k % 5 - 2) * 90;  // minutes, both signs
    const std::string text = fmt::format(
        "{} {} {:02} {:02}:{:02}:{:02} {}{:02}{:02} {:04}", kDayNames[weekday{d}.c_encoding()],
        kMonthNames[static_cast<unsigned>(ymd.month()) - 1], static_cast<unsigned>(ymd.day()), hh, mm, ss,
        off < 0 ? '-' : '+', std::abs(off) / 60, std::abs(off) % 60, static_cast<int>(ymd.year()));
    const auto expected = d + hours{hh} + minutes{mm} + seconds{ss} - minutes{off};
    auto parsed = parseCreatedAt(text);
    ASSERT_TRUE(parsed.has_value()) << text;
    ASSERT_EQ(*parsed, time_point_cast<milliseconds>(expected)) << text;
  }
  for (const char* missing :
       {"Thu Feb 29 10:00:00 +0000 1900", "Mon Feb 29 10:00:00 +0000 2100", "Fri Feb 30 10:00:00 +0000 2024",
        "Mon Apr 31 10:00:00 +0000 2024", "Mon Jan 32 10:00:00 +0000 2024", "Mon Jan 00 10:00:00 +0000 2024",
        "Mon Jan 10 24:00:00 +0000 2024", "Mon Jan 10 10:60:00 +0000 2024", "Mon Jan 10 10:00:61 +0000 2024",
        "Mon Jan 10 10:00:00 +2400 2024", "Mon Jan 10 10:00:00 +0060 2024", "Mon Jan 10 10:00:00 *0000 2024",
        "Mon Jan 1a 10:00:00 +0000 2024", "Mon Jan 10 10:00:00 +0000 20x4", "Mon Jan 10 10:00:00 +0000 -024",
        "Mon Jan 10 1 :00:00 +0000 2024"}) {
    EXPECT_FALSE(parseCreatedAt(missing).has_value()) << missing;
  }
  EXPECT_TRUE(parseCreatedAt("Tue Feb 29 10:00:00 +0000 2000").has_value());
  EXPECT_TRUE(parseCreatedAt("Thu Feb 29 10:00:00 +0000 2024").has_value());
  EXPECT_TRUE(parseCreatedAt("Sat Dec 31 23:59:60 +0000 2016").has_value());  // a leap second, as before
}

TEST(TwcsFormat, IdsAndInbound) {
  EXPECT_EQ(parseTweetId("3"), 3u);
  EXPECT_EQ(parseTweetId("3.0"), 3u);
  EXPECT_EQ(parseTweetId(" 1577.00 "), 1577u);
  EXPECT_EQ(parseTweetId("18446744073709551615"), 18446744073709551615ULL);
  EXPECT_FALSE(parseTweetId("3.5"));
  EXPECT_FALSE(parseTweetId("5,7"));
  EXPECT_FALSE(parseTweetId("1e3"));
  EXPECT_FALSE(parseTweetId("18446744073709551616"));
  EXPECT_FALSE(parseTweetId("0"));
  EXPECT_FALSE(parseTweetId(""));
  EXPECT_EQ(parseInbound("True"), true);
  EXPECT_EQ(parseInbound("FALSE"), false);
  EXPECT_EQ(parseInbound("false"), false);
  EXPECT_FALSE(parseInbound("1"));
}

TEST(TwcsFormat, Mentions) {
  std::vector<std::string> got;
  forEachMention("@AppleSupport hi @116000, mail a@b.c @x_y! @", 10,
                 [&](std::string_view h) { got.emplace_back(h); });
  EXPECT_EQ(got, (std::vector<std::string>{"AppleSupport", "116000", "x_y"}));
  got.clear();
  forEachMention("@a @b @c", 2, [&](std::string_view h) { got.emplace_back(h); });
  EXPECT_EQ(got.size(), 2u);
}

TEST(TwcsFormat, CsvRecordsEndOnlyAtNewlines) {
  const std::string data = "a,b\n1,\"x\ny\"\"z\"\n2,raw\r\rcr\r\n3,\"q\"junk\n4,last";
  CsvReader reader(exportfmt::Input::fromMemory(data));
  std::vector<std::vector<std::string>> rows;
  std::vector<std::uint64_t> lines;
  std::vector<bool> malformed;
  while (reader.next() == CsvReader::Status::Record) {
    rows.emplace_back(reader.fields().begin(), reader.fields().end());
    lines.push_back(reader.line());
    malformed.push_back(reader.malformed());
  }
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[1], (std::vector<std::string>{"1", "x\ny\"z"}));
  EXPECT_EQ(rows[2], (std::vector<std::string>{"2", "raw\r\rcr"}));
  EXPECT_TRUE(malformed[3]);
  EXPECT_EQ(rows[4], (std::vector<std::string>{"4", "last"}));
  EXPECT_EQ(lines, (std::vector<std::uint64_t>{1, 2, 4, 5, 6}));
}

// Unquoted fields of every length around the 16 bytes looked at at once, the record's
// last one ending at the input's end or at a newline, at any alignment.
TEST(TwcsFormat, UnquotedFieldsOfEveryLength) {
  for (std::size_t lead = 0; lead < 3; ++lead) {
    std::string data(lead, '\n');  // blank lines first: the fields start at other offsets
    std::vector<std::vector<std::string>> expected;
    for (std::size_t a = 0; a <= 40; ++a) {
      for (const std::size_t b :
           {std::size_t{0}, std::size_t{1}, std::size_t{15}, std::size_t{16}, std::size_t{17}, a}) {
        // A quote inside an unquoted field is data.
        std::vector<std::string> row = {std::string(a, 'a'), std::string(b, 'b'),
                                        "x\"q\"" + std::string(b, 'c')};
        data += row[0] + "," + row[1] + "," + row[2];
        expected.push_back(row);
        data += "\n";
      }
    }
    data.pop_back();  // the last record ends at the input's end
    CsvReader reader(exportfmt::Input::fromMemory(data));
    std::vector<std::vector<std::string>> rows;
    while (reader.next() == CsvReader::Status::Record) {
      if (reader.fields().size() == 1 && reader.fields()[0].empty()) continue;  // blank lines
      rows.emplace_back(reader.fields().begin(), reader.fields().end());
    }
    EXPECT_EQ(rows, expected) << lead;
  }
}

// A CR is dropped only where it ends the record; elsewhere, at a field's end too, it is data.
TEST(TwcsFormat, OnlyACrEndingTheRecordIsDropped) {
  const std::string data = "a,b\nx\r,y\r\n\"q\",\"last\"\r";
  CsvReader reader(exportfmt::Input::fromMemory(data));
  std::vector<std::vector<std::string>> rows;
  std::vector<bool> malformed;
  while (reader.next() == CsvReader::Status::Record) {
    rows.emplace_back(reader.fields().begin(), reader.fields().end());
    malformed.push_back(reader.malformed());
  }
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1], (std::vector<std::string>{"x\r", "y"}));
  EXPECT_EQ(rows[2], (std::vector<std::string>{"q", "last"}));
  EXPECT_FALSE(malformed[2]);
  CsvReader unquoted(exportfmt::Input::fromMemory("a,b\n1,end\r"));
  ASSERT_EQ(unquoted.next(), CsvReader::Status::Record);
  ASSERT_EQ(unquoted.next(), CsvReader::Status::Record);
  EXPECT_EQ(unquoted.fields()[1], "end");
}

// A record over the limit is refused for what it is: an open quote, or a long record.
TEST(TwcsFormat, TooLongARecordSaysWhy) {
  testing::TempDir dir;
  auto failure = [&](const std::string& data) {
    const auto file = dir.path() / "long.csv";
    testing::writeAll(file, data);
    auto input = exportfmt::Input::openFile(file);
    if (!input) return input.error().message;
    CsvReader reader(std::move(input).value());
    while (reader.next() == CsvReader::Status::Record) {
    }
    return reader.failure().message;
  };
  const std::string big(CsvReader::kMaxRecordBytes + 10, 'x');
  EXPECT_EQ(failure("a,b\n1," + big + "\n2,y\n"), "line 2: the record is longer than 8 MiB");
  EXPECT_EQ(failure("a,b\n1,\"" + big + "\"\n2,y\n"), "line 2: the record is longer than 8 MiB");
  EXPECT_EQ(failure("a,b\n1,\"" + big + big + "\n2,y\n"),
            "line 2: a quoted field is never closed (or the record is longer than 8 MiB)");
  EXPECT_EQ(failure("a,b\n1,\"open\n2,y\n"), "line 2: a quoted field is never closed");
}

TEST(TwcsFormat, UnclosedQuoteFailsTheFile) {
  const std::string data = "a,b\n1,\"never closed\n2,x\n";
  CsvReader reader(exportfmt::Input::fromMemory(data));
  EXPECT_EQ(reader.next(), CsvReader::Status::Record);
  EXPECT_EQ(reader.next(), CsvReader::Status::Failed);
  EXPECT_EQ(reader.failure().message, "line 2: a quoted field is never closed");
}

TEST(TwcsFormat, HeaderNeedsTheColumns) {
  std::vector<std::string_view> good = {
      "",           "tweet_id", "author_id",         "inbound",
      "created_at", "text",     "response_tweet_id", "in_response_to_tweet_id"};
  auto h = parseHeader(good);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->index[static_cast<std::size_t>(Column::TweetId)], 1);
  EXPECT_EQ(h->width, 8u);
  std::vector<std::string_view> bad = {"tweet_id", "author_id", "text"};
  auto b = parseHeader(bad);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().message,
            "the header row lacks the column(s) inbound, created_at, in_response_to_tweet_id");
}

TEST(Twcs, QuirksFixture) {
  TwcsHarness h(kQuirksSource);
  auto stats = h.import(twcsFixture("quirks.csv"));
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(stats->records, 19u);
  EXPECT_EQ(stats->rejected, 5u);
  EXPECT_EQ(stats->duplicates, 1u);
  EXPECT_EQ(stats->stored, 13u);
  EXPECT_EQ(h.sink.stored.size(), 13u);
  EXPECT_EQ(h.health.errors(ErrorReason::ParseError), 3u);
  EXPECT_EQ(h.health.errors(ErrorReason::MissingField), 1u);
  EXPECT_EQ(h.health.errors(ErrorReason::InvalidTimestamp), 1u);
  EXPECT_EQ(h.health.events(), 13u);
  EXPECT_TRUE(h.health.up());

  struct Expect {
    const char* conversation;
    const char* account;
    bool brand;
  };
  const std::map<std::string, Expect> expected = {
      {"11", {"11", "sprintcare", false}}, {"12", {"11", "sprintcare", true}},
      {"13", {"11", "sprintcare", false}}, {"21", {"21", "apple", false}},
      {"22", {"21", "apple", true}},       {"31", {"31", "AmazonHelp", false}},
      {"32", {"31", "AmazonHelp", true}},  {"41", {"41", "apple", false}},
      {"42", {"41", "apple", false}},      {"51", {"51", "support", false}},
      {"81", {"81", "apple", false}},      {"82", {"81", "apple", true}},
      {"83", {"81", "apple", true}},
  };
  for (const auto& [id, e] : expected) {
    const Message* m = h.sink.find(id);
    ASSERT_NE(m, nullptr) << id;
    EXPECT_EQ(m->conversation_id, e.conversation) << id;
    EXPECT_EQ(m->account, e.account) << id;
    EXPECT_EQ(m->author_is_brand, e.brand) << id;
  }
  EXPECT_EQ(h.sink.find("12")->in_reply_to, "11");
  EXPECT_EQ(h.sink.find("31")->in_reply_to, "30");  // the parent is named even when absent
  EXPECT_EQ(h.sink.find("11")->in_reply_to, "");
  EXPECT_EQ(h.sink.find("11")->text,
            "@sprintcare You gonna magically change your connectivity\nfor me and my whole family ?");
  EXPECT_EQ(h.sink.find("21")->text, "@AppleSupport my phone\r\rkeeps rebooting");
  EXPECT_EQ(h.sink.find("83")->text, "@116300 We can help with that. ^JK");
  EXPECT_EQ(h.sink.find("12")->created_at, testing::at("2017-10-31T22:10:35Z"));
  EXPECT_EQ(h.sink.find("12")->author_id, "sprintcare");
}

TEST(Twcs, ReimportChangesNothing) {
  TwcsHarness h(kQuirksSource);
  ASSERT_TRUE(h.import(twcsFixture("quirks.csv")).ok());
  auto again = h.import(twcsFixture("quirks.csv"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->stored, 0u);
  EXPECT_EQ(again->duplicates, 14u);
  EXPECT_EQ(h.sink.stored.size(), 13u);
}

TEST(Twcs, SampleFixture) {
  TwcsHarness h("name: twcs\ntype: twcs\naccount: support\nchannel: x\n");
  auto stats = h.import(twcsFixture("sample.csv"));
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(stats->records, 1000u);
  EXPECT_EQ(stats->rejected, 0u);
  EXPECT_EQ(stats->stored, 1000u);
  // Tweets 1..8 of the sample form one tree rooted at 8 (the parent of 6).
  for (const char* id : {"1", "2", "3", "4", "5", "6", "8"}) {
    ASSERT_NE(h.sink.find(id), nullptr) << id;
    EXPECT_EQ(h.sink.find(id)->conversation_id, "8") << id;
    EXPECT_EQ(h.sink.find(id)->account, "sprintcare") << id;
  }
  EXPECT_TRUE(h.sink.find("1")->author_is_brand);
  EXPECT_FALSE(h.sink.find("2")->author_is_brand);
}

TEST(Twcs, StoreRefusalFailsTheImport) {
  TwcsHarness h(kQuirksSource);
  h.sink.fail = true;
  auto stats = h.import(twcsFixture("quirks.csv"));
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.error().reason, "store");
  EXPECT_EQ(h.health.errors(ErrorReason::Store), 1u);
}

TEST(Twcs, BadFiles) {
  testing::TempDir dir;
  TwcsHarness h(kQuirksSource);
  const auto no_header = dir.path() / "no_header.csv";
  testing::writeAll(no_header, "1,2,3\n");
  auto r = h.import(no_header);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, "bad_file");
  EXPECT_NE(r.error().message.find("tweet_id"), std::string::npos);
  const auto empty = dir.path() / "empty.csv";
  testing::writeAll(empty, "");
  EXPECT_FALSE(h.import(empty).ok());
  EXPECT_FALSE(h.import(dir.path() / "missing.csv").ok());
  EXPECT_EQ(h.health.errors(ErrorReason::BadFile), 3u);
  EXPECT_TRUE(h.sink.stored.empty());

  // A header and blank lines only: nothing to store, no error.
  const auto header_only = dir.path() / "header_only.csv";
  testing::writeAll(header_only, std::string(kTwcsHeader) + "\n\n");
  auto none = h.import(header_only);
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_EQ(none->records, 0u);
  EXPECT_EQ(h.sink.calls, 0);
  EXPECT_EQ(h.health.errors(ErrorReason::BadFile), 3u);
}

// Writes `rows` single-tweet conversations (ids 1..rows) and, when `duplicate`, tweet 1 again
// at the end.
void writeRows(const std::filesystem::path& file, std::size_t rows, bool duplicate) {
  std::string text = "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n";
  for (std::size_t i = 1; i <= rows; ++i) {
    text += std::to_string(i) + ",100,True,Tue Oct 31 10:00:00 +0000 2017,@AcmeCare help " +
            std::to_string(i) + ",,\n";
  }
  if (duplicate) text += "1,100,True,Tue Oct 31 10:00:00 +0000 2017,@AcmeCare help 1,,\n";
  testing::writeAll(file, text);
}

// The second pass must read what the first read: a row whose parent, time, direction or
// validity changed in between fails the file (an export still being written, rewritten
// in place); so does a stream that cannot be read twice.
TEST(Twcs, AFileChangedBetweenThePassesOrNotAFileIsRefused) {
  testing::TempDir dir;
  const auto file = dir.path() / "live.csv";
  // Tweet 1 replies to a tweet the file lacks: the connector asks the sink between passes.
  const std::string first = std::string(kTwcsHeader) +
                            "1,100,True,Tue Oct 31 10:00:00 +0000 2017,@AcmeCare help,,9\n"
                            "2,AcmeCare,False,Tue Oct 31 10:10:00 +0000 2017,@100 sure,,1\n"
                            "3,101,True,not a date,@AcmeCare hello,,\n";
  const std::vector<std::pair<std::string, std::string>> edits = {
      {",,1\n", ",,12\n"},                               // another parent
      {"10:10:00", "10:11:00"},                          // another time
      {"AcmeCare,False", "AcmeCare,True"},               // another direction
      {"not a date", "Tue Oct 31 10:30:00 +0000 2017"},  // a rejected row now valid
      {"hello,,\n", "hello,,\n4,102,True,Tue Oct 31 10:40:00 +0000 2017,@AcmeCare hi,,\n"},  // a row more
      {"2,AcmeCare,False,Tue Oct 31 10:10:00 +0000 2017,@100 sure,,1\n", ""},                // a row less
  };
  // `path` holds `before` for the first pass and `before` with `from` replaced by `to`
  // for the second: the import fails (after the batches of the pieces before the change).
  auto refused_when_changed = [](const std::filesystem::path& path, const std::string& before,
                                 const std::string& from, const std::string& to, bool nothing_stored) {
    TwcsHarness h(kQuirksSource);
    testing::writeAll(path, before);
    std::string after = before;
    after.replace(after.find(from), from.size(), to);
    h.sink.before_places = [&] { testing::writeAll(path, after); };
    auto r = h.import(path);
    ASSERT_FALSE(r.ok()) << to;
    EXPECT_NE(r.error().message.find("changed while it was imported"), std::string::npos)
        << r.error().message;
    if (nothing_stored) {
      EXPECT_TRUE(h.sink.stored.empty()) << to;
    }
  };
  for (const auto& [from, to] : edits) refused_when_changed(file, first, from, to, true);
  // In a file of several pieces (second pass batches): a row more, a row less, a text
  // longer or another time in a piece before the last.
  const auto large = dir.path() / "large.csv";
  const std::vector<std::pair<std::string, std::string>> middle_edits = {
      {"help 5001,,\n", "help 5001,,\n5001,100,True,Tue Oct 31 10:00:00 +0000 2017,@AcmeCare again,,\n"},
      {"5002,100,True,Tue Oct 31 10:00:00 +0000 2017,@AcmeCare help 5002,,\n", ""},
      {"help 5003,", "help 5003 please,"},
      {"help 5003,", "help 5003!,"},  // one byte: the piece's last row loses only its newline
      {"5004,100,True,Tue Oct 31 10:00:00", "5004,100,True,Tue Oct 31 10:00:01"},
      {",@AcmeCare help 5005,", ",\"AcmeCare help 5005,"},  // as long, a quote that never closes
  };
  writeRows(large, 3 * kBatchSize, false);
  // A reply to a tweet the file lacks, so that the sink is asked between the passes.
  const std::string first_large =
      testing::readAll(large) + "99999,100,True,Tue Oct 31 10:00:00 +0000 2017,@AcmeCare more,,88888\n";
  for (const auto& [from, to] : middle_edits) refused_when_changed(large, first_large, from, to, false);

  TwcsHarness same(kQuirksSource);  // rewritten as it was: imported
  testing::writeAll(file, first);
  same.sink.before_places = [&] { testing::writeAll(file, first); };
  ASSERT_TRUE(same.import(file).ok());
  EXPECT_EQ(same.sink.stored.size(), 2u);

  const auto fifo = dir.path() / "stream.csv";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  TwcsHarness h(kQuirksSource);
  auto r = h.import(fifo);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, "bad_file");
  EXPECT_NE(r.error().message.find("is not a regular file"), std::string::npos) << r.error().message;
}

TEST(Twcs, LoopingParentsAreCut) {
  testing::TempDir dir;
  TwcsHarness h(kQuirksSource);
  const auto file = dir.path() / "loop.csv";
  testing::writeAll(file,
                    "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n"
                    "1,100,True,Tue Oct 31 10:00:00 +0000 2017,@AcmeCare help,,2\n"
                    "2,AcmeCare,False,Tue Oct 31 10:10:00 +0000 2017,@100 sure,,1\n");
  auto r = h.import(file);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stored, 2u);
  EXPECT_EQ(h.sink.find("1")->conversation_id, h.sink.find("2")->conversation_id);
  EXPECT_EQ(h.sink.find("1")->account, "AcmeCare");
}

// An author written with spaces around it is the same author: the brand tweet finds its
// account in brand_accounts, and the member's tweets share one author id.
TEST(Twcs, AuthorsAreTrimmed) {
  testing::TempDir dir;
  TwcsHarness h(kQuirksSource);
  const auto file = dir.path() / "padded.csv";
  testing::writeAll(
      file,
      "tweet_id, author_id, inbound, created_at, text, response_tweet_id, in_response_to_tweet_id\n"
      "1, 100 , True, Tue Oct 31 10:00:00 +0000 2017,@AppleSupport help,2,\n"
      "2, AppleSupport, False, Tue Oct 31 10:10:00 +0000 2017,@100 sure,, 1\n"
      "3,\t ,True, Tue Oct 31 10:20:00 +0000 2017,nobody,,\n");
  auto r = h.import(file);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->stored, 2u);
  EXPECT_EQ(r->rejected, 1u);
  EXPECT_EQ(h.health.errors(ErrorReason::MissingField), 1u);
  EXPECT_EQ(h.sink.find("1")->author_id, "100");
  EXPECT_EQ(h.sink.find("2")->author_id, "AppleSupport");
  EXPECT_EQ(h.sink.find("1")->account, "apple");
  EXPECT_EQ(h.sink.find("2")->account, "apple");
}

// A piece's messages view its bytes; quoted fields with doubled quotes are unescaped into
// the reader's scratch, which the next row reuses: each message keeps its own text.
TEST(Twcs, EscapedQuotedFieldsKeepTheirOwnTexts) {
  testing::TempDir dir;
  TwcsHarness h(kQuirksSource);
  const auto file = dir.path() / "escaped.csv";
  std::string text = kTwcsHeader;
  const int rows = 40;
  for (int i = 1; i <= rows; ++i) {
    const bool inbound = i % 2 == 1;
    const std::string author = inbound ? fmt::format("\"user \"\"{}\"\"\"", i) : "AppleSupport";
    text += fmt::format("{},{},{},Tue Oct 31 10:{:02}:00 +0000 2017,\"said \"\"{}\"\", then {}\",,{}\n", i,
                        author, inbound ? "True" : "False", i, std::string(static_cast<std::size_t>(i), 'x'),
                        i, inbound ? "" : std::to_string(i - 1));
  }
  testing::writeAll(file, text);
  auto r = h.import(file);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->stored, static_cast<std::uint64_t>(rows));
  for (int i = 1; i <= rows; ++i) {
    const Message* m = h.sink.find(std::to_string(i));
    ASSERT_NE(m, nullptr) << i;
    EXPECT_EQ(m->text, fmt::format("said \"{}\", then {}", std::string(static_cast<std::size_t>(i), 'x'), i));
    EXPECT_EQ(m->author_id, i % 2 == 1 ? fmt::format("user \"{}\"", i) : "AppleSupport");
    EXPECT_EQ(m->conversation_id, std::to_string(i % 2 == 1 ? i : i - 1));
    EXPECT_EQ(m->in_reply_to, i % 2 == 1 ? "" : std::to_string(i - 1));
  }
}

// One file per day: the answer after midnight continues the question of the day before.
TEST(Twcs, ATweetReplyingToOneStoredByAnEarlierImportContinuesItsConversation) {
  testing::TempDir dir;
  TwcsHarness h(kQuirksSource);
  const auto monday = dir.path() / "monday.csv";
  const auto tuesday = dir.path() / "tuesday.csv";
  testing::writeAll(monday, std::string(kTwcsHeader) +
                                "10,100,True,Mon Oct 30 23:50:00 +0000 2017,@AcmeCare my order?,11,\n"
                                "20,200,True,Mon Oct 30 12:00:00 +0000 2017,hello,,\n"
                                "21,AcmeCare,False,Mon Oct 30 12:05:00 +0000 2017,@200 hi,,20\n");
  testing::writeAll(tuesday, std::string(kTwcsHeader) +
                                 "11,AppleSupport,False,Tue Oct 31 00:20:00 +0000 2017,@100 shipped,12,10\n"
                                 "12,100,True,Tue Oct 31 00:25:00 +0000 2017,@AcmeCare thanks,,11\n"
                                 "13,300,True,Tue Oct 31 01:00:00 +0000 2017,@AcmeCare late reply,,99\n");
  ASSERT_TRUE(h.import(monday).ok());
  const int lookups = h.sink.place_lookups;
  auto r = h.import(tuesday);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->stored, 3u);
  EXPECT_EQ(h.sink.place_lookups, lookups + 1);  // one look-up for the file's two orphan trees
  // 11 and 12 join the stored conversation of 10, with its account (the @mention of
  // monday's file), not the account their own brand tweet would give (apple).
  for (const char* id : {"11", "12"}) {
    EXPECT_EQ(h.sink.find(id)->conversation_id, "10") << id;
    EXPECT_EQ(h.sink.find(id)->account, "AcmeCare") << id;
  }
  EXPECT_EQ(h.sink.find("10")->account, "AcmeCare");
  // 13 replies to a tweet stored nowhere: a conversation of its own, as before (its
  // @mention names no brand author of tuesday's file: the source's account).
  EXPECT_EQ(h.sink.find("13")->conversation_id, "13");
  EXPECT_EQ(h.sink.find("13")->account, "support");
}

TEST(Twcs, AFileWithoutOrphanTreesAsksTheStoreNothing) {
  testing::TempDir dir;
  TwcsHarness h(kQuirksSource);
  const auto file = dir.path() / "whole.csv";
  testing::writeAll(file, std::string(kTwcsHeader) +
                              "1,100,True,Tue Oct 31 10:00:00 +0000 2017,@AcmeCare help,2,\n"
                              "2,AcmeCare,False,Tue Oct 31 10:10:00 +0000 2017,@100 sure,,1\n");
  ASSERT_TRUE(h.import(file).ok());
  EXPECT_EQ(h.sink.place_lookups, 0);
}

TEST(Twcs, AStoreThatCannotBeAskedFailsTheImportBeforeAnyBatch) {
  testing::TempDir dir;
  TwcsHarness h(kQuirksSource);
  const auto file = dir.path() / "orphan.csv";
  testing::writeAll(
      file, std::string(kTwcsHeader) + "11,AcmeCare,False,Tue Oct 31 00:20:00 +0000 2017,@100 shipped,,10\n");
  h.sink.fail_places = true;
  auto r = h.import(file);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, "store");
  EXPECT_EQ(h.sink.calls, 0);
  EXPECT_TRUE(h.sink.stored.empty());
  EXPECT_EQ(h.health.errors(ErrorReason::Store), 1u);
}

TEST(Twcs, BatchesFollowTheFileWhileTheNextIsRead) {
  testing::TempDir dir;
  for (const std::size_t rows : {kBatchSize, 2 * kBatchSize, 2 * kBatchSize + 1}) {
    TwcsHarness h(kQuirksSource);
    const auto file = dir.path() / ("rows" + std::to_string(rows) + ".csv");
    writeRows(file, rows, true);
    auto r = h.import(file);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->records, rows + 1);
    EXPECT_EQ(r->stored, rows);
    EXPECT_EQ(r->duplicates, 1u);
    EXPECT_EQ(h.sink.calls, static_cast<int>((rows + kBatchSize - 1) / kBatchSize));
    ASSERT_EQ(h.sink.stored.size(), rows);
    for (std::size_t i = 0; i < rows; ++i) ASSERT_EQ(h.sink.stored[i].id, std::to_string(i + 1));
  }
}

// Rows of every kind: brand replies, questions naming a brand only by @mention, texts
// quoted over several lines or with commas and quotes, rejected rows, ids given twice,
// and replies to tweets far earlier in the file (across its middle). With `trap`, the
// middle of the file falls in a quoted text whose lines read like rows.
std::string variedRows(int rows, bool trap) {
  std::string text = std::string(",") + kTwcsHeader;
  auto date = [](int i) {
    return fmt::format("Tue Oct 31 {:02}:{:02}:{:02} +0000 2017", i / 3600 % 24, i / 60 % 60, i % 60);
  };
  for (int i = 1; i <= rows; ++i) {
    const int brand = (i < rows / 2 ? i : rows - i) % 3;  // brands met in another order later
    std::string parent;
    std::string body;
    bool inbound = true;
    if (i % 4 == 2) {  // a brand reply to the question before
      inbound = false;
      parent = std::to_string(i - 1);
      body = fmt::format("@{} we can help, \"\"really\"\" ^JK", 1000 + i - 1);
    } else if (i % 4 == 3) {  // a question mentioning a brand, over two lines
      body = fmt::format("\"@Brand{}Help hello,\nanyone there?\"", brand);
    } else if (i % 4 == 0 && i > rows / 2) {  // a follow-up to a tweet of the first half
      parent = std::to_string(i - rows / 2);
      body = "@Brand0Help still waiting";
    } else {
      body = fmt::format("@Brand{}Help question {}", brand, i);
    }
    if (!body.empty() && body.front() == '@') body = fmt::format("\"{}\"", body);
    const std::string author = inbound ? std::to_string(1000 + i) : fmt::format("Brand{}Help", brand);
    std::string when = date(i);
    if (i % 97 == 0 || (i > rows / 2 && i % 41 == 0))
      when = "yesterday";  // rejected, more in the second half
    const std::string id = i % 89 == 0 ? std::to_string(i > rows / 2 ? i - rows / 2 : i - 5)
                                       : std::to_string(i);  // given twice, across the middle too
    text +=
        fmt::format("{},{},{},{},{},{},,{}\n", i, id, author, inbound ? "True" : "False", when, body, parent);
    if (trap && i == rows / 2) {
      std::string fake = "\"quoting an export:";
      for (int k = 0; k < 20 * rows; ++k) {
        fake += fmt::format("\n{},{},9{},True,{},not a row,,", k, 900000 + k, k, date(k));
      }
      text += fmt::format("{},{},555,True,{},{}\",,\n", i, 800000, date(i), fake);
    }
  }
  return text;
}

// The messages as text, field by field, in the order given.
std::vector<std::string> described(const std::vector<Message>& messages) {
  std::vector<std::string> out;
  out.reserve(messages.size());
  for (const Message& m : messages) {
    out.push_back(fmt::format("{}|{}|{}|{}|{}|{}|{}|{}", m.id, m.conversation_id, m.in_reply_to, m.author_id,
                              m.author_is_brand, toMillis(m.created_at), m.text, m.account));
  }
  return out;
}

TEST(Twcs, ALargeFileReadByTwoThreadsGivesWhatOneReaderGives) {
  testing::TempDir dir;
  // Trap: the middle falls in a quoted text. Broken: the last row's quote never closes,
  // which the second reader finds (the first then reads on, for the line's number).
  // More rows than kBatchSize per half, more rejected rows than are logged.
  enum class Kind { Plain, Trap, Broken };
  for (const Kind kind : {Kind::Plain, Kind::Trap, Kind::Broken}) {
    const bool trap = kind == Kind::Trap;
    const auto file = dir.path() / fmt::format("kind{}.csv", static_cast<int>(kind));
    std::string rows = variedRows(trap ? 3000 : 12000, trap);
    if (kind == Kind::Broken) rows += "1,99999,555,True,Tue Oct 31 10:00:00 +0000 2017,\"never closed,,\n";
    testing::writeAll(file, rows);
    struct Run {
      std::optional<ImportStats> stats;
      std::string failure;
      std::vector<std::string> messages;
      std::vector<std::uint64_t> errors;
      std::string log;
    };
    auto run = [&](std::uint64_t two_readers_from) {
      TwcsHarness h(kQuirksSource);
      Settings settings;
      settings.brand_accounts = {{"Brand1Help", "one"}};
      settings.two_readers_from = two_readers_from;
      TwcsConnector connector(ConnectorContext{h.source, h.config, h.clock, h.health, h.sink}, settings);
      Run out;
      {
        test_support::CapturedLog log;
        spdlog::set_level(spdlog::level::debug);
        auto stats = connector.importFile(file, {});
        spdlog::set_level(spdlog::level::info);
        if (stats) out.stats = *stats;
        if (!stats) out.failure = stats.error().message;
        out.log = log.text();
      }
      out.messages = described(h.sink.stored);
      for (std::size_t r = 0; r < kErrorReasonCount; ++r)
        out.errors.push_back(h.health.errors(ErrorReason(r)));
      return out;
    };
    const Run one = run(kTwoReadersFrom);
    const Run two = run(1);
    EXPECT_EQ(one.log.find("two readers"), std::string::npos);
    // Both halves were read; the trap and the broken row make the first reader read on.
    EXPECT_NE(two.log.find(kind == Kind::Plain ? "two readers joined=true" : "two readers joined=false"),
              std::string::npos)
        << two.log.substr(0, 2000);
    if (kind == Kind::Broken) {
      EXPECT_FALSE(one.stats || two.stats);
      EXPECT_NE(one.failure.find("never closed"), std::string::npos) << one.failure;
      EXPECT_EQ(two.failure, one.failure);
      EXPECT_EQ(two.errors, one.errors);
      continue;
    }
    ASSERT_TRUE(one.stats && two.stats) << two.log.substr(0, 2000);
    EXPECT_EQ(two.stats->records, one.stats->records);
    EXPECT_EQ(two.stats->rejected, one.stats->rejected);
    EXPECT_EQ(two.stats->stored, one.stats->stored);
    EXPECT_EQ(two.stats->duplicates, one.stats->duplicates);
    EXPECT_GT(one.stats->rejected, 20u);
    EXPECT_GT(one.stats->duplicates, 20u);
    EXPECT_EQ(two.errors, one.errors);
    EXPECT_EQ(two.messages, one.messages);
    // Rejected rows are logged with the same lines.
    auto lines = [](const std::string& log) {
      std::vector<std::string> out;
      for (std::size_t at = log.find(" line="); at != std::string::npos; at = log.find(" line=", at + 1)) {
        out.push_back(log.substr(at, log.find(' ', at + 1) - at));
      }
      return out;
    };
    EXPECT_EQ(lines(two.log), lines(one.log));
    EXPECT_FALSE(lines(one.log).empty());
    if (kind == Kind::Plain) {
      EXPECT_NE(one.log.find("further ones only counted"), std::string::npos);
    }
  }
}

TEST(Twcs, RefusedBatchStopsTheImportBeforeTheBatchReadAhead) {
  testing::TempDir dir;
  TwcsHarness h(kQuirksSource);
  const auto file = dir.path() / "rows.csv";
  writeRows(file, 3 * kBatchSize, false);
  h.sink.fail = true;
  auto r = h.import(file);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, "store");
  EXPECT_EQ(h.sink.calls, 1);  // the second batch, read meanwhile, is never offered
  EXPECT_EQ(h.health.errors(ErrorReason::Store), 1u);
}

TEST(Twcs, Settings) {
  std::vector<config::Problem> problems;
  validate(testing::makeSource("name: t\ntype: twcs\nbrand_acounts: {}\n"), problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].message.find("brand_acounts"), std::string::npos) << problems[0].message;
  problems.clear();
  validate(testing::makeSource("name: t\ntype: twcs\nbrand_accounts: [a, b]\n"), problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].message.find("must map brand authors"), std::string::npos);
  problems.clear();
  auto s = parseSettings(testing::makeSource("name: t\ntype: twcs\nbrand_accounts: {AppleSupport: apple}\n"),
                         problems);
  EXPECT_TRUE(problems.empty());
  EXPECT_EQ(s.brand_accounts.at("AppleSupport"), "apple");
}

}  // namespace
}  // namespace replywatch::connectors::twcs
