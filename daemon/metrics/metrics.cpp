// Prometheus exposition: metric families are built at scrape time from the tracker
// snapshot, the configuration and the sources' health counters, then written in the text
// format 0.0.4 by appendText() (text_writer.h; the same bytes as prometheus-cpp's
// TextSerializer, without its per-token stream insertions).
//
// Series that exist before any traffic (so that alerts and dashboards see them):
//   * every configured (account, channel) pair, taken from the configured sources that
//     carry messages (not relay feeds), in the questions/open/oldest/late/breaches families;
//   * every configured account in replywatch_response_threshold_seconds;
//   * every source, and for each source every ErrorReason, in the health families.
//   * every configured account with each route (internal, agency, unknown) in the relay
//     families (escalations, escalation waits, wait phases).
//   * the ingest write-queue families, once watchWriteQueue() was called.
// Answer series ({account,channel,handler,route}) appear with the first answered turn.
#include "daemon/metrics/metrics.h"

#include <prometheus/metric_family.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "daemon/metrics/text_writer.h"
#include "replywatch/version.h"

namespace replywatch::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

using Labels = std::vector<ClientMetric::Label>;

MetricFamily family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

void addGauge(MetricFamily& f, Labels labels, double value) {
  ClientMetric m;
  m.label = std::move(labels);
  m.gauge.value = value;
  f.metric.push_back(std::move(m));
}

void addCounter(MetricFamily& f, Labels labels, double value) {
  ClientMetric m;
  m.label = std::move(labels);
  m.counter.value = value;
  f.metric.push_back(std::move(m));
}

void addHistogram(MetricFamily& f, Labels labels,
                  const std::array<std::uint64_t, tracker::kResponseBuckets.size()>& bucket_counts,
                  std::uint64_t total, double sum) {
  ClientMetric m;
  m.label = std::move(labels);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < tracker::kResponseBuckets.size(); ++i) {
    cumulative += bucket_counts[i];
    m.histogram.bucket.push_back({cumulative, tracker::kResponseBuckets[i]});
  }
  // Waits above the last bound are only in the count (the +Inf bucket).
  m.histogram.sample_count = std::max(total, cumulative);
  m.histogram.sample_sum = sum;
  m.histogram.bucket.push_back({m.histogram.sample_count, std::numeric_limits<double>::infinity()});
  f.metric.push_back(std::move(m));
}

double asDouble(std::uint64_t v) { return static_cast<double>(v); }

template <std::size_t N>
void addBucketHistogram(MetricFamily& f, const std::array<double, N>& bounds,
                        const std::array<std::uint64_t, N>& bucket_counts, std::uint64_t total, double sum) {
  ClientMetric m;
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < N; ++i) {
    cumulative += bucket_counts[i];
    m.histogram.bucket.push_back({cumulative, bounds[i]});
  }
  m.histogram.sample_count = std::max(total, cumulative);
  m.histogram.sample_sum = sum;
  m.histogram.bucket.push_back({m.histogram.sample_count, std::numeric_limits<double>::infinity()});
  f.metric.push_back(std::move(m));
}

