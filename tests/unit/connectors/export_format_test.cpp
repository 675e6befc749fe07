#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "connectors/export/export_connector.h"
#include "connectors/export/export_format.h"
#include "tests/unit/connectors/test_support.h"

namespace replywatch::connectors::exportfmt {
namespace {

using testing::at;
using testing::fixture;

struct Parsed {
  std::vector<Message> messages;
  std::vector<RecordProblem> problems;
  std::uint64_t records = 0;
  std::optional<Error> failure;  // set when the reader failed (only where a test allows it)
};

class ExportFormat : public ::testing::Test {
 protected:
  ManualClock clock_{at("2024-06-01T00:00:00Z")};
  MessageValidator validator_{1024, std::chrono::seconds{300}, clock_};

  Parsed parse(Input input, Format format, bool may_fail = false) {
    Parsed out;
    Reader reader(std::move(input), format, validator_);
    auto started = reader.start();
    EXPECT_TRUE(started.ok()) << started.error().message;
    if (!started) return out;
    Message m;
    for (;;) {
      auto status = reader.next(m);
      if (status == Reader::Status::End) break;
      if (status == Reader::Status::Failed) {
        EXPECT_TRUE(may_fail) << reader.failure().message;
        out.failure = reader.failure();
        break;
      }
      if (status == Reader::Status::Message) out.messages.push_back(m);
      if (status == Reader::Status::Rejected) out.problems.push_back(reader.problem());
    }
    out.records = reader.records();
    return out;
  }
  Parsed parseFile(const std::string& name, Format format, std::size_t chunk = 1 << 20) {
    auto input = Input::openFile(fixture(name), chunk);
    EXPECT_TRUE(input.ok());
    return parse(std::move(*input), format);
  }
  Parsed parseText(std::string_view text, Format format, bool may_fail = false) {
    return parse(Input::fromMemory(text), format, may_fail);
  }
  Error startError(std::string_view text, Format format) {
    Reader reader(Input::fromMemory(text), format, validator_);
    auto started = reader.start();
    EXPECT_FALSE(started.ok());
    return started ? Error{} : started.error();
  }
};

const Message& byId(const Parsed& p, const std::string& id) {
  static const Message kNone;
  for (const auto& m : p.messages) {
    if (m.id == id) return m;
  }
  ADD_FAILURE() << "no message " << id;
  return kNone;
}

std::vector<std::pair<std::uint64_t, ErrorReason>> summary(const Parsed& p) {
  std::vector<std::pair<std::uint64_t, ErrorReason>> out;
  for (const auto& r : p.problems) out.emplace_back(r.line, r.rejection.reason);
  return out;
}

TEST(ExportFormatNames, FormatsAndFields) {
  EXPECT_EQ(parseFormat("jsonl"), Format::Jsonl);
  EXPECT_EQ(parseFormat("CSV"), Format::Csv);
  EXPECT_FALSE(parseFormat("xml"));
  EXPECT_EQ(formatFromPath("/spool/a.jsonl"), Format::Jsonl);
  EXPECT_EQ(formatFromPath("b.NDJSON"), Format::Jsonl);
  EXPECT_EQ(formatFromPath("c.json"), Format::Jsonl);
  EXPECT_EQ(formatFromPath("d.csv"), Format::Csv);
  EXPECT_FALSE(formatFromPath("e.txt"));
  EXPECT_FALSE(formatFromPath("csv"));
  EXPECT_EQ(fieldByName("author_is_brand"), Field::AuthorIsBrand);
  EXPECT_FALSE(fieldByName("Author_Id"));
}

TEST(ExportFormatValues, Booleans) {
  for (auto t : {"true", "TRUE", "1", "yes", "Yes", " true "}) EXPECT_EQ(parseBool(t), true) << t;
  for (auto f : {"false", "0", "no", "NO", ""}) EXPECT_EQ(parseBool(f), false) << f;
  for (auto bad : {"2", "y", "vrai", "oui", "truee"}) EXPECT_FALSE(parseBool(bad)) << bad;
}

TEST(ExportFormatValues, CreatedAt) {
  EXPECT_EQ(parseCreatedAt("2017-10-31T22:10:47Z"), at("2017-10-31T22:10:47Z"));
  EXPECT_EQ(parseCreatedAt("2024-05-13T09:12:00+02:00"), at("2024-05-13T07:12:00Z"));
  EXPECT_EQ(parseCreatedAt("2024-05-13T09:12:00.5-04:00"), at("2024-05-13T13:12:00.500Z"));
  EXPECT_EQ(parseCreatedAt("1509487847"), at("2017-10-31T22:10:47Z"));
  EXPECT_EQ(parseCreatedAt("1509487847000"), at("2017-10-31T22:10:47Z"));
  EXPECT_EQ(parseCreatedAt("1509487847.25"), at("2017-10-31T22:10:47.250Z"));
  EXPECT_EQ(parseCreatedAt(" 1509487847 "), at("2017-10-31T22:10:47Z"));
  EXPECT_EQ(toMillis(*parseCreatedAt("100000000000")), 100000000000LL * 1000);  // not above 1e11: seconds
  EXPECT_EQ(toMillis(*parseCreatedAt("100000000001")), 100000000001LL);         // above: milliseconds
  for (auto bad : {"", "2024-05-13T09:12:00", "2024-05-13", "13/05/2024 10:00", "-5", "12abc", "1.", "1e9",
                   "99999999999999999999999"}) {
    EXPECT_FALSE(parseCreatedAt(bad)) << bad;
  }
}

TEST_F(ExportFormat, JsonlFixture) {
  Parsed p = parseFile("sample.jsonl", Format::Jsonl);
  EXPECT_EQ(p.records, 18u);
  ASSERT_EQ(p.messages.size(), 12u);
  using R = ErrorReason;
  std::vector<std::pair<std::uint64_t, ErrorReason>> expected = {
      {7, R::ParseError},        {8, R::MissingField},     {12, R::InvalidUtf8},
      {13, R::InvalidTimestamp}, {16, R::FutureTimestamp}, {17, R::FieldTooLong}};
  EXPECT_EQ(summary(p), expected);

  const Message* q = &byId(p, "1001");
  EXPECT_EQ(q->conversation_id, "1001");
  EXPECT_EQ(q->author_id, "u-marie");
  EXPECT_EQ(q->author_name, "Marie D.");
  EXPECT_FALSE(q->author_is_brand);
  EXPECT_EQ(q->created_at, at("2024-05-13T07:12:00Z"));
  EXPECT_EQ(q->text, "Bonjour, ma commande #4521 n'est toujours pas arrivée, que faire ?");

  const Message* a = &byId(p, "1002");
  EXPECT_TRUE(a->author_is_brand);
  EXPECT_EQ(a->in_reply_to, "1001");
  EXPECT_EQ(a->author_name, "Maison Lumière");
  EXPECT_NE(a->text.find("-AB"), std::string::npos);

  // conversation_id defaults: the message itself, or the message it replies to.
  EXPECT_EQ(byId(p, "1003").conversation_id, "1003");
  EXPECT_EQ(byId(p, "1004").conversation_id, "1003");
  EXPECT_TRUE(byId(p, "1004").author_is_brand);
  // Epoch seconds, epoch milliseconds, fractional seconds, negative offsets.
  EXPECT_EQ(byId(p, "1005").created_at, fromMillis(1715594400000));
  EXPECT_EQ(byId(p, "1006").created_at, fromMillis(1715594700000));
  EXPECT_EQ(byId(p, "1006").text, "Et quel est le délai ? 🙂");
  EXPECT_TRUE(byId(p, "1007").author_is_brand);  // "yes"
  EXPECT_EQ(byId(p, "1008").created_at, at("2024-05-14T19:47:10.250Z"));
  EXPECT_EQ(byId(p, "1012").created_at, at("2024-05-16T18:00:00Z"));
}

TEST_F(ExportFormat, CsvFixture) {
  Parsed p = parseFile("sample.csv", Format::Csv);
  EXPECT_EQ(p.records, 15u);
  ASSERT_EQ(p.messages.size(), 8u);
  using R = ErrorReason;
  std::vector<std::pair<std::uint64_t, ErrorReason>> expected = {
      {6, R::ParseError},       {7, R::MissingField},  {10, R::InvalidUtf8}, {11, R::InvalidTimestamp},
      {15, R::FutureTimestamp}, {16, R::FieldTooLong}, {17, R::ParseError}};
  EXPECT_EQ(summary(p), expected);

  const Message* first = &byId(p, "2001");
  EXPECT_EQ(first->text, "Bonjour, \"Orion\" est-il compatible LED ?");  // doubled quotes, comma
  EXPECT_EQ(first->created_at, at("2024-05-20T07:00:00Z"));
  EXPECT_EQ(first->author_id, "u-claire");  // the BOM did not stick to the first column

  const Message* multi = &byId(p, "2003");
  EXPECT_EQ(multi->text, "Hello, where is my refund?\nOrder 7781, returned two weeks ago.");
  EXPECT_EQ(multi->conversation_id, "2003");
  EXPECT_EQ(multi->created_at, fromMillis(1716199200000));
  EXPECT_EQ(byId(p, "2004").conversation_id, "2003");
  EXPECT_TRUE(byId(p, "2004").author_is_brand);
  EXPECT_EQ(byId(p, "2004").text, "Hi James, your refund was issued today, sorry for the delay. ^JK");
  EXPECT_FALSE(byId(p, "2005").author_is_brand);
  EXPECT_EQ(byId(p, "2006").text, "Mon abat-jour est arrivé cassé 😞");
  EXPECT_EQ(byId(p, "2008").conversation_id, "2006");
  EXPECT_EQ(byId(p, "2008").in_reply_to, "2007");
  EXPECT_EQ(byId(p, "2008").author_name, "Maison Lumière");
}

// Reading in tiny chunks exercises every "record continues in the next chunk" path:
// the result must not depend on where the chunks end.
TEST_F(ExportFormat, ChunkBoundariesDoNotMatter) {
  for (const auto& [name, format] :
       {std::pair{"sample.csv", Format::Csv}, std::pair{"sample.jsonl", Format::Jsonl}}) {
    Parsed whole = parseFile(name, format);
    for (std::size_t chunk : {1u, 2u, 3u, 7u, 64u, 4096u}) {
      Parsed pieces = parseFile(name, format, chunk);
      ASSERT_EQ(pieces.messages.size(), whole.messages.size()) << name << " chunk " << chunk;
      for (std::size_t i = 0; i < whole.messages.size(); ++i) {
        EXPECT_EQ(pieces.messages[i].id, whole.messages[i].id);
        EXPECT_EQ(pieces.messages[i].text, whole.messages[i].text);
        EXPECT_EQ(pieces.messages[i].created_at, whole.messages[i].created_at);
      }
      EXPECT_EQ(summary(pieces), summary(whole)) << name << " chunk " << chunk;
    }
    // The same bytes from memory.
    std::string bytes = testing::readAll(fixture(name));
    Parsed memory = parseText(bytes, format);
    EXPECT_EQ(memory.messages.size(), whole.messages.size());
    EXPECT_EQ(summary(memory), summary(whole));
  }
}

TEST_F(ExportFormat, CsvHeaderProblemsRejectTheFile) {
  EXPECT_EQ(startError("", Format::Csv).reason, "bad_file");
  EXPECT_EQ(startError("\n\n", Format::Csv).reason, "bad_file");
  Error missing = startError("id,created_at,text\n1,2024-05-01T00:00:00Z,hi\n", Format::Csv);
  EXPECT_EQ(missing.reason, "bad_file");
  EXPECT_NE(missing.message.find("author_id"), std::string::npos);
  Error twice = startError("id,author_id,created_at,id\n", Format::Csv);
  EXPECT_NE(twice.message.find("twice"), std::string::npos);
  EXPECT_EQ(startError("\"id,author_id,created_at\n", Format::Csv).reason, "bad_file");
}

TEST_F(ExportFormat, CsvDetails) {
  // Header names are trimmed and case-insensitive; LF and CRLF mixed; no final newline;
  // an empty quoted field; a lone quote inside an unquoted field is kept.
  Parsed p = parseText(
      " ID ,Author_Id,created_at,text\r\n"
      "a,u1,2024-05-01T10:00:00Z,\"\"\n"
      "b,u2,2024-05-01T10:00:00Z,5\" screen\r\n"
      "c,u3,2024-05-01T10:00:00Z,\"multi\r\nline, \"\"quoted\"\"\"",
      Format::Csv);
  ASSERT_EQ(p.messages.size(), 3u);
  EXPECT_TRUE(p.problems.empty());
  EXPECT_EQ(p.messages[0].text, "");
  EXPECT_EQ(p.messages[1].text, "5\" screen");
  EXPECT_EQ(p.messages[2].text, "multi\r\nline, \"quoted\"");

  // Several unescaped fields in one row, short enough for the small-string buffer.
  Parsed escaped = parseText(
      "id,author_id,author_name,text,created_at\n"
      "\"a\"\"1\",\"u\"\"2\",\"n\"\"3\",\"t\"\"4\",2024-05-01T10:00:00Z\n",
      Format::Csv);
  ASSERT_EQ(escaped.messages.size(), 1u);
  EXPECT_EQ(escaped.messages[0].id, "a\"1");
  EXPECT_EQ(escaped.messages[0].author_id, "u\"2");
  EXPECT_EQ(escaped.messages[0].author_name, "n\"3");
  EXPECT_EQ(escaped.messages[0].text, "t\"4");

  // Nothing after an unterminated quote can be read: the reader fails rather than
  // dropping the rest of the input as part of one refused record.
  Parsed unterminated = parseText(
      "id,author_id,created_at,text\na,u,2024-05-01T10:00:00Z,ok\nx,u,2024-05-01T10:00:00Z,\"open\n"
      "y,u,2024-05-01T10:01:00Z,lost\n",
      Format::Csv, /*may_fail=*/true);
  ASSERT_EQ(unterminated.messages.size(), 1u);
  EXPECT_EQ(unterminated.messages[0].id, "a");
  EXPECT_TRUE(unterminated.problems.empty());
  ASSERT_TRUE(unterminated.failure.has_value());
  EXPECT_EQ(unterminated.failure->reason, kUnreadableReason);
  EXPECT_EQ(unterminated.failure->message,
            "line 3: unterminated quoted field (nothing after it can be read)");
}

// A CSV written with ", " between values: every field but text is read without its
// surrounding whitespace, so " " is an empty conversation_id (defaulted as one) and
// " 5002" matches the id 5002. A line of spaces and tabs is a blank line.
TEST_F(ExportFormat, CsvValuesAreTrimmed) {
  Parsed p = parseText(
      "created_at, id, conversation_id, in_reply_to, author_id, author_name, author_is_brand, text\n"
      "2024-05-20T10:00:00Z, 5001, , , u2, Claire ,false, where is my order? \n"
      "  \t \n"
      "2024-05-20T11:00:00Z, 5002,\t, , u3, , false, do you ship to Belgium?\n"
      " \n"
      " 2024-05-20T11:05:00Z , 5003 ,\" 5002\", 5002 , acme_fr ,\"\", true , yes -AB\n"
      "2024-05-20T11:06:00Z,\" \", , , u4, , false, no id\n"
      "2024-05-20T11:07:00Z, 5004, , , \t, , false, no author\n",
      Format::Csv);
  ASSERT_EQ(p.messages.size(), 3u);
  EXPECT_EQ(p.records, 5u);  // the blank lines are no records
  EXPECT_EQ(summary(p), (std::vector<std::pair<std::uint64_t, ErrorReason>>{{7, ErrorReason::MissingField},
                                                                            {8, ErrorReason::MissingField}}));
  const Message& q1 = byId(p, "5001");
  EXPECT_EQ(q1.conversation_id, "5001");
  EXPECT_EQ(q1.in_reply_to, "");
  EXPECT_EQ(q1.author_id, "u2");
  EXPECT_EQ(q1.author_name, "Claire");
  EXPECT_EQ(q1.text, " where is my order? ");  // text is kept as written
  const Message& q2 = byId(p, "5002");
  EXPECT_EQ(q2.conversation_id, "5002");
  EXPECT_EQ(q2.author_id, "u3");
  const Message& a = byId(p, "5003");
  EXPECT_EQ(a.conversation_id, "5002");
  EXPECT_EQ(a.in_reply_to, "5002");
  EXPECT_EQ(a.author_id, "acme_fr");
  EXPECT_TRUE(a.author_is_brand);
  EXPECT_EQ(a.created_at, at("2024-05-20T11:05:00Z"));

  // The same rule in JSON: the format does not change a message's identity.
  Parsed j =
      parseText(R"({"id": " 6001 ", "conversation_id": " ", "in_reply_to": " 6000", "author_id": "u1\t", )"
                R"("created_at": "2024-05-20T10:00:00Z", "text": " hi "})"
                "\n",
                Format::Jsonl);
  ASSERT_EQ(j.messages.size(), 1u);
  EXPECT_EQ(j.messages[0].id, "6001");
  EXPECT_EQ(j.messages[0].conversation_id, "6000");
  EXPECT_EQ(j.messages[0].in_reply_to, "6000");
  EXPECT_EQ(j.messages[0].author_id, "u1");
  EXPECT_EQ(j.messages[0].text, " hi ");
}

// Classic Mac OS line ends: a lone CR ends a line, in line numbers as in records (a
// stray character after a closing quote skips to the next CR, not to the end of file).
TEST_F(ExportFormat, CsvLineNumbersCountLoneCarriageReturns) {
  Parsed p = parseText(
      "id,author_id,created_at,text\r"
      "c1,u1,2024-05-01T10:00:00Z,hi\r"
      "c2,,2024-05-01T10:00:00Z,hi\r"
      "\r"
      "c3,,2024-05-01T10:00:00Z,\"two\rlines\"\r"
      "c4,u4,2024-05-01T10:00:00Z,\"closed\"x\r"
      "c5,,2024-05-01T10:00:00Z,hi\r\n"
      "c6,u6,2024-05-01T10:00:00Z,\"mixed\r\nends\r\"\n"  // lines 9 to 11
      "c7,,2024-05-01T10:00:00Z,hi\r",
      Format::Csv);
  EXPECT_EQ(summary(p),
            (std::vector<std::pair<std::uint64_t, ErrorReason>>{{3, ErrorReason::MissingField},
                                                                {5, ErrorReason::MissingField},
                                                                {7, ErrorReason::ParseError},
                                                                {8, ErrorReason::MissingField},
                                                                {12, ErrorReason::MissingField}}));
  ASSERT_EQ(p.messages.size(), 2u);
  EXPECT_EQ(p.messages[0].id, "c1");
  EXPECT_EQ(p.messages[1].id, "c6");
  EXPECT_EQ(p.messages[1].text, "mixed\r\nends\r");
  EXPECT_EQ(p.records, 7u);

  // A CR at the end of a read window waits for the next byte (files are read 4 KiB at a
  // time at least): the skipped line ends at that CR, or at the CRLF it begins.
  testing::TempDir dir;
  const std::string header = "id,author_id,created_at,text\r";
  for (const char* after_cr : {"", "\n"}) {
    for (std::size_t shift = 0; shift < 4; ++shift) {
      // Row 2 ends (its CR) at byte 4095 - shift.
      const std::string head = header + "c1,u1,2024-05-01T10:00:00Z,\"a\"x";
      const std::string text = head + std::string(4095 - shift - head.size(), 'y') + "\r" + after_cr +
                               "c2,,2024-05-01T10:00:00Z,hi\rc3,u3,2024-05-01T10:00:00Z,hi\r";
      testing::writeAll(dir.path() / "cr.csv", text);
      auto input = Input::openFile(dir.path() / "cr.csv", 4096);
      ASSERT_TRUE(input.ok());
      Parsed q = parse(std::move(*input), Format::Csv);
      EXPECT_EQ(summary(q), (std::vector<std::pair<std::uint64_t, ErrorReason>>{
                                {2, ErrorReason::ParseError}, {3, ErrorReason::MissingField}}))
          << shift;
      ASSERT_EQ(q.messages.size(), 1u) << shift;
      EXPECT_EQ(q.messages[0].id, "c3");
    }
  }

  // A record too long to keep is skipped to the next line, a lone CR too.
  const std::string huge = header + "c1,u1,2024-05-01T10:00:00Z," + std::string(5u << 20, 'z') +
                           "\rc2,,2024-05-01T10:00:00Z,hi\rc3,u3,2024-05-01T10:00:00Z,hi\r";
  Parsed big = parseText(huge, Format::Csv);
  EXPECT_EQ(summary(big), (std::vector<std::pair<std::uint64_t, ErrorReason>>{
                              {2, ErrorReason::FieldTooLong}, {3, ErrorReason::MissingField}}));
  ASSERT_EQ(big.messages.size(), 1u);
  EXPECT_EQ(big.messages[0].id, "c3");
}

TEST_F(ExportFormat, JsonDetails) {
  Parsed p = parseText(
      R"({"id": 123456789012345678, "author_id": "u\u00e9", "created_at": 1715594400, "text": "a\nb \ud83d\ude42 \"q\" \/"})"
      "\r\n"
      R"(  {"id":"x","author_id":"u","created_at":"2024-05-01T10:00:00Z","author_is_brand":true,"nested":{"a":[1,2,{"b":null}]},"author_name":null}  )"
      "\n",
      Format::Jsonl);
  ASSERT_EQ(p.messages.size(), 2u) << (p.problems.empty() ? "" : p.problems[0].rejection.message);
  EXPECT_EQ(p.messages[0].id, "123456789012345678");
  EXPECT_EQ(p.messages[0].author_id, "ué");
  EXPECT_EQ(p.messages[0].text, "a\nb 🙂 \"q\" /");
  EXPECT_TRUE(p.messages[1].author_is_brand);
  EXPECT_EQ(p.messages[1].author_name, "");

