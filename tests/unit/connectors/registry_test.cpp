#include <gtest/gtest.h>

#include "connectors/export/export_connector.h"
#include "connectors/registry.h"
#include "tests/unit/connectors/test_support.h"

namespace replywatch::connectors {
namespace {

std::vector<config::Problem> problemsOf(const std::string& yaml, const std::filesystem::path& base = {}) {
  auto source = testing::makeSource(yaml, base);
  std::vector<config::Problem> problems;
  findConnectorType("export")->validate(source, problems);
  return problems;
}

std::string joined(const std::vector<config::Problem>& problems) {
  std::string out;
  for (const auto& p : problems) out += p.str() + "\n";
  return out;
}

TEST(Registry, Table) {
  ASSERT_GE(connectorTypes().size(), 7u);
  EXPECT_EQ(connectorTypes()[0].name, "export");
  for (const char* type : {"meta", "relay", "mastodon", "discourse", "twcs", "x"}) {
    EXPECT_NE(findConnectorType(type), nullptr) << type;
    EXPECT_TRUE(sourceTypeInfo(type).known) << type;
  }
  EXPECT_FALSE(connectorTypes()[0].description.empty());
  EXPECT_NE(findConnectorType("export"), nullptr);
  EXPECT_EQ(findConnectorType("nope"), nullptr);
  EXPECT_TRUE(sourceTypeInfo("export").known);
  EXPECT_TRUE(static_cast<bool>(sourceTypeInfo("export").validate));
  EXPECT_FALSE(sourceTypeInfo("myspace").known);
  // Only the relay feed brings no messages.
  for (const auto& type : connectorTypes()) {
    EXPECT_EQ(sourceTypeInfo(type.name).carries_messages, type.name != "relay") << type.name;
  }
}

// Whether serve hears from a source: by polling, or by webhooks once a secret is set.
TEST(Registry, EachTypeSaysWhetherItTakesWebhooks) {
  struct Case {
    std::string yaml;
    bool webhooks;
    bool polls;
  };
  const std::vector<Case> cases = {
      {"name: e\ntype: export\naccount: acme\n", false, false},
      {"name: e\ntype: export\naccount: acme\nwebhook_secret: s\n", true, false},
      {"name: r\ntype: relay\naccount: acme\n", false, false},
      {"name: r\ntype: relay\naccount: acme\nwebhook_secret: s\n", true, false},
      {"name: t\ntype: twcs\naccount: acme\n", false, false},
      {"name: d\ntype: discourse\naccount: acme\nwebhook_secret: s\n", true, false},
      {"name: m\ntype: mastodon\naccount: acme\nwebhook_secret: s\n", true, false},
      {"name: f\ntype: meta\naccount: acme\napp_secret: s\n", true, false},
  };
  for (const Case& c : cases) {
    config::Config cfg;
    auto source = testing::makeSource(c.yaml);
    ManualClock clock(fromMillis(0));
    SourceHealth health;
    testing::RecordingSink sink;
    auto connector =
        findConnectorType(source.type)->create(ConnectorContext{source, cfg, clock, health, sink});
    EXPECT_EQ(connector->takesWebhooks(), c.webhooks) << c.yaml;
    EXPECT_EQ(connector->polls(), c.polls) << c.yaml;
  }
}

TEST(Registry, ValidExportSettings) {
  testing::TempDir dir;
  testing::writeAll(dir.path() / "token.txt", "s3cret\n");
  auto problems = problemsOf(
      "name: acme-export\n"
      "type: export\n"
      "account: acme\n"
      "channel: export\n"
      "format: csv\n"
      "spool_dir: spool\n"
      "poll_interval: 30s\n"
      "url: https://exports.example.com/acme.csv\n"
      "token_file: token.txt\n"
      "timeout: 2m\n"
      "webhook_secret: abc\n",
      dir.path());
  EXPECT_TRUE(problems.empty()) << joined(problems);

  auto source = testing::makeSource(
      "type: export\nspool_dir: spool\ntoken_file: token.txt\nurl: http://x/y\n", dir.path());
  std::vector<config::Problem> ignored;
  auto settings = exportfmt::parseSettings(source, ignored);
  EXPECT_EQ(settings.spool_dir, dir.path() / "spool");
  EXPECT_EQ(settings.processed_dir, dir.path() / "spool" / "processed");
  EXPECT_EQ(settings.quarantine_dir, dir.path() / "spool" / "quarantine");
  EXPECT_EQ(settings.poll_interval, std::chrono::seconds{10});
  EXPECT_EQ(settings.token.reveal(), "s3cret");
  EXPECT_FALSE(settings.format.has_value());
}

TEST(Registry, UnknownKeysAreReported) {
  auto problems = problemsOf("name: acme-export\ntype: export\nspool_dri: /tmp/x\nformat: jsonl\n");
  ASSERT_EQ(problems.size(), 1u) << joined(problems);
  EXPECT_EQ(problems[0].line, 3);
  EXPECT_NE(problems[0].message.find("spool_dri"), std::string::npos);
  EXPECT_NE(problems[0].message.find("acme-export"), std::string::npos);
}

TEST(Registry, BadValuesAreReported) {
  struct Case {
    const char* yaml;
    const char* expect;
    int line;
  };
  const Case cases[] = {
      {"type: export\nformat: xml\n", "format", 2},
      {"type: export\npoll_interval: soon\n", "poll_interval", 2},
      {"type: export\npoll_interval: 0s\n", "poll_interval", 2},
      {"type: export\ntimeout: -5\n", "timeout", 2},
      {"type: export\nurl: ftp://example.com/feed.jsonl\n", "url", 2},
      {"type: export\ntoken: abc\n", "only used with url", 2},
      {"type: export\nprocessed_dir: /tmp/done\n", "needs spool_dir", 2},
      {"type: export\nurl: https://x/y\ntoken: a\ntoken_file: /tmp/t\n", "token", 3},
      {"type: export\nwebhook_secret_file: /nonexistent/replywatch/secret\n", "webhook_secret_file", 2},
      {"type: export\nspool_dir: [a, b]\n", "spool_dir", 2},
  };
  for (const auto& c : cases) {
    auto problems = problemsOf(c.yaml);
    ASSERT_FALSE(problems.empty()) << c.yaml;
    EXPECT_NE(joined(problems).find(c.expect), std::string::npos) << c.yaml << " -> " << joined(problems);
    EXPECT_EQ(problems[0].line, c.line) << c.yaml << " -> " << joined(problems);
  }
}

TEST(Registry, CreateBuildsAnExportConnector) {
  testing::TempDir dir;
  testing::Harness spool("type: export\nspool_dir: " + (dir.path() / "in").string() + "\n");
  EXPECT_TRUE(spool.connector->polls());
  testing::Harness files("type: export\n");
  EXPECT_FALSE(files.connector->polls());
  EXPECT_NE(dynamic_cast<exportfmt::ExportConnector*>(files.connector.get()), nullptr);
}

}  // namespace
}  // namespace replywatch::connectors