// The ingest write queue: group commits and refusals (METRICS.md, "Ingest write queue").
void addWriteQueueFamilies(const WriteQueueStats& q, std::vector<MetricFamily>& out) {
  auto commits = family("replywatch_store_commits_total",
                        "Store transactions committed by the ingest write queue; each holds the batches of "
                        "one or more ingest requests.",
                        MetricType::Counter);
  addCounter(commits, {}, asDouble(q.commits));
  auto failed = family("replywatch_store_commit_failures_total",
                       "Write-queue transactions that failed; every request of the group was refused.",
                       MetricType::Counter);
  addCounter(failed, {}, asDouble(q.failed_commits));
  auto requests = family("replywatch_store_commit_requests",
                         "Ingest requests (webhook deliveries, poll or import batches) per committed "
                         "transaction.",
                         MetricType::Histogram);
  addBucketHistogram(requests, kCommitRequestBuckets, q.request_buckets, q.commits,
                     asDouble(q.requests_committed));
  auto duration =
      family("replywatch_store_commit_duration_seconds",
             "Time to plan, write and sync one committed write-queue transaction.", MetricType::Histogram);
  addBucketHistogram(duration, kCommitDurationBuckets, q.duration_buckets, q.commits, q.duration_seconds);
  auto queued = family("replywatch_ingest_queue_requests",
                       "Ingest requests waiting for the store's writer now.", MetricType::Gauge);
  addGauge(queued, {}, asDouble(q.queued_requests));
  auto queued_messages =
      family("replywatch_ingest_queue_messages",
             "Messages of the ingest requests waiting for the store's writer now.", MetricType::Gauge);
  addGauge(queued_messages, {}, asDouble(q.queued_messages));
  auto waiting =
      family("replywatch_ingest_queue_waiting_requests",
             "Poll and import batches waiting for room in the full ingest queue now.", MetricType::Gauge);
  addGauge(waiting, {}, asDouble(q.waiting_for_room));
  auto refused =
      family("replywatch_ingest_queue_refusals_total",
             "Ingest requests refused without being queued: queue_full (ingest.max_queued_messages "
             "reached) or stopping (the daemon is shutting down).",
             MetricType::Counter);
  addCounter(refused, {{"reason", "queue_full"}}, asDouble(q.refused_full));
  addCounter(refused, {{"reason", "stopping"}}, asDouble(q.refused_stopping));
  auto checkpoints = family("replywatch_store_checkpoints_total",
                            "Checkpoints of the store's write-ahead log (pages copied back into the "
                            "database file), successful or not.",
                            MetricType::Counter);
  addCounter(checkpoints, {}, asDouble(q.checkpoints));
  auto checkpoint_failures =
      family("replywatch_store_checkpoint_failures_total",
             "Checkpoints of the store's write-ahead log that failed (I/O error, full disk); the log "
             "grows until one succeeds.",
             MetricType::Counter);
  addCounter(checkpoint_failures, {}, asDouble(q.checkpoint_failures));
  auto log_applies = family("replywatch_store_log_applies_total",
                            "Transactions that applied batches of the store's commit log to the database.",
                            MetricType::Counter);
  addCounter(log_applies, {}, asDouble(q.log_applies));
  auto log_failures =
      family("replywatch_store_log_apply_failures_total",
             "Transactions applying the store's commit log that failed (I/O error, full disk); they are "
             "retried, the batches stay in the log meanwhile.",
             MetricType::Counter);
  addCounter(log_failures, {}, asDouble(q.log_apply_failures));
  auto log_unapplied =
      family("replywatch_store_log_unapplied_messages",
             "Messages acknowledged through the store's commit log and not yet applied to the database.",
             MetricType::Gauge);
  addGauge(log_unapplied, {}, asDouble(q.log_unapplied_messages));
  out.push_back(std::move(commits));
  out.push_back(std::move(failed));
  out.push_back(std::move(requests));
  out.push_back(std::move(duration));
  out.push_back(std::move(queued));
  out.push_back(std::move(queued_messages));
  out.push_back(std::move(waiting));
  out.push_back(std::move(refused));
  out.push_back(std::move(checkpoints));
  out.push_back(std::move(checkpoint_failures));
  out.push_back(std::move(log_applies));
  out.push_back(std::move(log_failures));
  out.push_back(std::move(log_unapplied));
}

constexpr std::array<Route, 3> kRoutes = {Route::Internal, Route::Agency, Route::Unknown};

}  // namespace

struct Metrics::Impl {
  std::vector<std::pair<std::string, double>> thresholds;  // account -> seconds, config order
  std::set<std::string> accounts;                          // configured accounts
  std::set<std::pair<std::string, std::string>> channels;  // configured (account, channel)
  std::function<tracker::Snapshot()> snapshot;
  std::function<WriteQueueStats()> write_queue;
  std::vector<SourceRef> sources;
  std::set<std::string, std::less<>> source_names;

