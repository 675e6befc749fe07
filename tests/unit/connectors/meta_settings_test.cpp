#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "tests/unit/connectors/meta_test_support.h"

namespace replywatch::connectors::meta {
namespace {

std::vector<config::Problem> problemsOf(const std::string& yaml) {
  std::vector<config::Problem> problems;
  validate(replywatch::connectors::testing::makeSource(yaml), problems);
  return problems;
}

std::string joined(const std::vector<config::Problem>& problems) {
  std::string s;
  for (const auto& p : problems) s += p.str() + "\n";
  return s;
}

TEST(MetaSettings, ValidSourcesAndDefaults) {
  EXPECT_TRUE(problemsOf(testing::sourceYaml()).empty()) << joined(problemsOf(testing::sourceYaml()));
  const std::string full = testing::sourceYaml(
      "access_token: tok\ngraph_url: http://127.0.0.1:8080/\ngraph_version: v19.0\npoll_interval: 5m\n"
      "backfill: 14d\nlookback: 1d\ntimeout: 30s\nbrand_ids: [maisonlumiere, \"42\"]\nmentions: true\n");
  EXPECT_TRUE(problemsOf(full).empty()) << joined(problemsOf(full));

  std::vector<config::Problem> ignored;
  Settings s = parseSettings(replywatch::connectors::testing::makeSource(full), ignored);
  EXPECT_EQ(s.graph_url, "http://127.0.0.1:8080");
  EXPECT_EQ(s.graph_version, "v19.0");
  EXPECT_EQ(s.poll_interval, std::chrono::seconds(300));
  EXPECT_EQ(s.backfill, std::chrono::seconds(14 * 86400));
  EXPECT_EQ(s.brand_ids.size(), 2u);
  EXPECT_TRUE(s.mentions);
  EXPECT_EQ(s.access_token.reveal(), "tok");

  Settings d = parseSettings(replywatch::connectors::testing::makeSource(testing::sourceYaml()), ignored);
  EXPECT_EQ(d.graph_url, kDefaultGraphUrl);
  EXPECT_EQ(d.graph_version, kDefaultGraphVersion);
  EXPECT_EQ(d.poll_interval, std::chrono::seconds(900));
  EXPECT_EQ(d.platform, Platform::Facebook);
  EXPECT_FALSE(d.mentions);
}

TEST(MetaSettings, ProblemsCarryFileAndLine) {
  const std::string yaml =
      "name: acme-fb\ntype: meta\naccount: acme\nchannel: x\npage_id: \"12ab\"\napp_secret: s\n"
      "graph_url: ftp://example\ngraph_version: \"21\"\npoll_interval: 0s\npage_idd: 1\n";
  auto problems = problemsOf(yaml);
  const std::string all = joined(problems);
  EXPECT_NE(all.find("replywatch.yml:4: channel in source \"acme-fb\" must be \"facebook\" or \"instagram\""),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("replywatch.yml:5: page_id in source \"acme-fb\" must be a numeric Meta id"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("replywatch.yml:6: source \"acme-fb\" needs verify_token with app_secret"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("replywatch.yml:7: graph_url in source \"acme-fb\" must start with http://"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("replywatch.yml:8: graph_version in source \"acme-fb\" must look like"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("replywatch.yml:9: poll_interval in source \"acme-fb\" must be longer than zero"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("replywatch.yml:7: graph_url in source \"acme-fb\" needs access_token"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("page_idd"), std::string::npos) << all;
}

TEST(MetaSettings, RequiredKeys) {
  auto none = joined(problemsOf("name: acme-fb\ntype: meta\naccount: acme\nchannel: facebook\n"));
  EXPECT_NE(none.find("needs page_id"), std::string::npos) << none;
  EXPECT_NE(none.find("needs app_secret (webhooks) or access_token (Graph API polling)"), std::string::npos)
      << none;
  auto verify_only = joined(problemsOf(
      "name: acme-fb\ntype: meta\naccount: acme\nchannel: facebook\npage_id: \"1\"\naccess_token: t\n"
      "verify_token: v\n"));
  EXPECT_NE(verify_only.find("verify_token in source \"acme-fb\" is only used with app_secret"),
            std::string::npos)
      << verify_only;
}

TEST(MetaSettings, SecretsFromTheEnvironmentNeverAppear) {
  ::setenv("RW_META_TEST_SECRET", "s3cr3t-value", 1);
  const std::string yaml =
      "name: acme-fb\ntype: meta\naccount: acme\nchannel: instagram\npage_id: \"1\"\n"
      "app_secret: ${RW_META_TEST_SECRET}\nverify_token: ${RW_META_TEST_MISSING}\n";
  auto problems = problemsOf(yaml);
  const std::string all = joined(problems);
  EXPECT_NE(all.find("RW_META_TEST_MISSING"), std::string::npos) << all;
  EXPECT_EQ(all.find("s3cr3t-value"), std::string::npos) << all;
  std::vector<config::Problem> ignored;
  Settings s = parseSettings(replywatch::connectors::testing::makeSource(yaml), ignored);
  EXPECT_EQ(s.platform, Platform::Instagram);
  EXPECT_EQ(s.app_secret.reveal(), "s3cr3t-value");
  EXPECT_EQ(fmt::format("{}", s.app_secret), "<redacted>");
}

}  // namespace
}  // namespace replywatch::connectors::meta
