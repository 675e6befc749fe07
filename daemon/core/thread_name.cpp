#include "daemon/core/thread_name.h"

#include <pthread.h>

#include <algorithm>
#include <array>

namespace replywatch {

void nameThisThread(std::string_view name) {
#if defined(__linux__)
  constexpr std::size_t kMaxBytes = 15;  // the kernel's TASK_COMM_LEN, minus the NUL
  std::array<char, kMaxBytes + 1> buffer{};
  const std::size_t n = std::min(name.size(), kMaxBytes);
  std::copy_n(name.data(), n, buffer.data());
  (void)pthread_setname_np(pthread_self(), buffer.data());
#else
  (void)name;
#endif
}

}  // namespace replywatch
