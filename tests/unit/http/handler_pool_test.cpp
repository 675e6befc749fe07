// The pool of handler threads: every job runs, join() drains, the thread idle last takes
// the next job, and a full load uses every thread.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <latch>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "daemon/http/handler_pool.h"

namespace replywatch::http {
namespace {

// Waits (bounded) until `pool` has `n` idle threads.
bool waitIdle(HandlerPool& pool, std::size_t n) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (pool.idleThreads() != n) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

TEST(HandlerPool, RunsEveryJobAndJoinDrainsTheQueue) {
  HandlerPool pool(2, "test-handler");
  std::atomic<int> ran{0};
  for (int i = 0; i < 200; ++i) {
    pool.post([&ran] {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
      ran.fetch_add(1);
    });
  }
  pool.join();
  EXPECT_EQ(ran.load(), 200);
  pool.join();  // idempotent
}

TEST(HandlerPool, TheThreadIdleLastTakesTheNextJob) {
  HandlerPool pool(8, "test-handler");
  ASSERT_TRUE(waitIdle(pool, 8));
  std::set<std::thread::id> used;
  for (int i = 0; i < 50; ++i) {
    std::promise<std::thread::id> done;
    pool.post([&done] { done.set_value(std::this_thread::get_id()); });
    used.insert(done.get_future().get());
    ASSERT_TRUE(waitIdle(pool, 8));
  }
  // One job at a time: always the same thread; the seven others were never woken.
  EXPECT_EQ(used.size(), 1U);
}

TEST(HandlerPool, AFullLoadUsesEveryThread) {
  constexpr std::size_t kThreads = 6;
  HandlerPool pool(kThreads, "test-handler");
  std::latch all_running(kThreads);
  std::mutex mu;
  std::set<std::thread::id> used;
  for (std::size_t i = 0; i < kThreads; ++i) {
    pool.post([&] {
      {
        std::lock_guard lock(mu);
        used.insert(std::this_thread::get_id());
      }
      all_running.arrive_and_wait();  // returns only once every job runs at the same time
    });
  }
  pool.join();
  EXPECT_EQ(used.size(), kThreads);
}

TEST(HandlerPool, AJobPostedAfterJoinIsDroppedUnrun) {
  HandlerPool pool(1, "test-handler");
  pool.join();
  auto captured = std::make_shared<int>(1);
  std::weak_ptr<int> watch = captured;
  bool ran = false;
  pool.post([&ran, c = std::move(captured)] { ran = true; });
  EXPECT_FALSE(ran);
  EXPECT_TRUE(watch.expired());
}

}  // namespace
}  // namespace replywatch::http
