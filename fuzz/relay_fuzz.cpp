// The relay connector's record parsers (a webhook body: one JSON object or an array;
// a file: JSON lines, a JSON array, or CSV with a header) and its Standard Webhooks
// header handling: the input's first three lines are taken as webhook-id,
// webhook-timestamp and webhook-signature, the rest as the body.
#include <chrono>
#include <cstdlib>
#include <string>
#include <string_view>

#include "connectors/relay/relay_format.h"
#include "connectors/relay/standard_webhooks.h"
#include "daemon/core/base64.h"
#include "daemon/core/clock.h"
#include "fuzz/fuzz_target.h"

namespace {

using namespace replywatch;

// Cuts the text before the first newline off `rest`.
std::string_view takeLine(std::string_view& rest) {
  const std::size_t nl = rest.find('\n');
  const std::string_view line = rest.substr(0, nl);
  rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
  return line;
}

void checkRecords(const Result<std::vector<connectors::relay::ParsedRecord>>& records) {
  if (!records) return;
  for (const auto& r : records.value()) {
    // Lines are 1-based; a refused record says why.
    if (r.line == 0) std::abort();
    if (r.escalation && r.escalation->id.empty()) std::abort();
  }
}

void signatures(std::string_view input) {
  using namespace connectors::relay;
  static const Timestamp kNow{std::chrono::seconds{1'614'265'330}};
  std::string_view rest = input;
  const std::string_view id = takeLine(rest);
  const std::string_view timestamp = takeLine(rest);
  const std::string_view signature = takeLine(rest);
  const std::string_view body = rest;
  const std::string key = "fuzz-key";
  (void)verifyStandardWebhooks(key, id, timestamp, signature, body, kNow, std::chrono::seconds{300});
  // A signature made for these very headers matches whenever the timestamp is in range.
  // (The check trims blanks around the id and the timestamp, so only for trimmed ones.)
  auto trimmed = [](std::string_view s) {
    return s.empty() || (s.front() != ' ' && s.front() != '\t' && s.back() != ' ' && s.back() != '\t');
  };
  const std::string good = standardWebhooksSignature(key, id, timestamp, body);
  const auto check = verifyStandardWebhooks(key, id, timestamp, good, body, kNow, std::chrono::seconds{300});
  if (trimmed(id) && trimmed(timestamp) && check == SignatureCheck::Mismatch) std::abort();
  // Its base64 part decodes to the 32 bytes of an HMAC-SHA256.
  auto mac = base64Decode(std::string_view(good).substr(3));
  if (!mac || mac->size() != 32) std::abort();
  (void)base64Decode(input);
  (void)standardWebhooksKey(input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace connectors::relay;
  static const ManualClock kClock(Timestamp{std::chrono::seconds{1'800'000'000}});
  static const connectors::MessageValidator kValidator(4096, std::chrono::seconds{300}, kClock);
  static const config::Config kConfig = [] {
    config::Config c;
    config::AccountConfig a;
    a.name = "acme";
    c.accounts.push_back(a);
    return c;
  }();
  static const config::SourceConfig kSource = [] {
    config::SourceConfig s;
    s.name = "relays";
    s.type = "relay";
    s.account = "acme";
    s.channel = "relay";
    return s;
  }();
  const RecordChecker checker(kConfig, kSource, kValidator);
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  checkRecords(checker.parseBody(input));
  checkRecords(checker.parseFile(input, Format::Jsonl));
  checkRecords(checker.parseFile(input, Format::Csv));
  signatures(input);
  return 0;
}
