#pragma once
// Commits of a bulk load into an empty store, on a thread of their own (`store-bulk`):
// the pipeline's writer plans and applies the next batch while this thread writes the
// previous one, so an import uses both cores. Only for loads whose batches the store
// cannot refuse: into a store holding no message, turn or escalation record, where the
// pipeline has checked that no message of a batch was loaded before (MessageKeySet).
// Nothing stored can then make a commit fail but the disk, and nothing reads the store
// until the load ends. A commit that fails anyway fails the load: submit() and drain()
// return its error from then on, the batches queued behind it are dropped, and the
// pipeline gives the whole load up (Store::abortBulkLoad).
//
// Threading: submit() and drain() from one thread at a time (the pipeline calls them
// with its lock held); the commits run on the bulk thread, one at a time.

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "daemon/core/model.h"
#include "daemon/core/result.h"
#include "daemon/store/store.h"

namespace replywatch::app {

class BulkWriter {
 public:
  // Starts the thread. `max_queued`: batches waiting for the thread before submit() blocks.
  explicit BulkWriter(store::Store& store, std::size_t max_queued = 4);
  // Commits what is queued (unless a commit failed), then stops the thread.
  ~BulkWriter();
  BulkWriter(const BulkWriter&) = delete;
  BulkWriter& operator=(const BulkWriter&) = delete;

  // Queues `batch` for commit. Blocks while `max_queued` batches wait. Once a commit
  // failed, returns that error instead and queues nothing.
  Result<void> submit(store::WriteBatch batch);

  // Blocks until every batch submitted so far is committed (or dropped after a failure);
  // returns the first commit error. Until the next submit(), the calling thread may then
  // use the store itself.
  Result<void> drain();

 private:
  void run();

  store::Store& store_;
  const std::size_t max_queued_;
  std::mutex mu_;
  std::condition_variable cv_;  // a batch queued, taken or committed; stopping
  std::deque<store::WriteBatch> queue_;
  bool busy_ = false;  // the thread holds a batch taken from queue_
  bool stopping_ = false;
  std::optional<Error> error_;  // the first failed commit
  std::thread thread_;          // last: started once the rest is initialised
};

// The (source, id) keys of the messages a load submitted, kept as 64-bit hashes in an
// open-addressing table (8 bytes a slot, at most 70 % full): says whether a message may
// have been loaded before. A hash shared by two keys only answers "maybe", which sends
// the batch through the store's own check. Not synchronized.
class MessageKeySet {
 public:
  // Adds the key of every record. False when one of them may have been added before,
  // by an earlier call or by an earlier record of this one.
  bool addAll(const std::vector<MessageRecord>& records);
  std::size_t size() const { return size_; }

 private:
  bool add(std::uint64_t hash);
  void grow();

  std::vector<std::uint64_t> slots_;  // 0: free
  std::size_t size_ = 0;
};

}  // namespace replywatch::app