namespace replywatch::connectors {
namespace {

// The registry plugged into the real configuration loader.
TEST(RegistryWithLoader, MarksSourcesWithoutMessages) {
  const std::string yaml =
      "accounts:\n"
      "  - name: acme\n"
      "sources:\n"
      "  - name: acme-export\n"
      "    type: export\n"
      "    account: acme\n"
      "    channel: export\n"
      "    webhook_secret: s3cret\n"
      "  - name: acme-relays\n"
      "    type: relay\n"
      "    account: acme\n"
      "    channel: relay\n"
      "    webhook_secret: s3cret\n";
  const config::Config c = config::loadString(yaml, "/etc/replywatch/replywatch.yml", &sourceTypeInfo);
  ASSERT_EQ(c.sources.size(), 2U);
  EXPECT_TRUE(c.sources[0].carries_messages);
  EXPECT_FALSE(c.sources[1].carries_messages);
}

TEST(RegistryWithLoader, ProblemsCarryFileAndLine) {
  const std::string yaml =
      "accounts:\n"
      "  - name: acme\n"
      "sources:\n"
      "  - name: acme-export\n"
      "    type: export\n"
      "    account: acme\n"
      "    channel: export\n"
      "    spool_dri: /tmp/x\n"
      "    poll_interval: never\n"
      "  - name: acme-other\n"
      "    type: carrier-pigeon\n"
      "    account: acme\n"
      "    channel: export\n";
  try {
    (void)config::loadString(yaml, "/etc/replywatch/replywatch.yml", &sourceTypeInfo);
    FAIL() << "expected a ConfigError";
  } catch (const config::ConfigError& e) {
    std::string all;
    for (const auto& p : e.problems()) all += p.str() + "\n";
    EXPECT_NE(all.find("replywatch.yml:8: unknown key \"spool_dri\""), std::string::npos) << all;
    EXPECT_NE(all.find("replywatch.yml:9:"), std::string::npos) << all;
    EXPECT_NE(all.find("carrier-pigeon"), std::string::npos) << all;
  }
}

TEST(RegistryWithLoader, ValidConfigurationLoads) {
  const std::string yaml =
      "accounts:\n"
      "  - name: acme\n"
      "sources:\n"
      "  - name: acme-export\n"
      "    type: export\n"
      "    account: acme\n"
      "    channel: export\n"
      "    format: csv\n"
      "    spool_dir: spool\n"
      "    poll_interval: 30s\n";
  auto cfg = config::loadString(yaml, "/etc/replywatch/replywatch.yml", &sourceTypeInfo);
  ASSERT_EQ(cfg.sources.size(), 1u);
  std::vector<config::Problem> problems;
  auto settings = exportfmt::parseSettings(cfg.sources[0], problems);
  EXPECT_TRUE(problems.empty());
  EXPECT_EQ(settings.spool_dir, std::filesystem::path("/etc/replywatch/spool"));
  EXPECT_EQ(settings.poll_interval, std::chrono::seconds{30});
}

}  // namespace
}  // namespace replywatch::connectors
