#pragma once
// An ordered set of (asked_at, conversation slot) pairs: the open turns of one
// (account, channel), ordered by age. Stored as a list of sorted chunks of at most
// kChunk entries (16 bytes each), which keeps memory close to the payload and makes
// insert/erase O(sqrt n) and rank queries O(n / kChunk).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace replywatch::tracker::internal {

struct OpenEntry {
  std::int64_t asked_ms = 0;
  std::uint32_t slot = 0;
  friend bool operator<(const OpenEntry& a, const OpenEntry& b) {
    return a.asked_ms != b.asked_ms ? a.asked_ms < b.asked_ms : a.slot < b.slot;
  }
  friend bool operator==(const OpenEntry& a, const OpenEntry& b) = default;
};

class OpenIndex {
 public:
  static constexpr std::size_t kChunk = 512;

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::int64_t minAsked() const { return chunks_.front().front().asked_ms; }

  void insert(const OpenEntry& e) {
    ++size_;
    if (chunks_.empty()) {
      chunks_.push_back(newChunk());
      chunks_.back().push_back(e);
      return;
    }
    std::size_t c = chunkFor(e);
    if (c == chunks_.size()) c = chunks_.size() - 1;
    std::vector<OpenEntry>* chunk = &chunks_[c];
    auto pos = std::lower_bound(chunk->begin(), chunk->end(), e);
    if (chunk->size() < kChunk) {
      chunk->insert(pos, e);
      return;
    }
    if (pos == chunk->end() && c + 1 == chunks_.size()) {
      // Appending past the newest entry (the usual case): start a new full-size chunk.
      chunks_.push_back(newChunk());
      chunks_.back().push_back(e);
      return;
    }
    // Split the full chunk in two halves, then insert into the right one.
    std::vector<OpenEntry> upper = newChunk();
    upper.assign(chunk->begin() + kChunk / 2, chunk->end());
    chunk->resize(kChunk / 2);
    chunks_.insert(chunks_.begin() + static_cast<std::ptrdiff_t>(c) + 1, std::move(upper));
    chunk = &chunks_[c];
    if (!(chunks_[c + 1].front() < e)) {
      chunk->insert(std::lower_bound(chunk->begin(), chunk->end(), e), e);
    } else {
      std::vector<OpenEntry>& up = chunks_[c + 1];
      up.insert(std::lower_bound(up.begin(), up.end(), e), e);
    }
  }

  bool erase(const OpenEntry& e) {
    std::size_t c = chunkFor(e);
    if (c == chunks_.size()) return false;
    std::vector<OpenEntry>& chunk = chunks_[c];
    auto pos = std::lower_bound(chunk.begin(), chunk.end(), e);
    if (pos == chunk.end() || !(*pos == e)) return false;
    chunk.erase(pos);
    --size_;
    if (chunk.empty()) chunks_.erase(chunks_.begin() + static_cast<std::ptrdiff_t>(c));
    return true;
  }

  // Number of entries with asked_ms < t.
  std::size_t countBefore(std::int64_t t) const {
    std::size_t n = 0;
    for (const auto& chunk : chunks_) {
      if (chunk.back().asked_ms < t) {
        n += chunk.size();
        continue;
      }
      auto pos = std::lower_bound(chunk.begin(), chunk.end(), t,
                                  [](const OpenEntry& a, std::int64_t v) { return a.asked_ms < v; });
      n += static_cast<std::size_t>(pos - chunk.begin());
      break;
    }
    return n;
  }

  // Calls fn(entry) for every entry with lo <= asked_ms < hi, in order.
  template <typename Fn>
  void forEachIn(std::int64_t lo, std::int64_t hi, Fn&& fn) const {
    for (const auto& chunk : chunks_) {
      if (chunk.back().asked_ms < lo) continue;
      for (const OpenEntry& e : chunk) {
        if (e.asked_ms < lo) continue;
        if (e.asked_ms >= hi) return;
        fn(e);
      }
    }
  }

 private:
  static std::vector<OpenEntry> newChunk() {
    std::vector<OpenEntry> v;
    v.reserve(kChunk);
    return v;
  }
  // Index of the first chunk whose last entry is not less than e (chunks_.size() if none).
  std::size_t chunkFor(const OpenEntry& e) const {
    auto it =
        std::lower_bound(chunks_.begin(), chunks_.end(), e,
                         [](const std::vector<OpenEntry>& ch, const OpenEntry& v) { return ch.back() < v; });
    return static_cast<std::size_t>(it - chunks_.begin());
  }

  std::vector<std::vector<OpenEntry>> chunks_;
  std::size_t size_ = 0;
};

}  // namespace replywatch::tracker::internal
