// The mastodon connector's parsers: webhook event bodies, notification pages, status
// pages and context ancestors, one Status object, and (on the same input) the Link
// header and URL query parameters used for pagination.
#include <cstdlib>
#include <string>
#include <string_view>

#include "connectors/mastodon/mastodon_parse.h"
#include "fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace replywatch::connectors::mastodon;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)parseWebhookEvent(input);
  (void)parseNotificationPage(input);
  (void)parseStatusPage(input);
  (void)parseContextAncestors(input);
  auto json = nlohmann::json::parse(input, nullptr, false);
  if (!json.is_discarded()) (void)parseStatus(json);

  const Links links = parseLinkHeader(input);
  // A link target is what stands between '<' and the next '>': it never holds a '>'.
  for (const auto& target : {links.next, links.prev}) {
    if (target.find('>') != std::string::npos) std::abort();
    (void)urlQueryParam(target, "max_id");
    (void)urlQueryParam(target, "min_id");
  }
  (void)urlQueryParam(input, "since_id");
  (void)normalizeAcct(input, "mastodon.example");
  return 0;
}
