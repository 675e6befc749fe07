#pragma once
// Names the calling thread, so that `top -H`, `ps -L`, `perf` and /proc/<pid>/task show
// which part of the daemon a thread is (the store writer, an HTTP I/O thread, a poller).
//
// Threading: names the calling thread only; may be called from any thread, at any time.
// Never blocks, never fails visibly: a name the system refuses is left as it was.
#include <string_view>

namespace replywatch {

// Linux keeps at most 15 bytes of a thread name; longer names are cut to their first 15
// bytes. A no-op where the C library has no such call.
void nameThisThread(std::string_view name);

}  // namespace replywatch
