// The meta connector's payload parsers: webhook bodies (Facebook Page and Instagram,
// with and without mentions), Graph API pages of posts and of comments, Graph error
// objects and the id normalization both paths share.
#include <cstdlib>
#include <string>
#include <string_view>

#include "connectors/meta/meta_payload.h"
#include "fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace replywatch::connectors::meta;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  ParseOptions facebook;
  facebook.platform = Platform::Facebook;
  facebook.page_id = "1234567890321";
  facebook.brand_ids = {"Acme Support"};
  facebook.mentions = true;
  facebook.max_entries = 3;  // the entries limit of a delivery
  ParseOptions instagram;
  instagram.platform = Platform::Instagram;
  instagram.page_id = "0";

  for (const auto* options : {&facebook, &instagram}) {
    (void)parseWebhookBody(input, *options);
    (void)parseFeedPage(input, *options);
    (void)parseCommentsPage(input, *options, "post1", "");
    (void)parseCommentsPage(input, *options, "post1", "comment1");
  }
  if (auto error = parseGraphError(input)) {
    (void)isRateLimit(*error);
    (void)isExpiredToken(*error);
  }
  // normalizeId() is idempotent: a normalized id stays as it is.
  const std::string id = normalizeId(input);
  if (normalizeId(id) != id) std::abort();
  return 0;
}