  Parsed bad = parseText(
      "42\n"
      "{\"id\":\"a\",\"author_id\":\"u\",\"created_at\":\"2024-05-01T10:00:00Z\"} trailing\n"
      "{\"id\":\"a\",\"author_id\":\"u\",\"created_at\":\"2024-05-01T10:00:00Z\",\"text\":\"\\ud800\"}\n"
      "{\"id\":[\"a\"],\"author_id\":\"u\",\"created_at\":\"2024-05-01T10:00:00Z\"}\n"
      "{\"id\":\"a\",\"author_id\":\"u\",\"created_at\":\"2024-05-01T10:00:00Z\",\"author_is_brand\":"
      "\"maybe\"}\n"
      "{\"id\":\"a\",\"author_id\":\"u\",\"created_at\":\"2024-05-01T10:00:00Z\",}\n"
      "{\"id\":\"ok\",\"author_id\":\"u\",\"created_at\":\"2024-05-01T10:00:00Z\"}",
      Format::Jsonl);
  ASSERT_EQ(bad.messages.size(), 1u);
  EXPECT_EQ(bad.messages[0].id, "ok");
  ASSERT_EQ(bad.problems.size(), 6u);
  for (std::size_t i = 0; i < bad.problems.size(); ++i) {
    EXPECT_EQ(bad.problems[i].line, i + 1);
    EXPECT_EQ(bad.problems[i].rejection.reason, ErrorReason::ParseError) << bad.problems[i].rejection.message;
  }
}

