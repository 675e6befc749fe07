#pragma once
// A Bloom filter over the conversations the store holds. The tracker asks the store for
// a conversation's messages whenever a message arrives for a conversation it does not
// hold in memory; during an import nearly every conversation is new, and the filter
// answers "not stored" without a look-up. A false positive costs one look-up; there are
// no false negatives. Not synchronized: the pipeline calls it under its lock.
#include <cstdint>
#include <vector>

#include "daemon/core/model.h"

namespace replywatch::app {

class ConversationFilter {
 public:
  // The smallest filter: 1 Mbit (128 KiB), about 100,000 conversations.
  static constexpr std::uint64_t kDefaultMinBits = std::uint64_t{1} << 20;

  // Sized for `expected` conversations at a false-positive rate below about 1%, and at
  // least `min_bits` bits (rounded up to a power of two, at least 64).
  explicit ConversationFilter(std::uint64_t expected = 0, std::uint64_t min_bits = kDefaultMinBits);

  void add(const ConversationKey& key);
  bool mayContain(const ConversationKey& key) const;

  // True once more conversations were added than the filter was sized for. A
  // conversation added again, or one the filter already answered "maybe" for, is not
  // counted again.
  bool overfull() const { return count_ > capacity_; }
  std::uint64_t count() const { return count_; }
  std::uint64_t capacity() const { return capacity_; }

 private:
  static constexpr int kHashes = 5;
  std::vector<std::uint64_t> words_;
  std::uint64_t mask_ = 0;  // number of bits - 1 (a power of two)
  std::uint64_t capacity_ = 0;
  std::uint64_t count_ = 0;
};

}  // namespace replywatch::app
