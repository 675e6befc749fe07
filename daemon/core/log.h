#pragma once
// Logging setup: everything goes to stderr as logfmt (default) or JSON lines, through
// spdlog's default logger. Use spdlog::info("msg key=value ...") style messages built
// with logKv() so both formats stay structured.
#include <spdlog/formatter.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace replywatch {

enum class LogFormat { Logfmt, Json };

// Throws std::invalid_argument on an unknown level or format (a configuration error).
void setupLogging(std::string_view level, std::string_view format);

// The formatter of a --log.format value ("logfmt" or "json"); throws
// std::invalid_argument on another.
std::unique_ptr<spdlog::formatter> makeLogFormatter(std::string_view format);

// A message written as `text key=value key="quoted value" ...`, split: the text, then
// each pair in order with quoted values unescaped. Nothing when the pairs after the
// text do not read as logfmt (a value with a space and no quotes, an unclosed quote);
// the JSON format then keeps the whole message in `msg`.
struct LogMessage {
  std::string_view text;
  std::vector<std::pair<std::string, std::string>> fields;
};
std::optional<LogMessage> splitLogMessage(std::string_view payload);

// Quotes a value for logfmt when it contains spaces, quotes, '=' or control bytes. Inside
// the quotes a backslash escapes '"' and itself; LF, CR and tab are written \n, \r and
// \t, every other control byte \xNN.
std::string logValue(std::string_view v);

}  // namespace replywatch
