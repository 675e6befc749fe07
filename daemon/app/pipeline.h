#pragma once
// The ingest pipeline: the one IngestSink every connector writes to. ingest() classifies
// a batch on the caller's thread and puts it on a bounded write queue; one writer thread
// takes every queued batch at once (a group), computes the turn changes of the group
// (tracker::Tracker::prepare), commits messages + turns + every cursor of the group in one
// store transaction (one disk sync for many requests), then applies the changes in memory
// and answers each caller with its own outcome: ingest() returns only once the
// transaction holding its batch committed, or with an error and nothing of its batch
// stored; ingestAsync() returns at once and its callback gets the same answer (webhook
// handlers use it, so no thread waits per delivery). Planning, commit and the tracker update happen under one
// mutex, so the tracker always mirrors what the store holds (during a bulk load into an
// empty store, what the store will hold once the queued commits are done: see
// beginBulkLoad()); escalation records of the relay feed and
// threshold crossings take the same mutex and commit on their caller's thread: the store
// links escalation records to turns in the commit that stores them (or their question),
// and reports the records it touched, which the pipeline keeps in an EscalationBook for
// the relay metrics.
//
// Backpressure: the queue holds at most `ingest.max_queued_messages` messages. A batch
// that does not fit is refused at once with reason kQueueFullReason (webhooks answer 503
// with Retry-After), unless its thread holds a WaitForRoom (pollers), which waits instead.
// A batch that finds the queue empty is always taken, however large (an import file).
// After stop(), queued batches are still committed and new ones are refused with reason
// kStoppingReason.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "connectors/connector.h"
#include "daemon/app/bulk_writer.h"
#include "daemon/app/store_loader.h"
#include "daemon/config/config.h"
#include "daemon/core/clock.h"
#include "daemon/metrics/metrics.h"
#include "daemon/store/store.h"
#include "daemon/tracker/escalation_book.h"
#include "daemon/tracker/tracker.h"

namespace replywatch::app {

// Error reasons of ingest() refusals that never reached the store.
inline constexpr std::string_view kQueueFullReason = connectors::kSinkQueueFullReason;
inline constexpr std::string_view kStoppingReason = connectors::kSinkStoppingReason;

class Pipeline final : public connectors::IngestSink {
 public:
  // Starts the writer thread.
  Pipeline(const config::Config& config, const Clock& clock, store::Store& store);
  // Calls stop().
  ~Pipeline() override;

  // While an object of this type lives, ingest() calls made on its thread wait for room
  // in a full write queue instead of being refused: for poll loops, which have no caller
  // to retry for them. Not for webhook handlers (the platform retries a 503).
  class WaitForRoom {
   public:
    WaitForRoom();
    ~WaitForRoom();
    WaitForRoom(const WaitForRoom&) = delete;
    WaitForRoom& operator=(const WaitForRoom&) = delete;

   private:
    bool previous_;
  };

  // Rebuilds the tracker from the store (all turns for counters, the messages of open
  // conversations). Call once before ingesting. Blocks on disk.
  Result<void> restore();

  // A bulk load of the store around an import file (Store::beginBulkLoad and
  // endBulkLoad), taken under the pipeline lock. Into an empty store, the tracker keeps
  // every conversation of the load in memory and never asks the store for one until
  // the load ends (the store builds its by-conversation index at the end). When the
  // store holds no escalation record either, the load's commits run on a thread of their
  // own (BulkWriter): ingest() answers once its batch is planned, applied to the tracker
  // and queued, as nothing of the load is durable before endBulkLoad() anyway. A message
  // that may have been loaded before (MessageKeySet) sends its batch through the store's
  // own check, after the queued ones; an escalation record ingested during the load
  // turns the thread off for the rest of it. A queued commit that fails fails the load:
  // later ingest() calls return its error, and endBulkLoad() gives the load up
  // (Store::abortBulkLoad) and returns it. Call from the importing thread, with no other
  // ingestion under way. Blocks on disk.
  Result<void> beginBulkLoad();
  Result<void> endBulkLoad();
  // Gives the load up instead of ending it (Store::abortBulkLoad): nothing of it stays
  // stored, whichever thread committed its batches. The tracker and the escalation book
  // held batches of the load, so they are rebuilt from the store, as restore() does.
  // For an import file that failed part way. Call from the importing thread. Blocks on
  // disk; an Error when giving up or rebuilding fails (the tracker then no longer
  // mirrors the store: stop ingesting).
  Result<void> abortBulkLoad();

  // Queues the batch and blocks until the transaction holding it committed (see the
  // header comment). Thread-safe. Errors: kQueueFullReason, kStoppingReason, or the
  // store's reason when the group's transaction failed (nothing of the group stored).
  Result<connectors::IngestOutcome> ingest(const config::SourceConfig& source, std::vector<Message> messages,
                                           std::optional<std::string> cursor) override;
  // Queues the batch and returns at once; `done` runs on the writer thread after the
  // transaction holding the batch committed (or failed), or on the caller's thread before
  // returning for a refusal (kQueueFullReason, kStoppingReason) or an empty batch. A
  // thread holding a WaitForRoom blocks here while the queue is full. Thread-safe.
  void ingestAsync(const config::SourceConfig& source, std::vector<Message> messages,
                   std::optional<std::string> cursor, connectors::IngestCallback done) override;
  Result<connectors::IngestOutcome> ingestEscalations(const config::SourceConfig& source,
                                                      std::vector<Escalation> escalations,
                                                      std::optional<std::string> cursor) override;
  Result<std::optional<std::string>> cursor(const std::string& source) override;
  Result<std::vector<std::optional<MessagePlace>>> messagePlaces(
      const std::string& source, const std::vector<std::string>& ids) override;

