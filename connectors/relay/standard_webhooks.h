#pragma once
// Verification of the Standard Webhooks signature scheme (standardwebhooks.com): headers
// webhook-id, webhook-timestamp (Unix seconds) and webhook-signature (space-separated
// "v1,<base64 HMAC-SHA256>" entries) over "<id>.<timestamp>.<raw body>", with a secret
// given as "whsec_<base64 key>"; and the replay guard that remembers accepted ids.
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/core/timestamp.h"

namespace replywatch::connectors::relay {

// The HMAC key of a "whsec_<base64>" secret; nullopt when it does not have that form or
// decodes to nothing.
std::optional<std::string> standardWebhooksKey(std::string_view secret);

// "v1,<base64 of HMAC-SHA256(key, id.timestamp.body)>".
std::string standardWebhooksSignature(std::string_view key, std::string_view id, std::string_view timestamp,
                                      std::string_view body);

enum class SignatureCheck {
  Ok,
  MissingHeader,     // one of the three headers is absent or empty
  BadTimestamp,      // webhook-timestamp is not an integer
  OutsideTolerance,  // webhook-timestamp is further than the tolerance from now
  Mismatch,          // no v1 entry matches
};
std::string_view describe(SignatureCheck check);

// Checks one delivery. Every v1 entry is compared in constant time; other versions are
// ignored. `now` comes from the injectable Clock.
SignatureCheck verifyStandardWebhooks(std::string_view key, std::optional<std::string_view> id,
                                      std::optional<std::string_view> timestamp,
                                      std::optional<std::string_view> signature, std::string_view body,
                                      Timestamp now, std::chrono::seconds tolerance);

// The webhook-ids of deliveries being stored or stored, each kept until its timestamp
// leaves the tolerance window: after that, a replay of the same signed request fails the
// timestamp check, so memory stays bounded by the deliveries of one window. The
// webhook-id is the delivery's idempotency key: a copy of a stored delivery (the sender's
// retry after a lost response, or a replay) changes nothing and is answered as stored.
class ReplayGuard {
 public:
  enum class Claim : std::uint8_t {
    New,        // the caller stores the delivery, then calls stored() or release()
    Stored,     // a delivery with this id was stored: nothing to store again
    InProgress  // a delivery with this id is being stored by another request right now
  };
  explicit ReplayGuard(std::chrono::seconds tolerance) : tolerance_(tolerance) {}
  // Claims `id`, signed at `signed_at`, for one delivery. A claim lasts as long as
  // verifyStandardWebhooks() accepts the timestamp (the tolerance, with `now` counted in
  // whole seconds as there). Thread-safe, never blocks on I/O.
  Claim claim(const std::string& id, Timestamp signed_at, Timestamp now);
  // Marks a claimed delivery as stored: later copies are answered Claim::Stored.
  void stored(const std::string& id);
  // Gives a claim back, for a delivery that was not stored (refused or not committed):
  // the sender may send it again. Thread-safe.
  void release(const std::string& id);
  std::size_t size();

 private:
  struct Entry {
    Timestamp expires;  // end of its window
    bool stored = false;
  };
  void expire(Timestamp now);  // with mutex_ held
  std::chrono::seconds tolerance_;
  std::mutex mutex_;
  std::map<std::string, Entry, std::less<>> entries_;
};

}  // namespace replywatch::connectors::relay
