#pragma once
// Sorting millions of rows by string columns through the rows themselves costs a cache
// miss per comparison. Each row is sorted as a small key instead: integers that decide
// most comparisons (the rank of a column of few values, the first bytes of a text, a
// time), and the row's index for the rest, which a full comparison of the rows decides.
// Used where a whole load is sorted at once (the store file builder, the turns of a load).
//
// Threading: no shared state; a Ranks is read-only once built.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace replywatch {

struct SortKey {
  std::uint64_t first;
  std::uint64_t second;
  std::uint32_t rank;
  std::uint32_t index;
};

// The first 8 bytes of `text`, zero-padded, as a big-endian integer: a < b between two
// prefixes means the same between the texts (memcmp order, SQLite's BINARY); equal
// prefixes decide nothing.
inline std::uint64_t prefixOf(std::string_view text) {
  std::uint64_t out = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    out = (out << 8) | (i < text.size() ? static_cast<unsigned char>(text[i]) : 0U);
  }
  return out;
}

// The first 7 bytes of `text`, zero-padded, then its length (8 for any longer text), as
// a big-endian integer: a < b between two keys means the same between the texts, and
// equal keys mean equal texts when the texts are shorter than 8 bytes (and decide
// nothing otherwise).
inline std::uint64_t shortKeyOf(std::string_view text) {
  return prefixOf(text.substr(0, 7)) | (text.size() < 8 ? text.size() : 8U);
}

// An int64 as an unsigned integer of the same order.
inline std::uint64_t ordered(std::int64_t value) { return static_cast<std::uint64_t>(value) ^ (1ULL << 63); }

// Ranks of the distinct values of a column of few values (sources, accounts), in their
// sorted order. The values are viewed, not copied: the rows must outlive the Ranks.
class Ranks {
 public:
  template <typename Rows, typename Column>
  Ranks(const Rows& rows, Column column) {
    std::vector<std::string_view> values;
    std::string_view last;
    for (const auto& row : rows) {
      const std::string_view v = column(row);
      if (!values.empty() && v == last) continue;
      last = v;
      if (ranks_.emplace(v, 0).second) values.push_back(v);
    }
    std::sort(values.begin(), values.end());
    for (std::size_t i = 0; i < values.size(); ++i) ranks_[values[i]] = static_cast<std::uint32_t>(i);
  }
  // Ranks of the given values (known beforehand, e.g. the configured sources: no pass
  // over the rows), viewed as well.
  explicit Ranks(std::vector<std::string_view> values) {
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    for (std::size_t i = 0; i < values.size(); ++i) ranks_.emplace(values[i], static_cast<std::uint32_t>(i));
  }
  // The rank of a value of the rows (std::out_of_range for another).
  std::uint32_t operator()(std::string_view value) const { return ranks_.at(value); }

 private:
  std::unordered_map<std::string_view, std::uint32_t> ranks_;
};

// A Ranks looked up row after row: a value equal to the one asked for last is not looked
// up again (rows often come in runs of one value). Views the last value: the rows must
// outlive it. One per thread.
class RankLookup {
 public:
  explicit RankLookup(const Ranks& ranks) : ranks_(ranks) {}
  std::uint32_t operator()(std::string_view value) {
    if (!asked_ || value != last_) {
      last_rank_ = ranks_(value);
      last_ = value;
      asked_ = true;
    }
    return last_rank_;
  }

 private:
  const Ranks& ranks_;
  std::string_view last_;
  std::uint32_t last_rank_ = 0;
  bool asked_ = false;
};

// The key of row `index` for a sort by `rank`, then a text: its first 16 bytes.
inline SortKey textKey(std::uint32_t rank, std::string_view text, std::uint32_t index) {
  return SortKey{prefixOf(text), prefixOf(text.size() > 8 ? text.substr(8) : std::string_view()), rank,
                 index};
}

// The key of row `index` for a sort by `rank`, then a text, then a column whose key is
// `then` (e.g. ordered() of a time, shortKeyOf() of another text): `then` counts only
// where the text's key is exact (shorter than 8 bytes).
inline SortKey textThenKey(std::uint32_t rank, std::string_view text, std::uint64_t then,
                           std::uint32_t index) {
  return SortKey{shortKeyOf(text), text.size() < 8 ? then : 0, rank, index};
}

// Rows read in key order rather than memory order: those this many places ahead are
// fetched into the cache meanwhile (prefetchRow()).
inline constexpr std::size_t kPrefetchDistance = 8;

// Asks for every cache line of `row`, without waiting.
template <typename Row>
void prefetchRow(const Row& row) {
  const char* at = reinterpret_cast<const char*>(&row);
  for (std::size_t line = 0; line < sizeof(Row); line += 64) __builtin_prefetch(at + line);
}

struct SortedRows {
  std::vector<std::uint32_t> order;  // row indexes in key order
  // With `find_ties`: positions i in `order` whose key fields equal those of i - 1, the
  // only places two rows of the same key can be.
  std::vector<std::size_t> ties;
};

// Sorts keys made by `make(i)` for i in [0, n), equal keys ordered by `less` on the
// rows. A key's fields are compared in the order rank, first, second: each must order
// rows as the columns before it being equal would: `second` is only compared between
// rows of equal `rank` and `first`, and must order those rightly (the next bytes of the
// same text, or, where `first` is exact, the next column; 0 where it can say nothing).
// textKey() and textThenKey() make such keys.
template <typename Make, typename Less>
SortedRows sortedOrder(std::size_t n, Make make, Less less, bool find_ties) {
  std::vector<SortKey> keys(n);
  for (std::size_t i = 0; i < n; ++i) keys[i] = make(static_cast<std::uint32_t>(i));
  std::sort(keys.begin(), keys.end(), [&](const SortKey& a, const SortKey& b) {
    if (a.rank != b.rank) return a.rank < b.rank;
    if (a.first != b.first) return a.first < b.first;
    if (a.second != b.second) return a.second < b.second;
    return less(a.index, b.index);
  });
  SortedRows sorted;
  sorted.order.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    sorted.order[i] = keys[i].index;
    if (find_ties && i > 0 && keys[i].rank == keys[i - 1].rank && keys[i].first == keys[i - 1].first &&
        keys[i].second == keys[i - 1].second) {
      sorted.ties.push_back(i);
    }
  }
  return sorted;
}

}  // namespace replywatch