TEST_F(ExportFormat, JsonArray) {
  Parsed p = parseText(
      "\xEF\xBB\xBF\n  [\n"
      "  {\"id\":\"a\",\"author_id\":\"u\",\"created_at\":\"2024-05-01T10:00:00Z\"},\n"
      "  {\"id\":\"b\",\"created_at\":\"2024-05-01T10:00:00Z\"},\n"
      "  \"not an object\",\n"
      "  {\"id\":\"c\",\"author_id\":\"u\",\"in_reply_to\":\"a\",\"created_at\":\"2024-05-01T10:01:00Z\"}\n"
      "]\n",
      Format::Jsonl);
  ASSERT_EQ(p.messages.size(), 2u);
  EXPECT_EQ(p.messages[1].conversation_id, "a");
  ASSERT_EQ(p.problems.size(), 2u);
  EXPECT_EQ(p.problems[0].line, 4u);
  EXPECT_EQ(p.problems[0].rejection.reason, ErrorReason::MissingField);
  EXPECT_EQ(p.problems[1].line, 5u);

  Parsed broken = parseText("[{\"id\":\"a\",\"author_id\":\"u\",\"created_at\":\"2024-05-01T10:00:00Z\"}",
                            Format::Jsonl, /*may_fail=*/true);
  EXPECT_EQ(broken.messages.size(), 1u);
  EXPECT_TRUE(broken.problems.empty());
  ASSERT_TRUE(broken.failure.has_value());
  EXPECT_EQ(broken.failure->message, "line 1: unterminated JSON array (nothing after it can be read)");

  Parsed garbled = parseText(
      "[{\"id\":\"a\",\"author_id\":\"u\",\"created_at\":\"2024-05-01T10:00:00Z\"}\n x\n"
      "{\"id\":\"b\",\"author_id\":\"u\",\"created_at\":\"2024-05-01T10:00:00Z\"}]",
      Format::Jsonl, /*may_fail=*/true);
  EXPECT_EQ(garbled.messages.size(), 1u);
  ASSERT_TRUE(garbled.failure.has_value());
  EXPECT_EQ(garbled.failure->reason, kUnreadableReason);
  EXPECT_EQ(
      garbled.failure->message,
      "line 2: invalid JSON: expected ',' or ']' between array elements (nothing after it can be read)");
}

