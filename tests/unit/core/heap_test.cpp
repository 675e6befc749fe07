// The heap figures and the release of free heap pages used after each retention pruning.
// Built twice: test_core (glibc's malloc) and test_core_jemalloc (jemalloc, the allocator
// of the replywatch executable; REPLYWATCH_EXPECT_JEMALLOC is defined there).
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "daemon/core/heap.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define REPLYWATCH_HEAP_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define REPLYWATCH_HEAP_TEST_ASAN 1
#endif

namespace replywatch {
namespace {

// Anonymous resident memory of this process in kB (Linux /proc/self/status), -1 if unknown.
long rssAnonKb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("RssAnon:", 0) == 0) return std::stol(line.substr(8));
  }
  return -1;
}

bool glibcAllocator() {
#if defined(__GLIBC__) && !defined(REPLYWATCH_HEAP_TEST_ASAN)
  return heapAllocator() == HeapAllocator::Glibc;
#else
  return false;
#endif
}

// An allocator whose figures and release heap.h reads.
bool knownAllocator() { return glibcAllocator() || heapAllocator() == HeapAllocator::Jemalloc; }

TEST(Heap, TheAllocatorIsTheOneLinked) {
#if defined(REPLYWATCH_EXPECT_JEMALLOC)
  EXPECT_EQ(heapAllocator(), HeapAllocator::Jemalloc);
  // jemalloc keeps its own settings but its background purging, unless MALLOC_CONF
  // chooses (each case in a child process: the settings are the whole process's).
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        ::unsetenv("MALLOC_CONF");
        const HeapTuning tuning = tuneHeapForDaemon(128 * 1024, 2);
        std::_Exit(!tuning.mmap_threshold && !tuning.max_arenas && tuning.background_purge ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(
      {
        ::setenv("MALLOC_CONF", "background_thread:false", 1);
        const HeapTuning tuning = tuneHeapForDaemon(128 * 1024, 2);
        std::_Exit(!tuning.background_purge ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
#elif defined(__GLIBC__) && !defined(REPLYWATCH_HEAP_TEST_ASAN)
  EXPECT_EQ(heapAllocator(), HeapAllocator::Glibc);
#else
  GTEST_SKIP() << "another allocator";
#endif
}

TEST(Heap, StatsCountWhatIsAllocated) {
  if (!knownAllocator()) GTEST_SKIP() << "figures come from glibc malloc or jemalloc";
  constexpr std::size_t kBytes = std::size_t{8} << 20;
  const HeapStats before = heapStats();
  auto block = std::make_unique<char[]>(kBytes);
  std::memset(block.get(), 1, kBytes);
  const HeapStats during = heapStats();
  EXPECT_GE(during.in_use_bytes, before.in_use_bytes + kBytes);
  block.reset();
  const HeapStats after = heapStats();
  EXPECT_LE(after.in_use_bytes + kBytes, during.in_use_bytes);
}

// What a pruning leaves behind: most small allocations freed, a few kept between them,
// so no free run reaches the top of the heap and free() alone returns nothing.
TEST(Heap, ReleaseGivesBackFreePagesBetweenLiveChunks) {
  if (!knownAllocator()) GTEST_SKIP() << "releasing needs glibc malloc_trim or jemalloc";
  if (rssAnonKb() < 0) GTEST_SKIP() << "no /proc/self/status";
  constexpr std::size_t kBlocks = 16384;
  constexpr std::size_t kBlockBytes = 4000;  // below the mmap threshold: from the heap
  constexpr std::size_t kKeepEvery = 32;
  std::vector<std::unique_ptr<char[]>> blocks(kBlocks);
  for (auto& b : blocks) {
    b = std::make_unique<char[]>(kBlockBytes);
    std::memset(b.get(), 1, kBlockBytes);  // resident
  }
  for (std::size_t i = 0; i < kBlocks; ++i) {
    if (i % kKeepEvery != kKeepEvery - 1) blocks[i].reset();
  }
  const long freed_kb = rssAnonKb();
  EXPECT_TRUE(releaseFreeHeap());
  const long released_kb = rssAnonKb();
  // About 62 MB are free in runs of 31 blocks (121 KiB, 30 whole pages each); ask for half.
  EXPECT_LE(released_kb + 32 * 1024, freed_kb)
      << "RssAnon " << freed_kb << " kB before, " << released_kb << " kB after";
  // The kept blocks are untouched.
  for (std::size_t i = kKeepEvery - 1; i < kBlocks; i += kKeepEvery) {
    ASSERT_EQ(blocks[i][0], 1);
    ASSERT_EQ(blocks[i][kBlockBytes - 1], 1);
  }
}

// mallinfo2's bytes in blocks glibc mapped on their own.
std::size_t mappedBytes() {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  return mallinfo2().hblkhd;
#else
  return 0;
#endif
}

// Whether a block of `bytes` is mapped on its own after a larger mapped block was freed;
// glibc's default then raises its threshold above `bytes`, a fixed threshold does not.
bool mappedAfterALargerOneWasFreed(std::size_t bytes) {
  // The pointers escape, so the compiler cannot leave out the allocations.
  auto escape = [](void* p) { asm volatile("" : : "r"(p) : "memory"); };
  void* larger = std::malloc(bytes * 2);
  escape(larger);
  std::free(larger);
  const std::size_t before = mappedBytes();
  void* block = std::malloc(bytes);
  escape(block);
  const bool mapped = mappedBytes() >= before + bytes;
  std::free(block);
  return mapped;
}

// Each case runs in a child process: the settings are the whole process's.
TEST(HeapTuning, AFixedMmapThresholdStaysFixed) {
  if (!glibcAllocator()) GTEST_SKIP() << "settings of glibc malloc";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        ::unsetenv("GLIBC_TUNABLES");
        ::unsetenv("MALLOC_ARENA_MAX");
        const HeapTuning tuning = tuneHeapForDaemon(128 * 1024, 2);
        const bool ok = tuning.mmap_threshold && tuning.max_arenas &&
                        mappedAfterALargerOneWasFreed(1 << 20) && mappedAfterALargerOneWasFreed(4 << 20);
        std::_Exit(ok ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
  // Without it, glibc raises the threshold: the same check fails (the test would be
  // meaningless otherwise).
  EXPECT_EXIT(
      {
        ::unsetenv("GLIBC_TUNABLES");
        std::_Exit(mappedAfterALargerOneWasFreed(1 << 20) ? 1 : 0);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(HeapTuning, TheEnvironmentWins) {
  if (!glibcAllocator()) GTEST_SKIP() << "settings of glibc malloc";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        ::setenv("MALLOC_ARENA_MAX", "4", 1);
        ::setenv("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=65536", 1);
        const HeapTuning tuning = tuneHeapForDaemon(128 * 1024, 2);
        std::_Exit(!tuning.mmap_threshold && !tuning.max_arenas ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(
      {
        ::unsetenv("MALLOC_ARENA_MAX");
        ::setenv("GLIBC_TUNABLES", "glibc.malloc.arena_max=3", 1);
        const HeapTuning tuning = tuneHeapForDaemon(128 * 1024, 2);
        std::_Exit(tuning.mmap_threshold && !tuning.max_arenas ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace replywatch
