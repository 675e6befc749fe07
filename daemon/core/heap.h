#pragma once
// The process heap as the C library's allocator sees it, and giving its free pages back
// to the kernel. After a retention pruning frees what it forgot, the freed chunks lie
// between live ones in every thread's arena; the allocator shrinks an arena only from its
// top, so they would stay resident. releaseFreeHeap() returns their whole pages, so
// resident memory follows what is held.
//
// Threading: both functions may be called from any thread; they lock the allocator's
// arenas one at a time (allocations in other threads wait for that arena meanwhile).
// No I/O beyond madvise.
#include <cstddef>

namespace replywatch {

struct HeapStats {
  std::size_t in_use_bytes = 0;  // allocated and not yet freed (mmap'ed chunks included)
  std::size_t free_bytes = 0;    // freed, still mapped by the allocator (resident or not)
};

// The allocator's current figures; zeros when the C library cannot tell.
HeapStats heapStats();

// Gives every whole free page of every arena back to the kernel (glibc malloc_trim(0)).
// Returns true when some memory was released. Cost: a walk over each arena's free
// chunks and one madvise per free run. A no-op returning false where the C library has
// no such call.
bool releaseFreeHeap();

}  // namespace replywatch
