// The tracker's conversation loader over a real SQLite store (with its commit log, as
// under `replywatch serve`): its filter is rebuilt on a thread of its own once full, the
// old filter answers meanwhile, and no conversation committed before, during or after the
// rebuild is ever reported as not stored. A thin Store decorator holds the rebuild's scan
// at a gate, or makes it fail.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "daemon/app/store_loader.h"
#include "tests/unit/app/app_test_util.h"

namespace replywatch::app {
namespace {

using namespace std::chrono_literals;

using testing::TempDir;

// The real store; one forEachConversation() call can be held at a gate once its scan is
// done (what is committed meanwhile is not in the scan), and scans can be made to fail.
class ScanGatedStore final : public testing::ForwardingStore {
 public:
  explicit ScanGatedStore(std::unique_ptr<store::Store> inner) : ForwardingStore(std::move(inner)) {}

  // Holds the scan started `index`-th (from 0) until openGate().
  void holdScan(int index) {
    std::lock_guard lock(mu_);
    hold_index_ = index;
  }
  void openGate() {
    {
      std::lock_guard lock(mu_);
      hold_index_ = -1;
    }
    cv_.notify_all();
  }
  void failScans(bool fail) { fail_.store(fail); }
  int scansDone() const { return done_.load(); }
  int waitingAtGate() const {
    std::lock_guard lock(mu_);
    return waiting_;
  }

