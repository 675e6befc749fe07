#pragma once
// The process heap as its allocator sees it, and giving its free pages back to the
// kernel. The allocator is jemalloc when the executable links it (`replywatch` does:
// daemon/CMakeLists.txt), glibc's malloc otherwise; which one is found at run time.
// After a retention pruning frees what it forgot, the freed chunks lie between live ones
// in every thread's arena; the allocator shrinks an arena only from its top, so they
// would stay resident. releaseFreeHeap() returns their whole pages, so
// resident memory follows what is held.
//
// Threading: both functions may be called from any thread; they lock the allocator's
// arenas one at a time (allocations in other threads wait for that arena meanwhile).
// No I/O beyond madvise.
#include <cstddef>

namespace replywatch {

enum class HeapAllocator { Glibc, Jemalloc, Other };
// The allocator serving malloc() in this process.
HeapAllocator heapAllocator();

struct HeapStats {
  std::size_t in_use_bytes = 0;  // allocated and not yet freed (mmap'ed chunks included)
  std::size_t free_bytes = 0;    // freed, still mapped by the allocator (resident or not)
};

// The allocator's current figures; zeros when it cannot tell. With jemalloc, "free" is
// what it maps beyond the live allocations (its dirty and retained pages included).
HeapStats heapStats();

// Gives every whole free page of every arena back to the kernel (glibc: malloc_trim(0),
// a walk over each arena's free chunks and one madvise per free run; jemalloc: a purge
// of every arena's unused dirty pages). Returns true when some memory was released
// (jemalloc: when the purge succeeded). A no-op returning false with another allocator.
bool releaseFreeHeap();

// Allocator settings for a daemon whose memory must stay flat under a steady load, set
// through mallopt() unless the operator chose them in the environment (MALLOC_ARENA_MAX,
// or GLIBC_TUNABLES naming glibc.malloc.arena_max / glibc.malloc.mmap_threshold):
//  - a fixed mmap threshold (`mmap_threshold_bytes`): by default glibc raises it, up to
//    32 MiB, each time a block it had mapped on its own is freed; from then on blocks of
//    that size come from the arenas, where a pruning leaves them scattered and resident;
//  - at most `max_arenas` arenas: glibc's default is eight per core, and every thread that
//    allocates may get one, each keeping its own free chunks between live ones.
// Call before any thread starts (the arena count only applies to arenas created later).
// Returns what was set, for the start-up log; all false where the allocator is not
// glibc's. With jemalloc (a cache per thread and four arenas per core, so threads seldom
// wait for each other) only its background purging is turned on, unless MALLOC_CONF
// names background_thread.
struct HeapTuning {
  bool mmap_threshold = false;  // set here (false: left to the environment)
  bool max_arenas = false;      // set here (false: left to the environment)
  // jemalloc: its background threads purge unused pages after its decay time (10 s),
  // also while the daemon is idle (without them, only allocations drive the purging).
  bool background_purge = false;  // set here (false: left to MALLOC_CONF, or not jemalloc)
};
HeapTuning tuneHeapForDaemon(std::size_t mmap_threshold_bytes, int max_arenas);

}  // namespace replywatch
