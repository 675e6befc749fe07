// Loading whole configurations: the shipped example, defaults, paths, and a table of
// broken configurations with the sentence and line each must report.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "daemon/config/config.h"
#include "tests/unit/config/test_support.h"

namespace replywatch::config {
namespace {

using testing::ExportSeen;
using testing::fakeTypes;
using testing::problemsOf;
using testing::ScopedEnv;
using testing::TempDir;
using testing::yaml;

const std::filesystem::path kExample =
    std::filesystem::path(REPLYWATCH_SOURCE_DIR) / "config/replywatch.example.yml";

TEST(ConfigExample, LoadsCleanly) {
  ScopedEnv token("ACME_EXPORT_TOKEN", "example-token-value");
  auto seen = std::make_shared<ExportSeen>();
  Config config;
  try {
    config = load(kExample, fakeTypes(seen));
  } catch (const ConfigError& e) {
    FAIL() << "example configuration has problems:\n" << testing::describe(e.problems());
  }
  EXPECT_EQ(config.file, kExample.string());
  EXPECT_EQ(config.web.listen_address, "0.0.0.0:9488");
  EXPECT_EQ(config.web.max_header_bytes, 16u * 1024);
  EXPECT_EQ(config.web.max_body_bytes, 1024u * 1024);
  EXPECT_EQ(config.web.read_timeout, std::chrono::seconds{10});
  EXPECT_EQ(config.web.idle_timeout, std::chrono::seconds{60});
  EXPECT_EQ(config.web.max_unsent_bytes, 256u * 1024 * 1024);
  EXPECT_EQ(config.store.path, "/var/lib/replywatch/replywatch.db");
  EXPECT_EQ(config.store.retention, std::chrono::hours{24 * 400});
  EXPECT_EQ(config.ingest.max_future_skew, std::chrono::minutes{5});
  EXPECT_EQ(config.ingest.max_field_bytes, 65536u);
  EXPECT_EQ(config.ingest.max_delivery_entries, 1000u);
  EXPECT_EQ(config.ingest.max_queued_messages, 10000u);
  EXPECT_EQ(config.web.handler_threads, 16u);

  ASSERT_EQ(config.accounts.size(), 1u);
  const AccountConfig* acme = config.account("acme-fr");
  ASSERT_NE(acme, nullptr);
  EXPECT_EQ(acme->threshold, std::chrono::hours{1});
  EXPECT_EQ(acme->timezone, "Europe/Paris");
  for (int day = 0; day < 5; ++day) {
    ASSERT_EQ(acme->business_hours.week[day].size(), 1u) << day;
    EXPECT_EQ(acme->business_hours.week[day][0].start_minute, 9 * 60);
    EXPECT_EQ(acme->business_hours.week[day][0].end_minute, 18 * 60);
  }
  EXPECT_TRUE(acme->business_hours.week[5].empty());
  EXPECT_TRUE(acme->business_hours.week[6].empty());
  EXPECT_THAT(acme->business_hours.holidays, ::testing::Contains("2026-12-25"));
  EXPECT_FALSE(acme->ignored_authors.empty());
  EXPECT_EQ(acme->count, CountMode::All);

  ASSERT_GE(config.handlers.size(), 2u);
  EXPECT_EQ(config.handlers[0].route, Route::Internal);
  EXPECT_EQ(config.handlers[0].text_pattern, "\\^JK");
  EXPECT_EQ(config.handlers[1].name, "cm-agency");
  EXPECT_EQ(config.handlers[1].route, Route::Agency);
  EXPECT_EQ(config.handlers[1].text_pattern, "(?m)-AB$");

  ASSERT_EQ(config.sources.size(), 4u);
  const SourceConfig* spool = config.source("acme-spool");
  ASSERT_NE(spool, nullptr);
  EXPECT_EQ(spool->type, "export");
  EXPECT_EQ(spool->account, "acme-fr");
  EXPECT_EQ(spool->channel, "export");
  EXPECT_GT(spool->line, 0);
  EXPECT_EQ(spool->file, kExample.string());
  EXPECT_TRUE(spool->settings["spool_dir"].IsScalar());
  EXPECT_EQ(seen->calls, 2);
  EXPECT_EQ(seen->token.reveal(), "example-token-value");
  EXPECT_EQ(config.source("nope"), nullptr);
}

TEST(ConfigExample, NeedsItsTokenVariable) {
  auto problems = [] {
    try {
      (void)load(kExample, fakeTypes());
    } catch (const ConfigError& e) {
      return e.problems();
    }
    return std::vector<Problem>{};
  }();
  ASSERT_EQ(problems.size(), 1u) << testing::describe(problems);
  EXPECT_EQ(problems[0].message, "environment variable ACME_EXPORT_TOKEN is not set");
  EXPECT_GT(problems[0].line, 0);
}

TEST(ConfigLoad, WebhookListenerAndWebConfigFile) {
  auto config = loadString(
      "web: {listen_address: \"127.0.0.1:9488\", webhook_listen_address: \":9489\", config_file: web.yml}\n"
      "accounts:\n  - name: acme\n",
      "/etc/replywatch/replywatch.yml", fakeTypes());
  EXPECT_EQ(config.web.webhook_listen_address, ":9489");
  EXPECT_EQ(config.web.config_file, "/etc/replywatch/web.yml");  // relative to the configuration file
  auto defaults = loadString("accounts:\n  - name: acme\n", "/etc/replywatch/replywatch.yml", fakeTypes());
  EXPECT_EQ(defaults.web.webhook_listen_address, "");
  EXPECT_EQ(defaults.web.config_file, "");
  auto problems = problemsOf("web: {webhook_listen_address: \"nope\"}\naccounts:\n  - name: acme\n");
  ASSERT_EQ(problems.size(), 1u) << testing::describe(problems);
  EXPECT_NE(problems[0].message.find("invalid webhook_listen_address \"nope\""), std::string::npos);
}

// Each range is checked against the one before it that ends last, so an overlap behind a
// short range is reported too.
TEST(ConfigLoad, EveryOverlapOfBusinessHoursIsReported) {
  auto problems = problemsOf(
      "accounts:\n  - name: acme\n    business_hours:\n"
      "      monday: [\"09:00-12:00\", \"10:00-10:30\", \"11:00-13:00\", \"13:00-14:00\"]\n");
  ASSERT_EQ(problems.size(), 2u) << testing::describe(problems);
  EXPECT_NE(problems[0].message.find("time ranges 09:00-12:00 and 10:00-10:30 overlap on monday"),
            std::string::npos)
      << problems[0].message;
  EXPECT_NE(problems[1].message.find("time ranges 09:00-12:00 and 11:00-13:00 overlap on monday"),
            std::string::npos)
      << problems[1].message;
}

TEST(ConfigLoad, MoreHandlerThreadsThanConnectionsIsAnError) {
  auto problems = problemsOf("web:\n  max_connections: 4\n  handler_threads: 8\naccounts:\n  - name: acme\n");
  ASSERT_EQ(problems.size(), 1u) << testing::describe(problems);
  EXPECT_EQ(problems[0].line, 3);
  EXPECT_NE(problems[0].message.find("is more than"), std::string::npos) << problems[0].message;
  EXPECT_TRUE(
      problemsOf("web:\n  max_connections: 8\n  handler_threads: 8\naccounts:\n  - name: acme\n").empty());
  // The default (16) follows a smaller max_connections.
  auto config = loadString("web:\n  max_connections: 4\naccounts:\n  - name: acme\n", "r.yml", fakeTypes());
  EXPECT_EQ(config.web.handler_threads, 4u);
}

TEST(ConfigLoad, MinimalConfigGetsDefaults) {
  auto config = loadString("accounts:\n  - name: acme\n", "/etc/replywatch/replywatch.yml", fakeTypes());
  EXPECT_EQ(config.web.listen_address, "0.0.0.0:9488");
  EXPECT_EQ(config.web.max_connections, 512u);
  EXPECT_EQ(config.web.handler_threads, 16u);
  EXPECT_EQ(config.web.max_unsent_bytes, 256u * 1024 * 1024);
  EXPECT_EQ(config.ingest.max_queued_messages, 10000u);
  EXPECT_EQ(config.store.path, "/etc/replywatch/replywatch.db");
  EXPECT_EQ(config.store.retention, std::chrono::seconds{0});
  EXPECT_EQ(config.store.prune_interval, std::chrono::hours{1});
  EXPECT_EQ(config.ingest.max_future_skew, std::chrono::seconds{300});
  ASSERT_EQ(config.accounts.size(), 1u);
  EXPECT_EQ(config.accounts[0].threshold, std::chrono::seconds{3600});
  EXPECT_EQ(config.accounts[0].timezone, "UTC");
  EXPECT_EQ(config.accounts[0].count, CountMode::All);
  EXPECT_EQ(config.accounts[0].line, 2);
  EXPECT_TRUE(config.handlers.empty());
  EXPECT_TRUE(config.sources.empty());
}

TEST(ConfigLoad, DeliveryEntriesLimitIngestWideAndPerSource) {
  const std::string base =
      "accounts:\n  - name: acme\nsources:\n"
      "  - {name: hook, type: export, account: acme, channel: export, max_delivery_entries: 50}\n"
      "  - {name: other, type: export, account: acme, channel: export}\n";
  auto defaults = loadString(base, "/etc/replywatch/replywatch.yml", fakeTypes());
  EXPECT_EQ(defaults.ingest.max_delivery_entries, 1000u);
  ASSERT_EQ(defaults.sources.size(), 2u);
  EXPECT_EQ(defaults.sources[0].max_delivery_entries, std::optional<std::size_t>(50));
  EXPECT_EQ(defaults.sources[1].max_delivery_entries, std::nullopt);

  auto wide = loadString("ingest:\n  max_delivery_entries: 20\n" + base, "/etc/replywatch/replywatch.yml",
                         fakeTypes());
  EXPECT_EQ(wide.ingest.max_delivery_entries, 20u);

  auto problems = problemsOf(
      "ingest:\n  max_delivery_entries: 0\naccounts:\n  - name: acme\nsources:\n"
      "  - {name: hook, type: export, account: acme, channel: export, max_delivery_entries: many}\n");
  ASSERT_EQ(problems.size(), 2u) << testing::describe(problems);
  EXPECT_EQ(problems[0].line, 2);
  EXPECT_THAT(problems[0].message, ::testing::HasSubstr("max_delivery_entries"));
  EXPECT_THAT(problems[0].message, ::testing::HasSubstr("greater than zero"));
  EXPECT_EQ(problems[1].line, 6);
  EXPECT_THAT(problems[1].message, ::testing::HasSubstr("\"many\""));
}

TEST(ConfigLoad, RelativePathsUseTheConfigDirectory) {
  TempDir dir;
  dir.write("holidays.ics", "BEGIN:VCALENDAR\nEND:VCALENDAR\n");
  auto file = dir.write("rw.yml", yaml(R"(
store: {path: data/rw.db, retention: 0}
accounts:
  - name: acme
    business_hours: {holidays_ical: holidays.ics}
)"));
  auto config = load(file, fakeTypes());
  EXPECT_EQ(config.store.path, (dir.path() / "data/rw.db").string());
  EXPECT_EQ(config.accounts[0].business_hours.holidays_ical_file, (dir.path() / "holidays.ics").string());
  EXPECT_EQ(config.base_dir, dir.path());

  auto absolute = loadString("store: {path: /srv/rw.db}\naccounts: [{name: a}]\n", "x/rw.yml", fakeTypes());
  EXPECT_EQ(absolute.store.path, "/srv/rw.db");
}

TEST(ConfigLoad, MissingFileIsAProblem) {
  try {
    (void)load("/nonexistent/replywatch.yml", fakeTypes());
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    ASSERT_EQ(e.problems().size(), 1u);
    EXPECT_EQ(e.problems()[0].file, "/nonexistent/replywatch.yml");
    EXPECT_EQ(e.problems()[0].line, 0);
    EXPECT_THAT(e.problems()[0].message, ::testing::HasSubstr("cannot read the configuration file"));
    EXPECT_THAT(e.problems()[0].str(), ::testing::StartsWith("/nonexistent/replywatch.yml: "));
  }
}

TEST(ConfigLoad, EmptyLookupAcceptsAnyType) {
  auto config = loadString(yaml(R"(
accounts: [{name: acme}]
sources:
  - {name: s1, type: whatever, account: acme, channel: x, anything: 1}
)"),
                           "rw.yml", SourceTypeLookup{});
  ASSERT_EQ(config.sources.size(), 1u);
  EXPECT_EQ(config.sources[0].type, "whatever");
}

TEST(ConfigLoad, CountQuestionsAndLists) {
  auto config = loadString(yaml(R"(
accounts:
  - name: acme
    count: questions
    ignored_authors: bot            # a single string is a one-item list
    brand_ids: [acme_fr, "42"]
handlers:
  - name: care
    route: internal
    match: {responder_ids: [care1]}
    accounts: acme
)"),
                           "rw.yml", fakeTypes());
  const auto& a = config.accounts[0];
  EXPECT_EQ(a.count, CountMode::Questions);
  EXPECT_EQ(a.ignored_authors, std::vector<std::string>{"bot"});
  EXPECT_EQ(a.brand_ids, (std::vector<std::string>{"acme_fr", "42"}));
  EXPECT_EQ(config.handlers[0].accounts, std::vector<std::string>{"acme"});
  EXPECT_EQ(config.handlers[0].responder_ids, std::vector<std::string>{"care1"});
  EXPECT_TRUE(config.handlers[0].text_pattern.empty());
  EXPECT_EQ(config.handlers[0].line, 7);
}

TEST(ConfigLoad, BusinessHoursParsing) {
  auto config = loadString(yaml(R"(
accounts:
  - name: acme
    timezone: America/Montreal
    business_hours:
      monday: ["08:30-12:00", "13:30-18:00"]
      tuesday: "9:00-17:00"
      friday: ["00:00-24:00"]
      saturday: [ "10:00 - 12:00" ]
      holidays: ["2026-02-28", "2028-02-29"]
)"),
                           "rw.yml", fakeTypes());
  const auto& week = config.accounts[0].business_hours.week;
  ASSERT_EQ(week[0].size(), 2u);
  EXPECT_EQ(week[0][0].start_minute, 8 * 60 + 30);
  EXPECT_EQ(week[0][0].end_minute, 12 * 60);
  EXPECT_EQ(week[0][1].start_minute, 13 * 60 + 30);
  EXPECT_EQ(week[0][1].end_minute, 18 * 60);
  ASSERT_EQ(week[1].size(), 1u);
  EXPECT_EQ(week[1][0].start_minute, 9 * 60);
  EXPECT_TRUE(week[2].empty());
  EXPECT_TRUE(week[3].empty());
  ASSERT_EQ(week[4].size(), 1u);
  EXPECT_EQ(week[4][0].end_minute, 24 * 60);
  ASSERT_EQ(week[5].size(), 1u);
  EXPECT_EQ(week[5][0].start_minute, 10 * 60);
  EXPECT_TRUE(week[6].empty());
  EXPECT_EQ(config.accounts[0].business_hours.holidays.size(), 2u);
  EXPECT_EQ(config.accounts[0].timezone, "America/Montreal");
}

TEST(ConfigLoad, SyntaxErrorHasALine) {
  auto problems = problemsOf("accounts:\n  - name: acme\n    threshold: [1h\n");
  ASSERT_EQ(problems.size(), 1u) << testing::describe(problems);
  EXPECT_THAT(problems[0].message, ::testing::HasSubstr("YAML syntax error"));
  EXPECT_GE(problems[0].line, 3);
}

TEST(ConfigLoad, EveryProblemIsReported) {
  auto problems = problemsOf(yaml(R"(
web:
  listen_adress: ":9488"
accounts:
  - name: acme
    threshold: soon
    timezone: Mars/Olympus
    business_hours: {monday: ["18:00-09:00"]}
handlers:
  - name: h
    route: vendor
    match: {text: "(unclosed"}
sources:
  - {name: s, type: export, account: nobody, channel: export}
  - {name: t, type: rss, account: acme, channel: rss}
)"));
  std::vector<std::pair<int, std::string>> expected = {
      {2, "unknown key \"listen_adress\" in web; did you mean \"listen_address\"?"},
      {5, "invalid duration \"soon\""},
      {6, "unknown time zone \"Mars/Olympus\""},
      {7, "invalid time range \"18:00-09:00\""},
      {10, "invalid route \"vendor\""},
      {11, "invalid regular expression \"(unclosed\""},
      {13, "refers to unknown account \"nobody\""},
      {14, "unknown source type \"rss\""},
  };
  ASSERT_EQ(problems.size(), expected.size()) << testing::describe(problems);
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(problems[i].line, expected[i].first) << problems[i].str();
    EXPECT_THAT(problems[i].message, ::testing::HasSubstr(expected[i].second));
    EXPECT_EQ(problems[i].file, "test.yml");
  }
  // what() lists them all as file:line: message.
  try {
    (void)loadString(yaml(R"(
accounts:
  - name: acme
    threshold: soon
    count: sometimes
)"),
                     "rw.yml", fakeTypes());
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    std::string what = e.what();
    EXPECT_THAT(what, ::testing::HasSubstr("rw.yml:3: invalid duration"));
    EXPECT_THAT(what, ::testing::HasSubstr("rw.yml:4: invalid count \"sometimes\""));
  }
}

// One broken configuration, the sentence it must produce and the line it must name.
struct BrokenCase {
  const char* label;
  const char* yaml;
  const char* message;
  int line;
};

const BrokenCase kBroken[] = {
    {"unknown top-level key", R"(
accounts: [{name: acme}]
acounts: []
)",
     "unknown key \"acounts\" in the top level; did you mean \"accounts\"?", 2},
    {"account typo", R"(
accounts:
  - name: acme
    treshold: 1h
)",
     "unknown key \"treshold\" in account \"acme\"; did you mean \"threshold\"?", 3},
    {"web unknown key", R"(
web:
  listen: ":9488"
accounts: [{name: acme}]
)",
     "unknown key \"listen\" in web", 2},
    {"store unknown key", R"(
store:
  retension: 30d
accounts: [{name: acme}]
)",
     "unknown key \"retension\" in store; did you mean \"retention\"?", 2},
    {"ingest unknown key", R"(
ingest: {max_future_skw: 5m}
accounts: [{name: acme}]
)",
     "unknown key \"max_future_skw\" in ingest; did you mean \"max_future_skew\"?", 1},
    {"business_hours unknown key", R"(
accounts:
  - name: acme
    business_hours:
      mondy: ["09:00-18:00"]
)",
     "unknown key \"mondy\" in business_hours of account \"acme\"; did you mean \"monday\"?", 4},
    {"handler unknown key", R"(
accounts: [{name: acme}]
handlers:
  - name: care
    route: internal
    match: {text: "AB"}
    acounts: [acme]
)",
     "unknown key \"acounts\" in handler \"care\"; did you mean \"accounts\"?", 6},
    {"match unknown key", R"(
accounts: [{name: acme}]
handlers:
  - name: care
    route: internal
    match:
      text: "AB"
      responders: [x]
)",
     "unknown key \"responders\" in match of handler \"care\"", 7},
    {"yaml syntax error", R"(
accounts:
  - name: acme
   threshold: 1h
)",
     "YAML syntax error: end of sequence not found", 3},
    {"yaml syntax error in flow", R"(
web: {listen_address: ":9488"}
accounts: [{name: acme}
)",
     "YAML syntax error: end of sequence flow not found", 3},
    {"list where a string is expected", R"(
accounts:
  - name: [acme]
)",
     "\"name\" in account #1 must be a string, not a list", 2},
    {"non-numeric size", R"(
web: {max_body_bytes: lots}
accounts: [{name: acme}]
)",
     "invalid size \"lots\" for \"max_body_bytes\" in web", 1},
    {"duplicate account", R"(
accounts:
  - name: acme
  - name: acme
)",
     "duplicate account name \"acme\" (first defined on line 2)", 3},
    {"duplicate handler", R"(
accounts: [{name: acme}]
handlers:
  - {name: h, route: agency, match: {text: x}}
  - {name: h, route: agency, match: {text: y}}
)",
     "duplicate handler name \"h\"", 4},
    {"duplicate source", R"(
accounts: [{name: acme}]
sources:
  - {name: s, type: twcs, account: acme, channel: x}
  - {name: s, type: twcs, account: acme, channel: x}
)",
     "duplicate source name \"s\"", 4},
    {"source with unknown account", R"(
accounts: [{name: acme}]
sources:
  - name: s
    type: twcs
    account: acme-de
    channel: x
)",
     "source \"s\" refers to unknown account \"acme-de\" (accounts: acme)", 5},
    {"unknown source type", R"(
accounts: [{name: acme}]
sources:
  - {name: s, type: foo, account: acme, channel: x}
)",
     "unknown source type \"foo\" in source \"s\" (known: export, twcs)", 3},
    {"unknown source type typo", R"(
accounts: [{name: acme}]
sources:
  - {name: s, type: exprt, account: acme, channel: x}
)",
     "did you mean \"export\"?", 3},
    {"invalid duration", R"(
accounts:
  - name: acme
    threshold: 1x
)",
     "invalid duration \"1x\" for \"threshold\" in account \"acme\"", 3},
    {"zero threshold", R"(
accounts:
  - name: acme
    threshold: 0
)",
     "\"threshold\" in account \"acme\" must be greater than zero", 3},
    {"zero prune interval", R"(
accounts: [{name: acme}]
store:
  retention: 2d
  prune_interval: 0s
)",
     "\"prune_interval\" in store must be greater than zero", 4},
    {"reversed time range", R"(
accounts:
  - name: acme
    business_hours:
      monday: ["18:00-09:00"]
)",
     "split a range that crosses midnight over two days", 4},
    {"impossible hour", R"(
accounts:
  - name: acme
    business_hours:
      tuesday:
        - "25:00-26:00"
)",
     "invalid time range \"25:00-26:00\" for tuesday", 5},
    {"overlapping ranges", R"(
accounts:
  - name: acme
    business_hours:
      friday: ["09:00-13:00", "12:00-18:00"]
)",
     "time ranges 09:00-13:00 and 12:00-18:00 overlap on friday", 4},
    {"invalid holiday", R"(
accounts:
  - name: acme
    business_hours:
      holidays: ["2026-12-25", "2026-02-30"]
)",
     "invalid holiday date \"2026-02-30\"", 4},
    {"missing holidays_ical", R"(
accounts:
  - name: acme
    business_hours: {holidays_ical: /nonexistent/fr.ics}
)",
     "holidays_ical file \"/nonexistent/fr.ics\"", 3},
    {"invalid timezone", R"(
accounts:
  - name: acme
    timezone: Europe/Pariss
)",
     "unknown time zone \"Europe/Pariss\" in account \"acme\"; did you mean \"Europe/Paris\"?", 3},
    {"invalid route", R"(
accounts: [{name: acme}]
handlers:
  - name: h
    route: vendor
    match: {text: x}
)",
     "invalid route \"vendor\" in handler \"h\" (use internal or agency)", 4},
    {"route unknown is not configurable", R"(
accounts: [{name: acme}]
handlers:
  - {name: h, route: unknown, match: {text: x}}
)",
     "invalid route \"unknown\"", 3},
    {"bad regex", R"(
accounts: [{name: acme}]
handlers:
  - name: h
    route: agency
    match:
      text: '(?m)^(AB$'
)",
     "invalid regular expression \"(?m)^(AB$\" in match of handler \"h\": missing )", 6},
    {"invalid count", R"(
accounts:
  - name: acme
    count: some
)",
     "invalid count \"some\" in account \"acme\" (use all or questions)", 3},
    {"no accounts", R"(
accounts: []
)",
     "at least one account is required", 1},
    {"accounts missing", R"(
web: {listen_address: ":9488"}
)",
     "at least one account is required (\"accounts\" is missing)", 0},
    {"empty document", "", "the configuration is empty", 0},
    {"accounts not a list", R"(
accounts:
  name: acme
)",
     "\"accounts\" must be a list, not a mapping", 2},
    {"missing account name", R"(
accounts:
  - threshold: 1h
)",
     "missing required key \"name\" in account #1", 2},
    {"missing handler route", R"(
accounts: [{name: acme}]
handlers:
  - name: h
    match: {text: x}
)",
     "missing required key \"route\" in handler \"h\"", 3},
    {"handler match needs a rule", R"(
accounts: [{name: acme}]
handlers:
  - name: h
    route: agency
    match: {}
)",
     "match of handler \"h\" needs responder_ids, text or both", 5},
    {"handler for unknown account", R"(
accounts: [{name: acme}]
handlers:
  - name: h
    route: agency
    match: {text: x}
    accounts: [acme, acme-be]
)",
     "handler \"h\" refers to unknown account \"acme-be\"", 6},
    {"reserved handler name", R"(
accounts: [{name: acme}]
handlers:
  - {name: unknown, route: agency, match: {text: x}}
)",
     "handler name \"unknown\" is reserved", 3},
    {"missing source channel", R"(
accounts: [{name: acme}]
sources:
  - name: s
    type: twcs
    account: acme
)",
     "missing required key \"channel\" in source \"s\"", 3},
    {"missing source type", R"(
accounts: [{name: acme}]
sources:
  - {name: s, account: acme, channel: x}
)",
     "missing required key \"type\" in source \"s\"", 3},
    {"invalid source name", R"(
accounts: [{name: acme}]
sources:
  - {name: "my source", type: twcs, account: acme, channel: x}
)",
     "invalid source name \"my source\"", 3},
    {"connector setting typo", R"(
accounts: [{name: acme}]
sources:
  - name: s
    type: export
    account: acme
    channel: export
    spool_dirr: /tmp
)",
     "unknown key \"spool_dirr\" in source \"s\"; did you mean \"spool_dir\"?", 7},
    {"unset environment variable", R"(
accounts: [{name: acme}]
sources:
  - name: s
    type: export
    account: acme
    channel: export
    url: "https://example.test/${REPLYWATCH_TEST_UNSET_HOST}/x"
)",
     "environment variable REPLYWATCH_TEST_UNSET_HOST is not set", 7},
    {"secret given twice", R"(
accounts: [{name: acme}]
sources:
  - name: s
    type: export
    account: acme
    channel: export
    token: abc
    token_file: token.txt
)",
     "both \"token\" and \"token_file\" are set", 7},
    {"invalid listen address", R"(
web: {listen_address: "localhost"}
accounts: [{name: acme}]
)",
     "invalid listen_address \"localhost\" in web", 1},
    {"duplicate yaml key", R"(
accounts:
  - name: acme
    threshold: 1h
    threshold: 2h
)",
     "duplicate key \"threshold\" in account \"acme\" (first given on line 3)", 4},
    {"section of the wrong type", R"(
web: [":9488"]
accounts: [{name: acme}]
)",
     "\"web\" must be a mapping, not a list", 1},
    {"zero max_connections", R"(
web: {max_connections: 0}
accounts: [{name: acme}]
)",
     "invalid number \"0\" for \"max_connections\" in web", 1},
    {"too many handler threads", R"(
web: {handler_threads: 5000}
accounts: [{name: acme}]
)",
     "invalid number \"5000\" for \"handler_threads\" in web (at most 1024)", 1},
    {"zero max_queued_messages", R"(
ingest: {max_queued_messages: 0}
accounts: [{name: acme}]
)",
     "invalid number \"0\" for \"max_queued_messages\" in ingest", 1},
};

class BrokenConfig : public ::testing::TestWithParam<BrokenCase> {};

TEST_P(BrokenConfig, ReportsTheProblemAtItsLine) {
  const BrokenCase& c = GetParam();
  EXPECT_THROW((void)loadString(yaml(c.yaml), "broken.yml", fakeTypes()), ConfigError);
  auto problems = problemsOf(yaml(c.yaml), fakeTypes(), "broken.yml");
  ASSERT_FALSE(problems.empty());
  bool found = false;
  for (const auto& p : problems) {
    EXPECT_EQ(p.file, "broken.yml");
    if (p.message.find(c.message) != std::string::npos && p.line == c.line) found = true;
  }
  EXPECT_TRUE(found) << "expected line " << c.line << ": " << c.message << "\ngot:\n"
                     << testing::describe(problems);
}

std::string caseName(const ::testing::TestParamInfo<BrokenCase>& info) {
  std::string name;
  for (const char* p = info.param.label; *p != '\0'; ++p) {
    name += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Table, BrokenConfig, ::testing::ValuesIn(kBroken), caseName);

}  // namespace
}  // namespace replywatch::config
