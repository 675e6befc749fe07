#pragma once
// A text in 16 bytes: up to 15 bytes held inline, a longer one viewed where it is kept
// (a TextArena, the configuration). What the records of a load into a new store file hold
// for each text column: ids are mostly short, so a record read in any order brings its
// texts into the cache with it, where a view would cost a cache miss per text.
//
// A copy of an inline text holds its own bytes; a copy of a longer one views the same
// bytes. A view() of an inline text is valid while that CompactText is (not moved).
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace replywatch {

class CompactText {
 public:
  static constexpr std::size_t kInline = 15;

  CompactText() = default;
  // `text` itself when it is short; otherwise a view of it, which must outlive this.
  explicit CompactText(std::string_view text) {
    if (text.size() <= kInline) {
      if (!text.empty()) std::memcpy(bytes_, text.data(), text.size());
      bytes_[kInline] = static_cast<char>(text.size());
    } else {
      const char* data = text.data();
      const auto size = static_cast<std::uint32_t>(text.size());
      std::memcpy(bytes_, &data, sizeof data);
      std::memcpy(bytes_ + sizeof data, &size, sizeof size);
      bytes_[kInline] = kOutside;
    }
  }
  // A text longer than the limit (4 GiB) is a programmer error: callers keep texts of
  // a few kilobytes at most.

  std::string_view view() const {
    if (bytes_[kInline] != kOutside) {
      return {bytes_, static_cast<std::size_t>(static_cast<unsigned char>(bytes_[kInline]))};
    }
    const char* data = nullptr;
    std::uint32_t size = 0;
    std::memcpy(&data, bytes_, sizeof data);
    std::memcpy(&size, bytes_ + sizeof data, sizeof size);
    return {data, size};
  }
  operator std::string_view() const { return view(); }  // NOLINT(google-explicit-constructor)
  bool empty() const { return bytes_[kInline] == 0; }
  std::size_t size() const { return view().size(); }
  const char* data() const { return view().data(); }

  friend bool operator==(const CompactText& a, const CompactText& b) { return a.view() == b.view(); }
  friend std::strong_ordering operator<=>(const CompactText& a, const CompactText& b) {
    return a.view() <=> b.view();
  }
  friend bool operator==(const CompactText& a, std::string_view b) { return a.view() == b; }

 private:
  static constexpr char kOutside = static_cast<char>(0xFF);
  char bytes_[kInline + 1] = {};  // inline text, then its length (kOutside: a view)
};

}  // namespace replywatch
