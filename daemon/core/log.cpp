#include "daemon/core/log.h"

#include <nlohmann/json.hpp>
#include <spdlog/formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <chrono>
#include <ctime>
#include <memory>
#include <stdexcept>

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

// ts=... level=info msg="..." — the message itself may carry further key=value pairs.
class LogfmtFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& m, spdlog::memory_buf_t& dest) override {
    std::string line = "ts=" + timestampOf(m) + " level=" + std::string(levelName(m.level)) + " ";
    std::string_view payload(m.payload.data(), m.payload.size());
    // Messages are written as `text key=value ...`: the leading text becomes msg.
    auto kv = payload.find(' ');
    std::string_view text = payload;
    std::string_view rest;
    while (kv != std::string_view::npos) {
      auto eq = payload.find('=', kv);
      auto next_space = payload.find(' ', kv + 1);
      if (eq != std::string_view::npos && (next_space == std::string_view::npos || eq < next_space) &&
          payload.substr(kv + 1, eq - kv - 1).find('"') == std::string_view::npos) {
        text = payload.substr(0, kv);
        rest = payload.substr(kv + 1);
        break;
      }
      kv = next_space;
    }
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
    nlohmann::json j;
    j["ts"] = timestampOf(m);
    j["level"] = levelName(m.level);
    j["msg"] = std::string(m.payload.data(), m.payload.size());
    auto line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

}  // namespace

std::string logValue(std::string_view v) {
  bool quote = v.empty();
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\n' || c == '\t') quote = true;
  }
  if (!quote) return std::string(v);
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  out += '"';
  return out;
}

void setupLogging(std::string_view level, std::string_view format) {
  auto lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off") {
    throw std::invalid_argument("unknown log level \"" + std::string(level) +
                                "\" (expected debug, info, warn or error)");
  }
  std::unique_ptr<spdlog::formatter> f;
  if (format == "logfmt") {
    f = std::make_unique<LogfmtFormatter>();
  } else if (format == "json") {
    f = std::make_unique<JsonFormatter>();
  } else {
    throw std::invalid_argument("unknown log format \"" + std::string(format) +
                                "\" (expected logfmt or json)");
  }
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("replywatch", sink);
  logger->set_formatter(std::move(f));
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

}  // namespace replywatch
