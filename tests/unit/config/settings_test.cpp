// The setting readers shared with connectors: ${ENV} expansion, secrets, durations,
// sizes, time ranges and key checks.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "daemon/config/config.h"
#include "daemon/core/timestamp.h"
#include "tests/unit/config/test_support.h"

namespace replywatch::config {
namespace {

using testing::ExportSeen;
using testing::fakeTypes;
using ::testing::HasSubstr;
using testing::problemsOf;
using testing::ScopedEnv;
using testing::TempDir;
using testing::yaml;

TEST(ExpandEnv, ReplacesVariables) {
  ScopedEnv a("RW_TEST_A", "alpha");
  ScopedEnv b("RW_TEST_B", "");
  std::vector<std::string> missing;
  EXPECT_EQ(expandEnv("x-${RW_TEST_A}-${RW_TEST_B}-y", missing), "x-alpha--y");
  EXPECT_EQ(expandEnv("${RW_TEST_A}${RW_TEST_A}", missing), "alphaalpha");
  EXPECT_TRUE(missing.empty());
}

TEST(ExpandEnv, LeavesOtherDollarsAlone) {
  std::vector<std::string> missing;
  EXPECT_EQ(expandEnv("(?m)^-?AB$", missing), "(?m)^-?AB$");
  EXPECT_EQ(expandEnv("$HOME ${ not a var} ${1X} ${", missing), "$HOME ${ not a var} ${1X} ${");
  EXPECT_EQ(expandEnv("$${RW_TEST_A}", missing), "${RW_TEST_A}");
  EXPECT_TRUE(missing.empty());
}

TEST(ExpandEnv, ReportsEachMissingVariableOnce) {
  std::vector<std::string> missing;
  EXPECT_EQ(expandEnv("${RW_TEST_UNSET_1}/${RW_TEST_UNSET_2}/${RW_TEST_UNSET_1}", missing), "//");
  EXPECT_EQ(missing, (std::vector<std::string>{"RW_TEST_UNSET_1", "RW_TEST_UNSET_2"}));
}

TEST(ExpandEnv, AppliesToConfigValues) {
  ScopedEnv port("RW_TEST_PORT", "9999");
  ScopedEnv tz("RW_TEST_TZ", "Europe/Paris");
  auto config = loadString(yaml(R"(
web: {listen_address: "127.0.0.1:${RW_TEST_PORT}"}
accounts:
  - name: acme
    timezone: ${RW_TEST_TZ}
)"),
                           "rw.yml", fakeTypes());
  EXPECT_EQ(config.web.listen_address, "127.0.0.1:9999");
  EXPECT_EQ(config.accounts[0].timezone, "Europe/Paris");
}

TEST(ExpandEnv, UnsetVariableIsReportedOnceWithItsLine) {
  auto problems = problemsOf(yaml(R"(
accounts:
  - name: acme
    timezone: ${RW_TEST_UNSET_TZ}
)"));
  ASSERT_EQ(problems.size(), 1u) << testing::describe(problems);
  EXPECT_EQ(problems[0].line, 3);
  EXPECT_EQ(problems[0].message, "environment variable RW_TEST_UNSET_TZ is not set");
}

constexpr const char* kSourceWithEnvToken = R"(
accounts: [{name: acme}]
sources:
  - name: api
    type: export
    account: acme
    channel: export
    url: https://exports.example.test/messages
    token: "${RW_TEST_TOKEN}"
)";

TEST(Secrets, FromEnvironment) {
  ScopedEnv token("RW_TEST_TOKEN", "s3cr3t-from-env");
  auto seen = std::make_shared<ExportSeen>();
  (void)loadString(yaml(kSourceWithEnvToken), "rw.yml", fakeTypes(seen));
  EXPECT_EQ(seen->token.reveal(), "s3cr3t-from-env");
  EXPECT_EQ(fmt::format("{}", seen->token), "<redacted>");
}

TEST(Secrets, LiteralValue) {
  YAML::Node map = YAML::Load("token: plain-literal\n");
  std::vector<Problem> problems;
  EXPECT_EQ(readSecret(map, "token", "f.yml", "/tmp", problems).reveal(), "plain-literal");
  EXPECT_TRUE(problems.empty());
  EXPECT_TRUE(readSecret(map, "other", "f.yml", "/tmp", problems).empty());
  EXPECT_TRUE(problems.empty());
}

TEST(Secrets, FromFileRelativeToTheConfig) {
  TempDir dir;
  dir.write("token.txt", "s3cr3t-from-file\n");
  auto file = dir.write("rw.yml", yaml(R"(
accounts: [{name: acme}]
sources:
  - name: api
    type: export
    account: acme
    channel: export
    token_file: token.txt
)"));
  auto seen = std::make_shared<ExportSeen>();
  (void)load(file, fakeTypes(seen));
  EXPECT_EQ(seen->token.reveal(), "s3cr3t-from-file");

  YAML::Node crlf = YAML::Load("token_file: crlf.txt\n");
  dir.write("crlf.txt", "abc\r\n");
  std::vector<Problem> problems;
  EXPECT_EQ(readSecret(crlf, "token", "f.yml", dir.path(), problems).reveal(), "abc");
  EXPECT_TRUE(problems.empty());
}

TEST(Secrets, UnreadableOrEmptyFileIsAProblem) {
  TempDir dir;
  dir.write("empty.txt", "\n");
  std::vector<Problem> problems;
  YAML::Node missing = YAML::Load("a: 1\ntoken_file: nope.txt\n");
  EXPECT_TRUE(readSecret(missing, "token", "f.yml", dir.path(), problems).empty());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].line, 2);
  EXPECT_THAT(problems[0].message, HasSubstr("cannot read \"token_file\""));
  EXPECT_THAT(problems[0].message, HasSubstr("nope.txt"));