TEST_F(ExportFormat, OversizedLineIsSkipped) {
  testing::TempDir dir;
  std::string big =
      "{\"id\":\"big\",\"author_id\":\"u\",\"created_at\":\"2024-05-01T10:00:00Z\",\"text\":\"" +
      std::string(5u << 20, 'x') + "\"}\n";
  testing::writeAll(dir.path() / "big.jsonl",
                    big + "{\"id\":\"small\",\"author_id\":\"u\",\"created_at\":\"2024-05-01T10:00:00Z\"}\n");
  auto input = Input::openFile(dir.path() / "big.jsonl", 1 << 16);
  ASSERT_TRUE(input.ok());
  Parsed p = parse(std::move(*input), Format::Jsonl);
  ASSERT_EQ(p.messages.size(), 1u);
  EXPECT_EQ(p.messages[0].id, "small");
  ASSERT_EQ(p.problems.size(), 1u);
  EXPECT_EQ(p.problems[0].rejection.reason, ErrorReason::FieldTooLong);
}

TEST_F(ExportFormat, MissingFileIsAnIoError) {
  auto input = Input::openFile("/nonexistent/replywatch/feed.jsonl");
  ASSERT_FALSE(input.ok());
  EXPECT_EQ(input.error().reason, "io");
}

TEST_F(ExportFormat, ARangeIsReadAtOnce) {
  testing::TempDir dir;
  const auto file = dir.path() / "range.csv";
  std::string text;
  for (int i = 0; i < 20000; ++i) text += std::to_string(i) + ",";
  { std::ofstream(file, std::ios::binary) << text; }
  auto whole = Input::readRange(file, 0, std::nullopt);
  ASSERT_TRUE(whole.ok()) << whole.error().message;
  EXPECT_EQ(std::string_view(whole->data(), whole->size()), text);
  EXPECT_TRUE(whole->eof());
  EXPECT_EQ(whole->consumed(), 0u);
  // From an offset, a length: counted from the file's start; nothing more comes.
  auto part = Input::readRange(file, 1000, 70000);
  ASSERT_TRUE(part.ok()) << part.error().message;
  const char* data = part->data();
  EXPECT_EQ(std::string_view(data, part->size()), text.substr(1000, 70000));
  EXPECT_EQ(part->consumed(), 1000u);
  auto more = part->fill();
  EXPECT_TRUE(!more.ok() || !*more);
  EXPECT_EQ(part->data(), data);
  // Moved, the bytes stay where they were.
  Input moved = std::move(*part);
  EXPECT_EQ(moved.data(), data);
  // To the end, and past it: what the file has.
  auto tail = Input::readRange(file, text.size() - 10, std::nullopt);
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(std::string_view(tail->data(), tail->size()), text.substr(text.size() - 10));
  auto past = Input::readRange(file, text.size() - 10, 100);
  ASSERT_TRUE(past.ok());
  EXPECT_EQ(std::string_view(past->data(), past->size()), text.substr(text.size() - 10));
  auto beyond = Input::readRange(file, text.size() + 5, std::nullopt);
  ASSERT_TRUE(beyond.ok());
  EXPECT_EQ(beyond->size(), 0u);
  auto missing = Input::readRange(dir.path() / "missing.csv", 0, std::nullopt);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().reason, "io");
}

