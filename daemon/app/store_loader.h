#pragma once
// The tracker's conversation loader over the store, with a Bloom filter of the stored
// conversations in front (conversation_filter.h): the tracker asks for a conversation's
// messages whenever a message arrives for a conversation it does not hold in memory,
// and most of those are new.
//
// The filter is sized for four times the conversations stored when it was built. Once
// more were added, or after pruning, it is rebuilt from the store on a thread of its
// own (`filter-rebuild`, at the priority of the store's background threads): a scan of
// every stored conversation takes long on a large store, and the writer would stop
// answering meanwhile. Until the new filter is ready the old one goes on answering
// (more false positives, never a false negative), and the conversations committed
// meanwhile are added to both.
//
// Threading: not synchronized; the pipeline calls every method with its lock held,
// from its writer thread, its pruning caller or at startup. load() may block on the
// store's disk.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "daemon/app/conversation_filter.h"
#include "daemon/store/store.h"
#include "daemon/tracker/tracker.h"

namespace replywatch::app {

class StoreLoader final : public tracker::ConversationLoader {
 public:
  // `min_filter_bits`: the smallest filter built (tests make it small to see it fill).
  explicit StoreLoader(store::Store& store,
                       std::uint64_t min_filter_bits = ConversationFilter::kDefaultMinBits);
  ~StoreLoader() override;
  StoreLoader(const StoreLoader&) = delete;
  StoreLoader& operator=(const StoreLoader&) = delete;

  // The stored messages of the conversation, or none when the filter knows it is not
  // stored. Takes a rebuilt filter when the rebuild thread is done.
  Result<tracker::StoredConversation> load(const ConversationKey& key) override;

  // While set, every conversation the store holds is held by the tracker too, so a
  // conversation the tracker asks for is not stored: the filter is not needed, and is
  // rebuilt from the store at the first load after.
  void setLoadIntoEmptyStore(bool on);

  // Fills the filter from the store now, on the calling thread (startup, after an
  // import). Without a filter (the store could not be read) every load asks the store,
  // which is always correct.
  void rebuild();

  // Rebuilds the filter on the rebuild thread (after pruning: the pruned conversations
  // only cost false positives until then). While one is under way, another one starts
  // once it is done. A rebuild under way is waited for at destruction.
  void rebuildInBackground();

  // Records the conversations of committed messages; starts a rebuild once the filter
  // is full.
  void committed(const std::vector<MessageRecord>& messages);

  // For tests: whether a rebuild is under way, and how many conversations the current
  // filter was sized for (0 without a filter).
  bool rebuilding() const { return rebuilding_; }
  std::uint64_t filterCapacity() const { return filter_ ? filter_->capacity() : 0; }

 private:
  std::unique_ptr<ConversationFilter> build();
  void adoptRebuilt();
  void discardRebuild();

  store::Store& store_;
  const std::uint64_t min_filter_bits_;
  std::unique_ptr<ConversationFilter> filter_;
  bool load_into_empty_store_ = false;
  bool rebuild_pending_ = false;
  std::uint64_t retry_at_count_ = 0;  // after a failed rebuild: the count to try again at

  // The rebuild under way: its thread, the conversations committed since it started
  // (each once), whether another one was asked for meanwhile (a pruning after its scan
  // began), and its result.
  bool rebuilding_ = false;
  std::set<ConversationKey> added_;
  bool rebuild_again_ = false;
  std::thread rebuilder_;
  std::atomic<bool> ready_{false};
  std::mutex result_mu_;
  std::unique_ptr<ConversationFilter> result_;  // guarded by result_mu_
};

}  // namespace replywatch::app
