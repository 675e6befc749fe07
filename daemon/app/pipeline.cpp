#include "daemon/app/pipeline.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <string_view>
#include <unordered_set>

#include "daemon/app/conversation_filter.h"
#include "daemon/core/log.h"

namespace replywatch::app {

// Loads conversations from the store for the tracker, skipping the look-up when the
// conversation filter knows the store does not hold the conversation.
class Pipeline::StoreLoader final : public tracker::ConversationLoader {
 public:
  explicit StoreLoader(store::Store& store) : store_(store) {}

  Result<std::vector<MessageRecord>> load(const ConversationKey& key) override {
    if (filter_ && !filter_->mayContain(key)) return std::vector<MessageRecord>{};
    return store_.conversation(key);
  }

  // Fills the filter from the store, sized for growth. Without a filter every load asks
  // the store, which is always correct.
  void rebuild() {
    std::uint64_t count = 0;
    auto counted = store_.forEachConversation([&count](const ConversationKey&) { ++count; });
    if (!counted) {
      filter_.reset();
      return;
    }
    auto filter = std::make_unique<ConversationFilter>(std::max<std::uint64_t>(count * 4, 1));
    auto filled = store_.forEachConversation([&filter](const ConversationKey& k) { filter->add(k); });
    if (filled) {
      filter_ = std::move(filter);
    } else {
      filter_.reset();
    }
  }

  // Records the conversations of committed messages.
  void committed(const std::vector<MessageRecord>& messages) {
    if (!filter_) return;
    for (const auto& m : messages) filter_->add({m.source, m.conversation_id});
    if (filter_->overfull()) rebuild();
  }