TEST(ExportImport, ImportFileFeedsTheSinkAndHealth) {
  testing::Harness h("name: acme-files\ntype: export\naccount: acme\nchannel: export\n");
  std::vector<std::uint64_t> progress;
  auto stats = h.connector->importFile(fixture("sample.jsonl"), [&](std::uint64_t done, std::uint64_t total) {
    progress.push_back(done);
    EXPECT_LE(done, total);
  });
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(stats->records, 18u);
  EXPECT_EQ(stats->rejected, 6u);
  EXPECT_EQ(stats->stored, 12u);
  EXPECT_EQ(h.sink.stored.size(), 12u);
  EXPECT_EQ(h.sink.last_source, "acme-files");
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back(), std::filesystem::file_size(fixture("sample.jsonl")));
  EXPECT_EQ(h.health.errors(ErrorReason::ParseError), 1u);
  EXPECT_EQ(h.health.errors(ErrorReason::MissingField), 1u);
  EXPECT_EQ(h.health.errors(ErrorReason::InvalidUtf8), 1u);
  EXPECT_EQ(h.health.errors(ErrorReason::InvalidTimestamp), 1u);
  EXPECT_EQ(h.health.errors(ErrorReason::FutureTimestamp), 1u);
  EXPECT_EQ(h.health.errors(ErrorReason::FieldTooLong), 1u);
  EXPECT_EQ(h.health.events(), 12u);
  EXPECT_TRUE(h.health.lastSuccess().has_value());

  // Importing again is harmless: everything is a duplicate.
  auto again = h.connector->importFile(fixture("sample.csv"), {});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->stored, 8u);
  auto twice = h.connector->importFile(fixture("sample.csv"), {});
  ASSERT_TRUE(twice.ok());
  EXPECT_EQ(twice->stored, 0u);
  EXPECT_EQ(twice->duplicates, 8u);
}

