#include "daemon/core/log.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <charconv>
#include <chrono>
#include <ctime>
#include <memory>
#include <optional>
#include <stdexcept>
#include <utility>

#include "daemon/core/timestamp.h"

namespace replywatch {
namespace {

std::string_view levelName(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::trace: return "trace";
    case spdlog::level::debug: return "debug";
    case spdlog::level::info: return "info";
    case spdlog::level::warn: return "warn";
    case spdlog::level::err: return "error";
    case spdlog::level::critical: return "critical";
    default: return "off";
  }
}

std::string timestampOf(const spdlog::details::log_msg& m) {
  auto ms = std::chrono::time_point_cast<std::chrono::milliseconds>(m.time);
  auto t = Timestamp{ms.time_since_epoch()};
  auto secs = formatRfc3339(t);  // ...Z
  auto frac = toMillis(t) % 1000;
  if (frac < 0) frac += 1000;
  char buf[8];
  std::snprintf(buf, sizeof buf, ".%03lld", static_cast<long long>(frac));
  return secs.substr(0, secs.size() - 1) + buf + "Z";
}

// The value of a logfmt pair at `p` (a bare word, or a quoted string as logValue()
// writes it); advances `p` past it. Nothing when a quoted value is not closed.
std::optional<std::string> readLogValue(std::string_view s, std::size_t& p) {
  if (p >= s.size() || s[p] != '"') {
    auto end = s.find(' ', p);
    if (end == std::string_view::npos) end = s.size();
    std::string v(s.substr(p, end - p));
    p = end;
    return v;
  }
  std::string v;
  for (++p; p < s.size(); ++p) {
    char c = s[p];
    if (c == '"') {
      ++p;
      return v;
    }
    if (c == '\\' && p + 1 < s.size()) {
      const char e = s[++p];
      unsigned byte = 0;
      if (e == 'x' && p + 2 < s.size() &&
          std::from_chars(s.data() + p + 1, s.data() + p + 3, byte, 16).ptr == s.data() + p + 3) {
        v += static_cast<char>(byte);
        p += 2;
      } else {
        v += e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : e;
      }
      continue;
    }
    v += c;
  }
  return std::nullopt;
}

// Where a message written as `text key=value ...` ends its text: the first space followed
// by `key=` (a key without quotes or spaces); npos when no pair follows.
std::size_t textEnd(std::string_view payload) {
  for (auto sp = payload.find(' '); sp != std::string_view::npos; sp = payload.find(' ', sp + 1)) {
    auto eq = payload.find('=', sp);
    auto next_space = payload.find(' ', sp + 1);
    if (eq != std::string_view::npos && (next_space == std::string_view::npos || eq < next_space) &&
        payload.substr(sp + 1, eq - sp - 1).find('"') == std::string_view::npos) {
      return sp;
    }
  }
  return std::string_view::npos;
}

// ts=... level=info msg="..." — the message itself may carry further key=value pairs.
class LogfmtFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& m, spdlog::memory_buf_t& dest) override {
    std::string line = "ts=" + timestampOf(m) + " level=" + std::string(levelName(m.level)) + " ";
    std::string_view payload(m.payload.data(), m.payload.size());
    // Messages are written as `text key=value ...`: the leading text becomes msg.
    const std::size_t end = textEnd(payload);
    const std::string_view text = payload.substr(0, end);
    const std::string_view rest =
        end == std::string_view::npos ? std::string_view() : payload.substr(end + 1);
    line += "msg=" + logValue(text);
    if (!rest.empty()) line += " " + std::string(rest);
    line += "\n";
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<LogfmtFormatter>(); }
};

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& m, spdlog::memory_buf_t& dest) override {
    const std::string_view payload(m.payload.data(), m.payload.size());
    nlohmann::ordered_json j;
    j["ts"] = timestampOf(m);
    j["level"] = levelName(m.level);
    auto split = splitLogMessage(payload);
    if (!split) {
      j["msg"] = std::string(payload);
    } else {
      j["msg"] = std::string(split->text);
      for (auto& [key, value] : split->fields) {
        // A field never hides the line's own keys.
        std::string name = key == "ts" || key == "level" || key == "msg" ? "field_" + key : key;
        j[name] = std::move(value);
      }
    }
    auto line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

}  // namespace

std::string logValue(std::string_view v) {
  auto control = [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == '\x7f'; };
  bool quote = v.empty();
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || control(c)) quote = true;
  }
  if (!quote) return std::string(v);
  std::string out = "\"";
  for (char c : v) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        // Other control bytes (ESC, NUL, ...) never reach a terminal or a log file raw.
        if (control(c)) {
          out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::optional<LogMessage> splitLogMessage(std::string_view payload) {
  LogMessage out;
  const std::size_t end = textEnd(payload);
  out.text = payload.substr(0, end);
  if (end == std::string_view::npos) return out;
  std::size_t p = end + 1;
  while (p < payload.size()) {
    if (payload[p] == ' ') {
      ++p;
      continue;
    }
    auto eq = payload.find('=', p);
    auto space = payload.find(' ', p);
    if (eq == std::string_view::npos || eq == p || (space != std::string_view::npos && space < eq))
      return std::nullopt;
    std::string key(payload.substr(p, eq - p));
    if (key.find('"') != std::string::npos) return std::nullopt;
    p = eq + 1;
    auto value = readLogValue(payload, p);
    if (!value || (p < payload.size() && payload[p] != ' ')) return std::nullopt;
    out.fields.emplace_back(std::move(key), std::move(*value));
  }
  return out;
}

std::unique_ptr<spdlog::formatter> makeLogFormatter(std::string_view format) {
  if (format == "logfmt") return std::make_unique<LogfmtFormatter>();
  if (format == "json") return std::make_unique<JsonFormatter>();
  throw std::invalid_argument("unknown log format \"" + std::string(format) + "\" (expected logfmt or json)");
}

void setupLogging(std::string_view level, std::string_view format) {
  auto lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off") {
    throw std::invalid_argument("unknown log level \"" + std::string(level) +
                                "\" (expected debug, info, warn or error)");
  }
  std::unique_ptr<spdlog::formatter> f = makeLogFormatter(format);
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("replywatch", sink);
  logger->set_formatter(std::move(f));
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

}  // namespace replywatch
