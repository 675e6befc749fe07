#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "daemon/core/text_arena.h"

namespace replywatch {
namespace {

TEST(TextArena, CopiesStayValidAcrossBlocksAndMoves) {
  TextArena arena;
  std::vector<std::string> given;
  std::vector<std::string_view> kept;
  // Enough short texts for several blocks, long ones (blocks of their own) between them.
  for (int i = 0; i < 300000; ++i) {
    std::string text = "id-" + std::to_string(i);
    if (i % 50000 == 7)
      text = std::string(600000 + static_cast<std::size_t>(i), static_cast<char>('a' + i % 26));
    kept.push_back(arena.copy(text));
    given.push_back(std::move(text));
  }
  EXPECT_TRUE(arena.copy("").empty());
  TextArena moved = std::move(arena);
  TextArena other;
  other = std::move(moved);
  for (std::size_t i = 0; i < given.size(); ++i) {
    ASSERT_EQ(kept[i], given[i]) << i;
    ASSERT_NE(kept[i].data(), given[i].data());
  }
  // A moved-from arena starts afresh: its copies do not land in the blocks given away.
  const std::string_view after = arena.copy("later");  // NOLINT(bugprone-use-after-move)
  const std::string_view more = other.copy("more");
  EXPECT_EQ(after, "later");
  EXPECT_EQ(more, "more");
  EXPECT_EQ(kept[1], "id-1");
  EXPECT_EQ(kept.back(), given.back());
}

}  // namespace
}  // namespace replywatch
