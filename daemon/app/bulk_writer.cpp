#include "daemon/app/bulk_writer.h"

#include <functional>
#include <string_view>
#include <utility>

#include "daemon/core/thread_name.h"

namespace replywatch::app {

BulkWriter::BulkWriter(store::Store& store, std::size_t max_queued)
    : store_(store), max_queued_(max_queued == 0 ? 1 : max_queued), thread_([this] { run(); }) {}

BulkWriter::~BulkWriter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

Result<void> BulkWriter::submit(store::WriteBatch batch) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return error_.has_value() || queue_.size() < max_queued_; });
  if (error_) return *error_;
  queue_.push_back(std::move(batch));
  cv_.notify_all();
  return {};
}

Result<void> BulkWriter::drain() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return queue_.empty() && !busy_; });
  if (error_) return *error_;
  return {};
}

void BulkWriter::run() {
  nameThisThread("store-bulk");
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and every batch committed
    store::WriteBatch batch = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    const bool failed_before = error_.has_value();
    lock.unlock();
    cv_.notify_all();  // room for submit()
    std::optional<Error> error;
    if (!failed_before) {
      auto committed = store_.commit(batch);
      if (!committed) error = committed.error();
    }
    batch = {};  // freed without the lock
    lock.lock();
    busy_ = false;
    if (error && !error_) error_ = std::move(error);
    cv_.notify_all();
  }
}

namespace {

std::uint64_t keyHash(const MessageRecord& r) {
  const std::hash<std::string_view> hash;
  const std::uint64_t h = (hash(r.source) * 0x9E3779B97F4A7C15ULL) ^ hash(r.id);
  return h == 0 ? 1 : h;
}

}  // namespace

bool MessageKeySet::addAll(const std::vector<MessageRecord>& records) {
  bool all_new = true;
  for (const MessageRecord& r : records) {
    if (!add(keyHash(r))) all_new = false;
  }
  return all_new;
}

bool MessageKeySet::add(std::uint64_t hash) {
  if ((size_ + 1) * 10 > slots_.size() * 7) grow();
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
    if (slots_[i] == hash) return false;
    if (slots_[i] == 0) {
      slots_[i] = hash;
      ++size_;
      return true;
    }
  }
}

void MessageKeySet::grow() {
  std::vector<std::uint64_t> old = std::move(slots_);
  slots_.assign(old.empty() ? std::size_t{1} << 16 : old.size() * 2, 0);
  const std::size_t mask = slots_.size() - 1;
  for (std::uint64_t hash : old) {
    if (hash == 0) continue;
    std::size_t i = hash & mask;
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = hash;
  }
}

}  // namespace replywatch::app
