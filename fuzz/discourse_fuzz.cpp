// The discourse connector's parsers: webhook bodies, GET /posts.json and GET /t/{id}.json
// pages, and one post object.
#include <cstdlib>
#include <string_view>

#include "connectors/discourse/discourse_parse.h"
#include "fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace replywatch::connectors::discourse;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (auto body = parseWebhookBody(input)) {
    // A post body always carries its post.
    if (body->kind == WebhookBody::Kind::Post && !body->post) std::abort();
  }
  for (auto parse : {&parseLatestPosts, &parseTopicPosts}) {
    if (auto page = parse(input)) {
      // Every post, parsed or rejected, is listed among the page's ids.
      if (page->ids.size() < page->posts.size()) std::abort();
    }
  }
  auto json = nlohmann::json::parse(input, nullptr, false);
  if (!json.is_discarded()) (void)parsePost(json);
  return 0;
}
