#include "daemon/app/store_loader.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "daemon/core/log.h"
#include "daemon/core/thread_name.h"
#include "daemon/core/thread_priority.h"

namespace replywatch::app {

StoreLoader::StoreLoader(store::Store& store, std::uint64_t min_filter_bits)
    : store_(store), min_filter_bits_(min_filter_bits) {}

StoreLoader::~StoreLoader() {
  if (rebuilder_.joinable()) rebuilder_.join();
}

Result<tracker::StoredConversation> StoreLoader::load(const ConversationKey& key) {
  // During a load into an empty store, the tracker holds every stored conversation.
  if (load_into_empty_store_) return tracker::StoredConversation{};
  if (rebuild_pending_) {
    rebuild_pending_ = false;
    rebuild();
  }
  adoptRebuilt();
  if (filter_ && !filter_->mayContain(key)) return tracker::StoredConversation{};
  tracker::StoredConversation out;
  auto messages = store_.conversation(key);
  if (!messages.ok()) return messages.error();
  out.messages = std::move(messages.value());
  if (out.messages.empty()) return out;
  auto turns = store_.conversationTurns(key);
  if (!turns.ok()) return turns.error();
  out.turns = std::move(turns.value());
  return out;
}

void StoreLoader::setLoadIntoEmptyStore(bool on) {
  load_into_empty_store_ = on;
  if (on) {
    discardRebuild();
    filter_.reset();
  } else {
    rebuild_pending_ = true;
  }
}

void StoreLoader::rebuild() {
  discardRebuild();
  filter_ = build();
  retry_at_count_ = 0;
}

void StoreLoader::rebuildInBackground() {
  adoptRebuilt();
  if (!filter_) return;
  if (rebuilding_) {
    rebuild_again_ = true;
    return;
  }
  rebuilding_ = true;
  ready_.store(false, std::memory_order_relaxed);
  rebuilder_ = std::thread([this] {
    nameThisThread("filter-rebuild");
    (void)lowerThisThreadPriority(kBackgroundNiceIncrement);
    std::unique_ptr<ConversationFilter> built = build();
    {
      std::lock_guard lock(result_mu_);
      result_ = std::move(built);
    }
    ready_.store(true, std::memory_order_release);
  });
}

void StoreLoader::committed(const std::vector<MessageRecord>& messages) {
  if (!filter_) return;
  for (const auto& m : messages) {
    ConversationKey key{m.source, m.conversation_id};
    filter_->add(key);
    if (rebuilding_) added_.insert(std::move(key));
  }
  adoptRebuilt();
  if (filter_ && filter_->overfull() && filter_->count() >= retry_at_count_) rebuildInBackground();
}

// Runs on the calling thread or the rebuild thread; touches only the store (thread-safe)
// and the filter it returns.
std::unique_ptr<ConversationFilter> StoreLoader::build() {
  const auto started = std::chrono::steady_clock::now();
  std::uint64_t count = 0;
  auto counted = store_.forEachConversation([&count](const ConversationKey&) { ++count; });
  if (!counted) {
    spdlog::warn("cannot rebuild the conversation filter error={}", logValue(counted.error().message));
    return nullptr;
  }
  auto filter = std::make_unique<ConversationFilter>(std::max<std::uint64_t>(count * 4, 1), min_filter_bits_);
  auto filled = store_.forEachConversation([&filter](const ConversationKey& k) { filter->add(k); });
  if (!filled) {
    spdlog::warn("cannot rebuild the conversation filter error={}", logValue(filled.error().message));
    return nullptr;
  }
  spdlog::debug(
      "conversation filter rebuilt conversations={} duration_ms={}", filter->count(),
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started)
          .count());
  return filter;
}

// Takes the rebuilt filter once the rebuild thread is done, with the conversations
// committed since it started. A failed rebuild keeps the current filter and is tried
// again once twice as many conversations were added to it.
void StoreLoader::adoptRebuilt() {
  if (!rebuilding_ || !ready_.load(std::memory_order_acquire)) return;
  rebuilder_.join();
  rebuilding_ = false;
  std::unique_ptr<ConversationFilter> built;
  {
    std::lock_guard lock(result_mu_);
    built = std::move(result_);
  }
  const bool again = rebuild_again_;
  rebuild_again_ = false;
  if (!built) {
    if (filter_) retry_at_count_ = filter_->count() * 2;
    added_.clear();
    return;
  }
  for (const ConversationKey& key : added_) built->add(key);
  added_.clear();
  filter_ = std::move(built);
  retry_at_count_ = 0;
  if (again) rebuildInBackground();
}

// Waits for a rebuild under way and drops its result (the filter is being replaced).
void StoreLoader::discardRebuild() {
  if (!rebuilding_) return;
  rebuilder_.join();
  rebuilding_ = false;
  rebuild_again_ = false;
  added_.clear();
  std::lock_guard lock(result_mu_);
  result_.reset();
}

}  // namespace replywatch::app
