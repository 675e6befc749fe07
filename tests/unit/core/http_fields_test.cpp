// ASCII case-insensitive comparisons shared by the server and the connectors.
#include "daemon/core/http_fields.h"

#include <gtest/gtest.h>

namespace replywatch {
namespace {

TEST(HttpFields, EqualsIgnoreCase) {
  EXPECT_TRUE(equalsIgnoreCase("Content-Type", "content-type"));
  EXPECT_TRUE(equalsIgnoreCase("", ""));
  EXPECT_FALSE(equalsIgnoreCase("Content-Type", "content-typ"));
  EXPECT_FALSE(equalsIgnoreCase("a", "b"));
}

TEST(HttpFields, StartsWithIgnoreCase) {
  EXPECT_TRUE(startsWithIgnoreCase("HTTPS://example.org", "https://"));
  EXPECT_TRUE(startsWithIgnoreCase("anything", ""));
  EXPECT_FALSE(startsWithIgnoreCase("http", "https://"));
  EXPECT_FALSE(startsWithIgnoreCase("ftp://x", "http://"));
}

}  // namespace
}  // namespace replywatch