  // Records threshold crossings of open turns (persisted, then counted). Called
  // periodically by the daemon's tick thread. Returns how many turns crossed.
  Result<std::size_t> tick();

  // Retention: deletes from the store the conversations without a message since
  // `cutoff` (an open question among them no longer counts as open), with their
  // escalation records, and unlinked records requested before it. The store works in
  // small transactions, each run under the pipeline lock (ingestion goes on between
  // them) and followed in memory (tracker, escalation records) before the lock is let
  // go, so memory and store never differ. Each saves what the turns and records it
  // deletes counted, so that the counters a restart rebuilds go on from where they were.
  // Returns messages deleted.
  Result<std::uint64_t> prune(Timestamp cutoff);

  // What is held in memory, for tests and benchmarks. Thread-safe; takes the pipeline lock.
  struct Held {
    std::size_t conversations = 0;       // conversations in the tracker
    std::size_t escalation_records = 0;  // records in the escalation book
  };
  Held held() const;

  // Stops the write queue: batches already queued are committed and answered, later
  // ingest() calls (and those waiting for room) are refused with kStoppingReason. Blocks
  // until the writer thread has finished. Idempotent; call from one thread.
  void stop();

  // The write queue's counters for /metrics. Thread-safe, does not wait for a commit.
  metrics::WriteQueueStats writeQueueStats() const;

  // True once stop() was called. Thread-safe.
  bool stopping() const;

  // Metrics view, relay measurements included. Thread-safe; takes the pipeline lock
  // briefly (the relay part costs a pass over the escalation records held).
  tracker::Snapshot snapshot() const;

 private:
  struct Request;
  // The writer thread: takes every queued request at once and commits them together.
  void writeLoop();
  void commitGroup(const std::vector<std::unique_ptr<Request>>& group);
  // Plans and commits the group's records and cursors in one transaction (takes mu_).
  // `owner` maps each record's messageKey() to the index of its request, of `requests`
  // (empty for a group of one); returns the number of messages stored per request, and
  // sets `wrote` when a transaction committed (a group of known messages writes nothing).
  Result<std::vector<std::size_t>> commitRecords(
      std::vector<MessageRecord> records, const std::vector<std::pair<std::string, std::string>>& cursors,
      const std::unordered_map<std::string, std::size_t>& owner, std::size_t requests, bool& wrote);
  // The records not yet in the store (by source and id). Of records sharing a (source,
  // id) under different conversations within the batch (a feed contradicting itself),
  // keeps the first in the order given, which is the plan's: by conversation, not by
  // arrival.
  Result<std::vector<MessageRecord>> withoutStored(std::vector<MessageRecord> records);
  // Applies the escalation states a commit reported.
  void noteEscalations(const store::CommitOutcome& outcome);
  // Reloads every escalation record from the store. Called with mu_ held.
  Result<void> reloadEscalations();
  // With mu_ held: waits for the bulk writer's queued commits, so the store can be used
  // from this thread; with `stop_bulk_writer`, the rest of the load commits on the
  // writer thread. Returns a failed commit's error.
  Result<void> settleBulkWrites(bool stop_bulk_writer = false);
  // Ends the bulk writer's part of a load (with mu_ held, nothing queued).
  void dropBulkWriter();
  // With mu_ held, once a load is ended or given up: the writer dropped, the tracker and
  // the loader back to their usual settings.
  void leaveBulkLoad();
  // restore(), with mu_ held.
  Result<void> restoreLocked();

  const config::Config& config_;
  const Clock& clock_;
  store::Store& store_;
  std::unique_ptr<StoreLoader> loader_;
  tracker::EscalationBook escalations_;
  // What the turns retention deleted counted (guarded by mu_), kept in the store.
  tracker::RetiredCounts retired_turns_;
  tracker::Classifier classifier_;
  mutable std::mutex mu_;
  std::unique_ptr<tracker::Tracker> tracker_;
  bool load_into_empty_store_ = false;  // between beginBulkLoad() and endBulkLoad()
  // During a load into an empty store without escalation records (guarded by mu_;
  // bulk_writing_ is read without it by cursor()).
  std::unique_ptr<BulkWriter> bulk_writer_;
  MessageKeySet bulk_keys_;  // the messages the bulk writer was given
  std::atomic<bool> bulk_writing_{false};

  // The write queue (requests are answered through their callbacks).
  const std::size_t max_queued_messages_;
  mutable std::mutex queue_mu_;
  std::condition_variable work_cv_;  // the writer waits for requests
  std::condition_variable room_cv_;  // WaitForRoom callers wait for room
  std::vector<std::unique_ptr<Request>> queue_;
  std::size_t queued_messages_ = 0;
  std::size_t waiting_for_room_ = 0;
  bool stopping_ = false;
  metrics::WriteQueueStats stats_;  // guarded by queue_mu_ (queued_* filled on read)
  std::thread writer_;
};

}  // namespace replywatch::app
