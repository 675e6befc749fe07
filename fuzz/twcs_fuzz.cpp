// The twcs importer's CSV reader (quoting, newlines inside fields, a BOM, the record
// size limit), its header mapping, and the value parsers applied to every field:
// tweet ids, created_at, inbound and @mentions.
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/x/twcs_format.h"
#include "fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace replywatch::connectors::twcs;
  using replywatch::connectors::exportfmt::Input;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  CsvReader reader(Input::fromMemory(input));
  std::uint64_t last_line = 0;
  bool header_seen = false;
  for (;;) {
    const auto status = reader.next();
    if (status != CsvReader::Status::Record) break;
    // Records start on increasing lines.
    if (reader.line() <= last_line) std::abort();
    last_line = reader.line();
    if (!header_seen) {
      header_seen = true;
      (void)parseHeader(reader.fields());
      continue;
    }
    for (const std::string_view field : reader.fields()) {
      if (auto id = parseTweetId(field)) {
        // An id read back from its decimal form is the same id.
        if (parseTweetId(std::to_string(*id)) != id) std::abort();
      }
      (void)parseCreatedAt(field);
      (void)parseInbound(field);
      forEachMention(field, 50, [&](std::string_view handle) {
        if (handle.empty() || handle.size() > 15) std::abort();
      });
    }
  }
  return 0;
}
