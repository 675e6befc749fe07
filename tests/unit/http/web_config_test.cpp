#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/http/web_config.h"

namespace replywatch::http {
namespace {

namespace fs = std::filesystem;
constexpr const char* kHash = "$2y$10$y1B0ZSmGV/MQOfJX7rqGXO3ByZCljZmszNKK2S8jA0S6PxQ0t7TRS";

class WebConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("replywatch-webcfg-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    write("tls.crt", "certificate");
    write("tls.key", "key");
    write("ca.crt", "ca");
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return dir_ / name;
  }
  Result<WebSecurity> load(const std::string& yaml) { return loadWebConfigFile(write("web.yml", yaml)); }
  std::string error(const std::string& yaml) {
    auto r = load(yaml);
    EXPECT_FALSE(r) << yaml;
    return r ? std::string() : r.error().message;
  }

  fs::path dir_;
};

TEST_F(WebConfigTest, EmptyFileMeansPlainHttpWithoutAuth) {
  auto r = load("");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->tls);
  EXPECT_TRUE(r->basic_auth_users.empty());
}

// Every problem of the file is reported at once, one per line, in the file's order.
TEST_F(WebConfigTest, EveryProblemIsReported) {
  const std::string message = error(
      "tls_server_config:\n"
      "  cert_file: absent.crt\n"
      "  key_file: absent.key\n"
      "  cipher_suites: [x]\n"
      "  min_version: TLS99\n"
      "rate_limit: 1\n"
      "basic_auth_users:\n"
      "  alice: not-a-hash\n"
      "  bob: also-not\n");
  std::vector<std::string> lines;
  std::stringstream in(message);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 7U) << message;
  EXPECT_NE(lines[0].find("rate_limit is not supported"), std::string::npos) << message;
  EXPECT_NE(lines[1].find("cipher_suites is not supported"), std::string::npos) << message;
  EXPECT_NE(lines[2].find("cert_file"), std::string::npos) << message;
  EXPECT_NE(lines[3].find("key_file"), std::string::npos) << message;
  EXPECT_NE(lines[4].find("TLS99"), std::string::npos) << message;
  EXPECT_NE(lines[5].find("basic_auth_users.alice"), std::string::npos) << message;
  EXPECT_NE(lines[6].find("basic_auth_users.bob"), std::string::npos) << message;
  for (const auto& line : lines) EXPECT_EQ(line.rfind((dir_ / "web.yml").string() + ":", 0), 0U) << line;
}

TEST_F(WebConfigTest, FullFile) {
  auto r = load(std::string("tls_server_config:\n"
                            "  cert_file: tls.crt\n"
                            "  key_file: ") +
                (dir_ / "tls.key").string() +
                "\n"
                "  client_ca_file: ca.crt\n"
                "  min_version: TLS13\n"
                "http_server_config:\n"
                "  headers:\n"
                "    X-Frame-Options: deny\n"
                "basic_auth_users:\n"
                "  prometheus: '" +
                kHash + "'\n");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->tls);
  EXPECT_EQ(r->tls->cert_file, dir_ / "tls.crt");  // relative to the web config file
  EXPECT_EQ(r->tls->key_file, dir_ / "tls.key");
  EXPECT_EQ(r->tls->client_ca_file, dir_ / "ca.crt");
  EXPECT_EQ(r->tls->client_auth, ClientAuth::RequireAndVerify);  // the default once a client CA is given
  EXPECT_EQ(r->tls->min_version, 0x0304);
  EXPECT_EQ(r->tls->max_version, 0);
  ASSERT_EQ(r->headers.size(), 1u);
  EXPECT_EQ(r->headers[0].first, "X-Frame-Options");
  EXPECT_EQ(r->basic_auth_users.at("prometheus"), kHash);
}

