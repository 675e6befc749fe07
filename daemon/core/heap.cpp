#include "daemon/core/heap.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace replywatch {

HeapStats heapStats() {
  HeapStats stats;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  const struct mallinfo2 info = mallinfo2();
  stats.in_use_bytes = info.uordblks + info.hblkhd;
  stats.free_bytes = info.fordblks;
#endif
  return stats;
}

bool releaseFreeHeap() {
#if defined(__GLIBC__)
  return malloc_trim(0) != 0;
#else
  return false;
#endif
}

}  // namespace replywatch
