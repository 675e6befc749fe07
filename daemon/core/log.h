#pragma once
// Logging setup: everything goes to stderr as logfmt (default) or JSON lines, through
// spdlog's default logger. Use spdlog::info("msg key=value ...") style messages built
// with logKv() so both formats stay structured.
#include <spdlog/spdlog.h>

#include <string>
#include <string_view>

namespace replywatch {

enum class LogFormat { Logfmt, Json };

// Throws std::invalid_argument on an unknown level or format (a configuration error).
void setupLogging(std::string_view level, std::string_view format);

// Quotes a value for logfmt when it contains spaces, quotes or '='.
std::string logValue(std::string_view v);

}  // namespace replywatch
