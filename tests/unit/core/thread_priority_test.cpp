#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <thread>

#include "daemon/core/thread_priority.h"

namespace replywatch {
namespace {

int niceOf(pid_t tid) { return getpriority(PRIO_PROCESS, static_cast<id_t>(tid)); }

TEST(ThreadPriority, LowersTheCallingThreadOnly) {
  const pid_t main_tid = gettid();
  const int main_before = niceOf(main_tid);
  int before = 0;
  int after = 0;
  bool lowered = false;
  std::thread worker([&] {
    before = niceOf(gettid());
    lowered = lowerThisThreadPriority(5);
    after = niceOf(gettid());
  });
  worker.join();
  ASSERT_TRUE(lowered);
  EXPECT_EQ(after, std::min(19, before + 5));
  EXPECT_EQ(niceOf(main_tid), main_before);
}

TEST(ThreadPriority, StopsAtTheLowestPriority) {
  int after = 0;
  bool lowered = false;
  std::thread worker([&] {
    lowered = lowerThisThreadPriority(100);
    after = niceOf(gettid());
  });
  worker.join();
  ASSERT_TRUE(lowered);
  EXPECT_EQ(after, 19);
}

}  // namespace
}  // namespace replywatch
