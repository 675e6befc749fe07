#pragma once
// Sends simulated traffic to a running replywatch as signed webhook deliveries: messages
// to an export source's POST /webhooks/<source> (JSON lines), escalation records to a
// relay source's (a JSON object or array; a record is sent when requested, then again
// with answered_at when the relay answers), in time order, at a fixed rate. Signatures
// are HMAC-SHA256 over the exact body ("sha256=<hex>"). One connection is kept alive;
// 503 and 429 are retried after Retry-After. Runs on the calling thread and blocks.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "daemon/core/result.h"
#include "daemon/core/secret.h"
#include "daemon/simulate/traffic.h"

namespace replywatch::simulate {

struct Delivery {
  bool relay = false;     // to the relay source (else the export source)
  std::string body;       // exact bytes to sign and send
  std::size_t items = 0;  // messages or records in it
  Timestamp at;           // simulated time of its first item
};

// The deliveries for `traffic`, in time order: at most `batch` items each, never two
// versions of one relay record in one delivery. Without `with_relays` no record is sent.
std::vector<Delivery> planDeliveries(const Traffic& traffic, std::size_t batch, bool with_relays);

struct SendOptions {
  std::string base_url;      // the daemon, e.g. http://127.0.0.1:9488 (webhook paths are appended)
  std::string source;        // export source receiving the messages
  std::string relay_source;  // relay source receiving the records; empty: records are not sent
  Secret secret;             // the export source's webhook_secret
  Secret relay_secret;       // the relay source's webhook_secret
  std::string signature_header = "X-Replywatch-Signature";
  double rate = 0;        // deliveries per second; 0: each as soon as the previous one is answered
  std::size_t batch = 1;  // items per delivery
  int max_attempts = 10;  // per delivery, for 503, 429, other 5xx and transport errors
  std::chrono::milliseconds timeout{30'000};
};

struct SendReport {
  std::uint64_t deliveries = 0;
  std::uint64_t acknowledged = 0;  // answered 2xx
  std::uint64_t refused = 0;       // answered 4xx, or 5xx on every attempt
  std::uint64_t retries = 0;
  std::uint64_t messages_acknowledged = 0;
  std::uint64_t records_acknowledged = 0;
  std::uint64_t stored = 0;  // sums of the daemon's answers
  std::uint64_t duplicates = 0;
  std::uint64_t rejected = 0;
  double seconds = 0;
};

// Sends every delivery. An error (reason "transport") when the daemon cannot be reached
// after every attempt; the report so far is then lost, the sending stops.
Result<SendReport> sendDeliveries(const std::vector<Delivery>& deliveries, const SendOptions& options);

}  // namespace replywatch::simulate