  problems.clear();
  YAML::Node empty = YAML::Load("token_file: empty.txt\n");
  EXPECT_TRUE(readSecret(empty, "token", "f.yml", dir.path(), problems).empty());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0].message, HasSubstr("is empty"));
}

TEST(Secrets, NeverAppearInProblems) {
  const std::string env_secret = "s3cr3t-env-7f3a9";
  const std::string file_secret = "s3cr3t-file-c41d2";
  ScopedEnv token("RW_TEST_TOKEN", env_secret.c_str());
  TempDir dir;
  dir.write("token.txt", file_secret + "\n");
  auto file = dir.write("rw.yml", yaml(R"(
accounts:
  - name: acme
    threshold: ${RW_TEST_TOKEN}
    timezone: ${RW_TEST_TOKEN}
    brand_ids: [{id: "${RW_TEST_TOKEN}"}]
handlers:
  - name: h
    route: ${RW_TEST_TOKEN}
    match: {text: "${RW_TEST_TOKEN}(", responder_ids: {a: b}}
sources:
  - name: api
    type: export
    account: acme
    channel: export
    token: "${RW_TEST_TOKEN}"
    token_file: token.txt
    poll_interval: ${RW_TEST_TOKEN}
  - name: api2
    type: export
    account: acme
    channel: export
    token: ["${RW_TEST_TOKEN}"]
  - name: api3
    type: export
    account: ${RW_TEST_TOKEN}
    channel: export
    token_file: token.txt
    spool_dir: [token.txt]
)"));
  std::vector<Problem> problems;
  std::string what;
  try {
    (void)load(file, fakeTypes());
  } catch (const ConfigError& e) {
    problems = e.problems();
    what = e.what();
  }
  ASSERT_GE(problems.size(), 8u) << testing::describe(problems);
  for (const auto& p : problems) {
    EXPECT_EQ(p.message.find(env_secret), std::string::npos) << p.str();
    EXPECT_EQ(p.message.find(file_secret), std::string::npos) << p.str();
  }
  EXPECT_EQ(what.find(env_secret), std::string::npos);
  EXPECT_EQ(what.find(file_secret), std::string::npos);
  // Messages quote the raw text, so the user still sees which value is wrong.
  EXPECT_THAT(what, HasSubstr("invalid duration \"${RW_TEST_TOKEN}\""));
}

TEST(Durations, ReadDuration) {
  YAML::Node map =
      YAML::Load("a: 90s\nb: 15m\nc: 1h\nd: 1h30m\ne: 28d\nf: 3600\ng: 2w\nh: 1x\ni: -5\nj: [1h]\nk: ''\n");
  std::vector<Problem> problems;
  auto read = [&](const char* key) { return readDuration(map, key, "f.yml", "test", problems); };
  EXPECT_EQ(read("a"), std::chrono::seconds{90});
  EXPECT_EQ(read("b"), std::chrono::minutes{15});
  EXPECT_EQ(read("c"), std::chrono::hours{1});
  EXPECT_EQ(read("d"), std::chrono::minutes{90});
  EXPECT_EQ(read("e"), std::chrono::hours{28 * 24});
  EXPECT_EQ(read("f"), std::chrono::hours{1});
  EXPECT_EQ(read("g"), std::chrono::hours{14 * 24});
  EXPECT_EQ(read("missing"), std::nullopt);
  EXPECT_TRUE(problems.empty());
  EXPECT_EQ(read("h"), std::nullopt);
  EXPECT_EQ(read("i"), std::nullopt);
  EXPECT_EQ(read("j"), std::nullopt);
  EXPECT_EQ(read("k"), std::nullopt);
  ASSERT_EQ(problems.size(), 4u);
  EXPECT_EQ(problems[0].line, 8);
  EXPECT_THAT(problems[0].message, HasSubstr("invalid duration \"1x\" for \"h\" in test"));
  EXPECT_THAT(problems[2].message, HasSubstr("\"j\" in test must be a string, not a list"));
}

TEST(Durations, ConfigValues) {
  auto config = loadString(yaml(R"(
web: {read_timeout: 90s, idle_timeout: 2m}
store: {retention: 28d, prune_interval: 15s}
ingest: {max_future_skew: 1h30m}
accounts:
  - {name: a, threshold: 900}
  - {name: b, threshold: 1h30m}
)"),
                           "rw.yml", fakeTypes());
  EXPECT_EQ(config.web.read_timeout, std::chrono::seconds{90});
  EXPECT_EQ(config.web.idle_timeout, std::chrono::seconds{120});
  EXPECT_EQ(config.store.retention, std::chrono::hours{28 * 24});
  EXPECT_EQ(config.store.prune_interval, std::chrono::seconds{15});
  EXPECT_EQ(config.ingest.max_future_skew, std::chrono::minutes{90});
  EXPECT_EQ(config.accounts[0].threshold, std::chrono::minutes{15});
  EXPECT_EQ(config.accounts[1].threshold, std::chrono::minutes{90});
}

TEST(Sizes, Parse) {
  EXPECT_EQ(parseSize("65536"), 65536u);
  EXPECT_EQ(parseSize("16KiB"), 16u * 1024);
  EXPECT_EQ(parseSize("1MiB"), 1024u * 1024);
  EXPECT_EQ(parseSize("2GiB"), 2ULL << 30);
  EXPECT_EQ(parseSize("500kB"), 500000u);
  EXPECT_EQ(parseSize("2MB"), 2000000u);
  EXPECT_EQ(parseSize("10 B"), 10u);
  EXPECT_EQ(parseSize("lots"), std::nullopt);
  EXPECT_EQ(parseSize("1.5MiB"), std::nullopt);
  EXPECT_EQ(parseSize("-1"), std::nullopt);
  EXPECT_EQ(parseSize("1TiB"), std::nullopt);
  EXPECT_EQ(parseSize("99999999999999999999"), std::nullopt);
}

TEST(TimeRanges, Parse) {
  auto r = parseTimeRange("09:00-18:00");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->start_minute, 540);
  EXPECT_EQ(r->end_minute, 1080);
  EXPECT_EQ(parseTimeRange("9:30 - 12:15")->start_minute, 570);
  EXPECT_EQ(parseTimeRange("00:00-24:00")->end_minute, 1440);
  EXPECT_EQ(parseTimeRange("18:00-09:00"), std::nullopt);
  EXPECT_EQ(parseTimeRange("10:00-10:00"), std::nullopt);
  EXPECT_EQ(parseTimeRange("25:00-26:00"), std::nullopt);
  EXPECT_EQ(parseTimeRange("24:00-24:00"), std::nullopt);
  EXPECT_EQ(parseTimeRange("09:60-10:00"), std::nullopt);
  EXPECT_EQ(parseTimeRange("0900-1000"), std::nullopt);
  EXPECT_EQ(parseTimeRange("09:00"), std::nullopt);
  EXPECT_EQ(parseTimeRange("nine-five"), std::nullopt);
}

