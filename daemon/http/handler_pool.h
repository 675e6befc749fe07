#pragma once
// The threads that run blocking request handlers (Server::route, Server::runBlocking).
//
// An idle thread waits on a condition variable of its own, and a new job goes to the
// thread that became idle last (a stack, not a queue). Under a light load (a relay
// delivery now and then, a scrape every 15 s) the same one or two threads do all the
// work, and the others stay asleep and untouched: each thread that runs code keeps a
// cache of freed memory in glibc's allocator (up to about 240 KB) that no call can give
// back, so waking threads in turn made every one of them fill its own. Under load every
// thread works, as with any pool. Jobs that find every thread busy wait in arrival order.
//
// Threading: post() may be called from any thread and never waits for a job; join() from
// one thread, not from a job.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace replywatch::http {

class HandlerPool {
 public:
  // Starts `threads` threads (at least one), each named `thread_name`.
  HandlerPool(std::size_t threads, std::string thread_name);
  ~HandlerPool();  // join()
  HandlerPool(const HandlerPool&) = delete;
  HandlerPool& operator=(const HandlerPool&) = delete;

  // Runs `job` on an idle thread (the one idle last), or once a thread is free. A job
  // posted after join() started is dropped (destroyed unrun).
  void post(std::function<void()> job);

  // Runs every job already posted, then stops and joins the threads. Idempotent.
  void join();

  // Threads waiting for a job now. Thread-safe.
  std::size_t idleThreads();

 private:
  struct Worker {
    std::condition_variable wake;
    std::function<void()> job;  // given by post(), taken by the worker
  };
  void run(Worker& self);

  const std::string thread_name_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<Worker*> idle_;                 // back: the thread idle last
  std::deque<std::function<void()>> queued_;  // jobs no thread was free for
  bool stopping_ = false;
  std::vector<std::thread> threads_;
  std::once_flag joined_;
};

}  // namespace replywatch::http
