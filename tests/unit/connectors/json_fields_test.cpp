// Field readers shared by the JSON connectors: ids and integers read exactly, or not at
// all, whatever range the number is in.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "connectors/common/json_fields.h"

namespace replywatch::connectors {
namespace {

TEST(JsonFields, IdsKeepTheirDigitsAcrossTheWholeRange) {
  const auto doc = nlohmann::json::parse(
      R"({"small": 42, "negative": -7, "unsigned_max": 18446744073709551615, "signed_max": 9223372036854775807,
          "text": "abc", "empty": "", "real": 1.5})");
  EXPECT_EQ(jsonId(doc, "small"), "42");
  EXPECT_EQ(jsonId(doc, "negative"), "-7");
  EXPECT_EQ(jsonId(doc, "unsigned_max"), "18446744073709551615");
  EXPECT_EQ(jsonId(doc, "signed_max"), "9223372036854775807");
  EXPECT_EQ(jsonId(doc, "text"), "abc");
  EXPECT_EQ(jsonId(doc, "empty"), std::nullopt);
  EXPECT_EQ(jsonId(doc, "real"), std::nullopt);
  EXPECT_EQ(jsonId(doc, "absent"), std::nullopt);
}

TEST(JsonFields, IntegersOutsideTheSignedRangeAreNotValues) {
  const auto doc = nlohmann::json::parse(
      R"({"unsigned_max": 18446744073709551615, "just_over": 9223372036854775808,
          "signed_max": 9223372036854775807, "negative": -1, "text": "12"})");
  EXPECT_EQ(jsonInteger(doc, "unsigned_max"), std::nullopt);
  EXPECT_EQ(jsonInteger(doc, "just_over"), std::nullopt);
  EXPECT_EQ(jsonInteger(doc, "signed_max"), 9223372036854775807LL);
  EXPECT_EQ(jsonInteger(doc, "negative"), -1);
  EXPECT_EQ(jsonInteger(doc, "text"), 12);
}

}  // namespace
}  // namespace replywatch::connectors
