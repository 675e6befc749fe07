#include "daemon/core/heap.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <cstdlib>
#include <string_view>

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

HeapTuning tuneHeapForDaemon(std::size_t mmap_threshold_bytes, int max_arenas) {
  HeapTuning tuning;
#if defined(__GLIBC__)
  const char* tunables_env = std::getenv("GLIBC_TUNABLES");
  const std::string_view tunables = tunables_env == nullptr ? std::string_view{} : tunables_env;
  if (tunables.find("glibc.malloc.mmap_threshold") == std::string_view::npos) {
    tuning.mmap_threshold = mallopt(M_MMAP_THRESHOLD, static_cast<int>(mmap_threshold_bytes)) == 1;
  }
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr &&
      tunables.find("glibc.malloc.arena_max") == std::string_view::npos) {
    tuning.max_arenas = mallopt(M_ARENA_MAX, max_arenas) == 1;
  }
#else
  (void)mmap_threshold_bytes;
  (void)max_arenas;
#endif
  return tuning;
}

}  // namespace replywatch