  mutable std::mutex webhook_mutex;
  std::map<std::pair<std::string, int>, std::uint64_t> webhooks;  // (source, status) -> count

  // The web configuration file's last reload; watched only when one is in use.
  bool web_config_watched = false;
  std::atomic<bool> web_config_ok{true};
  std::atomic<std::int64_t> web_config_success_ms{0};
};

Metrics::Metrics(const config::Config& config, std::function<tracker::Snapshot()> snapshot,
                 std::vector<SourceRef> sources)
    : impl_(std::make_unique<Impl>()) {
  for (const auto& a : config.accounts) {
    impl_->thresholds.emplace_back(a.name, static_cast<double>(a.threshold.count()));
    impl_->accounts.insert(a.name);
  }
  for (const auto& s : config.sources) {
    if (s.carries_messages) impl_->channels.emplace(s.account, s.channel);
    impl_->source_names.insert(s.name);
  }
  for (const auto& ref : sources) {
    if (ref.config != nullptr) impl_->source_names.insert(ref.config->name);
  }
  impl_->snapshot = std::move(snapshot);
  impl_->sources = std::move(sources);
}

Metrics::~Metrics() = default;

void Metrics::watchWriteQueue(std::function<WriteQueueStats()> stats) {
  impl_->write_queue = std::move(stats);
}

void Metrics::watchWebConfig(Timestamp loaded_at) {
  impl_->web_config_watched = true;
  impl_->web_config_success_ms.store(toMillis(loaded_at));
}

void Metrics::recordWebConfigReload(bool success, Timestamp at) {
  if (success) impl_->web_config_success_ms.store(toMillis(at));
  impl_->web_config_ok.store(success);
}

namespace {

// The relay families: escalations linked to turns and their waits by the requesting
// handler's route, and answered turns' waits split by phase by the answer's route.
void addRelayFamilies(const std::set<std::string>& accounts, const tracker::Snapshot& snap,
                      std::vector<MetricFamily>& out) {
  std::map<std::pair<std::string, std::string>, tracker::EscalationStats> escalations;
  std::map<std::pair<std::string, std::string>, tracker::PhaseStats> phases;
  std::map<std::pair<std::string, std::string>, double> total_wait;  // answered turns, any handler/channel
  for (const auto& account : accounts) {
    for (Route r : kRoutes) {
      const std::pair<std::string, std::string> key{account, std::string(toString(r))};
      escalations[key];
      phases[key];
      total_wait[key];
    }
  }
  for (const auto& [key, stats] : snap.escalations) escalations[key] = stats;
  for (const auto& [key, stats] : snap.phases) phases[key] = stats;
  for (const auto& [key, stats] : snap.answers) {
    total_wait[{key[0], key[3]}] += stats.wait_seconds_sum;
    phases[{key[0], key[3]}];
  }

  auto count = family("replywatch_escalations_total",
                      "Escalation records of the relay feed linked to a question turn, by the route of the "
                      "handler that requested the relay.",
                      MetricType::Counter);
  auto wait =
      family("replywatch_escalation_wait_seconds",
             "Wait from the relay request to the relay's answer, for answered escalations linked to a "
             "turn, by the route of the requesting handler.",
             MetricType::Histogram);
  for (const auto& [key, s] : escalations) {
    Labels l{{"account", key.first}, {"route", key.second}};
    addCounter(count, l, asDouble(s.escalations_total));
    addHistogram(wait, l, s.bucket_counts, s.answered_total, s.wait_seconds_sum);
  }
  auto phase = family("replywatch_wait_seconds_total",
                      "Answered question turns' wait in seconds by the answer's route, split into before the "
                      "escalation, waiting for the relay, after the relay's answer, and direct (no relay).",
                      MetricType::Counter);
  for (const auto& [key, s] : phases) {
    const double direct = std::max(0.0, total_wait[key] - s.escalated_wait_seconds);
    const std::pair<const char*, double> values[] = {{"before_escalation", s.before_escalation_seconds},
                                                     {"relay", s.relay_seconds},
                                                     {"after_relay", s.after_relay_seconds},
                                                     {"direct", direct}};
    for (const auto& [name, value] : values) {
      addCounter(phase, {{"account", key.first}, {"route", key.second}, {"phase", name}}, value);
    }
  }
  out.push_back(std::move(count));
  out.push_back(std::move(wait));
  out.push_back(std::move(phase));
}

}  // namespace

