#pragma once
// The ingest pipeline: the one IngestSink every connector writes to. For each batch it
// classifies messages (tracker::Classifier), computes the turn changes
// (tracker::Tracker::prepare), commits messages + turns + cursor in one store
// transaction, and only then applies the changes in memory. All writes are serialized
// by one mutex, so the tracker always mirrors what the store holds. Escalation records of
// the relay feed go the same way: the store links them to turns in the commit that
// stores them (or their question), and reports the records it touched, which the
// pipeline keeps in an EscalationBook for the relay metrics.
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "connectors/connector.h"
#include "daemon/config/config.h"
#include "daemon/core/clock.h"
#include "daemon/store/store.h"
#include "daemon/tracker/escalation_book.h"
#include "daemon/tracker/tracker.h"

namespace replywatch::app {

class Pipeline final : public connectors::IngestSink {
 public:
  Pipeline(const config::Config& config, const Clock& clock, store::Store& store);
  ~Pipeline() override;

  // Rebuilds the tracker from the store (all turns for counters, the messages of open
  // conversations). Call once before ingesting. Blocks on disk.
  Result<void> restore();

  Result<connectors::IngestOutcome> ingest(const config::SourceConfig& source, std::vector<Message> messages,
                                           std::optional<std::string> cursor) override;
  Result<connectors::IngestOutcome> ingestEscalations(const config::SourceConfig& source,
                                                      std::vector<Escalation> escalations,
                                                      std::optional<std::string> cursor) override;
  Result<std::optional<std::string>> cursor(const std::string& source) override;

  // Records threshold crossings of open turns (persisted, then counted). Called
  // periodically by the daemon's tick thread. Returns how many turns crossed.
  Result<std::size_t> tick();

  // Retention: deletes from the store the conversations without activity since `cutoff`
  // (never one with an open question), then drops idle conversations from memory so the
  // tracker reloads what the store still holds. The store works in small transactions
  // without the pipeline lock, so ingestion goes on meanwhile. Returns messages deleted.
  Result<std::uint64_t> prune(Timestamp cutoff);

  // Metrics view, relay measurements included. Thread-safe; takes the pipeline lock
  // briefly (the relay part costs a pass over the escalation records held).
  tracker::Snapshot snapshot() const;

 private:
  class StoreLoader;
  // The records not yet in the store (by source and id).
  Result<std::vector<MessageRecord>> withoutStored(const std::string& source,
                                                   std::vector<MessageRecord> records);
  // Applies the escalation states a commit reported.
  void noteEscalations(const store::CommitOutcome& outcome);
  // Reloads every escalation record from the store. Called with mu_ held.
  Result<void> reloadEscalations();

  const config::Config& config_;
  store::Store& store_;
  std::unique_ptr<StoreLoader> loader_;
  tracker::EscalationBook escalations_;
  tracker::Classifier classifier_;
  mutable std::mutex mu_;
  std::unique_ptr<tracker::Tracker> tracker_;
};

}  // namespace replywatch::app