TEST(ExportImport, FormatSettingAndSniffing) {
  testing::TempDir dir;
  testing::writeAll(dir.path() / "feed.txt", testing::readAll(fixture("sample.csv")));
  testing::Harness sniff("type: export\n");
  auto sniffed = sniff.connector->importFile(dir.path() / "feed.txt", {});
  ASSERT_TRUE(sniffed.ok()) << sniffed.error().message;
  EXPECT_EQ(sniffed->stored, 8u);

  testing::Harness forced("type: export\nformat: jsonl\n");
  auto wrong = forced.connector->importFile(fixture("sample.csv"), {});
  ASSERT_TRUE(wrong.ok());  // every line is a parse error, but the file as a whole is readable
  EXPECT_EQ(wrong->stored, 0u);
  EXPECT_EQ(wrong->rejected, 17u);

  testing::Harness csv("type: export\nformat: csv\n");
  auto bad = csv.connector->importFile(fixture("sample.jsonl"), {});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().reason, "bad_file");
  EXPECT_EQ(csv.health.errors(ErrorReason::BadFile), 1u);
}

TEST(ExportImport, StoreFailureIsReported) {
  testing::Harness h("type: export\n");
  h.sink.fail = true;
  auto stats = h.connector->importFile(fixture("sample.jsonl"), {});
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.error().reason, "store");
  EXPECT_EQ(h.health.errors(ErrorReason::Store), 1u);
}

}  // namespace
}  // namespace replywatch::connectors::exportfmt

namespace replywatch::connectors::exportfmt {
namespace {

TEST(ExportSampleFeed, BundledDemoFeedImportsCleanly) {
  testing::Harness h("name: acme-demo\ntype: export\naccount: acme\n");
  auto stats = h.connector->importFile(
      std::filesystem::path(REPLYWATCH_SOURCE_DIR) / "config/sample/acme-export.jsonl", {});
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(stats->rejected, 0u);
  EXPECT_GE(stats->stored, 150u);
  std::size_t agency = 0, internal = 0;
  for (const auto& m : h.sink.stored) {
    if (!m.author_is_brand) continue;
    agency += m.text.ends_with("-AB");
    internal += m.text.ends_with("^JK");
  }
  EXPECT_GT(agency, 0u);
  EXPECT_GT(internal, 0u);
}

}  // namespace
}  // namespace replywatch::connectors::exportfmt
