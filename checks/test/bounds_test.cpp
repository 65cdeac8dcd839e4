// The checks' bounds at their exact limits, worked out by hand: the GEMM bound
// (checks/gemm_bound.h) in f32's subnormal and normal ranges, and the reconcile bound
// (checks/reconcile.h) at E4M3's subnormal edge, where a relative bound of 1/16 alone is wrong.
#include <gtest/gtest.h>

#include <cmath>
#include <tuple>
#include <utility>

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
// w4a4, exact result 0 and sum |x w| = 0, alpha 1: the f32 term is n 2^-150 max(1, alpha) with
// n = 2 roundings (Blocks: K/4 + 1 at K = 4; Bf16Tiles: K + 1 at K = 1) = 2^-149, and the output's
// ulp where |y| + 2^-149 lies (f32 subnormals) is 2^-149: the bound is 2^-148, which is an f32
// (2 * 2^-149). Exactly that passes, 3 * 2^-149 fails. At K = 4 the tiles' n is 5: 2^-148 passes
// there with room (the tiles' bound is looser, and only theirs).
TEST(Bounds, KernelBoundExactlyAtItsLimit) {
  const float at = std::ldexp(1.0f, -148), above = std::nextafter(at, 1.0f);
  ASSERT_EQ(above, 3 * std::ldexp(1.0f, -149));
  for (const auto& [arith, K] : {std::pair{GemmArith::Blocks, 4}, std::pair{GemmArith::Bf16Tiles, 1}})
    for (float sign : {1.0f, -1.0f}) {
      const KernelCheck ok = check_kernel(f32x1(0), f32x1(sign * at), {0.0}, GemmMode::W4A4, arith, K, 1.0);
      EXPECT_TRUE(ok.passed());
      EXPECT_EQ(ok.max_bound, std::ldexp(1.0, -148));
      EXPECT_EQ(ok.max_diff, std::ldexp(1.0, -148));
      EXPECT_EQ(ok.worst_fraction, 1.0);
      EXPECT_EQ(ok.failure(), "");
      const KernelCheck bad = check_kernel(f32x1(0), f32x1(sign * above), {0.0}, GemmMode::W4A4, arith, K, 1.0);
      EXPECT_EQ(bad.bad_m, 0);
      EXPECT_EQ(bad.bad_bound, std::ldexp(1.0, -148));
      EXPECT_EQ(bad.worst_fraction, 1.5);
      EXPECT_EQ(bad.failure().rfind("M=1: element [0, 0]: exact 0, optimized ", 0), 0u) << bad.failure();
    }
  EXPECT_TRUE(check_kernel(f32x1(0), f32x1(above), {0.0}, GemmMode::W4A4, GemmArith::Bf16Tiles, 4, 1.0).passed());
}

// In the normal range: w4a16, K = 16, exact 1, sum |x w| = 1, global scale 1. The f32 term is
// gamma_n = n u / (1 - n u) (u = 2^-24) plus n 2^-150; the output term is one ulp of the binade above
// |y| (the result may round across 2): 2^-22 = 2 * 2^-23.
// - Blocks, n = K + 1 = 17: gamma_17 = 8.50001 * 2^-23, the bound 10.50001 f32 steps at 1:
//   1 + 10 * 2^-23 passes, 1 + 11 * 2^-23 fails.
// - Bf16Tiles, n = 3K + 1 = 49: gamma_49 = 24.50007 * 2^-23, the bound 26.50007 steps: 1 + 26 * 2^-23
//   passes, 1 + 27 * 2^-23 fails.
TEST(Bounds, KernelBoundInTheNormalRange) {
  const double u = std::ldexp(1.0, -24);
  const float step = std::ldexp(1.0f, -23);
  for (const auto& [arith, n, steps] : {std::tuple{GemmArith::Blocks, 17, 10}, std::tuple{GemmArith::Bf16Tiles, 49, 26}}) {
    const double bound = n * u / (1 - n * u) + n * std::ldexp(1.0, -150) + std::ldexp(1.0, -22);
    EXPECT_NEAR(bound / std::ldexp(1.0, -23), steps + 0.5, 1e-3);
    const KernelCheck ok = check_kernel(f32x1(1), f32x1(1 + steps * step), {1.0}, GemmMode::W4A16, arith, 16, 1.0);
    EXPECT_TRUE(ok.passed());
    EXPECT_EQ(ok.max_bound, bound);
    const KernelCheck bad = check_kernel(f32x1(1), f32x1(1 + (steps + 1) * step), {1.0}, GemmMode::W4A16, arith, 16, 1.0);
    EXPECT_EQ(bad.bad_m, 0);
    const KernelCheck below = check_kernel(f32x1(1), f32x1(1 - steps * step / 2), {1.0}, GemmMode::W4A16, arith, 16, 1.0);
    EXPECT_TRUE(below.passed());
  }
}

// Which kernel set gets which arithmetic: by name, the amx set alone the tiles'.
TEST(Bounds, OnlyTheAmxSetGetsTheTilesBound) {
  EXPECT_EQ(gemm_arith("amx"), GemmArith::Bf16Tiles);
  for (const char* other : {"avx512", "avx2", "scalar"}) EXPECT_EQ(gemm_arith(other), GemmArith::Blocks) << other;
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
