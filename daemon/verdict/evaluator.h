#pragma once
// Periodic evaluation of every account's verdict for the daemon. Each evaluation loads
// the window's turn facts, computes every account and publishes an immutable Snapshot
// together with its verdict metric families already rendered (they change only at an
// evaluation, so scrapes copy that text instead of rendering it); readers (scrapes,
// /api/v1/verdict) take the current snapshot or text under a short lock and never wait
// for an evaluation, and an evaluation never holds the ingest lock.
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <vector>

#include "daemon/config/config.h"
#include "daemon/core/clock.h"
#include "daemon/core/result.h"
#include "daemon/verdict/verdict.h"

namespace replywatch::verdict {

struct Snapshot {
  Timestamp evaluated_at{};
  std::vector<AccountVerdict> accounts;  // in configuration order
  const AccountVerdict* account(std::string_view name) const;
};

// Loads the facts of every turn of the configured accounts asked in [from, until),
// lateness judged at `until`.
// Called from the evaluating thread; may block on the store.
using FactLoader = std::function<Result<std::vector<TurnFact>>(Timestamp from, Timestamp until)>;

// Evaluates every configured account over [from, until) from already loaded facts, judged
// at `judged_at` when given and earlier than `until` (evaluate(), verdict.h).
Snapshot evaluateAll(const config::Config& config, const std::vector<TurnFact>& facts, Timestamp from,
                     Timestamp until, std::optional<Timestamp> judged_at = std::nullopt);

// `from`, moved up if need be to the oldest turn store.retention still keeps at `now`:
// retention deletes the conversations without a message since now − retention, so the
// store holds every turn asked since then, and not all of those asked before. `from`
// itself when nothing is deleted (no retention).
Timestamp retainedFrom(const config::Config& config, Timestamp from, Timestamp now);

class Evaluator {
 public:
  Evaluator(const config::Config& config, FactLoader loader, const Clock& clock);

  // Loads the facts of the window ending now (starting where retainedFrom() has it),
  // renders the verdict metric families and
  // publishes both (the new snapshot and its text together). The previous snapshot and
  // text stay published when loading fails. Called from one thread at a time.
  Result<void> evaluate();

  // The latest snapshot, or null before the first successful evaluation. Thread-safe,
  // never blocks on an evaluation.
  std::shared_ptr<const Snapshot> current() const;

  // The verdict metric families of the latest snapshot, exactly renderMetrics(current())
  // (report.h), rendered once per evaluation; before the first successful evaluation, the
  // text for no snapshot. Never null. Thread-safe, called per scrape from HTTP handler
  // threads; never blocks on an evaluation.
  std::shared_ptr<const std::string> metricsText() const;

  // Evaluates now and then every `verdict.interval` until `stop` is requested; failures
  // are logged and retried at the next interval. Runs on its own thread.
  void run(const std::stop_token& stop);

 private:
  const config::Config& config_;
  FactLoader loader_;
  const Clock& clock_;
  mutable std::mutex mutex_;  // guards current_ and metrics_text_ (swapped together)
  std::shared_ptr<const Snapshot> current_;
  std::shared_ptr<const std::string> metrics_text_;
};

}  // namespace replywatch::verdict
