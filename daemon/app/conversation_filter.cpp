#include "daemon/app/conversation_filter.h"

#include <algorithm>
#include <functional>
#include <string_view>

namespace replywatch::app {
namespace {

// Bits per conversation: with 5 hashes, 10 bits give about 1% false positives.
constexpr std::uint64_t kBitsPerKey = 10;

std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

// Two independent hashes of the key for double hashing.
std::pair<std::uint64_t, std::uint64_t> hashes(const ConversationKey& key) {
  const std::uint64_t a = std::hash<std::string_view>{}(key.conversation_id);
  const std::uint64_t b = std::hash<std::string_view>{}(key.source);
  const std::uint64_t h1 = mix(a ^ (b * 0x9e3779b97f4a7c15ULL));
  const std::uint64_t h2 = mix(h1 + 0x632be59bd9b4e019ULL) | 1;
  return {h1, h2};
}

}  // namespace

ConversationFilter::ConversationFilter(std::uint64_t expected, std::uint64_t min_bits) {
  std::uint64_t bits = 64;
  while (bits < min_bits || bits < expected * kBitsPerKey) bits <<= 1;
  words_.assign(bits / 64, 0);
  mask_ = bits - 1;
  capacity_ = bits / kBitsPerKey;
}

void ConversationFilter::add(const ConversationKey& key) {
  auto [h1, h2] = hashes(key);
  bool fresh = false;
  for (int i = 0; i < kHashes; ++i) {
    const std::uint64_t bit = (h1 + static_cast<std::uint64_t>(i) * h2) & mask_;
    std::uint64_t& word = words_[bit / 64];
    const std::uint64_t flag = std::uint64_t{1} << (bit % 64);
    fresh = fresh || (word & flag) == 0;
    word |= flag;
  }
  // A key whose bits were all set already (added before, or a false positive) does not
  // fill the filter any further.
  if (fresh) ++count_;
}

bool ConversationFilter::mayContain(const ConversationKey& key) const {
  auto [h1, h2] = hashes(key);
  for (int i = 0; i < kHashes; ++i) {
    const std::uint64_t bit = (h1 + static_cast<std::uint64_t>(i) * h2) & mask_;
    if ((words_[bit / 64] & (std::uint64_t{1} << (bit % 64))) == 0) return false;
  }
  return true;
}

}  // namespace replywatch::app