TEST(CheckKeys, UnknownKeysWithSuggestions) {
  YAML::Node map = YAML::Load("name: a\nspool_dri: /x\nzzz: 1\nurl: u\n");
  std::vector<Problem> problems;
  checkKeys(map, {"name", "spool_dir", "url"}, "f.yml", "source \"a\"", problems);
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].line, 2);
  EXPECT_EQ(problems[0].message, "unknown key \"spool_dri\" in source \"a\"; did you mean \"spool_dir\"?");
  EXPECT_EQ(problems[1].line, 3);
  EXPECT_EQ(problems[1].message, "unknown key \"zzz\" in source \"a\"");
  EXPECT_EQ(problems[1].str(), "f.yml:3: unknown key \"zzz\" in source \"a\"");
}

TEST(CheckKeys, IgnoresNonMappings) {
  std::vector<Problem> problems;
  checkKeys(YAML::Load("[a, b]"), {"a"}, "f.yml", "x", problems);
  checkKeys(YAML::Node(), {"a"}, "f.yml", "x", problems);
  EXPECT_TRUE(problems.empty());
}

TEST(ReadHelpers, StringsListsBoolsAndRequiredKeys) {
  ScopedEnv v("RW_TEST_V", "value");
  YAML::Node map = YAML::Load("s: ${RW_TEST_V}\nl: [a, '${RW_TEST_V}']\nb: yes\nc: maybe\nm: {x: 1}\n");
  std::vector<Problem> problems;
  EXPECT_EQ(readString(map, "s", "f.yml", "w", problems), "value");
  EXPECT_EQ(readString(map, "absent", "f.yml", "w", problems), "");
  EXPECT_EQ(readStringList(map, "l", "f.yml", "w", problems), (std::vector<std::string>{"a", "value"}));
  EXPECT_EQ(readBool(map, "b", "f.yml", "w", problems), true);
  EXPECT_TRUE(problems.empty());
  EXPECT_EQ(readBool(map, "c", "f.yml", "w", problems), std::nullopt);
  EXPECT_EQ(readString(map, "m", "f.yml", "w", problems), "");
  requireKeys(map, {"s", "url"}, "f.yml", "source \"x\"", problems);
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_THAT(problems[0].message, HasSubstr("invalid boolean \"maybe\""));
  EXPECT_THAT(problems[1].message, HasSubstr("\"m\" in w must be a string, not a mapping"));
  EXPECT_EQ(problems[2].message, "missing required key \"url\" in source \"x\"");
}

TEST(ReadHelpers, ResolvePath) {
  EXPECT_EQ(resolvePath("/etc/replywatch", "spool"), std::filesystem::path("/etc/replywatch/spool"));
  EXPECT_EQ(resolvePath("/etc/replywatch", "../x"), std::filesystem::path("/etc/x"));
  EXPECT_EQ(resolvePath("/etc/replywatch", "/var/x"), std::filesystem::path("/var/x"));
  EXPECT_EQ(resolvePath("/etc/replywatch", ""), std::filesystem::path());
}

TEST(ReadHelpers, LineOf) {
  YAML::Node doc = YAML::Load("a: 1\nb:\n  c: 2\n");
  EXPECT_EQ(lineOf(doc["b"]["c"]), 3);
  EXPECT_EQ(lineOf(YAML::Node()), 0);
}

}  // namespace
}  // namespace replywatch::config
