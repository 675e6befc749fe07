#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "daemon/core/key_sort.h"

namespace replywatch {
namespace {

// Texts that share prefixes, hold zero bytes, and straddle the 7, 8 and 16 byte limits.
std::vector<std::string> trickyTexts() {
  std::vector<std::string> texts = {"",
                                    "a",
                                    "ab",
                                    std::string("ab\0", 3),
                                    std::string("ab\0\0\0\0\0", 7),
                                    std::string("ab\0\0\0\0\0\0", 8),
                                    "abcdefg",
                                    "abcdefgh",
                                    "abcdefgZ",
                                    "abcdefgAA",
                                    "abcdefghijklmnop",
                                    "abcdefghijklmnopq",
                                    "abcdefghijklmnoq",
                                    "\xff\xff\xff\xff\xff\xff\xff",
                                    "\xff\xff\xff\xff\xff\xff\xff\xff"};
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> length(0, 20);
  std::uniform_int_distribution<int> byte(0, 3);  // few letters: many shared prefixes
  for (int i = 0; i < 300; ++i) {
    std::string s(static_cast<std::size_t>(length(rng)), 'a');
    for (char& c : s) c = "\0abz"[byte(rng)];
    texts.push_back(s);
  }
  return texts;
}

// A key's verdict between two rows: -1 (a first), 1 (b first) or 0 (undecided).
int verdict(const SortKey& a, const SortKey& b) {
  const auto x = std::tie(a.rank, a.first, a.second);
  const auto y = std::tie(b.rank, b.first, b.second);
  return x < y ? -1 : (y < x ? 1 : 0);
}

TEST(KeySort, ShortKeysOrderAsTheTextsAndAreExactBelowEightBytes) {
  const auto texts = trickyTexts();
  for (const std::string& a : texts) {
    for (const std::string& b : texts) {
      const std::uint64_t ka = shortKeyOf(a);
      const std::uint64_t kb = shortKeyOf(b);
      if (ka < kb) {
        EXPECT_LT(a, b);
      }
      if (a.size() < 8 && b.size() < 8) {
        EXPECT_EQ(ka == kb, a == b);
      }
      if (a == b) {
        EXPECT_EQ(ka, kb);
      }
    }
  }
}

TEST(KeySort, TextKeysNeverContradictTheRows) {
  const auto texts = trickyTexts();
  const std::vector<std::int64_t> times = {-5, 0, 3};
  for (std::size_t i = 0; i < texts.size(); i += 3) {
    for (std::size_t j = 0; j < texts.size(); ++j) {
      const std::string& a = texts[i];
      const std::string& b = texts[j];
      // By text alone.
      const int by_text = verdict(textKey(0, a, 0), textKey(0, b, 1));
      if (by_text != 0) {
        EXPECT_EQ(by_text < 0, a < b) << i << " " << j;
      }
      if (a.size() <= 16 && b.size() <= 16 && (a.empty() || a.back() != '\0') &&
          (b.empty() || b.back() != '\0')) {
        EXPECT_EQ(by_text == 0, a == b) << i << " " << j;  // decided but for trailing zero bytes
      }
      // By text, then time.
      for (const std::int64_t ta : times) {
        for (const std::int64_t tb : times) {
          const int v = verdict(textThenKey(0, a, ordered(ta), 0), textThenKey(0, b, ordered(tb), 1));
          if (v != 0) {
            EXPECT_EQ(v < 0, std::tie(a, ta) < std::tie(b, tb)) << i << " " << j;
          }
          if (a.size() < 8 && b.size() < 8) {
            EXPECT_EQ(v == 0, a == b && ta == tb);
          }
        }
      }
    }
  }
}

TEST(KeySort, SortedOrderFollowsTheRowsAndFindsTies) {
  auto texts = trickyTexts();
  texts.insert(texts.end(), texts.begin(), texts.begin() + 40);  // some twice
  std::vector<std::int64_t> times;
  std::mt19937 rng(11);
  for (std::size_t i = 0; i < texts.size(); ++i) times.push_back(static_cast<std::int64_t>(rng() % 3));
  auto less = [&](std::uint32_t a, std::uint32_t b) {
    return std::tie(texts[a], times[a], a) < std::tie(texts[b], times[b], b);
  };
  const SortedRows sorted = sortedOrder(
      texts.size(), [&](std::uint32_t i) { return textThenKey(0, texts[i], ordered(times[i]), i); }, less,
      true);
  ASSERT_EQ(sorted.order.size(), texts.size());
  for (std::size_t k = 1; k < sorted.order.size(); ++k)
    EXPECT_TRUE(less(sorted.order[k - 1], sorted.order[k]));
  // Every pair of equal rows is among the ties.
  for (std::size_t k = 1; k < sorted.order.size(); ++k) {
    const std::uint32_t a = sorted.order[k - 1];
    const std::uint32_t b = sorted.order[k];
    if (texts[a] == texts[b] && times[a] == times[b]) {
      EXPECT_NE(std::find(sorted.ties.begin(), sorted.ties.end(), k), sorted.ties.end()) << k;
    }
  }
}

TEST(KeySort, RanksOfGivenValuesAreThoseOfTheRows) {
  const std::vector<std::string> rows = {"x", "feed", "twcs", "feed", "a", "twcs"};
  const Ranks of_rows(rows, [](const std::string& r) -> std::string_view { return r; });
  const Ranks given(std::vector<std::string_view>{"twcs", "a", "x", "feed", "a"});
  for (const std::string& r : rows) EXPECT_EQ(given(r), of_rows(r)) << r;
  EXPECT_EQ(given("a"), 0U);
  EXPECT_EQ(given("x"), 3U);
  EXPECT_THROW((void)given("other"), std::out_of_range);
}

// Runs of one value, values that alternate, a value met again after others, a text
// equal to the last one but held elsewhere: always the value's rank.
TEST(KeySort, RankLookupsGiveTheRanks) {
  const std::vector<std::string> values = {"b", "a", "c", ""};
  const Ranks ranks(values, [](const std::string& v) -> std::string_view { return v; });
  std::vector<std::string> asked = {"a", "a", "a", "b", "a", "b", "b", "c", "", "", "c", "a"};
  RankLookup lookup(ranks);
  for (const std::string& v : asked) EXPECT_EQ(lookup(v), ranks(v)) << v;
  const std::string copy = asked.back();
  EXPECT_EQ(lookup(copy), ranks("a"));
  EXPECT_EQ(lookup(""), 0U);
  EXPECT_EQ(lookup("c"), 3U);
  EXPECT_THROW((void)lookup("other"), std::out_of_range);
  EXPECT_EQ(lookup("c"), 3U);  // a failed lookup changes nothing
  EXPECT_EQ(lookup("b"), 2U);
}

}  // namespace
}  // namespace replywatch
