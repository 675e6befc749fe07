#pragma once
// Background threads (the store's commit-log applier, the WAL checkpoint thread) yield
// the CPU to the threads that answer requests: on a machine whose cores are all busy,
// the scheduler gives a thread with a higher nice value a smaller share, so a webhook
// is acknowledged before the work it leaves for later is done.
//
// Threading: affects the calling thread only (Linux keeps a nice value per thread); may
// be called from any thread. Never blocks. Best effort: the outcome says whether the
// system accepted it, and a thread left at its priority works as before.
namespace replywatch {

// How much lower than the request threads the background threads run: the store's
// commit-log applier and WAL checkpoint thread, the pipeline's conversation filter
// rebuild.
inline constexpr int kBackgroundNiceIncrement = 10;

// Raises the calling thread's nice value by `increment` (at most 19 in all). Returns
// false when the system refused (or on systems without per-thread nice values).
bool lowerThisThreadPriority(int increment);

}  // namespace replywatch
