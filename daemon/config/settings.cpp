// Reading and checking YAML settings: helpers shared by the loader and the connector
// validators. Every reader records problems instead of throwing.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>

#include "daemon/config/config.h"
#include "daemon/config/internal.h"
#include "daemon/core/timestamp.h"

namespace replywatch::config {
namespace detail {

std::string_view kindOf(const YAML::Node& node) {
  if (!node.IsDefined()) return "missing value";
  switch (node.Type()) {
    case YAML::NodeType::Map: return "mapping";
    case YAML::NodeType::Sequence: return "list";
    case YAML::NodeType::Scalar: return "string";
    case YAML::NodeType::Null: return "empty value";
    case YAML::NodeType::Undefined: break;
  }
  return "missing value";
}

std::string keyIn(const std::string& key, const std::string& where) {
  std::string out = "\"" + key + "\"";
  if (!where.empty()) out += " in " + where;
  return out;
}

namespace {

std::size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

bool isNameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool isNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

void reportMissing(const std::vector<std::string>& missing, int line, const std::string& file,
                   std::vector<Problem>& problems) {
  for (const auto& name : missing) {
    problems.push_back({file, line, "environment variable " + name + " is not set"});
  }
}

}  // namespace

std::string closestMatch(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = 3;
  for (const auto& candidate : candidates) {
    std::size_t d = editDistance(word, candidate);
    if (d < best_distance && d < word.size()) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

YAML::Node child(const YAML::Node& map, const std::string& key) {
  if (!map.IsDefined() || !map.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == key) {
      if (!it->second.IsDefined() || it->second.IsNull()) return YAML::Node(YAML::NodeType::Undefined);
      return it->second;
    }
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

std::optional<std::string> scalarText(const YAML::Node& node, const std::string& key, const std::string& file,
                                      const std::string& where, std::vector<Problem>& problems) {
  if (!node.IsScalar()) {
    problems.push_back(
        {file, lineOf(node), keyIn(key, where) + " must be a string, not a " + std::string(kindOf(node))});
    return std::nullopt;
  }
  std::vector<std::string> missing;
  std::string value = expandEnv(node.Scalar(), missing);
  if (!missing.empty()) {
    reportMissing(missing, lineOf(node), file, problems);
    return std::nullopt;
  }
  return value;
}

void reportUnsetEnv(const YAML::Node& node, const std::string& file, std::vector<Problem>& problems) {
  if (!node.IsDefined()) return;
  if (node.IsScalar()) {
    std::vector<std::string> missing;
    (void)expandEnv(node.Scalar(), missing);
    reportMissing(missing, lineOf(node), file, problems);
  } else if (node.IsSequence()) {
    for (const auto& item : node) reportUnsetEnv(item, file, problems);
  } else if (node.IsMap()) {
    for (auto it = node.begin(); it != node.end(); ++it) reportUnsetEnv(it->second, file, problems);
  }
}

Result<std::string> readFile(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return makeError("io", "\"" + path.string() + "\" is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return makeError("io", "cannot open \"" + path.string() + "\": " + std::strerror(errno));
  }
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return makeError("io", "cannot read \"" + path.string() + "\"");
  return out.str();
}

bool validName(std::string_view name) {
  if (name.empty() || !std::isalnum(static_cast<unsigned char>(name.front()))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

}  // namespace detail

using detail::child;
using detail::keyIn;
using detail::kindOf;

int lineOf(const YAML::Node& node) {
  if (!node.IsDefined()) return 0;
  auto mark = node.Mark();
  return mark.line < 0 ? 0 : mark.line + 1;
}

void checkKeys(const YAML::Node& map, const std::vector<std::string>& allowed, const std::string& file,
               const std::string& where, std::vector<Problem>& problems) {
  if (!map.IsDefined() || !map.IsMap()) return;
  std::map<std::string, int> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    const YAML::Node key = it->first;  // by value: it->first belongs to a temporary
    int line = lineOf(key);
    if (!key.IsScalar()) {
      problems.push_back(
          {file, line,
           "a key in " + where + " is a " + std::string(kindOf(key)) + "; keys must be plain strings"});
      continue;
    }
    const std::string& name = key.Scalar();
    auto [pos, inserted] = seen.emplace(name, line);
    if (!inserted) {
      problems.push_back(
          {file, line,
           fmt::format("duplicate key \"{}\" in {} (first given on line {})", name, where, pos->second)});
      continue;
    }
    if (std::find(allowed.begin(), allowed.end(), name) != allowed.end()) {
      // `key:` with nothing after it would read as a key left out, default included (an
      // empty listen_address would listen on every interface).
      if (it->second.IsNull()) {
        problems.push_back({file, line,
                            fmt::format("\"{}\" in {} has no value (give one, or leave the key out for its "
                                        "default)",
                                        name, where)});
      }
      continue;
    }
    std::string message = fmt::format("unknown key \"{}\" in {}", name, where);
    std::string suggestion = detail::closestMatch(name, allowed);
    if (!suggestion.empty()) message += "; did you mean \"" + suggestion + "\"?";
    problems.push_back({file, line, std::move(message)});
  }
}

void requireKeys(const YAML::Node& map, const std::vector<std::string>& keys, const std::string& file,
                 const std::string& where, std::vector<Problem>& problems) {
  if (!map.IsDefined() || !map.IsMap()) return;
  for (const auto& key : keys) {
    if (!child(map, key).IsDefined()) {
      problems.push_back({file, lineOf(map), fmt::format("missing required key \"{}\" in {}", key, where)});
    }
  }
}

std::string readString(const YAML::Node& map, const std::string& key, const std::string& file,
                       const std::string& where, std::vector<Problem>& problems) {
  YAML::Node node = child(map, key);
  if (!node.IsDefined()) return "";
  return detail::scalarText(node, key, file, where, problems).value_or("");
}

std::vector<std::string> readStringList(const YAML::Node& map, const std::string& key,
                                        const std::string& file, const std::string& where,
                                        std::vector<Problem>& problems) {
  std::vector<std::string> out;
  YAML::Node node = child(map, key);
  if (!node.IsDefined()) return out;
  if (node.IsScalar()) {
    if (auto v = detail::scalarText(node, key, file, where, problems)) out.push_back(std::move(*v));
    return out;
  }
  if (!node.IsSequence()) {
    problems.push_back(
        {file, lineOf(node),
         keyIn(key, where) + " must be a list of strings, not a " + std::string(kindOf(node))});
    return out;
  }
  for (const auto& item : node) {
    if (!item.IsScalar()) {
      problems.push_back(
          {file, lineOf(item),
           "each item of " + keyIn(key, where) + " must be a string, not a " + std::string(kindOf(item))});
      continue;
    }
    if (auto v = detail::scalarText(item, key, file, where, problems)) out.push_back(std::move(*v));
  }
  return out;
}

std::optional<std::chrono::seconds> readDuration(const YAML::Node& map, const std::string& key,
                                                 const std::string& file, const std::string& where,
                                                 std::vector<Problem>& problems) {
  YAML::Node node = child(map, key);
  if (!node.IsDefined()) return std::nullopt;
  auto text = detail::scalarText(node, key, file, where, problems);
  if (!text) return std::nullopt;
  auto d = parseDuration(*text);
  if (!d) {
    problems.push_back({file, lineOf(node),
                        "invalid duration \"" + node.Scalar() + "\" for " + keyIn(key, where) +
                            " (use e.g. 90s, 15m, 1h30m, 28d or a number of seconds)"});
  }
  return d;
}

std::optional<std::uint64_t> readSize(const YAML::Node& map, const std::string& key, const std::string& file,
                                      const std::string& where, std::vector<Problem>& problems) {
  YAML::Node node = child(map, key);
  if (!node.IsDefined()) return std::nullopt;
  auto text = detail::scalarText(node, key, file, where, problems);
  if (!text) return std::nullopt;
  auto size = parseSize(*text);
  if (!size) {
    problems.push_back({file, lineOf(node),
                        "invalid size \"" + node.Scalar() + "\" for " + keyIn(key, where) +
                            " (use a number of bytes, or e.g. 64KiB, 1MiB)"});
  }
  return size;
}

std::optional<bool> readBool(const YAML::Node& map, const std::string& key, const std::string& file,
                             const std::string& where, std::vector<Problem>& problems) {
  YAML::Node node = child(map, key);
  if (!node.IsDefined()) return std::nullopt;
  auto text = detail::scalarText(node, key, file, where, problems);
  if (!text) return std::nullopt;
  std::string v = *text;
  std::transform(v.begin(), v.end(), v.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (v == "true" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "no" || v == "off") return false;
  problems.push_back(
      {file, lineOf(node),
       "invalid boolean \"" + node.Scalar() + "\" for " + keyIn(key, where) + " (use true or false)"});
  return std::nullopt;
}

Secret readSecret(const YAML::Node& map, const std::string& key, const std::string& file,
                  const std::filesystem::path& base_dir, std::vector<Problem>& problems) {
  const std::string file_key = key + "_file";
  YAML::Node direct = child(map, key);
  YAML::Node from_file = child(map, file_key);
  if (direct.IsDefined() && from_file.IsDefined()) {
    problems.push_back(
        {file, lineOf(direct), "both \"" + key + "\" and \"" + file_key + "\" are set; use only one"});
    return Secret{};
  }
  if (direct.IsDefined()) {
    if (!direct.IsScalar()) {
      problems.push_back(
          {file, lineOf(direct), "\"" + key + "\" must be a string, not a " + std::string(kindOf(direct))});
      return Secret{};
    }
    std::vector<std::string> missing;
    std::string value = expandEnv(direct.Scalar(), missing);
    if (!missing.empty()) {
      detail::reportMissing(missing, lineOf(direct), file, problems);
      return Secret{};
    }
    // An empty secret would turn off what it guards (a webhook, a token) without a word,
    // e.g. from a variable set to nothing: leave the key out to mean none.
    if (value.empty()) {
      problems.push_back({file, lineOf(direct), "\"" + key + "\" is empty (leave the key out for none)"});
      return Secret{};
    }
    return Secret{std::move(value)};
  }
  if (from_file.IsDefined()) {
    auto path_text = detail::scalarText(from_file, file_key, file, "", problems);
    if (!path_text) return Secret{};
    if (path_text->empty()) {
      problems.push_back({file, lineOf(from_file), "\"" + file_key + "\" is empty"});
      return Secret{};
    }
    auto path = resolvePath(base_dir, *path_text);
    auto content = detail::readFile(path);
    if (!content.ok()) {
      problems.push_back(
          {file, lineOf(from_file), "cannot read \"" + file_key + "\": " + content.error().message});
      return Secret{};
    }
    std::string value = std::move(content.value());
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
    if (value.empty()) {
      problems.push_back({file, lineOf(from_file),
                          "secret file \"" + path.string() + "\" of \"" + file_key + "\" is empty"});
      return Secret{};
    }
    return Secret{std::move(value)};
  }
  return Secret{};
}

std::string expandEnv(const std::string& value, std::vector<std::string>& missing) {
  std::string out;
  out.reserve(value.size());
  std::size_t i = 0;
  while (i < value.size()) {
    char c = value[i];
    if (c == '$' && i + 2 < value.size() && value[i + 1] == '$' && value[i + 2] == '{') {
      out += "${";
      i += 3;
      continue;
    }
    if (c == '$' && i + 1 < value.size() && value[i + 1] == '{') {
      std::size_t close = value.find('}', i + 2);
      if (close != std::string::npos) {
        std::string_view name(value.data() + i + 2, close - i - 2);
        bool ok = !name.empty() && detail::isNameStart(name.front()) &&
                  std::all_of(name.begin(), name.end(), detail::isNameChar);
        if (ok) {
          std::string var(name);
          if (const char* env = std::getenv(var.c_str())) {
            out += env;
          } else if (std::find(missing.begin(), missing.end(), var) == missing.end()) {
            missing.push_back(var);
          }
          i = close + 1;
          continue;
        }
      }
    }
    out += c;
    ++i;
  }
  return out;
}

std::filesystem::path resolvePath(const std::filesystem::path& base_dir, const std::string& path) {
  if (path.empty()) return {};
  std::filesystem::path p(path);
  if (p.is_absolute() || base_dir.empty()) return p.lexically_normal();
  return (base_dir / p).lexically_normal();
}

namespace {

bool parseTwoDigits(std::string_view s, int& out) {
  if (s.size() != 2 || !std::isdigit(static_cast<unsigned char>(s[0])) ||
      !std::isdigit(static_cast<unsigned char>(s[1])))
    return false;
  out = (s[0] - '0') * 10 + (s[1] - '0');
  return true;
}

// "HH:MM" (or "H:MM") -> minutes since midnight; "24:00" allowed when allow_end.
std::optional<int> parseClock(std::string_view s, bool allow_end) {
  auto colon = s.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view hh = s.substr(0, colon);
  std::string_view mm = s.substr(colon + 1);
  if (hh.size() == 1) {
    if (!std::isdigit(static_cast<unsigned char>(hh[0]))) return std::nullopt;
  } else if (hh.size() != 2) {
    return std::nullopt;
  }
  int h = 0, m = 0;
  if (hh.size() == 1) {
    h = hh[0] - '0';
  } else if (!parseTwoDigits(hh, h)) {
    return std::nullopt;
  }
  if (!parseTwoDigits(mm, m) || m > 59) return std::nullopt;
  if (h == 24 && m == 0 && allow_end) return 24 * 60;
  if (h > 23) return std::nullopt;
  return h * 60 + m;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<TimeRange> parseTimeRange(std::string_view text) {
  auto dash = text.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto start = parseClock(trim(text.substr(0, dash)), false);
  auto end = parseClock(trim(text.substr(dash + 1)), true);
  if (!start || !end || *end <= *start) return std::nullopt;
  return TimeRange{*start, *end};
}

std::optional<std::uint64_t> parseSize(std::string_view text) {
  text = trim(text);
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0) return std::nullopt;
  std::uint64_t value = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + digits, value);
  if (ec != std::errc{} || p != text.data() + digits) return std::nullopt;
  std::string_view unit = trim(text.substr(digits));
  static const std::pair<std::string_view, std::uint64_t> kUnits[] = {
      {"", 1},
      {"B", 1},
      {"KiB", 1ULL << 10},
      {"MiB", 1ULL << 20},
      {"GiB", 1ULL << 30},
      {"kB", 1000ULL},
      {"KB", 1000ULL},
      {"MB", 1000ULL * 1000},
      {"GB", 1000ULL * 1000 * 1000},
  };
  for (const auto& [name, factor] : kUnits) {
    if (unit == name) {
      if (value > UINT64_MAX / factor) return std::nullopt;
      return value * factor;
    }
  }
  return std::nullopt;
}

}  // namespace replywatch::config
