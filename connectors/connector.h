#pragma once
// The connector interface. A connector turns one platform's payloads (webhook bodies,
// API pages, export files) into normalized Messages (or, for the relay feed, Escalation
// records) and hands them to an IngestSink.
// Connectors know nothing of turns, the store or metrics: data flows
// connector -> IngestSink (tracker, store) -> metrics -> HTTP.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/config/config.h"
#include "daemon/core/clock.h"
#include "daemon/core/model.h"
#include "daemon/core/result.h"
#include "daemon/core/source_health.h"

namespace replywatch::connectors {

struct IngestOutcome {
  std::size_t received = 0;    // messages passed in
  std::size_t stored = 0;      // new messages committed
  std::size_t duplicates = 0;  // already known (same source and id): nothing changed
};

// Receives the outcome of IngestSink::ingestAsync(): called exactly once.
using IngestCallback = std::function<void(Result<IngestOutcome>)>;

// Where connectors deliver messages. Implemented by the daemon's ingest pipeline.
class IngestSink {
 public:
  virtual ~IngestSink() = default;

  // Classifies, durably stores (one transaction, together with `cursor` when given) and
  // tracks `messages` of `source`. Returns only once committed: success means the
  // messages are on disk and a 2xx may be sent. On failure nothing of the batch is
  // stored and the cursor does not move. Thread-safe; blocks on store I/O.
  // Messages must already be validated (non-empty id and conversation_id, sane time).
  virtual Result<IngestOutcome> ingest(const config::SourceConfig& source, std::vector<Message> messages,
                                       std::optional<std::string> cursor) = 0;

  // ingest() without waiting: `done` receives what ingest() would have returned, exactly
  // once, with the same guarantee (success only once the batch committed). It is called
  // either before ingestAsync() returns, on the caller's thread (a refusal such as a full
  // write queue, or a sink that stores synchronously), or later on the sink's writer
  // thread; it must not block, and must not call back into the sink. Thread-safe. The
  // default calls ingest() (and so blocks); the daemon's pipeline never blocks here.
  virtual void ingestAsync(const config::SourceConfig& source, std::vector<Message> messages,
                           std::optional<std::string> cursor, IngestCallback done);

  // Durably stores escalation records of the relay feed `source` (one transaction,
  // together with `cursor` when given): an upsert keyed by (source, record id), so a
  // repeated delivery changes nothing and a later one updates the record (the relay
  // answered); a stored answered_at is never cleared. Records are linked to the turn
  // their question_ref names, now or when that message arrives; the requesting
  // handler's route is resolved from the configured handlers. Returns only once
  // committed (stored = records inserted or changed, duplicates = unchanged); on failure
  // nothing of the batch is stored and the cursor does not move. Thread-safe; blocks on
  // store I/O. Records must already be validated (non-empty id, account and
  // question_ref, sane times). The default refuses: a sink that keeps no escalations.
  virtual Result<IngestOutcome> ingestEscalations(const config::SourceConfig& source,
                                                  std::vector<Escalation> escalations,
                                                  std::optional<std::string> cursor);

  // For each id, where the message (source, id) is stored (its conversation and account),
  // or nullopt: for a connector that must join messages to conversations stored by an
  // earlier import. Sees every ingest() that returned before the call. Thread-safe; blocks
  // on store I/O. The default finds nothing: a sink that keeps no messages.
  virtual Result<std::vector<std::optional<MessagePlace>>> messagePlaces(const std::string& source,
                                                                         const std::vector<std::string>& ids);

  // The cursor last committed for `source`, or nullopt. Thread-safe; may block.
  virtual Result<std::optional<std::string>> cursor(const std::string& source) = 0;

  // ingest() without a cursor, of messages whose texts are views valid during the call
  // only: for a connector that parses a file into buffers of its own, and a sink that
  // keeps what it needs of them without copying the rest. Thread-safe; blocks as ingest()
  // does. The default copies them into Messages and calls ingest().
  virtual Result<IngestOutcome> ingestViews(const config::SourceConfig& source,
                                            const std::vector<MessageView>& messages);

  // A hint from a connector that knows, before its first ingest() of a file, how many
  // messages it will give (at most): a sink that keeps them in memory sets room aside.
  // Changes nothing else. Called from the importing thread; the default ignores it.
  virtual void expectMessages(std::size_t count);
};

// Everything a connector instance may use. References outlive the connector.
struct ConnectorContext {
  const config::SourceConfig& source;
  const config::Config& config;
  const Clock& clock;
  SourceHealth& health;
  IngestSink& sink;
};

struct WebhookRequest {
  std::string method;                                        // "GET", "POST", ...
  std::string path;                                          // "/webhooks/<source>"
  std::string query;                                         // raw query string without '?', may be empty
  std::vector<std::pair<std::string, std::string>> headers;  // as received
  std::string body;    // exact bytes received (HMACs are computed over these)
  std::string remote;  // peer address, for logs

