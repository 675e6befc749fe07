#include "daemon/app/pipeline.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <limits>
#include <map>
#include <string_view>
#include <unordered_set>
#include <utility>

#include "daemon/app/retired_counts.h"
#include "daemon/app/store_loader.h"
#include "daemon/core/log.h"
#include "daemon/core/thread_name.h"

namespace replywatch::app {

namespace {

// Set on threads holding a Pipeline::WaitForRoom.
thread_local bool t_wait_for_room = false;

// Identifies a message across sources: source names never contain a NUL.
std::string messageKey(const MessageRecord& r) {
  std::string key;
  key.reserve(r.source.size() + 1 + r.id.size());
  key += r.source;
  key += '\0';
  key += r.id;
  return key;
}

template <std::size_t N>
void observe(std::array<std::uint64_t, N>& buckets, const std::array<double, N>& bounds, double value) {
  for (std::size_t i = 0; i < N; ++i) {
    if (value <= bounds[i]) {
      ++buckets[i];
      return;
    }
  }
}

}  // namespace

// One ingest() or ingestAsync() call waiting for the writer. Owned by the queue, then by
// the writer's group; `done` is called once, by the writer, after the commit.
struct Pipeline::Request {
  const config::SourceConfig* source = nullptr;
  std::vector<MessageRecord> records;
  std::optional<std::string> cursor;
  connectors::IngestCallback done;
};

Pipeline::WaitForRoom::WaitForRoom() : previous_(t_wait_for_room) { t_wait_for_room = true; }

Pipeline::WaitForRoom::~WaitForRoom() { t_wait_for_room = previous_; }

Pipeline::Pipeline(const config::Config& config, const Clock& clock, store::Store& store)
    : config_(config),
      clock_(clock),
      store_(store),
      loader_(std::make_unique<StoreLoader>(store)),
      classifier_(config),
      tracker_(std::make_unique<tracker::Tracker>(config, clock, *loader_)),
      max_queued_messages_(std::max<std::size_t>(1, config.ingest.max_queued_messages)),
      writer_([this] { writeLoop(); }) {}

Pipeline::~Pipeline() { stop(); }

void Pipeline::stop() {
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  room_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

bool Pipeline::stopping() const {
  std::lock_guard lock(queue_mu_);
  return stopping_;
}

metrics::WriteQueueStats Pipeline::writeQueueStats() const {
  const store::CheckpointCounts checkpoints = store_.checkpointCounts();
  const store::CommitLogCounts log = store_.commitLogCounts();
  std::lock_guard lock(queue_mu_);
  metrics::WriteQueueStats stats = stats_;
  stats.queued_requests = queue_.size();
  stats.queued_messages = queued_messages_;
  stats.waiting_for_room = waiting_for_room_;
  stats.checkpoints = checkpoints.checkpoints;
  stats.checkpoint_failures = checkpoints.failures;
  stats.log_applies = log.applied_rounds;
  stats.log_apply_failures = log.failed_rounds;
  stats.log_unapplied_messages = log.unapplied_messages;
  return stats;
}

Result<void> Pipeline::restore() {
  std::lock_guard lock(mu_);
  return restoreLocked();
}

Result<void> Pipeline::restoreLocked() {
  loader_->rebuild();
  auto turns = store_.forEachTurn([&](const Turn& t) { tracker_->restoreTurn(t); });
  if (!turns) return turns.error();
  auto open = store_.openConversationMessages();
  if (!open) return open.error();
  tracker_->restoreOpenMessages(*open);
  // What the turns and records pruned before counted.
  auto text = store_.retiredCounts();
  if (!text) return text.error();
  Retired retired;
  if (text->has_value()) {
    auto read = retiredFromJson(**text);
    if (!read) {
      return makeError(read.error().reason,
                       read.error().message +
                           " (deleting the row of table retired_counts lets the daemon start, "
                           "with counters lowered by what retention deleted)");
    }
    retired = std::move(read).value();
  }
  tracker_->restoreRetired(retired.turns);
  retired_turns_ = std::move(retired.turns);
  escalations_.setRetired(std::move(retired.escalations), std::move(retired.phases));
  return reloadEscalations();
}

Result<void> Pipeline::beginBulkLoad() {
  std::lock_guard lock(mu_);
  auto started = store_.beginBulkLoad();
  if (!started) return started.error();
  if (started->into_empty_store) {
    // Nothing stored before the load: keeping each conversation the load commits makes
    // every other one unstored, and no store read is needed.
    tracker_->setMaxIdleConversations(std::numeric_limits<std::size_t>::max());
    loader_->setLoadIntoEmptyStore(true);
    load_into_empty_store_ = true;
    if (escalations_.size() == 0) {
      bulk_writer_ = std::make_unique<BulkWriter>(store_);
      bulk_writing_ = true;
    }
  }
  return {};
}

Result<void> Pipeline::settleBulkWrites(bool stop_bulk_writer) {
  if (!bulk_writer_) return {};
  auto drained = bulk_writer_->drain();
  // After a failure the writer stays: its error fails the rest of the load.
  if (stop_bulk_writer && drained) dropBulkWriter();
  return drained;
}

void Pipeline::dropBulkWriter() {
  bulk_writer_.reset();
  bulk_keys_ = MessageKeySet{};
  bulk_writing_ = false;
}

Result<void> Pipeline::endBulkLoad() {
  std::lock_guard lock(mu_);
  Result<void> ended;
  if (auto drained = settleBulkWrites(); !drained) {
    auto aborted = store_.abortBulkLoad();
    ended = makeError(drained.error().reason,
                      "nothing of the load was stored: " + drained.error().message +
                          (aborted ? std::string() : "; giving it up failed: " + aborted.error().message));
  } else {
    ended = store_.endBulkLoad();
  }
  leaveBulkLoad();
  return ended;
}

Result<void> Pipeline::abortBulkLoad() {
  std::lock_guard lock(mu_);
  // A queued commit's error is the load's own, which is given up anyway.
  (void)settleBulkWrites();
  auto aborted = store_.abortBulkLoad();
  leaveBulkLoad();
  if (!aborted) return aborted.error();
  // The tracker applied the load's batches as they were committed: start it again from
  // what the store holds now.
  tracker_ = std::make_unique<tracker::Tracker>(config_, clock_, *loader_);
  return restoreLocked();
}

void Pipeline::leaveBulkLoad() {
  dropBulkWriter();
  if (load_into_empty_store_) {
    load_into_empty_store_ = false;
    loader_->setLoadIntoEmptyStore(false);
    tracker_->setMaxIdleConversations(tracker::TrackerOptions{}.max_idle_conversations);
  }
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
  if (cursor) batch.cursors.emplace_back(source.name, *cursor);

  std::lock_guard lock(mu_);
  // The store links escalation records to turns in each commit: none of the load's
  // commits may wait on the bulk writer from here on.
  if (auto settled = settleBulkWrites(/*stop_bulk_writer=*/true); !settled) return settled.error();
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
  // The callback shares the promise: the writer may still be inside set_value() when
  // this caller wakes up and returns.
  auto promise = std::make_shared<std::promise<Result<connectors::IngestOutcome>>>();
  auto answer = promise->get_future();
  ingestAsync(
      source, std::move(messages), std::move(cursor),
      [promise](Result<connectors::IngestOutcome> outcome) { promise->set_value(std::move(outcome)); });
  return answer.get();
}

void Pipeline::ingestAsync(const config::SourceConfig& source, std::vector<Message> messages,
                           std::optional<std::string> cursor, connectors::IngestCallback done) {
  if (messages.empty() && !cursor) {
    done(connectors::IngestOutcome{});
    return;
  }
  auto request = std::make_unique<Request>();
  request->source = &source;
  request->records.reserve(messages.size());
  for (const auto& m : messages) request->records.push_back(classifier_.classify(source, m));
  messages.clear();
  request->cursor = std::move(cursor);
  request->done = std::move(done);
  const std::size_t n = request->records.size();
  std::optional<Error> refused;
  bool wake = false;
  {
    std::unique_lock lock(queue_mu_);
    auto fits = [&] { return queue_.empty() || queued_messages_ + n <= max_queued_messages_; };
    if (!stopping_ && !fits()) {
      if (!t_wait_for_room) {
        ++stats_.refused_full;
        refused = Error{
            std::string(kQueueFullReason),
            fmt::format("the write queue is full ({} messages waiting), retry later", queued_messages_)};
      } else {
        ++waiting_for_room_;
        room_cv_.wait(lock, [&] { return stopping_ || fits(); });
        --waiting_for_room_;
      }
    }
    if (!refused && stopping_) {
      ++stats_.refused_stopping;
      refused = Error{std::string(kStoppingReason), "replywatch is stopping, retry later"};
    }
    if (!refused) {
      // The writer only needs waking when it may be waiting: it takes the whole queue at
      // once, so a request added behind others is taken with them.
      wake = queue_.empty();
      // The queue owns it from here on; a refused request stays with this call.
      queue_.emplace_back(request.release());
      queued_messages_ += n;
    }
  }
  if (refused) {
    request->done(std::move(*refused));
    return;
  }
  if (wake) work_cv_.notify_one();
}

void Pipeline::writeLoop() {
  nameThisThread("store-writer");
  std::vector<std::unique_ptr<Request>> group;
  for (;;) {
    {
      std::unique_lock lock(queue_mu_);
      work_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and every queued request answered
      group.swap(queue_);
      queued_messages_ = 0;
    }
    room_cv_.notify_all();
    commitGroup(group);
    group.clear();
  }
}

void Pipeline::commitGroup(const std::vector<std::unique_ptr<Request>>& group) {
  const auto started = std::chrono::steady_clock::now();
  // A (source, id) is taken from the first request of the group carrying it: a later
  // request's copy is a duplicate for that request, whatever happens to the first one.
  // Each remaining message then belongs to exactly one request, which is how the stored
  // messages are attributed back.
  std::unordered_map<std::string, std::size_t> owner;
  std::vector<connectors::IngestOutcome> outcomes(group.size());
  std::vector<MessageRecord> records;
  std::vector<std::pair<std::string, std::string>> cursors;
  std::size_t total = 0;
  for (const auto& r : group) total += r->records.size();
  records.reserve(total);
  for (std::size_t i = 0; i < group.size(); ++i) {
    Request& r = *group[i];
    outcomes[i].received = r.records.size();
    for (MessageRecord& m : r.records) {
      if (group.size() > 1) {
        auto [it, inserted] = owner.try_emplace(messageKey(m), i);
        if (!inserted && it->second != i) continue;
      }
      records.push_back(std::move(m));
    }
    r.records.clear();
    if (r.cursor) cursors.emplace_back(r.source->name, std::move(*r.cursor));
  }

  bool wrote = false;
  auto stored = commitRecords(std::move(records), cursors, owner, group.size(), wrote);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  {
    std::lock_guard lock(queue_mu_);
    if (stored && wrote) {
      ++stats_.commits;
      stats_.requests_committed += group.size();
      observe(stats_.request_buckets, metrics::kCommitRequestBuckets, static_cast<double>(group.size()));
      observe(stats_.duration_buckets, metrics::kCommitDurationBuckets, seconds);
      stats_.duration_seconds += seconds;
    } else if (!stored) {
      ++stats_.failed_commits;
    }
  }
  if (!stored) {
    spdlog::debug("group commit failed requests={} error={}", group.size(), logValue(stored.error().message));
  }
  for (std::size_t i = 0; i < group.size(); ++i) {
    if (stored) {
      outcomes[i].stored = (*stored)[i];
      outcomes[i].duplicates = outcomes[i].received - outcomes[i].stored;
      group[i]->done(outcomes[i]);
    } else {
      group[i]->done(stored.error());
    }
  }
}

Result<std::vector<std::size_t>> Pipeline::commitRecords(
    std::vector<MessageRecord> records, const std::vector<std::pair<std::string, std::string>>& cursors,
    const std::unordered_map<std::string, std::size_t>& owner, std::size_t requests, bool& wrote) {
  std::vector<std::size_t> stored(requests, 0);
  // What each request stored, from the messages a commit inserted (`inserted` of them).
  auto count = [&](const std::vector<MessageRecord>& messages, std::size_t inserted) {
    if (requests == 1) {
      stored[0] = inserted;
    } else {
      for (const MessageRecord& m : messages) ++stored[owner.at(messageKey(m))];
    }
  };
  std::lock_guard lock(mu_);
  // The tracker recognises duplicates within the conversations it looks at; a message
  // already stored under another conversation id (a feed that changed its threading) is
  // caught by the store, which refuses the batch. The batch is then recomputed without
  // the stored messages — rare, so the common path pays no lookup.
  for (int attempt = 0;; ++attempt) {
    auto plan = tracker_->prepare(std::move(records));
    if (!plan) return plan.error();
    if (plan->new_messages.empty() && plan->upsert_turns.empty() && plan->delete_turns.empty() &&
        cursors.empty()) {
      return stored;
    }
    store::WriteBatch batch;
    batch.messages = std::move(plan->new_messages);
    batch.upsert_turns = std::move(plan->upsert_turns);
    batch.delete_turns = std::move(plan->delete_turns);
    batch.require_new_messages = true;
    batch.cursors = cursors;
    if (bulk_writer_) {
      if (attempt == 0 && bulk_keys_.addAll(batch.messages)) {
        // New to the load, into a store that held none: the store cannot refuse it, and
        // the commit runs behind on the bulk writer's thread.
        loader_->committed(batch.messages);
        count(batch.messages, batch.messages.size());
        if (auto queued = bulk_writer_->submit(std::move(batch)); !queued) return queued.error();
        wrote = true;
        tracker_->commit(std::move(*plan));
        return stored;
      }
      // A message that may be loaded already: the store checks, after what is queued.
      if (auto settled = settleBulkWrites(); !settled) return settled.error();
    }
    auto committed = store_.commit(batch);
    if (!committed) {
      if (committed.error().reason != store::kDuplicateMessageReason || attempt > 0) return committed.error();
      auto known = withoutStored(std::move(batch.messages));
      if (!known) return known.error();
      records = std::move(known).value();
      continue;
    }
    wrote = true;
    loader_->committed(batch.messages);
    noteEscalations(*committed);
    count(batch.messages, committed->messages_inserted);
    // Tracker::commit applies the plan's per-conversation states; the change lists
    // moved into the batch were only for the store.
    tracker_->commit(std::move(*plan));
    return stored;
  }
}

Result<std::vector<MessageRecord>> Pipeline::withoutStored(std::vector<MessageRecord> records) {
  // One look-up per source, answers put back in record order.
  std::map<std::string_view, std::vector<std::size_t>> by_source;
  for (std::size_t i = 0; i < records.size(); ++i) by_source[records[i].source].push_back(i);
  std::vector<bool> stored(records.size(), false);
  for (const auto& [source, indices] : by_source) {
    std::vector<std::string> ids;
    ids.reserve(indices.size());
    for (std::size_t i : indices) ids.push_back(records[i].id);
    auto known = store_.contains(std::string(source), ids);
    if (!known) return known.error();
    for (std::size_t k = 0; k < indices.size(); ++k) stored[indices[k]] = known.value()[k];
  }
  // Also keeps only the first of several records sharing a (source, id) within the batch
  // (in the order given: see the header).
  std::vector<MessageRecord> fresh;
  std::unordered_set<std::string> seen;
  std::map<std::string_view, std::size_t> ignored;
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (!stored[i] && seen.insert(messageKey(records[i])).second) {
      fresh.push_back(std::move(records[i]));
    } else {
      ++ignored[records[i].source];
    }
  }
  for (const auto& [source, count] : ignored) {
    spdlog::warn("messages already stored under another conversation were ignored source={} count={}",
                 logValue(source), count);
  }
  return fresh;
}

Result<std::vector<std::optional<MessagePlace>>> Pipeline::messagePlaces(
    const std::string& source, const std::vector<std::string>& ids) {
  if (!bulk_writing_) return store_.messagePlaces(source, ids);
  // The messages may be in a batch still queued for the bulk writer.
  std::lock_guard lock(mu_);
  if (auto settled = settleBulkWrites(); !settled) return settled.error();
  return store_.messagePlaces(source, ids);
}

Result<std::optional<std::string>> Pipeline::cursor(const std::string& source) {
  if (!bulk_writing_) return store_.cursor(source);
  // The cursor may be in a batch still queued for the bulk writer.
  std::lock_guard lock(mu_);
  if (auto settled = settleBulkWrites(); !settled) return settled.error();
  return store_.cursor(source);
}

Result<std::size_t> Pipeline::tick() {
  std::lock_guard lock(mu_);
  auto crossed = tracker_->tick();
  if (crossed.empty()) return std::size_t{0};
  if (auto settled = settleBulkWrites(); !settled) return settled.error();
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
  {
    std::lock_guard lock(mu_);
    if (auto settled = settleBulkWrites(/*stop_bulk_writer=*/true); !settled) return settled.error();
  }
  store::PruneHooks hooks;
  // Each deletion runs under mu_, as the writer's commits do: the writer cannot load a
  // conversation back from the store between a deletion's check and its commit, and
  // what a deletion removes leaves memory in the same step. Otherwise a conversation
  // loaded back meanwhile would stay in the tracker after its deletion, and a later
  // message to it would store its pruned turn again, counted twice from then on.
  hooks.exclude = [this] { return std::unique_lock(mu_); };
  // Under mu_ and the store's write lock: reads only this object.
  hooks.retired_counts = [this](const store::PruneDeletion& deleting) {
    Retired after{retired_turns_, {}, {}};
    for (const Turn& t : deleting.turns) after.turns.add(t);
    auto escalations = escalations_.retiredWith(deleting.escalations);
    after.escalations = std::move(escalations.escalations);
    after.phases = std::move(escalations.phases);
    return retiredToJson(after);
  };
  // Memory follows each committed deletion. noexcept: memory left behind the store would
  // make the next deletion save counts without this one's; ending the process instead
  // loses nothing, the store holding what this one counted.
  bool deleted_any = false;
  hooks.deleted = [this, &deleted_any](const store::PruneDeletion& deleted) noexcept {
    for (const Turn& t : deleted.turns) retired_turns_.add(t);
    escalations_.retire(deleted.escalations);
    tracker_->forget(deleted.conversations);
    deleted_any = deleted_any || !deleted.conversations.empty();
  };
  auto pruned = store_.prune(cutoff, hooks);
  std::lock_guard lock(mu_);
  // After an error too: the transactions that committed before it deleted all the same.
  if (deleted_any) loader_->rebuildInBackground();
  return pruned;
}

Pipeline::Held Pipeline::held() const {
  std::lock_guard lock(mu_);
  return Held{tracker_->conversationsInMemory(), escalations_.size()};
}

tracker::Snapshot Pipeline::snapshot() const {
  std::lock_guard lock(mu_);
  tracker::Snapshot snapshot = tracker_->snapshot();
  escalations_.fill(snapshot);
  return snapshot;
}

}  // namespace replywatch::app
