// The export connector's JSONL reader (files, spool, polled URL, webhook bodies).
#include <string_view>

#include "connectors/export/export_format.h"
#include "daemon/core/clock.h"
#include "fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace replywatch;
  static const ManualClock kClock(Timestamp{std::chrono::seconds{1'800'000'000}});
  static const connectors::MessageValidator kValidator(4096, std::chrono::seconds{300}, kClock);
  std::string_view input(reinterpret_cast<const char*>(data), size);
  connectors::exportfmt::Reader reader(connectors::exportfmt::Input::fromMemory(input),
                                       connectors::exportfmt::Format::Jsonl, kValidator);
  if (!reader.start()) return 0;
  Message m;
  for (;;) {
    auto status = reader.next(m);
    if (status == connectors::exportfmt::Reader::Status::End ||
        status == connectors::exportfmt::Reader::Status::Failed) {
      break;
    }
  }
  return 0;
}
