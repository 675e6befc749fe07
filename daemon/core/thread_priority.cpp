#include "daemon/core/thread_priority.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace replywatch {

bool lowerThisThreadPriority(int increment) {
#if defined(__linux__)
  const auto tid = static_cast<id_t>(::gettid());
  errno = 0;
  const int current = ::getpriority(PRIO_PROCESS, tid);
  if (current == -1 && errno != 0) return false;
  const int wanted = std::min(19, current + std::max(0, increment));
  return ::setpriority(PRIO_PROCESS, tid, wanted) == 0;
#else
  (void)increment;
  return false;
#endif
}

}  // namespace replywatch
