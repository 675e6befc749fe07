#pragma once
// A secret value (webhook secret, API token). It never prints itself: formatting a
// Secret, through fmt/spdlog or an ostream, yields "<redacted>".
#include <fmt/format.h>

#include <ostream>
#include <string>
#include <utility>

namespace replywatch {

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string v) : value_(std::move(v)) {}
  const std::string& reveal() const { return value_; }
  bool empty() const { return value_.empty(); }
  friend std::ostream& operator<<(std::ostream& os, const Secret&) { return os << "<redacted>"; }
  bool operator==(const Secret&) const = default;

 private:
  std::string value_;
};

}  // namespace replywatch

template <>
struct fmt::formatter<replywatch::Secret> : fmt::formatter<std::string_view> {
  auto format(const replywatch::Secret&, format_context& ctx) const {
    return fmt::formatter<std::string_view>::format("<redacted>", ctx);
  }
};
