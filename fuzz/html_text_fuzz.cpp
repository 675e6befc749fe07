// The HTML-to-text conversion applied to Mastodon `content` and Discourse `cooked`.
#include <cstdlib>
#include <string>
#include <string_view>

#include "connectors/common/html_text.h"
#include "connectors/common/validate.h"
#include "fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace replywatch::connectors;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::string text = htmlToText(input);
  // Documented: the result is valid UTF-8 when the input is.
  if (isValidUtf8(input) && !isValidUtf8(text)) std::abort();
  return 0;
}
