// The checks' bounds at their exact limits, worked out by hand: the GEMM bound
// (checks/gemm_bound.h) in f32's subnormal and normal ranges, and the reconcile bound
// (checks/reconcile.h) at E4M3's subnormal edge, where a relative bound of 1/16 alone is wrong.
#include <gtest/gtest.h>

#include <cmath>

#include "checks/gemm_vs_oracle.h"
#include "checks/reconcile.h"

namespace nvfp4::checks {
namespace {


Tensor f32x1(float v) {
  Tensor t = Tensor::empty(DType::F32, {1, 1});
  t.data_as<float>()[0] = v;
  return t;
}

// The kernel check, element by element: |got - exact| <= bound passes, anything above fails.
// w4a4, K = 1, exact result 0 and sum |x w| = 0, alpha 1: the f32 term is (K + 1) 2^-150 max(1,
// alpha) = 2^-149, and the output's ulp where |y| + 2^-149 lies (f32 subnormals) is 2^-149: the
// bound is 2^-148, which is an f32 (2 * 2^-149). Exactly that passes, 3 * 2^-149 fails.
TEST(Bounds, KernelBoundExactlyAtItsLimit) {
  const float at = std::ldexp(1.0f, -148), above = std::nextafter(at, 1.0f);
  ASSERT_EQ(above, 3 * std::ldexp(1.0f, -149));
  for (float sign : {1.0f, -1.0f}) {
    const KernelCheck ok = check_kernel(f32x1(0), f32x1(sign * at), {0.0}, GemmMode::W4A4, 1, 1.0);
    EXPECT_TRUE(ok.passed());
    EXPECT_EQ(ok.max_bound, std::ldexp(1.0, -148));
    EXPECT_EQ(ok.max_diff, std::ldexp(1.0, -148));
    EXPECT_EQ(ok.worst_fraction, 1.0);
    EXPECT_EQ(ok.failure(), "");
    const KernelCheck bad = check_kernel(f32x1(0), f32x1(sign * above), {0.0}, GemmMode::W4A4, 1, 1.0);
    EXPECT_EQ(bad.bad_m, 0);
    EXPECT_EQ(bad.bad_bound, std::ldexp(1.0, -148));
    EXPECT_EQ(bad.worst_fraction, 1.5);
    EXPECT_EQ(bad.failure().rfind("M=1: element [0, 0]: exact 0, optimized ", 0), 0u) << bad.failure();
  }
}

// In the normal range: w4a16, K = 16, exact 1, sum |x w| = 1, global scale 1. The f32 term is
// gamma_49 (3K + 1 roundings) = 49 u / (1 - 49 u) (u = 2^-24) = 24.50007 * 2^-23, plus 49 * 2^-150;
// the output term is one ulp of the binade above |y| (the result may round across 2): 2^-22 =
// 2 * 2^-23. The bound is 26.50007 f32 steps at 1: 1 + 26 * 2^-23 passes, 1 + 27 * 2^-23 fails.
TEST(Bounds, KernelBoundInTheNormalRange) {
  const double u = std::ldexp(1.0, -24), bound = 49 * u / (1 - 49 * u) + 49 * std::ldexp(1.0, -150) + std::ldexp(1.0, -22);
  EXPECT_NEAR(bound / std::ldexp(1.0, -23), 26.5, 1e-3);
  const float step = std::ldexp(1.0f, -23);
  const KernelCheck ok = check_kernel(f32x1(1), f32x1(1 + 26 * step), {1.0}, GemmMode::W4A16, 16, 1.0);
  EXPECT_TRUE(ok.passed());
  EXPECT_EQ(ok.max_bound, bound);
  const KernelCheck bad = check_kernel(f32x1(1), f32x1(1 + 27 * step), {1.0}, GemmMode::W4A16, 16, 1.0);
  EXPECT_EQ(bad.bad_m, 0);
  const KernelCheck below = check_kernel(f32x1(1), f32x1(1 - 26 * step / 2), {1.0}, GemmMode::W4A16, 16, 1.0);
  EXPECT_TRUE(below.passed());
}

// The reconcile bound per block: |S' common - S own| <= 2^-4 S own + 2^-10 common. With
// S own = 2^-6 and common = 15 it is 2^-10 + 15 * 2^-10 = 2^-6, exactly: S' common = 2^-5 (or 0) is
// at the limit and passes, the next double above 2^-5 fails. In the normal range, S own = 16 under
// common 16: 1 + 2^-6, so 17 + 2^-6 passes and the next double fails. And the subnormal edge of
// ReconcileAtTheSubnormalEdgePasses (S own = 2^-13 (1 - 2^-24), S' common = 17 * 2^-17, common
// 17 * 2^-8), whose relative error is past 1/16, is well inside.
TEST(Bounds, ReconcileBoundExactlyAtItsLimit) {
  const double s_own = std::ldexp(1.0, -6), top = std::ldexp(1.0, -5);
  EXPECT_TRUE(within_reconcile_bound(s_own, top, 15));
  EXPECT_TRUE(within_reconcile_bound(s_own, 0, 15));
  EXPECT_FALSE(within_reconcile_bound(s_own, std::nextafter(top, 1.0), 15));
  EXPECT_FALSE(within_reconcile_bound(s_own, top, std::nextafter(15.0, 0.0)));
  const double normal = 17 + std::ldexp(1.0, -6);
  EXPECT_TRUE(within_reconcile_bound(16, normal, 16));
  EXPECT_FALSE(within_reconcile_bound(16, std::nextafter(normal, 100.0), 16));
  EXPECT_TRUE(within_reconcile_bound(std::ldexp(1.0, -13) * (1 - std::ldexp(1.0, -24)), std::ldexp(17.0, -17), std::ldexp(17.0, -8)));
}

}  // namespace
}  // namespace nvfp4::checks
