#include <crypt.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <thread>
#include <vector>

#include "daemon/core/base64.h"
#include "daemon/http/basic_auth.h"

namespace replywatch::http {
namespace {

// Published bcrypt test vectors (OpenBSD / John the Ripper): password -> hash.
constexpr const char* kUuHash = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";     // "U*U"
constexpr const char* kEmptyHash = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.7uG0VCzI2bS7j6ymqJi9CdcdxiRTWNy";  // ""

Request withAuthorization(std::string value) {
  Request r;
  r.method = "GET";
  r.path = "/metrics";
  r.headers.emplace_back("Authorization", std::move(value));
  return r;
}

Request basic(const std::string& user_pass) { return withAuthorization("Basic " + base64Encode(user_pass)); }

TEST(BasicAuth, DisabledWithoutUsers) {
  BasicAuth auth(std::map<std::string, std::string>{});
  EXPECT_FALSE(auth.enabled());
  EXPECT_TRUE(auth.check(Request{}));
}

TEST(BasicAuth, AcceptsTheRightPasswordOnly) {
  BasicAuth auth(std::map<std::string, std::string>{{"prometheus", kUuHash}, {"empty", kEmptyHash}});
  EXPECT_TRUE(auth.enabled());
  EXPECT_TRUE(auth.check(basic("prometheus:U*U")));
  EXPECT_TRUE(auth.check(basic("prometheus:U*U")));  // second time from the cache
  EXPECT_FALSE(auth.check(basic("prometheus:U*V")));
  EXPECT_FALSE(auth.check(basic("prometheus:")));
  EXPECT_TRUE(auth.check(basic("empty:")));
  EXPECT_FALSE(auth.check(basic("empty:U*U")));
  EXPECT_FALSE(auth.check(basic("nobody:U*U")));      // unknown user, checked against the dummy hash
  EXPECT_FALSE(auth.check(basic("Prometheus:U*U")));  // user names are case-sensitive
}

// A bcrypt hash of `password` at `cost`, made here with libxcrypt.
std::string hashAt(const std::string& password, unsigned long cost) {
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  EXPECT_NE(crypt_gensalt_rn("$2b$", cost, nullptr, 0, setting, sizeof setting), nullptr);
  crypt_data data{};
  return crypt_r(password.c_str(), setting, &data);
}

TEST(BasicAuth, NamesThatAreNoUserAreCheckedAtTheHighestCost) {
  // The first user in name order has the lowest cost: the dummy hash follows the highest.
  BasicAuth mixed(std::map<std::string, std::string>{{"alice", kUuHash}, {"zoe", hashAt("z", 7)}});
  EXPECT_EQ(mixed.unknownUserCost(), 7);
  EXPECT_TRUE(mixed.costsDiffer());
  EXPECT_TRUE(mixed.check(basic("zoe:z")));
  EXPECT_TRUE(mixed.check(basic("alice:U*U")));
  EXPECT_FALSE(mixed.check(basic("nobody:z")));

  BasicAuth same(std::map<std::string, std::string>{{"prometheus", kUuHash}, {"empty", kEmptyHash}});
  EXPECT_EQ(same.unknownUserCost(), 5);
  EXPECT_FALSE(same.costsDiffer());
  EXPECT_EQ(BasicAuth(std::map<std::string, std::string>{}).unknownUserCost(), 0);
}

// bcrypt stops at a NUL: the right password followed by a NUL and more is a wrong one.
TEST(BasicAuth, APasswordWithANulByteIsRefused) {
  BasicAuth auth(std::map<std::string, std::string>{{"prometheus", kUuHash}, {"empty", kEmptyHash}});
  using namespace std::string_literals;
  EXPECT_TRUE(auth.check(basic("prometheus:U*U")));
  EXPECT_FALSE(auth.check(basic("prometheus:U*U\0junk"s)));
  EXPECT_FALSE(auth.check(basic("prometheus:U*U\0"s)));
  EXPECT_FALSE(auth.check(basic("empty:\0"s)));
}

TEST(BasicAuth, PasswordsMayContainColons) {
  // The user name ends at the first colon.
  BasicAuth auth(std::map<std::string, std::string>{{"prometheus", kUuHash}});
  EXPECT_FALSE(auth.check(basic("prometheus:U*U:extra")));
}

TEST(BasicAuth, MalformedHeadersAreRefused) {
  BasicAuth auth(std::map<std::string, std::string>{{"prometheus", kUuHash}});
  EXPECT_FALSE(auth.check(Request{}));
  EXPECT_FALSE(auth.check(withAuthorization("")));
  EXPECT_FALSE(auth.check(withAuthorization("Basic")));
  EXPECT_FALSE(auth.check(withAuthorization("Bearer " + base64Encode("prometheus:U*U"))));
  EXPECT_FALSE(auth.check(withAuthorization("Basic !!!!")));
  EXPECT_FALSE(auth.check(withAuthorization("Basic " + base64Encode("no-colon"))));
  EXPECT_FALSE(auth.check(withAuthorization("Basic " + std::string(10000, 'A'))));
  EXPECT_TRUE(auth.check(
      withAuthorization("basic " + base64Encode("prometheus:U*U"))));  // scheme is case-insensitive
}

TEST(BasicAuth, ConcurrentChecksGiveTheRightAnswers) {
  BasicAuth auth(std::map<std::string, std::string>{{"prometheus", kUuHash}});
  std::vector<std::thread> threads;
  threads.reserve(8);
  std::vector<int> wrong(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        const bool good = (i + t) % 2 == 0;
        if (auth.check(basic(good ? "prometheus:U*U" : "prometheus:nope")) != good) ++wrong[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int w : wrong) EXPECT_EQ(w, 0);
}

TEST(BasicAuth, ChallengeAsksForBasicCredentials) {
  Response r = BasicAuth::challenge();
  EXPECT_EQ(r.status, 401);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "WWW-Authenticate");
  EXPECT_EQ(r.headers[0].second, "Basic realm=\"replywatch\"");
}

}  // namespace
}  // namespace replywatch::http
