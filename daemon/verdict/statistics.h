#pragma once
// Small exact statistics used by the verdict: percentiles of stored waits and the
// Wilson score interval of a proportion. Pure functions, callable from any thread.
#include <cstdint>
#include <optional>
#include <vector>

namespace replywatch::verdict {

// The q-quantile (0 <= q <= 1) of `values` by linear interpolation between the two
// closest ranks (Hyndman and Fan's definition 7, the default of R and NumPy): with the
// values sorted x[0] <= ... <= x[n-1] and h = (n - 1) q, the result is
// x[floor h] + (h - floor h) (x[floor h + 1] - x[floor h]). nullopt when `values` is empty.
// Reorders `values` (partial selection, linear time on average).
std::optional<double> quantile(std::vector<double>& values, double q);

// A two-sided confidence interval of a proportion.
struct Interval {
  double lower = 0;
  double upper = 0;
};

// z of a two-sided 95% interval of the standard normal distribution.
inline constexpr double kZ95 = 1.959963984540054;

// The Wilson score interval (without continuity correction) of `successes` out of
// `trials`; [0, 1] when trials is 0. The bounds are clamped to [0, 1].
Interval wilsonInterval(std::uint64_t successes, std::uint64_t trials, double z = kZ95);

}  // namespace replywatch::verdict
