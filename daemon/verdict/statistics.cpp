#include "daemon/verdict/statistics.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace replywatch::verdict {

std::optional<double> quantile(std::vector<double>& values, double q) {
  if (values.empty()) return std::nullopt;
  q = std::clamp(q, 0.0, 1.0);
  const double h = static_cast<double>(values.size() - 1) * q;
  const auto lo = static_cast<std::size_t>(std::floor(h));
  auto nth = values.begin() + static_cast<std::ptrdiff_t>(lo);
  std::nth_element(values.begin(), nth, values.end());
  const double below = *nth;
  const double fraction = h - static_cast<double>(lo);
  if (lo + 1 >= values.size() || fraction == 0.0) return below;
  // The next rank is the smallest value after position lo.
  const double above = *std::min_element(nth + 1, values.end());
  return below + fraction * (above - below);
}

Interval wilsonInterval(std::uint64_t successes, std::uint64_t trials, double z) {
  if (trials == 0) return {0.0, 1.0};
  const auto n = static_cast<double>(trials);
  const double p = static_cast<double>(std::min(successes, trials)) / n;
  const double z2 = z * z;
  const double denominator = 1.0 + z2 / n;
  const double centre = (p + z2 / (2.0 * n)) / denominator;
  const double half = z * std::sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / denominator;
  // At p = 0 and p = 1 the bounds are exactly 0 and 1; the subtraction would leave a
  // rounding error there.
  return {successes == 0 ? 0.0 : std::clamp(centre - half, 0.0, 1.0),
          successes >= trials ? 1.0 : std::clamp(centre + half, 0.0, 1.0)};
}

}  // namespace replywatch::verdict