// As in the exporter-toolkit format: security headers only, some with fixed values; a
// header that frames or describes a body (Content-Length, Connection, Vary...) cannot be set.
TEST_F(WebConfigTest, OnlySecurityHeadersCanBeAdded) {
  auto ok = load(
      "http_server_config:\n  headers:\n    x-frame-options: SameOrigin\n"
      "    Strict-Transport-Security: max-age=31536000\n    Content-Security-Policy: \"\"\n");
  ASSERT_TRUE(ok) << ok.error().message;
  ASSERT_EQ(ok->headers.size(), 2u);  // a blank value sets nothing
  EXPECT_EQ(ok->headers[0], (std::pair<std::string, std::string>{"X-Frame-Options", "SameOrigin"}));
  EXPECT_EQ(ok->headers[1].first, "Strict-Transport-Security");

  auto bad = load(
      "http_server_config:\n  headers:\n    Content-Length: \"0\"\n    Vary: Origin\n"
      "    X-Content-Type-Options: sniff\n");
  ASSERT_FALSE(bad);
  const std::string& m = bad.error().message;
  EXPECT_NE(m.find(":3: header \"Content-Length\" cannot be configured (these can: Content-Security-Policy"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find(":4: header \"Vary\" cannot be configured"), std::string::npos) << m;
  EXPECT_NE(m.find(":5: invalid value \"sniff\" for header X-Content-Type-Options (expected nosniff)"),
            std::string::npos)
      << m;
}

TEST_F(WebConfigTest, DefaultsToTls12WithoutClientCertificates) {
  auto r = load("tls_server_config: {cert_file: tls.crt, key_file: tls.key}\n");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->tls->min_version, 0x0303);
  EXPECT_EQ(r->tls->client_auth, ClientAuth::None);
}

TEST_F(WebConfigTest, ClearErrors) {
  std::string e = error("tls_server_config: {cert_file: tls.crt}\n");
  EXPECT_NE(e.find("tls_server_config.key_file is required"), std::string::npos) << e;
  e = error("tls_server_config: {cert_file: missing.crt, key_file: tls.key}\n");
  EXPECT_NE(e.find("cert_file"), std::string::npos) << e;
  EXPECT_NE(e.find("cannot be read"), std::string::npos) << e;
  EXPECT_NE(e.find("web.yml:1"), std::string::npos) << e;

  e = error("tls_server_config: {cert_file: tls.crt, key_file: tls.key, min_version: TLS14}\n");
  EXPECT_NE(e.find("min_version \"TLS14\" is not one of"), std::string::npos) << e;
  e = error(
      "tls_server_config: {cert_file: tls.crt, key_file: tls.key, min_version: TLS13, max_version: TLS12}\n");
  EXPECT_NE(e.find("max_version is below min_version"), std::string::npos) << e;
  e = error("tls_server_config: {cert_file: tls.crt, key_file: tls.key, client_auth_type: Sometimes}\n");
  EXPECT_NE(e.find("client_auth_type \"Sometimes\""), std::string::npos) << e;
  e = error(
      "tls_server_config: {cert_file: tls.crt, key_file: tls.key, client_auth_type: "
      "RequireAndVerifyClientCert}\n");
  EXPECT_NE(e.find("set client_ca_file"), std::string::npos) << e;
  e = error(
      "tls_server_config: {cert_file: tls.crt, key_file: tls.key, cipher_suites: "
      "[TLS_AES_128_GCM_SHA256]}\n");
  EXPECT_NE(e.find("tls_server_config.cipher_suites is not supported"), std::string::npos) << e;
  e = error("tls_server_confg: {}\n");
  EXPECT_NE(e.find("unknown key web config.tls_server_confg"), std::string::npos) << e;
  e = error("http_server_config: {http2: false}\n");
  EXPECT_NE(e.find("http_server_config.http2 is not supported"), std::string::npos) << e;
  e = error("basic_auth_users: [prometheus]\n");
  EXPECT_NE(e.find("basic_auth_users must be a mapping"), std::string::npos) << e;
  e = error("basic_auth_users: {\"a:b\": '" + std::string(kHash) + "'}\n");
  EXPECT_NE(e.find("contain no ':'"), std::string::npos) << e;
  e = error("tls_server_config: [\n");
  EXPECT_NE(e.find("web.yml:"), std::string::npos) << e;
}

TEST_F(WebConfigTest, HashesAreCheckedButNeverPrinted) {
  for (const std::string bad : {"plaintext-password", "$2y$10$short", "$1$abcdefgh$abcdefghijklmnopqrstuv",
                                "$2y$99$y1B0ZSmGV/MQOfJX7rqGXO3ByZCljZmszNKK2S8jA0S6PxQ0t7TRS",
                                "$2y$10$y1B0ZSmGV/MQOfJX7rqGXO3ByZCljZmszNKK2S8jA0S6PxQ0t7TR!"}) {
    std::string e = error("basic_auth_users:\n  prometheus: '" + bad + "'\n");
    EXPECT_NE(e.find("basic_auth_users.prometheus is not a bcrypt hash"), std::string::npos) << e;
    EXPECT_EQ(e.find(bad), std::string::npos) << e;
  }
}

TEST_F(WebConfigTest, MissingFile) {
  auto r = loadWebConfigFile(dir_ / "absent.yml");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason, "web_config");
  EXPECT_NE(r.error().message.find("cannot be read"), std::string::npos);
}

}  // namespace
}  // namespace replywatch::http
