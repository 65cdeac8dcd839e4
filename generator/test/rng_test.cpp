// The writer's quantized normal (Rng::normal4): the level table must be a normal's quantiles, not
// merely some increasing table, or synthetic weights would stop looking like trained ones.
#include <gtest/gtest.h>

#include <cmath>

#include "generator/rng.h"

namespace nvfp4 {
namespace {

TEST(Rng, NormalLevelsAreTheStandardNormalsQuantiles) {
  const auto& t = Rng::normal_levels();
  double mean = 0, var = 0;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (i) {
      ASSERT_LT(t[i - 1], t[i]) << "level " << i;
    }
    EXPECT_NEAR(t[i], -t[t.size() - 1 - i], 1e-6 * (1 + std::fabs(t[i]))) << "symmetry at level " << i;
    mean += t[i];
    var += static_cast<double>(t[i]) * t[i];
  }
  mean /= static_cast<double>(t.size());
  var /= static_cast<double>(t.size());
  EXPECT_NEAR(mean, 0.0, 1e-7);
  EXPECT_NEAR(var, 1.0, 2e-3);  // the midpoint quantiles lose a little of the tails' variance
  // Hand-checked quantiles: Phi^-1(0.5 + 0.5/65536) = 1.9e-5; Phi^-1(0.975) = 1.959964 lies between
  // levels 63897 and 63898 (p = 0.97499847, 0.97501373).
  EXPECT_NEAR(t[32768], 1.9123e-5, 1e-8);
  EXPECT_LT(t[63897], 1.959964f);
  EXPECT_GT(t[63898], 1.959964f);
}

}  // namespace
}  // namespace nvfp4
