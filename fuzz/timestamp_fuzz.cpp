// Time and duration parsers used on untrusted input (payload timestamps, query
// parameters, configuration); a parsed RFC 3339 time must format (to the second) and parse
// back to the same second.
#include <chrono>
#include <cstdlib>
#include <string_view>

#include "connectors/export/export_format.h"
#include "daemon/core/timestamp.h"
#include "fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace replywatch;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto t = parseRfc3339(text)) {
    auto again = parseRfc3339(formatRfc3339(*t));
    if (!again || *again != std::chrono::floor<std::chrono::seconds>(*t)) std::abort();  // round trip broken
  }
  (void)parseDuration(text);
  (void)connectors::exportfmt::parseCreatedAt(text);
  return 0;
}
