#pragma once
// Texts copied into blocks that live as long as the arena: views of them stay valid
// until it is destroyed (moving the arena keeps them valid too). For many short texts
// (ids) kept together, without an allocation per text.
//
// Threading: not synchronized.
#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

namespace replywatch {

class TextArena {
 public:
  TextArena() = default;
  TextArena(TextArena&& other) noexcept
      : blocks_(std::move(other.blocks_)),
        next_(std::exchange(other.next_, nullptr)),
        left_(std::exchange(other.left_, 0)) {}
  TextArena& operator=(TextArena&& other) noexcept {
    blocks_ = std::move(other.blocks_);
    next_ = std::exchange(other.next_, nullptr);
    left_ = std::exchange(other.left_, 0);
    return *this;
  }
  TextArena(const TextArena&) = delete;
  TextArena& operator=(const TextArena&) = delete;
  ~TextArena() = default;

  // A copy of `text`, valid while the arena is. An empty text costs nothing.
  std::string_view copy(std::string_view text) {
    if (text.empty()) return {};
    if (text.size() > left_) {
      if (text.size() > kBlockSize / 4) {  // a long text: a block of its own
        blocks_.push_back(std::make_unique_for_overwrite<char[]>(text.size()));
        std::memcpy(blocks_.back().get(), text.data(), text.size());
        return {blocks_.back().get(), text.size()};
      }
      blocks_.push_back(std::make_unique_for_overwrite<char[]>(kBlockSize));
      next_ = blocks_.back().get();
      left_ = kBlockSize;
    }
    char* at = next_;
    std::memcpy(at, text.data(), text.size());
    next_ += text.size();
    left_ -= text.size();
    return {at, text.size()};
  }

 private:
  static constexpr std::size_t kBlockSize = std::size_t{1} << 20;
  std::vector<std::unique_ptr<char[]>> blocks_;
  char* next_ = nullptr;
  std::size_t left_ = 0;
};

}  // namespace replywatch