  // Case-insensitive header lookup; nullopt when absent.
  std::optional<std::string_view> header(std::string_view name) const;
  // Decoded query parameter; nullopt when absent.
  std::optional<std::string> queryParam(std::string_view name) const;
};

struct WebhookResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  // {"status":"error","error":"<message>"} with the given code.
  static WebhookResponse error(int status, std::string_view message);
  // {"status":"ok", ...} 200 with counts.
  static WebhookResponse accepted(const IngestOutcome& outcome);
};

// Receives the answer of Connector::handleWebhookAsync(): called exactly once.
using WebhookReply = std::function<void(WebhookResponse)>;

// Reasons an IngestSink refuses a batch for load rather than failure: its write queue is
// full, or the daemon is stopping. Nothing is wrong with the source or the store; the
// sender should retry later. The sink counts these refusals itself.
inline constexpr std::string_view kSinkQueueFullReason = "queue_full";
inline constexpr std::string_view kSinkStoppingReason = "stopping";

// 503 with "Retry-After: 5": "<what> could not be stored, retry later".
WebhookResponse retryLater(std::string_view what);

// 405 with an Allow header listing `allowed` ("POST", "GET, POST"). A request with the
// wrong method says nothing about the source's health (anyone can send one): it is
// counted with the webhook requests' statuses only, not as a source error.
WebhookResponse methodNotAllowed(std::string_view allowed);

// True when `error` is one of the refusals for load above.
bool isSinkBusy(const Error& error);

// The answer to a webhook delivery the sink refused with `error`: 503 with
// "Retry-After: 5", `what` naming the payload ("the messages could not be stored...").
// A refusal for load leaves the source's health alone and is logged at debug level, so
// an overload neither floods the log nor makes the source look down; any other failure
// counts a store error, marks the source down and is logged as an error. Called on the
// webhook handler's thread; never blocks.
WebhookResponse sinkRefused(const Error& error, const ConnectorContext& ctx, std::string_view what);

struct ImportStats {
  std::uint64_t records = 0;     // rows / lines / objects read
  std::uint64_t rejected = 0;    // records refused (each logged and counted by reason)
  std::uint64_t stored = 0;      // new messages committed
  std::uint64_t duplicates = 0;  // already known messages
};

// Called while importing with (bytes consumed, total bytes); may be empty.
using ProgressFn = std::function<void(std::uint64_t done, std::uint64_t total)>;

class Connector {
 public:
  virtual ~Connector() = default;

  // True when run() has work to do (polling a URL, watching a spool directory);
  // `serve` then starts one thread for it. Cheap, never blocks.
  virtual bool polls() const { return false; }

  // True when the source accepts webhooks as configured (its secret is set), so that
  // `serve` may hear from it without polling. Cheap, never blocks. Default: false.
  virtual bool takesWebhooks() const { return false; }

  // The poll loop. Called once by `serve` on a dedicated thread; returns promptly
  // (within about a second) once `stop` is requested. May block on network and on
  // IngestSink::ingest(). Errors are logged and counted in SourceHealth, never thrown.
  virtual void run(std::stop_token stop) { (void)stop; }

  // Handles a request routed to /webhooks/<source>. Called on HTTP worker threads,
  // possibly concurrently. May block on IngestSink::ingest(). Answers 2xx only after
  // ingest() succeeded; 401 for a bad signature, 400 for a malformed body, 503 when the
  // store refused. Never throws. Default: 404, the source takes no webhooks.
  virtual WebhookResponse handleWebhook(const WebhookRequest& request);

  // True when handleWebhookAsync() never blocks, so that it may run on an HTTP I/O
  // thread. Cheap, never blocks. Default: false.
  virtual bool asyncWebhooks() const { return false; }

  // handleWebhook() with the answer handed to `reply` (exactly once, same statuses and
  // the same rule: 2xx only once the delivery committed) instead of returned. When
  // asyncWebhooks() is true it never blocks: the delivery is checked and parsed on the
  // calling thread, and `reply` runs once the sink answered (possibly on the sink's
  // writer thread, so it must not block either). Default: reply(handleWebhook(request)).
  virtual void handleWebhookAsync(WebhookRequest request, WebhookReply reply);

  // Imports one export file (`replywatch import`, spool directories). Called on the
  // caller's thread; blocks. Bad records are logged, counted in SourceHealth and in
  // ImportStats::rejected, and the rest of the file is still imported. Returns an Error
  // when the file cannot be read whole (it cannot be opened or read, or nothing after
  // some line can be read) or the store refuses to commit; batches ingested before the
  // error may be stored, so `replywatch import` gives its bulk load up (every batch of
  // the file) when this fails. Default: an Error saying the source type does not import
  // files.
  virtual Result<ImportStats> importFile(const std::filesystem::path& path, const ProgressFn& progress);
};

}  // namespace replywatch::connectors
