#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

#include "daemon/core/log.h"

namespace replywatch {
namespace {

std::string formatted(std::string_view format, std::string_view payload,
                      spdlog::level::level_enum level = spdlog::level::info) {
  auto formatter = makeLogFormatter(format);
  spdlog::details::log_msg msg(spdlog::source_loc{}, "test", level, payload);
  spdlog::memory_buf_t buf;
  formatter->format(msg, buf);
  return {buf.data(), buf.size()};
}

nlohmann::json jsonLine(std::string_view payload) {
  std::string line = formatted("json", payload);
  EXPECT_EQ(line.back(), '\n');
  return nlohmann::json::parse(line);
}

TEST(SplitLogMessage, TextThenPairsWithQuotedValuesUnescaped) {
  std::string payload = "store opened path=" + logValue("/var/lib/a b/\"x\".db") + " schema_version=5";
  auto split = splitLogMessage(payload);
  ASSERT_TRUE(split);
  EXPECT_EQ(split->text, "store opened");
  ASSERT_EQ(split->fields.size(), 2U);
  EXPECT_EQ(split->fields[0].first, "path");
  EXPECT_EQ(split->fields[0].second, "/var/lib/a b/\"x\".db");
  EXPECT_EQ(split->fields[1].first, "schema_version");
  EXPECT_EQ(split->fields[1].second, "5");
}

TEST(SplitLogMessage, ANewlineAndABackslashComeBack) {
  std::string value = "line one\nC:\\dir \"q\"";
  auto split = splitLogMessage("failed error=" + logValue(value));
  ASSERT_TRUE(split);
  ASSERT_EQ(split->fields.size(), 1U);
  EXPECT_EQ(split->fields[0].second, value);
}

// Control bytes from remote text (a CR that would rewrite the line on a terminal, an ANSI
// escape, NUL) are escaped in logfmt and come back whole in JSON.
TEST(SplitLogMessage, ControlBytesAreEscapedAndComeBack) {
  const std::string value = std::string("a\rb\tc\x1b[31md") + '\0' + "\x7f\\x41";
  const std::string written = logValue(value);
  EXPECT_EQ(written, "\"a\\rb\\tc\\x1b[31md\\x00\\x7f\\\\x41\"");
  for (char c : written) EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20 || c == '\x7f') << int(c);
  auto split = splitLogMessage("failed error=" + written);
  ASSERT_TRUE(split);
  ASSERT_EQ(split->fields.size(), 1U);
  EXPECT_EQ(split->fields[0].second, value);
  EXPECT_EQ(logValue("plain\x01"), "\"plain\\x01\"");  // quoted although it has no space
}

TEST(SplitLogMessage, AMessageWithoutPairsIsAllText) {
  auto split = splitLogMessage("shutting down now");
  ASSERT_TRUE(split);
  EXPECT_EQ(split->text, "shutting down now");
  EXPECT_TRUE(split->fields.empty());
}

TEST(SplitLogMessage, AnEmptyQuotedValueIsAField) {
  auto split = splitLogMessage("x key=\"\" other=1");
  ASSERT_TRUE(split);
  ASSERT_EQ(split->fields.size(), 2U);
  EXPECT_EQ(split->fields[0].second, "");
  EXPECT_EQ(split->fields[1].second, "1");
}

TEST(SplitLogMessage, PairsThatAreNotLogfmtGiveNothing) {
  EXPECT_FALSE(splitLogMessage("x error=cannot open file"));  // a value with spaces, unquoted
  EXPECT_FALSE(splitLogMessage("x error=\"unclosed"));
  EXPECT_FALSE(splitLogMessage("x a=\"b\"c"));  // text glued to a closing quote
}

TEST(LogFormat, JsonPutsEachPairInAKeyOfItsOwn) {
  auto j = jsonLine("imported file=" + logValue("/tmp/my file.csv") + " stored=12 rejected=0");
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["msg"], "imported");
  EXPECT_EQ(j["file"], "/tmp/my file.csv");
  EXPECT_EQ(j["stored"], "12");
  EXPECT_EQ(j["rejected"], "0");
  EXPECT_TRUE(j["ts"].is_string());
}

TEST(LogFormat, JsonKeysComeInTheOrderWritten) {
  std::string line = formatted("json", "m b=1 a=2", spdlog::level::warn);
  EXPECT_LT(line.find("\"ts\""), line.find("\"level\""));
  EXPECT_LT(line.find("\"level\""), line.find("\"msg\""));
  EXPECT_LT(line.find("\"msg\""), line.find("\"b\""));
  EXPECT_LT(line.find("\"b\""), line.find("\"a\""));
  EXPECT_NE(line.find("\"level\":\"warn\""), std::string::npos);
}

TEST(LogFormat, JsonKeepsAMessageItCannotSplitWhole) {
  auto j = jsonLine("x error=cannot open file");
  EXPECT_EQ(j["msg"], "x error=cannot open file");
  EXPECT_FALSE(j.contains("error"));
}

TEST(LogFormat, JsonPairsNeverHideTheLinesOwnKeys) {
  auto j = jsonLine("x msg=inner level=debug ts=0");
  EXPECT_EQ(j["msg"], "x");
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["field_msg"], "inner");
  EXPECT_EQ(j["field_level"], "debug");
  EXPECT_EQ(j["field_ts"], "0");
}

TEST(LogFormat, JsonTurnsBytesThatAreNotUtf8IntoReplacementCharacters) {
  auto j = jsonLine("x name=\xff\xfe");
  EXPECT_EQ(j["name"], "\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(LogFormat, LogfmtQuotesTheTextAndKeepsThePairs) {
  std::string line = formatted("logfmt", "store opened path=/x schema_version=5");
  EXPECT_EQ(line.rfind("ts=", 0), 0U);
  EXPECT_EQ(line.substr(line.find(" level=") + 1),
            "level=info msg=\"store opened\" path=/x schema_version=5\n");
}

TEST(LogFormat, AnUnknownFormatIsAConfigurationError) {
  EXPECT_THROW(makeLogFormatter("yaml"), std::invalid_argument);
}

}  // namespace
}  // namespace replywatch