  Result<void> forEachConversation(const std::function<void(const ConversationKey&)>& fn) override {
    const int index = started_.fetch_add(1);
    Result<void> scanned = fail_.load() ? Result<void>(makeError("store", "disk I/O error (injected)"))
                                        : ForwardingStore::forEachConversation(fn);
    {
      std::unique_lock lock(mu_);
      ++waiting_;
      cv_.wait(lock, [this, index] { return hold_index_ != index; });
      --waiting_;
    }
    done_.fetch_add(1);
    return scanned;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int hold_index_ = -1;
  int waiting_ = 0;
  std::atomic<bool> fail_{false};
  std::atomic<int> started_{0};
  std::atomic<int> done_{0};
};

// Waits for a condition with a generous timeout (never for a duration).
bool waitUntil(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// The smallest filter the tests use: 1,024 bits, about 100 conversations.
constexpr std::uint64_t kSmallFilterBits = 1024;

struct Fixture {
  Fixture() {
    auto opened = store::openSqliteStore(dir.file("store.db"), store::OpenOptions{.commit_log = true});
    EXPECT_TRUE(opened.ok()) << opened.error().message;
    store = std::make_unique<ScanGatedStore>(std::move(opened).value());
    loader = std::make_unique<StoreLoader>(*store, kSmallFilterBits);
  }
  ~Fixture() {
    store->openGate();
    loader.reset();
  }
  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;

  static ConversationKey key(int n) { return {"feed", "c" + std::to_string(n)}; }

  // Stores conversation n (one question), then tells the loader, as the pipeline does.
  void commitConversation(int n) {
    MessageRecord m;
    m.source = "feed";
    m.id = "c" + std::to_string(n) + "-q";
    m.account = "acme";
    m.channel = "export";
    m.conversation_id = "c" + std::to_string(n);
    m.created_at = fromMillis(1'700'000'000'000 + n);
    m.role = Role::Question;
    store::WriteBatch batch;
    batch.messages.push_back(m);
    batch.require_new_messages = true;
    auto committed = store->commit(batch);
    ASSERT_TRUE(committed.ok()) << committed.error().message;
    loader->committed(batch.messages);
    ++stored;
  }

  // Every stored conversation is loaded with its message.
  void expectEveryConversationLoads() {
    for (int n = 0; n < stored; ++n) {
      auto loaded = loader->load(key(n));
      ASSERT_TRUE(loaded.ok()) << loaded.error().message;
      ASSERT_EQ(loaded->messages.size(), 1U) << "conversation c" << n << " of " << stored;
    }
  }

  TempDir dir{"store-loader"};
  std::unique_ptr<ScanGatedStore> store;
  std::unique_ptr<StoreLoader> loader;
  int stored = 0;
};

TEST(StoreLoader, RebuildsAFullFilterInTheBackgroundAndKeepsEveryConversation) {
  Fixture f;
  for (int n = 0; n < 10; ++n) f.commitConversation(n);
  f.loader->rebuild();  // two scans: count, fill
  const int scans = f.store->scansDone();
  const std::uint64_t first_capacity = f.loader->filterCapacity();
  ASSERT_GT(first_capacity, 0U);

  // The rebuild starts once the filter is full; its second scan (the fill) holds at the
  // gate once done.
  f.store->holdScan(scans + 1);
  while (!f.loader->rebuilding()) {
    f.commitConversation(f.stored);
    ASSERT_LT(f.stored, 10'000) << "the filter never filled";
  }
  EXPECT_GT(static_cast<std::uint64_t>(f.stored), first_capacity);
  ASSERT_TRUE(waitUntil([&] { return f.store->waitingAtGate() == 1; }));

  // Committed while the rebuild runs: not in its scan. The old filter answers meanwhile.
  const int before_scan_end = f.stored;
  for (int n = 0; n < 50; ++n) f.commitConversation(f.stored);
  f.expectEveryConversationLoads();
  EXPECT_TRUE(f.loader->rebuilding());
  EXPECT_EQ(f.loader->filterCapacity(), first_capacity);

  f.store->openGate();
  ASSERT_TRUE(waitUntil([&] { return f.store->scansDone() == scans + 2; }));
  ASSERT_TRUE(waitUntil([&] {
    (void)f.loader->load(Fixture::key(0));  // takes the rebuilt filter once it is ready
    return !f.loader->rebuilding();
  }));
  EXPECT_GE(f.loader->filterCapacity(), 4U * static_cast<std::uint64_t>(before_scan_end));
  f.expectEveryConversationLoads();
  // A conversation never stored is still found not to be, without error.
  auto absent = f.loader->load({"feed", "never"});
  ASSERT_TRUE(absent.ok());
  EXPECT_TRUE(absent->messages.empty());
}

TEST(StoreLoader, ARebuildAskedForDuringOneRunsAfterIt) {
  Fixture f;
  for (int n = 0; n < 10; ++n) f.commitConversation(n);
  f.loader->rebuild();
  const int scans = f.store->scansDone();
  // A pruning asks for a rebuild; another one asked while its fill scan is held at the
  // gate (that scan may predate the second pruning) runs once the first is taken.
  f.store->holdScan(scans + 1);
  f.loader->rebuildInBackground();
  ASSERT_TRUE(f.loader->rebuilding());
  ASSERT_TRUE(waitUntil([&] { return f.store->waitingAtGate() == 1; }));
  f.loader->rebuildInBackground();
  f.store->openGate();
  ASSERT_TRUE(waitUntil([&] { return f.store->scansDone() >= scans + 2; }));
  ASSERT_TRUE(waitUntil([&] {
    (void)f.loader->load(Fixture::key(0));
    return f.store->scansDone() == scans + 4 && !f.loader->rebuilding();
  }));
  f.expectEveryConversationLoads();
}

TEST(StoreLoader, AFailedRebuildKeepsTheFilterAndIsTriedAgainLater) {
  Fixture f;
  f.loader->rebuild();
  const int scans = f.store->scansDone();
  const std::uint64_t first_capacity = f.loader->filterCapacity();
  f.store->failScans(true);
  while (!f.loader->rebuilding()) {
    f.commitConversation(f.stored);
    ASSERT_LT(f.stored, 10'000) << "the filter never filled";
  }
  const int full_at = f.stored;
  ASSERT_TRUE(waitUntil([&] { return f.store->scansDone() == scans + 1; }));  // failed at its first scan
  ASSERT_TRUE(waitUntil([&] {
    (void)f.loader->load(Fixture::key(0));
    return !f.loader->rebuilding();
  }));
  EXPECT_EQ(f.loader->filterCapacity(), first_capacity);
  f.expectEveryConversationLoads();

  // Not tried again at every commit: once twice as many conversations were added.
  f.store->failScans(false);
  for (int n = 0; n < full_at / 2; ++n) f.commitConversation(f.stored);
  EXPECT_FALSE(f.loader->rebuilding());
  EXPECT_EQ(f.store->scansDone(), scans + 1);
  while (!f.loader->rebuilding()) {
    f.commitConversation(f.stored);
    ASSERT_LT(f.stored, 10'000) << "never tried again";
  }
  EXPECT_GE(f.stored, 2 * full_at - 2);  // a few false positives are not counted
  ASSERT_TRUE(waitUntil([&] {
    (void)f.loader->load(Fixture::key(0));
    return !f.loader->rebuilding();
  }));
  EXPECT_GT(f.loader->filterCapacity(), first_capacity);
  f.expectEveryConversationLoads();
}

}  // namespace
}  // namespace replywatch::app
