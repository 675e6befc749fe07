#include "connectors/relay/standard_webhooks.h"

#include <array>
#include <charconv>
#include <cstdint>

#include "connectors/common/hmac.h"
#include "daemon/core/base64.h"

namespace replywatch::connectors::relay {
namespace {

constexpr std::string_view kSecretPrefix = "whsec_";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<std::string> standardWebhooksKey(std::string_view secret) {
  if (secret.substr(0, kSecretPrefix.size()) != kSecretPrefix) return std::nullopt;
  auto key = base64Decode(secret.substr(kSecretPrefix.size()));
  if (!key || key->empty()) return std::nullopt;
  return key;
}

std::string standardWebhooksSignature(std::string_view key, std::string_view id, std::string_view timestamp,
                                      std::string_view body) {
  std::string content;
  content.reserve(id.size() + timestamp.size() + body.size() + 2);
  content.append(id).append(".").append(timestamp).append(".").append(body);
  return "v1," + hmacSha256Base64(key, content);
}

std::string_view describe(SignatureCheck check) {
  switch (check) {
    case SignatureCheck::Ok: return "valid";
    case SignatureCheck::MissingHeader:
      return "missing webhook-id, webhook-timestamp or webhook-signature header";
    case SignatureCheck::BadTimestamp: return "webhook-timestamp is not an integer";
    case SignatureCheck::OutsideTolerance: return "webhook-timestamp is outside the tolerance";
    case SignatureCheck::Mismatch: return "invalid signature";
  }
  return "invalid signature";
}

SignatureCheck verifyStandardWebhooks(std::string_view key, std::optional<std::string_view> id,
                                      std::optional<std::string_view> timestamp,
                                      std::optional<std::string_view> signature, std::string_view body,
                                      Timestamp now, std::chrono::seconds tolerance) {
  if (!id || !timestamp || !signature) return SignatureCheck::MissingHeader;
  const std::string_view id_text = trim(*id);
  const std::string_view ts_text = trim(*timestamp);
  if (id_text.empty() || ts_text.empty() || trim(*signature).empty()) return SignatureCheck::MissingHeader;
  std::int64_t seconds = 0;
  auto [end, ec] = std::from_chars(ts_text.data(), ts_text.data() + ts_text.size(), seconds);
  if (ec != std::errc{} || end != ts_text.data() + ts_text.size()) return SignatureCheck::BadTimestamp;
  const std::int64_t now_seconds = toMillis(now) / 1000;
  // The distance in unsigned arithmetic: a timestamp near the ends of the int64 range
  // would overflow a signed subtraction.
  const auto to_unsigned = [](std::int64_t v) { return static_cast<std::uint64_t>(v); };
  const std::uint64_t skew = seconds > now_seconds ? to_unsigned(seconds) - to_unsigned(now_seconds)
                                                   : to_unsigned(now_seconds) - to_unsigned(seconds);
  if (tolerance.count() < 0 || skew > to_unsigned(tolerance.count())) return SignatureCheck::OutsideTolerance;

  // Computed once, compared with every entry (no early exit on the first mismatch).
  const std::string expected = standardWebhooksSignature(key, id_text, ts_text, body);
  bool matched = false;
  std::string_view rest = *signature;
  while (!rest.empty()) {
    const std::size_t space = rest.find(' ');
    const std::string_view entry = rest.substr(0, space);
    rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1);
    if (entry.substr(0, 3) != "v1,") continue;
    if (constantTimeEquals(entry, expected)) matched = true;
  }
  return matched ? SignatureCheck::Ok : SignatureCheck::Mismatch;
}

ReplayGuard::Claim ReplayGuard::claim(const std::string& id, Timestamp signed_at, Timestamp now) {
  std::lock_guard lock(mutex_);
  expire(now);
  // verifyStandardWebhooks() compares whole seconds: it accepts the timestamp until one
  // second after signed_at + tolerance.
  const Timestamp until =
      signed_at + std::chrono::duration_cast<std::chrono::milliseconds>(tolerance_ + std::chrono::seconds{1});
  const auto [it, inserted] = entries_.try_emplace(id, Entry{until});
  if (inserted) return Claim::New;
  return it->second.stored ? Claim::Stored : Claim::InProgress;
}

void ReplayGuard::stored(const std::string& id) {
  std::lock_guard lock(mutex_);
  if (auto it = entries_.find(id); it != entries_.end()) it->second.stored = true;
}

void ReplayGuard::release(const std::string& id) {
  std::lock_guard lock(mutex_);
  entries_.erase(id);
}

std::size_t ReplayGuard::size() {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

void ReplayGuard::expire(Timestamp now) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    it = it->second.expires <= now ? entries_.erase(it) : std::next(it);
  }
}

}  // namespace replywatch::connectors::relay
