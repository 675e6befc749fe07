#include "daemon/core/clock.h"

#include <condition_variable>
#include <mutex>

namespace replywatch {

Timestamp SystemClock::now() const {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

bool sleepFor(std::chrono::milliseconds d, const std::stop_token& stop) {
  if (stop.stop_requested()) return false;
  if (d <= std::chrono::milliseconds::zero()) return true;
  std::mutex m;
  std::condition_variable_any cv;
  std::unique_lock lock(m);
  cv.wait_for(lock, stop, d, [] { return false; });
  return !stop.stop_requested();
}

}  // namespace replywatch
