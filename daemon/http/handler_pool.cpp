#include "daemon/http/handler_pool.h"

#include <algorithm>
#include <utility>

#include "daemon/core/thread_name.h"

namespace replywatch::http {

HandlerPool::HandlerPool(std::size_t threads, std::string thread_name)
    : thread_name_(std::move(thread_name)) {
  const std::size_t count = std::max<std::size_t>(threads, 1);
  workers_.reserve(count);
  for (std::size_t i = 0; i < count; ++i) workers_.push_back(std::make_unique<Worker>());
  threads_.reserve(count);
  for (auto& worker : workers_) threads_.emplace_back([this, w = worker.get()] { run(*w); });
}

HandlerPool::~HandlerPool() { join(); }

void HandlerPool::post(std::function<void()> job) {
  std::unique_lock lock(mu_);
  if (stopping_) return;
  if (idle_.empty()) {
    queued_.push_back(std::move(job));
    return;
  }
  Worker* worker = idle_.back();
  idle_.pop_back();
  worker->job = std::move(job);
  lock.unlock();
  worker->wake.notify_one();
}

void HandlerPool::run(Worker& self) {
  nameThisThread(thread_name_);
  std::unique_lock lock(mu_);
  for (;;) {
    if (!self.job) {
      if (!queued_.empty()) {
        self.job = std::move(queued_.front());
        queued_.pop_front();
      } else if (stopping_) {
        return;
      } else {
        idle_.push_back(&self);
        self.wake.wait(lock, [&] { return self.job || stopping_; });
        if (!self.job) {
          // Woken to stop: leave the idle stack, then run what is still queued.
          idle_.erase(std::find(idle_.begin(), idle_.end(), &self));
          continue;
        }
      }
    }
    std::function<void()> job = std::move(self.job);
    self.job = nullptr;
    lock.unlock();
    job();
    job = nullptr;  // what the job captured is released outside the lock
    lock.lock();
  }
}

std::size_t HandlerPool::idleThreads() {
  std::lock_guard lock(mu_);
  return idle_.size();
}

void HandlerPool::join() {
  std::call_once(joined_, [this] {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    for (auto& worker : workers_) worker->wake.notify_all();
    for (auto& t : threads_) t.join();
  });
}

}  // namespace replywatch::http
