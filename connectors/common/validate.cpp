#include "connectors/common/validate.h"

#include <fmt/format.h>

#include <cstdint>
#include <cstring>

namespace replywatch::connectors {

bool isValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const unsigned char* end = p + s.size();
  while (p < end) {
    // ASCII fast path, eight bytes at a time.
    while (end - p >= 8) {
      std::uint64_t word = 0;
      std::memcpy(&word, p, 8);
      if (word & 0x8080808080808080ULL) break;
      p += 8;
    }
    if (p >= end) break;
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    std::size_t need = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    // One branch per row of the table of well-formed UTF-8 sequences, even where rows agree.
    // NOLINTBEGIN(bugprone-branch-clone)
    if (c >= 0xC2 && c <= 0xDF) {
      need = 1;
    } else if (c == 0xE0) {
      need = 2;
      lo = 0xA0;  // no overlong 3-byte forms
    } else if (c >= 0xE1 && c <= 0xEC) {
      need = 2;
    } else if (c == 0xED) {
      need = 2;
      hi = 0x9F;  // no UTF-16 surrogates
    } else if (c >= 0xEE && c <= 0xEF) {
      need = 2;
    } else if (c == 0xF0) {
      need = 3;
      lo = 0x90;  // no overlong 4-byte forms
    } else if (c >= 0xF1 && c <= 0xF3) {
      need = 3;
    } else if (c == 0xF4) {
      need = 3;
      hi = 0x8F;  // nothing above U+10FFFF
    } else {
      return false;
    }
    // NOLINTEND(bugprone-branch-clone)
    if (static_cast<std::size_t>(end - p) <= need) return false;
    if (p[1] < lo || p[1] > hi) return false;
    for (std::size_t i = 2; i <= need; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
    }
    p += need + 1;
  }
  return true;
}

std::optional<Rejection> MessageValidator::checkField(std::string_view name, std::string_view value) const {
  if (value.size() > max_field_bytes_) {
    return Rejection{ErrorReason::FieldTooLong, fmt::format("field {} is {} bytes long, the limit is {}",
                                                            name, value.size(), max_field_bytes_)};
  }
  if (!isValidUtf8(value)) {
    return Rejection{ErrorReason::InvalidUtf8, fmt::format("field {} is not valid UTF-8", name)};
  }
  return std::nullopt;
}

std::optional<Rejection> MessageValidator::checkTimestamp(Timestamp t, std::optional<Timestamp> now) const {
  if (toMillis(t) < kEarliestMessageMillis) {
    return Rejection{ErrorReason::InvalidTimestamp,
                     fmt::format("created_at {} is before 2000-01-01", formatRfc3339(t))};
  }
  Timestamp current = now ? *now : clock_.now();
  if (t > current + max_future_skew_) {
    return Rejection{ErrorReason::FutureTimestamp, fmt::format("created_at {} is more than {}s in the future",
                                                               formatRfc3339(t), max_future_skew_.count())};
  }
  return std::nullopt;
}

std::optional<Rejection> MessageValidator::check(const Message& m, std::optional<Timestamp> now) const {
  if (m.id.empty()) return Rejection{ErrorReason::MissingField, "field id is missing or empty"};
  if (m.conversation_id.empty())
    return Rejection{ErrorReason::MissingField, "field conversation_id is missing or empty"};
  if (m.author_id.empty()) return Rejection{ErrorReason::MissingField, "field author_id is missing or empty"};
  const std::pair<std::string_view, const std::string*> fields[] = {{"id", &m.id},
                                                                    {"conversation_id", &m.conversation_id},
                                                                    {"in_reply_to", &m.in_reply_to},
                                                                    {"author_id", &m.author_id},
                                                                    {"author_name", &m.author_name},
                                                                    {"text", &m.text}};
  for (const auto& [name, value] : fields) {
    if (auto r = checkField(name, *value)) return r;
  }
  return checkTimestamp(m.created_at, now);
}

}  // namespace replywatch::connectors
