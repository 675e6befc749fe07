#include <gtest/gtest.h>

#include <random>
#include <set>

#include "daemon/tracker/open_index.h"

namespace replywatch::tracker::internal {
namespace {

TEST(OpenIndex, MatchesOrderedSetUnderRandomOperations) {
  std::mt19937 rng(7);
  OpenIndex index;
  std::set<std::pair<std::int64_t, std::uint32_t>> reference;
  for (int step = 0; step < 60000; ++step) {
    bool insert = reference.empty() || rng() % 3 != 0;
    if (insert) {
      // Mostly recent times (appends), sometimes old ones (backfills).
      std::int64_t t = rng() % 4 == 0 ? static_cast<std::int64_t>(rng() % 100000) : 100000 + step;
      auto slot = static_cast<std::uint32_t>(rng() % 1000);
      if (reference.insert({t, slot}).second) index.insert(OpenEntry{t, slot});
    } else {
      auto it = reference.begin();
      std::advance(it, static_cast<long>(rng() % reference.size()));
      EXPECT_TRUE(index.erase(OpenEntry{it->first, it->second}));
      reference.erase(it);
    }
    if (step % 997 == 0) {
      ASSERT_EQ(index.size(), reference.size());
      if (!reference.empty()) {
        EXPECT_EQ(index.minAsked(), reference.begin()->first);
        auto probe = static_cast<std::int64_t>(rng() % 200000);
        std::size_t want = 0;
        for (const auto& e : reference) want += e.first < probe ? 1 : 0;
        EXPECT_EQ(index.countBefore(probe), want);
        std::vector<std::pair<std::int64_t, std::uint32_t>> seen;
        index.forEachIn(probe - 5000, probe,
                        [&](const OpenEntry& e) { seen.emplace_back(e.asked_ms, e.slot); });
        std::vector<std::pair<std::int64_t, std::uint32_t>> expected(reference.lower_bound({probe - 5000, 0}),
                                                                     reference.lower_bound({probe, 0}));
        EXPECT_EQ(seen, expected);
      }
    }
  }
  EXPECT_FALSE(index.erase(OpenEntry{-1, 0}));
}

}  // namespace
}  // namespace replywatch::tracker::internal
