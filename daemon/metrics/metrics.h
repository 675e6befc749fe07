#pragma once
// Prometheus exposition. Metric values are read at scrape time from their owners
// (tracker snapshot, SourceHealth) into prometheus-cpp families and written as text by
// appendText() (text_writer.h).
// See METRICS.md for the list; labels come only from configured, bounded values.
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "daemon/config/config.h"
#include "daemon/core/source_health.h"
#include "daemon/core/timestamp.h"
#include "daemon/tracker/tracker.h"

namespace replywatch::metrics {

struct SourceRef {
  const config::SourceConfig* config;
  const SourceHealth* health;
  // False for a source `serve` never hears from (no poll, no webhook: files imported
  // with `replywatch import` only), which has no last success to export.
  bool live = true;
};

// Bucket upper bounds of replywatch_store_commit_requests (ingest requests per commit).
inline constexpr std::array<double, 10> kCommitRequestBuckets = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};
// Bucket upper bounds (seconds) of replywatch_store_commit_duration_seconds.
inline constexpr std::array<double, 11> kCommitDurationBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                                  0.05,   0.1,   0.25,   0.5,   1};

// The ingest write queue and its group commits, as the pipeline counts them.
struct WriteQueueStats {
  std::uint64_t commits = 0;           // transactions committed by the write queue
  std::uint64_t failed_commits = 0;    // transactions that failed (every request of the group refused)
  std::uint64_t refused_full = 0;      // requests refused because the queue was full
  std::uint64_t refused_stopping = 0;  // requests refused because the daemon is stopping
  std::uint64_t queued_requests = 0;   // requests waiting now
  std::uint64_t queued_messages = 0;   // their messages
  std::uint64_t waiting_for_room = 0;  // poll and import batches waiting for room in a full queue
  // Per committed transaction: requests in it, and its duration (prepare, write, sync).
  std::array<std::uint64_t, kCommitRequestBuckets.size()> request_buckets{};    // non-cumulative
  std::uint64_t requests_committed = 0;                                         // sum
  std::array<std::uint64_t, kCommitDurationBuckets.size()> duration_buckets{};  // non-cumulative
  double duration_seconds = 0;                                                  // sum
  // Checkpoints of the store's write-ahead log (Store::checkpointCounts).
  std::uint64_t checkpoints = 0;
  std::uint64_t checkpoint_failures = 0;
  // The store's commit log (Store::commitLogCounts).
  std::uint64_t log_applies = 0;
  std::uint64_t log_apply_failures = 0;
  std::uint64_t log_unapplied_messages = 0;
};

class Metrics {
 public:
  // `snapshot` is called once per scrape, from an HTTP worker thread; it must be
  // thread-safe (the pipeline takes its lock) and fast.
  Metrics(const config::Config& config, std::function<tracker::Snapshot()> snapshot,
          std::vector<SourceRef> sources);
  ~Metrics();

  // Counts a webhook response (replywatch_webhook_requests_total{source,code}). Unknown
  // sources are counted under source="" to keep cardinality bounded. Thread-safe.
  void countWebhook(const std::string& source, int status);

  // Adds the write-queue families (replywatch_store_commit*, replywatch_ingest_queue_*),
  // read through `stats` at each scrape (thread-safe, fast). Call before serving.
  void watchWriteQueue(std::function<WriteQueueStats()> stats);

  // Adds replywatch_web_config_last_reload_successful and
  // replywatch_web_config_last_reload_success_timestamp_seconds (a web configuration file
  // is in use): the file as loaded at start counts as a successful load at `loaded_at`.
  // Call before serving.
  void watchWebConfig(Timestamp loaded_at);
  // Records a reload of the web configuration file (SIGHUP). Thread-safe.
  void recordWebConfigReload(bool success, Timestamp at);

  // The tracker, source and process families in text format 0.0.4 (the verdict families
  // are rendered by the evaluator and sent after them). Thread-safe; called per scrape.
  std::string render() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace replywatch::metrics
