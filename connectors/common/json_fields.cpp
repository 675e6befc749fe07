#include "connectors/common/json_fields.h"

#include <fmt/format.h>

#include <cctype>
#include <limits>

namespace replywatch::connectors {

std::optional<std::string> jsonId(const nlohmann::json& object, std::string_view key) {
  if (!object.is_object()) return std::nullopt;
  const auto it = object.find(key);
  if (it == object.end()) return std::nullopt;
  if (it->is_string()) {
    auto s = it->get<std::string>();
    if (s.empty()) return std::nullopt;
    return s;
  }
  // Unsigned first: a number above the signed 64-bit range keeps its digits.
  if (it->is_number_unsigned()) return std::to_string(it->get<unsigned long long>());
  if (it->is_number_integer()) return std::to_string(it->get<long long>());
  return std::nullopt;
}

std::string jsonString(const nlohmann::json& object, std::string_view key) {
  if (!object.is_object()) return {};
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

bool jsonBool(const nlohmann::json& object, std::string_view key) {
  if (!object.is_object()) return false;
  const auto it = object.find(key);
  return it != object.end() && it->is_boolean() && it->get<bool>();
}

std::optional<long long> jsonInteger(const nlohmann::json& object, std::string_view key) {
  if (!object.is_object()) return std::nullopt;
  const auto it = object.find(key);
  if (it == object.end()) return std::nullopt;
  if (it->is_number_unsigned()) {
    // Beyond the signed range it would wrap around (to -1 for the largest): not a value.
    const auto u = it->get<unsigned long long>();
    if (u > static_cast<unsigned long long>(std::numeric_limits<long long>::max())) return std::nullopt;
    return static_cast<long long>(u);
  }
  if (it->is_number_integer()) return it->get<long long>();
  if (it->is_string()) {
    const auto& s = it->get_ref<const std::string&>();
    if (s.empty() || s.size() > 18) return std::nullopt;
    std::size_t i = s[0] == '-' ? 1 : 0;
    if (i == s.size()) return std::nullopt;
    long long v = 0;
    for (; i < s.size(); ++i) {
      if (std::isdigit(static_cast<unsigned char>(s[i])) == 0) return std::nullopt;
      v = v * 10 + (s[i] - '0');
    }
    return s[0] == '-' ? -v : v;
  }
  return std::nullopt;
}

Result<Timestamp> jsonTimestamp(const nlohmann::json& object, std::string_view key, std::string_view what) {
  const std::string text = jsonString(object, key);
  if (text.empty()) return makeError("missing_field", fmt::format("{} has no {}", what, key));
  auto t = parseRfc3339(text);
  if (!t) return makeError("invalid_timestamp", fmt::format("{} has an unreadable {}", what, key));
  return *t;
}

ErrorReason reasonOf(const Error& error) {
  for (std::size_t i = 0; i < kErrorReasonCount; ++i) {
    const auto r = static_cast<ErrorReason>(i);
    if (toString(r) == error.reason) return r;
  }
  return ErrorReason::ParseError;
}

bool idLess(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return a.size() < b.size();
  return a < b;
}

}  // namespace replywatch::connectors