 private:
  store::Store& store_;
  std::unique_ptr<ConversationFilter> filter_;
};

Pipeline::Pipeline(const config::Config& config, const Clock& clock, store::Store& store)
    : config_(config),
      store_(store),
      loader_(std::make_unique<StoreLoader>(store)),
      classifier_(config),
      tracker_(std::make_unique<tracker::Tracker>(config, clock, *loader_)) {}

Pipeline::~Pipeline() = default;

Result<void> Pipeline::restore() {
  std::lock_guard lock(mu_);
  loader_->rebuild();
  auto turns = store_.forEachTurn([&](const Turn& t) { tracker_->restoreTurn(t); });
  if (!turns) return turns.error();
  auto open = store_.openConversationMessages();
  if (!open) return open.error();
  tracker_->restoreOpenMessages(*open);
  return reloadEscalations();
}

Result<void> Pipeline::reloadEscalations() {
  escalations_.clear();
  return store_.forEachEscalation(
      {}, [this](const store::LinkedEscalation& linked) { escalations_.put(linked.record, linked.turn); });
}

void Pipeline::noteEscalations(const store::CommitOutcome& outcome) {
  for (const auto& linked : outcome.escalations) escalations_.put(linked.record, linked.turn);
}

Result<connectors::IngestOutcome> Pipeline::ingestEscalations(const config::SourceConfig& source,
                                                              std::vector<Escalation> escalations,
                                                              std::optional<std::string> cursor) {
  connectors::IngestOutcome outcome;
  outcome.received = escalations.size();
  store::WriteBatch batch;
  batch.escalations.reserve(escalations.size());
  for (auto& e : escalations) {
    EscalationRecord& r = batch.escalations.emplace_back();
    r.source = source.name;
    // The route of the handler that asked the relay; a name no handler has is unknown.
    const auto handler =
        std::find_if(config_.handlers.begin(), config_.handlers.end(),
                     [&e](const config::HandlerConfig& h) { return h.name == e.requested_by; });
    r.route = handler == config_.handlers.end() ? Route::Unknown : handler->route;
    if (e.account.empty()) e.account = source.account;
    r.escalation = std::move(e);
  }
  if (cursor) batch.cursor = std::make_pair(source.name, *cursor);

  std::lock_guard lock(mu_);
  auto committed = store_.commit(batch);
  if (!committed) return committed.error();
  noteEscalations(*committed);
  outcome.stored = committed->escalations_changed;
  outcome.duplicates = outcome.received - outcome.stored;
  return outcome;
}

Result<connectors::IngestOutcome> Pipeline::ingest(const config::SourceConfig& source,
                                                   std::vector<Message> messages,
                                                   std::optional<std::string> cursor) {
  connectors::IngestOutcome outcome;
  outcome.received = messages.size();
  std::vector<MessageRecord> records;
  records.reserve(messages.size());
  for (const auto& m : messages) records.push_back(classifier_.classify(source, m));
  messages.clear();

  std::lock_guard lock(mu_);
  // The tracker recognises duplicates within the conversations it looks at; a message
  // already stored under another conversation id (a feed that changed its threading) is
  // caught by the store, which refuses the batch. The batch is then recomputed without
  // the stored messages — rare, so the common path pays no lookup.
  for (int attempt = 0;; ++attempt) {
    auto plan = tracker_->prepare(std::move(records));
    if (!plan) return plan.error();
    if (plan->new_messages.empty() && plan->upsert_turns.empty() && plan->delete_turns.empty() && !cursor) {
      outcome.duplicates = outcome.received;
      return outcome;
    }
    store::WriteBatch batch;
    batch.messages = std::move(plan->new_messages);
    batch.upsert_turns = std::move(plan->upsert_turns);
    batch.delete_turns = std::move(plan->delete_turns);
    batch.require_new_messages = true;
    if (cursor) batch.cursor = std::make_pair(source.name, *cursor);
    auto committed = store_.commit(batch);
    if (!committed) {
      if (committed.error().reason != store::kDuplicateMessageReason || attempt > 0) return committed.error();
      auto known = withoutStored(source.name, std::move(batch.messages));
      if (!known) return known.error();
      records = std::move(known).value();
      continue;
    }
    loader_->committed(batch.messages);
    noteEscalations(*committed);
    outcome.stored = committed->messages_inserted;
    outcome.duplicates = outcome.received - outcome.stored;
    // Tracker::commit applies the plan's per-conversation states; the change lists
    // moved into the batch were only for the store.
    tracker_->commit(std::move(*plan));
    return outcome;
  }
}

Result<std::vector<MessageRecord>> Pipeline::withoutStored(const std::string& source,
                                                           std::vector<MessageRecord> records) {
  std::vector<std::string> ids;
  ids.reserve(records.size());
  for (const auto& r : records) ids.push_back(r.id);
  auto stored = store_.contains(source, ids);
  if (!stored) return stored.error();
  // Also keeps only the first of several records sharing an id within the batch.
  std::vector<MessageRecord> fresh;
  std::unordered_set<std::string_view> seen;
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (!stored.value()[i] && seen.insert(records[i].id).second) fresh.push_back(records[i]);
  }
  if (fresh.size() < records.size()) {
    spdlog::warn("messages already stored under another conversation were ignored source={} count={}",
                 logValue(source), records.size() - fresh.size());
  }
  return fresh;
}

Result<std::optional<std::string>> Pipeline::cursor(const std::string& source) {
  return store_.cursor(source);
}

Result<std::size_t> Pipeline::tick() {
  std::lock_guard lock(mu_);
  auto crossed = tracker_->tick();
  if (crossed.empty()) return std::size_t{0};
  store::WriteBatch batch;
  batch.upsert_turns = crossed;
  auto committed = store_.commit(batch);
  if (committed) noteEscalations(*committed);
  if (!committed) {
    // The in-memory breach stays counted; the next recomputation or restart re-derives
    // it from the clock, so nothing is counted twice.
    spdlog::warn("cannot persist threshold breaches error={}", logValue(committed.error().message));
    return committed.error();
  }
  return crossed.size();
}

Result<std::uint64_t> Pipeline::prune(Timestamp cutoff) {
  auto pruned = store_.prune(cutoff);
  if (!pruned) return pruned.error();
  if (*pruned > 0) {
    std::lock_guard lock(mu_);
    tracker_->dropIdleConversations();
    loader_->rebuild();
  }
  // Escalation records may go without any message (those whose question never came).
  std::lock_guard lock(mu_);
  if (auto reloaded = reloadEscalations(); !reloaded) return reloaded.error();
  return pruned;
}

tracker::Snapshot Pipeline::snapshot() const {
  std::lock_guard lock(mu_);
  tracker::Snapshot snapshot = tracker_->snapshot();
  escalations_.fill(snapshot);
  return snapshot;
}

}  // namespace replywatch::app
