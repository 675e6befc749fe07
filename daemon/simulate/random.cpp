#include "daemon/simulate/random.h"

#include <cmath>
#include <limits>

namespace replywatch::simulate {

double Random::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

std::uint64_t Random::below(std::uint64_t n) {
  // Rejects the top partial block so every value is equally likely.
  const std::uint64_t limit =
      std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % n;
  std::uint64_t x = next();
  while (x >= limit) x = next();
  return x % n;
}

bool Random::chance(double p) { return uniform() < p; }

double Random::exponential(double mean) { return -std::log1p(-uniform()) * mean; }

double Random::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u = 0;
  double v = 0;
  double s = 0;
  do {
    u = 2.0 * uniform() - 1.0;
    v = 2.0 * uniform() - 1.0;
    s = u * u + v * v;
  } while (s >= 1.0 || s == 0.0);
  const double factor = std::sqrt(-2.0 * std::log(s) / s);
  spare_ = v * factor;
  has_spare_ = true;
  return u * factor;
}

double Random::logNormal(double mu, double sigma) { return std::exp(mu + sigma * normal()); }

std::chrono::seconds Random::duration(const LogNormal& d, std::chrono::seconds floor) {
  const auto median = static_cast<double>(d.median.count());
  const auto p90 = static_cast<double>(d.p90.count());
  double value = median;
  if (median > 0 && p90 > median) value = logNormal(std::log(median), std::log(p90 / median) / kNormalP90);
  const auto whole = static_cast<std::int64_t>(std::llround(value));
  return std::max(floor, std::chrono::seconds{whole});
}

}  // namespace replywatch::simulate
