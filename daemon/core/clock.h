#pragma once
// Injectable clock: every threshold decision asks a Clock, never the system directly,
// so tests can move time forward without sleeping.
#include <atomic>
#include <chrono>
#include <stop_token>

#include "daemon/core/timestamp.h"

namespace replywatch {

class Clock {
 public:
  virtual ~Clock() = default;
  // Current wall-clock time. Called from any thread; must not block.
  virtual Timestamp now() const = 0;
};

class SystemClock final : public Clock {
 public:
  Timestamp now() const override;
};

// A clock that only moves when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Timestamp start) : ms_(toMillis(start)) {}
  Timestamp now() const override { return fromMillis(ms_.load()); }
  void set(Timestamp t) { ms_.store(toMillis(t)); }
  void advance(std::chrono::milliseconds d) { ms_.fetch_add(d.count()); }

 private:
  std::atomic<std::int64_t> ms_;
};

// Waits `d` of real time or until `stop` is requested, whichever comes first. Returns
// false when stopped (also when already stopped on entry), true after the full wait.
bool sleepFor(std::chrono::milliseconds d, const std::stop_token& stop);

}  // namespace replywatch
