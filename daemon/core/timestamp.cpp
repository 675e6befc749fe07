#include "daemon/core/timestamp.h"

#include <date/date.h>

#include <cctype>
#include <charconv>
#include <sstream>

namespace replywatch {
namespace {

bool parseInt(std::string_view s, int& out) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

}  // namespace

std::optional<Timestamp> parseRfc3339(std::string_view s) {
  // YYYY-MM-DD[T ]hh:mm:ss[.fff...](Z|+hh:mm|-hh:mm|+hhmm)
  if (s.size() < 20) return std::nullopt;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' ||
      s[16] != ':')
    return std::nullopt;
  if (!parseInt(s.substr(0, 4), y) || !parseInt(s.substr(5, 2), mo) || !parseInt(s.substr(8, 2), d) ||
      !parseInt(s.substr(11, 2), h) || !parseInt(s.substr(14, 2), mi) || !parseInt(s.substr(17, 2), sec))
    return std::nullopt;
  if (h > 23 || mi > 59 || sec > 60) return std::nullopt;
  std::size_t pos = 19;
  std::int64_t millis = 0;
  if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
    ++pos;
    std::size_t start = pos;
    int digits = 0;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
      if (digits < 3) millis = millis * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    if (pos == start) return std::nullopt;
    for (; digits < 3; ++digits) millis *= 10;
  }
  if (pos >= s.size()) return std::nullopt;
  int offset_minutes = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int sign = s[pos] == '-' ? -1 : 1;
    ++pos;
    int oh = 0, om = 0;
    if (pos + 2 > s.size() || !parseInt(s.substr(pos, 2), oh)) return std::nullopt;
    pos += 2;
    if (pos < s.size() && s[pos] == ':') ++pos;
    if (pos + 2 > s.size() || !parseInt(s.substr(pos, 2), om)) return std::nullopt;
    pos += 2;
    if (oh > 23 || om > 59) return std::nullopt;
    offset_minutes = sign * (oh * 60 + om);
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  auto ymd = date::year{y} / date::month{static_cast<unsigned>(mo)} / date::day{static_cast<unsigned>(d)};
  if (!ymd.ok()) return std::nullopt;
  auto day_point = date::sys_days{ymd};
  auto t = std::chrono::time_point_cast<std::chrono::milliseconds>(day_point) + std::chrono::hours{h} +
           std::chrono::minutes{mi} + std::chrono::seconds{sec} + std::chrono::milliseconds{millis} -
           std::chrono::minutes{offset_minutes};
  return Timestamp{t.time_since_epoch()};
}

std::string formatRfc3339(Timestamp t) {
  auto secs = std::chrono::floor<std::chrono::seconds>(t);
  return date::format("%Y-%m-%dT%H:%M:%SZ", secs);
}

std::string formatRfc3339Millis(Timestamp t) { return date::format("%Y-%m-%dT%H:%M:%SZ", t); }

std::optional<std::chrono::seconds> parseDuration(std::string_view s) {
  if (s.empty()) return std::nullopt;
  bool all_digits = true;
  for (char c : s) all_digits = all_digits && std::isdigit(static_cast<unsigned char>(c));
  if (all_digits) {
    long long v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || v > kMaxDurationSeconds) return std::nullopt;
    return std::chrono::seconds{v};
  }
  long long total = 0;
  std::size_t pos = 0;
  while (pos < s.size()) {
    std::size_t start = pos;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) ++pos;
    if (pos == start || pos >= s.size()) return std::nullopt;
    long long v = 0;
    auto [p, ec] = std::from_chars(s.data() + start, s.data() + pos, v);
    if (ec != std::errc{}) return std::nullopt;
    long long unit = 0;
    switch (s[pos]) {
      case 's': unit = 1; break;
      case 'm': unit = 60; break;
      case 'h': unit = 3600; break;
      case 'd': unit = 86400; break;
      case 'w': unit = 7 * 86400; break;
      default: return std::nullopt;
    }
    ++pos;
    // Each term and the sum stay within the cap, so nothing here (nor the caller's
    // conversion to milliseconds) can overflow.
    if (v > kMaxDurationSeconds) return std::nullopt;
    total += v * unit;
    if (total > kMaxDurationSeconds) return std::nullopt;
  }
  return std::chrono::seconds{total};
}

}  // namespace replywatch
