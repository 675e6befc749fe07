#pragma once
// The simulator's random numbers: a 64-bit Mersenne Twister (whose output sequence the
// C++ standard specifies) and distributions computed from its raw output with IEEE
// arithmetic, so one seed yields the same draws on every platform and standard library
// (the std:: distributions are implementation-defined). Not thread-safe: one per thread.
#include <chrono>
#include <cstdint>
#include <random>

namespace replywatch::simulate {

// A positive duration whose logarithm is normally distributed, given by its median and
// its 90th percentile (p90 >= median; equal means a constant duration).
struct LogNormal {
  std::chrono::seconds median{0};
  std::chrono::seconds p90{0};
};

class Random {
 public:
  explicit Random(std::uint64_t seed) : engine_(seed) {}

  // The next raw 64-bit output.
  std::uint64_t next() { return engine_(); }
  // Uniform in [0, 1), 53 random bits.
  double uniform();
  // Uniform integer in [0, n), without modulo bias; n > 0.
  std::uint64_t below(std::uint64_t n);
  // True with probability p (p <= 0 never, p >= 1 always; one draw either way).
  bool chance(double p);
  // Exponential with the given mean (> 0).
  double exponential(double mean);
  // Standard normal (Marsaglia's polar method).
  double normal();
  // exp(mu + sigma * normal()).
  double logNormal(double mu, double sigma);
  // A duration drawn from `d`, rounded to whole seconds, at least `floor`.
  std::chrono::seconds duration(const LogNormal& d, std::chrono::seconds floor = std::chrono::seconds{1});

 private:
  std::mt19937_64 engine_;
  bool has_spare_ = false;
  double spare_ = 0;
};

// The standard normal's 90th percentile, used to turn (median, p90) into (mu, sigma).
inline constexpr double kNormalP90 = 1.2815515655446004;

}  // namespace replywatch::simulate
