// Percentiles against a brute-force computation and known values; the Wilson interval
// against published values.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "daemon/verdict/statistics.h"

namespace replywatch::verdict {
namespace {

// Definition 7 of Hyndman and Fan, straight from a fully sorted copy.
double bruteForce(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  double h = static_cast<double>(values.size() - 1) * q;
  auto lo = static_cast<std::size_t>(std::floor(h));
  auto hi = static_cast<std::size_t>(std::ceil(h));
  return values[lo] + (h - static_cast<double>(lo)) * (values[hi] - values[lo]);
}

TEST(Quantile, KnownValues) {
  std::vector<double> four = {4, 1, 3, 2};
  EXPECT_DOUBLE_EQ(*quantile(four, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(*quantile(four, 0.9), 3.7);
  EXPECT_DOUBLE_EQ(*quantile(four, 0.0), 1);
  EXPECT_DOUBLE_EQ(*quantile(four, 1.0), 4);
  std::vector<double> five = {50, 10, 40, 20, 30};
  EXPECT_DOUBLE_EQ(*quantile(five, 0.5), 30);
  EXPECT_DOUBLE_EQ(*quantile(five, 0.9), 46);
  std::vector<double> one = {7};
  EXPECT_DOUBLE_EQ(*quantile(one, 0.9), 7);
  std::vector<double> none;
  EXPECT_FALSE(quantile(none, 0.5).has_value());
}

TEST(Quantile, MatchesBruteForceOnRandomSamples) {
  std::mt19937 rng(20261123);
  std::uniform_int_distribution<int> size(1, 400);
  std::exponential_distribution<double> wait(1.0 / 1800.0);
  std::uniform_int_distribution<int> coarse(0, 10);  // many ties
  for (int round = 0; round < 500; ++round) {
    std::vector<double> values(static_cast<std::size_t>(size(rng)));
    for (auto& v : values) v = round % 2 ? wait(rng) : static_cast<double>(coarse(rng)) * 60.0;
    for (double q : {0.0, 0.1, 0.5, 0.9, 0.99, 1.0}) {
      auto copy = values;
      ASSERT_DOUBLE_EQ(*quantile(copy, q), bruteForce(values, q)) << "n=" << values.size() << " q=" << q;
    }
  }
}

// Newcombe, "Two-sided confidence intervals for the single proportion: comparison of
// seven methods", Statistics in Medicine 17 (1998) 857-872, Table II, method 3 (score
// interval without continuity correction), given to four decimals.
TEST(Wilson, PublishedValues) {
  struct Case {
    std::uint64_t k, n;
    double lower, upper;
  };
  for (auto c : {Case{81, 263, 0.2553, 0.3662}, Case{15, 148, 0.0624, 0.1605}, Case{0, 20, 0.0, 0.1611},
                 Case{1, 29, 0.0061, 0.1718}}) {
    auto i = wilsonInterval(c.k, c.n);
    EXPECT_NEAR(i.lower, c.lower, 5e-5) << c.k << "/" << c.n;
    EXPECT_NEAR(i.upper, c.upper, 5e-5) << c.k << "/" << c.n;
  }
}

TEST(Wilson, EdgesAndSymmetry) {
  auto none = wilsonInterval(0, 0);
  EXPECT_EQ(none.lower, 0.0);
  EXPECT_EQ(none.upper, 1.0);
  auto all = wilsonInterval(20, 20);
  EXPECT_DOUBLE_EQ(all.upper, 1.0);
  EXPECT_NEAR(all.lower, 1.0 - 0.1611, 5e-5);
  // Exactly 0 and 1 at the edges, not within a rounding error of them (these are
  // printed and compared with thresholds).
  for (std::uint64_t n : {1U, 7U, 30U, 34U, 1000U}) {
    EXPECT_EQ(wilsonInterval(0, n).lower, 0.0) << n;
    EXPECT_EQ(wilsonInterval(n, n).upper, 1.0) << n;
  }
  auto a = wilsonInterval(3, 40);
  auto b = wilsonInterval(37, 40);
  EXPECT_NEAR(a.lower, 1.0 - b.upper, 1e-12);
  EXPECT_NEAR(a.upper, 1.0 - b.lower, 1e-12);
  EXPECT_LT(a.lower, 3.0 / 40);
  EXPECT_GT(a.upper, 3.0 / 40);
}

}  // namespace
}  // namespace replywatch::verdict