void Metrics::countWebhook(const std::string& source, int status) {
  std::string key = impl_->source_names.count(source) != 0 ? source : std::string();
  std::lock_guard lock(impl_->webhook_mutex);
  ++impl_->webhooks[{std::move(key), status}];
}

std::string Metrics::render() const {
  const Impl& d = *impl_;
  tracker::Snapshot snap = d.snapshot ? d.snapshot() : tracker::Snapshot{};

  // Configured pairs first (zero values), then whatever the tracker holds.
  std::map<std::pair<std::string, std::string>, tracker::ChannelStats> channels;
  for (const auto& key : d.channels) channels[key];
  for (const auto& [key, stats] : snap.channels) channels[key] = stats;

  std::vector<MetricFamily> out;

  auto build =
      family("replywatch_build_info", "Build information; the value is always 1.", MetricType::Gauge);
  addGauge(build, {{"version", kVersion}, {"revision", kRevision}}, 1);
  out.push_back(std::move(build));

  if (d.web_config_watched) {
    auto ok = family("replywatch_web_config_last_reload_successful",
                     "Whether the last reload of the web configuration file (SIGHUP) succeeded; 1 until one "
                     "fails.",
                     MetricType::Gauge);
    addGauge(ok, {}, d.web_config_ok.load() ? 1 : 0);
    out.push_back(std::move(ok));
    auto at = family("replywatch_web_config_last_reload_success_timestamp_seconds",
                     "When the web configuration file was last loaded successfully, at start or by a reload.",
                     MetricType::Gauge);
    addGauge(at, {}, static_cast<double>(d.web_config_success_ms.load()) / 1000.0);
    out.push_back(std::move(at));
  }

  auto questions = family("replywatch_questions_total", "Question turns opened.", MetricType::Counter);
  auto open = family("replywatch_open_questions", "Question turns currently waiting for an answer.",
                     MetricType::Gauge);
  auto oldest = family("replywatch_oldest_open_question_age_seconds",
                       "Age of the oldest unanswered question turn at scrape time; 0 when none is open.",
                       MetricType::Gauge);
  auto late = family("replywatch_late_open_questions",
                     "Question turns still open past the account's response threshold.", MetricType::Gauge);
  auto breaches = family("replywatch_breaches_total",
                         "Question turns that crossed the account's response threshold, counted when they "
                         "cross it, answered or not.",
                         MetricType::Counter);
  for (const auto& [key, s] : channels) {
    Labels l{{"account", key.first}, {"channel", key.second}};
    addCounter(questions, l, asDouble(s.questions_total));
    addGauge(open, l, asDouble(s.open));
    addGauge(oldest, l, s.oldest_open_age_seconds);
    addGauge(late, l, asDouble(s.late_open));
    addCounter(breaches, l, asDouble(s.breaches_total));
  }

  auto answers = family("replywatch_answers_total", "Question turns answered.", MetricType::Counter);
  auto response =
      family("replywatch_response_seconds",
             "Wall-clock wait from the first message of a question turn to the first brand answer.",
             MetricType::Histogram);
  for (const auto& [key, s] : snap.answers) {
    Labels l{{"account", key[0]}, {"channel", key[1]}, {"handler", key[2]}, {"route", key[3]}};
    addCounter(answers, l, asDouble(s.answers_total));
    addHistogram(response, l, s.bucket_counts, s.answers_total, s.wait_seconds_sum);
  }

  auto threshold = family("replywatch_response_threshold_seconds",
                          "Configured response threshold of the account: a turn waiting longer is late.",
                          MetricType::Gauge);
  for (const auto& [account, seconds] : d.thresholds) addGauge(threshold, {{"account", account}}, seconds);
  // Accounts named by the data (twcs brand authors), with the threshold the tracker applies.
  std::set<std::string, std::less<>> with_threshold;
  for (const auto& [account, seconds] : d.thresholds) with_threshold.insert(account);
  for (const auto& [key, s] : snap.channels) {
    if (with_threshold.insert(key.first).second)
      addGauge(threshold, {{"account", key.first}}, s.threshold_seconds);
  }

  out.push_back(std::move(questions));
  out.push_back(std::move(answers));
  out.push_back(std::move(response));
  out.push_back(std::move(open));
  out.push_back(std::move(oldest));
  out.push_back(std::move(late));
  out.push_back(std::move(breaches));
  out.push_back(std::move(threshold));
  addRelayFamilies(d.accounts, snap, out);

  auto up = family("replywatch_source_up",
                   "1 when the source's last poll, delivery or file succeeded, 0 when it failed.",
                   MetricType::Gauge);
  auto last = family("replywatch_source_last_success_timestamp_seconds",
                     "Unix time of the source's last success; 0 if it never succeeded.", MetricType::Gauge);
  auto events = family("replywatch_source_events_total",
                       "New messages from the source committed to the store (duplicates excluded).",
                       MetricType::Counter);
  auto errors =
      family("replywatch_source_errors_total",
             "Errors of the source, by reason (a fixed list, see METRICS.md).", MetricType::Counter);
  std::vector<const SourceRef*> sources;
  for (const auto& ref : d.sources) {
    if (ref.config != nullptr) sources.push_back(&ref);
  }
  std::sort(sources.begin(), sources.end(),
            [](const SourceRef* a, const SourceRef* b) { return a->config->name < b->config->name; });
  for (const SourceRef* ref : sources) {
    const std::string& name = ref->config->name;
    const SourceHealth* h = ref->health;
    Labels l{{"source", name}};
    addGauge(up, l, h != nullptr && h->up() ? 1 : 0);
    double last_seconds = 0;
    if (h != nullptr) {
      if (auto t = h->lastSuccess()) last_seconds = static_cast<double>(toMillis(*t)) / 1000.0;
    }
    if (ref->live) addGauge(last, l, last_seconds);
    addCounter(events, l, h != nullptr ? asDouble(h->events()) : 0);
    for (std::size_t i = 0; i < kErrorReasonCount; ++i) {
      auto reason = static_cast<ErrorReason>(i);
      addCounter(errors, {{"source", name}, {"reason", std::string(toString(reason))}},
                 h != nullptr ? asDouble(h->errors(reason)) : 0);
    }
  }
  out.push_back(std::move(up));
  out.push_back(std::move(last));
  out.push_back(std::move(events));
  out.push_back(std::move(errors));

  auto webhooks = family("replywatch_webhook_requests_total",
                         "Webhook requests answered, by source and HTTP status code; unknown sources are "
                         "counted under source=\"\".",
                         MetricType::Counter);
  {
    std::lock_guard lock(d.webhook_mutex);
    for (const auto& [key, count] : d.webhooks) {
      addCounter(webhooks, {{"source", key.first}, {"code", std::to_string(key.second)}}, asDouble(count));
    }
  }
  out.push_back(std::move(webhooks));
  if (d.write_queue) addWriteQueueFamilies(d.write_queue(), out);

  // Like the official clients, a family without series is left out entirely.
  out.erase(std::remove_if(out.begin(), out.end(), [](const MetricFamily& f) { return f.metric.empty(); }),
            out.end());
  std::string text;
  text.reserve(estimateTextSize(out));
  appendText(out, text);
  return text;
}

}  // namespace replywatch::metrics
