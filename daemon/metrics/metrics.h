#pragma once
// Prometheus exposition. Metric values are read at scrape time from their owners
// (tracker snapshot, SourceHealth) and serialized with prometheus-cpp's TextSerializer.
// See METRICS.md for the list; labels come only from configured, bounded values.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "daemon/config/config.h"
#include "daemon/core/source_health.h"
#include "daemon/tracker/tracker.h"

namespace replywatch::metrics {

struct SourceRef {
  const config::SourceConfig* config;
  const SourceHealth* health;
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

  // The whole exposition in text format 0.0.4. Thread-safe; called per scrape.
  std::string render() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace replywatch::metrics
