// The x connector's X API v2 page parser (mentions and own tweets, with includes,
// errors and meta), and the tweet id helpers it uses.
#include <chrono>
#include <cstdlib>
#include <string>
#include <string_view>

#include "connectors/x/x_api.h"
#include "daemon/core/clock.h"
#include "fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace replywatch;
  using namespace replywatch::connectors::x;
  static const Timestamp kNow{std::chrono::seconds{1'800'000'000}};
  static const ManualClock kClock(kNow);
  static const connectors::MessageValidator kValidator(4096, std::chrono::seconds{300}, kClock);
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (auto page = parsePage(input, "1234567890", kValidator, kNow)) {
    // newest_id is a tweet id, and no message on the page is newer.
    if (!page->newest_id.empty()) {
      if (!isTweetId(page->newest_id)) std::abort();
      for (const auto& m : page->messages) {
        if (isTweetId(m.id) && idLess(page->newest_id, m.id)) std::abort();
      }
    }
  }
  // idLess is a strict order on the two halves of the input.
  const std::string_view a = input.substr(0, size / 2);
  const std::string_view b = input.substr(size / 2);
  if (isTweetId(a) && isTweetId(b)) {
    if (idLess(a, a) || (idLess(a, b) && idLess(b, a))) std::abort();
  }
  return 0;
}
