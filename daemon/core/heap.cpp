#include "daemon/core/heap.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <cstdint>
#include <cstdlib>
#include <string_view>

// jemalloc's control interface, present when the executable links jemalloc (its
// unprefixed build, as Debian ships it), null otherwise.
extern "C" int mallctl(const char* name, void* oldp, std::size_t* oldlenp, void* newp, std::size_t newlen)
    __attribute__((weak));

namespace replywatch {

namespace {

bool jemalloc() { return mallctl != nullptr; }

// Refreshes jemalloc's statistics, which are cached until the "epoch" is advanced.
bool refreshJemallocFigures() {
  std::uint64_t epoch = 1;
  std::size_t epoch_size = sizeof(epoch);
  return mallctl("epoch", &epoch, &epoch_size, &epoch, epoch_size) == 0;
}

// A size_t figure of jemalloc's statistics as of the last refresh; 0 when it cannot be read.
std::size_t jemallocFigure(const char* name) {
  std::size_t value = 0;
  std::size_t size = sizeof(value);
  return mallctl(name, &value, &size, nullptr, 0) == 0 ? value : 0;
}

}  // namespace

HeapAllocator heapAllocator() {
  if (jemalloc()) return HeapAllocator::Jemalloc;
#if defined(__GLIBC__)
  return HeapAllocator::Glibc;
#else
  return HeapAllocator::Other;
#endif
}

HeapStats heapStats() {
  HeapStats stats;
  if (jemalloc()) {
    // Both figures from one refresh, so that their difference is meaningful.
    if (!refreshJemallocFigures()) return stats;
    stats.in_use_bytes = jemallocFigure("stats.allocated");
    const std::size_t mapped = jemallocFigure("stats.mapped");
    stats.free_bytes = mapped > stats.in_use_bytes ? mapped - stats.in_use_bytes : 0;
    return stats;
  }
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  const struct mallinfo2 info = mallinfo2();
  stats.in_use_bytes = info.uordblks + info.hblkhd;
  stats.free_bytes = info.fordblks;
#endif
  return stats;
}

bool releaseFreeHeap() {
  if (jemalloc()) {
    // MALLCTL_ARENAS_ALL (4096): every arena.
    return mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0) == 0;
  }
#if defined(__GLIBC__)
  return malloc_trim(0) != 0;
#else
  return false;
#endif
}

HeapTuning tuneHeapForDaemon(std::size_t mmap_threshold_bytes, int max_arenas) {
  HeapTuning tuning;
  if (jemalloc()) {
    const char* conf = std::getenv("MALLOC_CONF");
    if (conf == nullptr || std::string_view(conf).find("background_thread") == std::string_view::npos) {
      bool enable = true;
      tuning.background_purge = mallctl("background_thread", nullptr, nullptr, &enable, sizeof(enable)) == 0;
    }
    return tuning;
  }
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
