#include "daemon/verdict/evaluator.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "daemon/core/log.h"
#include "daemon/verdict/report.h"

namespace replywatch::verdict {

const AccountVerdict* Snapshot::account(std::string_view name) const {
  for (const auto& a : accounts) {
    if (a.account == name) return &a;
  }
  return nullptr;
}

Snapshot evaluateAll(const config::Config& config, const std::vector<TurnFact>& facts, Timestamp from,
                     Timestamp until, std::optional<Timestamp> judged_at) {
  std::map<std::string, std::vector<TurnFact>, std::less<>> by_account;
  for (const auto& f : facts) by_account[f.turn.account].push_back(f);
  Snapshot snapshot;
  snapshot.evaluated_at = judged_at ? std::min(*judged_at, until) : until;
  static const std::vector<TurnFact> kNone;
  for (const auto& account : config.accounts) {
    auto it = by_account.find(account.name);
    snapshot.accounts.push_back(verdict::evaluate(it == by_account.end() ? kNone : it->second, account,
                                                  config.verdict, from, until, judged_at));
  }
  return snapshot;
}

Timestamp retainedFrom(const config::Config& config, Timestamp from, Timestamp now) {
  if (config.store.retention.count() <= 0) return from;
  return std::max(from, now - std::chrono::duration_cast<std::chrono::milliseconds>(config.store.retention));
}

Evaluator::Evaluator(const config::Config& config, FactLoader loader, const Clock& clock)
    : config_(config),
      loader_(std::move(loader)),
      clock_(clock),
      metrics_text_(std::make_shared<const std::string>(renderMetrics(nullptr))) {
  if (config.store.retention.count() > 0 && config.store.retention < config.verdict.window) {
    spdlog::warn(
        "the verdict window is longer than the retention: the verdict covers the retention only "
        "window_seconds={} retention_seconds={}",
        std::chrono::duration_cast<std::chrono::seconds>(config.verdict.window).count(),
        config.store.retention.count());
  }
}

Result<void> Evaluator::evaluate() {
  const Timestamp until = clock_.now();
  const Timestamp from = retainedFrom(
      config_, until - std::chrono::duration_cast<std::chrono::milliseconds>(config_.verdict.window), until);
  auto facts = loader_(from, until);
  if (!facts) return facts.error();
  auto snapshot = std::make_shared<const Snapshot>(evaluateAll(config_, *facts, from, until));
  auto text = std::make_shared<const std::string>(renderMetrics(snapshot.get()));
  {
    std::lock_guard lock(mutex_);
    current_.swap(snapshot);
    metrics_text_.swap(text);
  }
  // The previous snapshot and text are released here, outside the lock (or later, by the
  // last reader still holding them).
  return {};
}

std::shared_ptr<const Snapshot> Evaluator::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

std::shared_ptr<const std::string> Evaluator::metricsText() const {
  std::lock_guard lock(mutex_);
  return metrics_text_;
}

void Evaluator::run(const std::stop_token& stop) {
  const auto interval = std::chrono::duration_cast<std::chrono::milliseconds>(config_.verdict.interval);
  do {
    if (auto done = evaluate(); !done) {
      spdlog::warn("verdict evaluation failed error={}", logValue(done.error().message));
    } else if (auto snapshot = current()) {
      for (const auto& a : snapshot->accounts) {
        spdlog::debug("verdict evaluated account={} verdict={}", logValue(a.account), toString(a.verdict));
      }
    }
  } while (sleepFor(interval, stop));
}

}  // namespace replywatch::verdict
