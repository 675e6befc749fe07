#pragma once
// The `export` source type: messages in the documented normalized format (JSONL or CSV),
// imported from files (`replywatch import`), a watched spool directory, a polled URL, or
// signed webhook POSTs. See README.md in this directory.
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "connectors/common/http_client.h"
#include "connectors/common/validate.h"
#include "connectors/connector.h"
#include "connectors/export/export_format.h"

namespace replywatch::connectors::exportfmt {

// The header carrying "sha256=<hex HMAC-SHA256(webhook_secret, raw body)>".
inline constexpr std::string_view kSignatureHeader = "X-Replywatch-Signature";
// Messages handed to IngestSink::ingest() per call.
inline constexpr std::size_t kBatchSize = 5000;

struct Settings {
  std::optional<Format> format;  // absent: by file extension (URL path), else JSONL
  std::filesystem::path spool_dir;
  std::filesystem::path processed_dir;   // default <spool_dir>/processed
  std::filesystem::path quarantine_dir;  // default <spool_dir>/quarantine
  std::chrono::seconds poll_interval{10};
  std::string url;
  Secret token;
  std::chrono::seconds timeout{60};
  Secret webhook_secret;
};

// Every key the `export` type accepts (common keys included).
const std::vector<std::string>& allowedKeys();
// Reads and checks the settings of an `export` source; problems carry file:line.
Settings parseSettings(const config::SourceConfig& source, std::vector<config::Problem>& problems);
// Registry hooks.
void validate(const config::SourceConfig& source, std::vector<config::Problem>& problems);
std::unique_ptr<Connector> create(const ConnectorContext& context);

// What one spool scan did.
struct SpoolScan {
  std::size_t imported = 0;     // files imported and moved to processed_dir
  std::size_t quarantined = 0;  // files moved to quarantine_dir
  std::size_t retried = 0;      // files left in place (store refused), tried again next scan
  bool ok = true;               // no I/O or store failure
};

// What one URL poll did.
struct PollResult {
  bool ok = false;
  bool not_modified = false;
  ImportStats stats;
};

class ExportConnector final : public Connector {
 public:
  ExportConnector(const ConnectorContext& context, Settings settings);
  ~ExportConnector() override;

  bool polls() const override;
  bool takesWebhooks() const override { return !settings_.webhook_secret.empty(); }
  void run(std::stop_token stop) override;
  // Blocking form of handleWebhookAsync(): waits for its answer.
  WebhookResponse handleWebhook(const WebhookRequest& request) override;
  bool asyncWebhooks() const override { return true; }
  // Checks the signature, parses the whole delivery on the calling thread, and hands it
  // to IngestSink::ingestAsync() in one batch; `reply` runs once the sink answered.
  void handleWebhookAsync(WebhookRequest request, WebhookReply reply) override;
  Result<ImportStats> importFile(const std::filesystem::path& path, const ProgressFn& progress) override;

  // One cycle of run(): scanSpool() and pollUrl() for the inputs configured. With both,
  // the source counts as up and successful only when both succeeded (each alone marks
  // the source down as soon as it fails); the spool's success does not hide a URL that
  // keeps failing. Called on the poll thread; blocks on disk and network.
  void pollOnce(std::stop_token stop = {});
  // One pass over the spool directory. Each file is read once before anything of it is
  // stored: one that cannot be read to its end is quarantined with nothing stored.
  SpoolScan scanSpool(std::stop_token stop = {});
  // One GET of the URL. The body is taken or refused whole, as a spool file.
  PollResult pollUrl(std::stop_token stop = {});

  const Settings& settings() const { return settings_; }
  // Replaces the HTTP client options (tests shorten backoff and timeouts).
  void setHttpOptions(const HttpClientOptions& options);

 private:
  struct Delivery;
  // importFile(); with `check_first`, the file is read once before anything of it is
  // stored, and refused whole when it cannot be read to its end.
  Result<ImportStats> importPath(const std::filesystem::path& path, const ProgressFn& progress,
                                 bool check_first);
  Delivery deliver(Reader& reader, const std::string& origin, std::optional<std::string> cursor,
                   const ProgressFn& progress);
  // Reads every record of a webhook body into `messages` (rejections counted and logged
  // in `d`). False when the reader failed (d.error).
  bool readAll(Reader& reader, const std::string& origin, std::vector<Message>& messages, Delivery& d);
  bool loadCursor();

  ConnectorContext ctx_;
  Settings settings_;
  MessageValidator validator_;
  std::unique_ptr<HttpClient> http_;
  bool cursor_loaded_ = false;
  // During pollOnce() with both inputs: scanSpool() and pollUrl() leave marking the
  // success to it.
  bool cycle_success_deferred_ = false;
  std::string etag_;
  std::string last_modified_;
};

}  // namespace replywatch::connectors::exportfmt
