// The AVX-512 building blocks against their plain definitions (only on AVX-512 CPUs: this file is
// compiled for it and each test checks the CPU before running any of it): the panel packing's
// 16x16 dword transpose, and rows of the vectorized w4a4 activation quantizer against the scalar
// one (its E2M1 encoder is swept over every float in avx512_exhaustive_test.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/codecs.h"
#include "generator/rng.h"
#include "optimized/codecs.h"
#include "optimized/kernels/avx512_panel.h"
#include "optimized/kernels/avx512_quantize.h"
#include "optimized/kernels/dispatch.h"
#include "optimized/kernels/kernels.h"

namespace nvfp4::opt {
namespace {

bool have_avx512() {
  const auto& isas = available_isas();
  return std::find(isas.begin(), isas.end(), Isa::Avx512) != isas.end();
}

TEST(Avx512Panel, Transpose16x16IsTheTranspose) {
  if (!have_avx512()) GTEST_SKIP() << "no AVX-512 on this CPU";
  alignas(64) std::int32_t m[16][16], t[16][16];
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j) m[i][j] = 100 * i + j;
  __m512i r[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_load_si512(m[i]);
  avx512::transpose16x16(r);
  for (int i = 0; i < 16; ++i) _mm512_store_si512(t[i], r[i]);
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j) EXPECT_EQ(t[i][j], m[j][i]) << "[" << i << "][" << j << "]";
}

// The row quantizer runs tiles::kQuantizeGroupBlocks blocks at a time, the last group partial: K of every block count
// class (below, at and past one and two groups of 16, and a longer row), 400 random rows in all.
TEST(Avx512Quantize, RowsEqualTheScalarQuantizer) {
  if (!have_avx512()) GTEST_SKIP() << "no AVX-512 on this CPU";
  Rng r(3);
  constexpr std::int64_t g = tiles::kQuantizeGroupBlocks;
  const std::int64_t block_counts[] = {1, g - 1, g, g + 1, 2 * g - 1, 2 * g, 2 * g + 1, 2 * g + 5};
  for (int trial = 0; trial < 400; ++trial) {
    const std::int64_t K = 16 * block_counts[trial % 8];
    std::vector<float> x(static_cast<std::size_t>(K));
    std::vector<std::int8_t> d0(static_cast<std::size_t>(K)), d1(static_cast<std::size_t>(K));
    std::vector<float> s0(static_cast<std::size_t>(K / 16)), s1(static_cast<std::size_t>(K / 16));
    const float gs = trial % 2 ? std::ldexp(1.0f, trial % 20 - 6) : static_cast<float>(r.uniform() * 5000);
    for (std::int64_t k = 0; k < K; ++k) {
      const double u = r.uniform();
      // Zero blocks, NaN/Inf, subnormal, huge and values on E2M1 ties once scaled (powers of two * ties).
      float v = static_cast<float>(r.normal() * std::pow(10.0, trial % 7 - 3));
      if (u < 0.05) v = std::ldexp(static_cast<float>((r.next() % 7) * 2 + 1) * 0.25f, static_cast<int>(r.next() % 20) - 10);
      else if (u < 0.06) v = (r.next() & 1) ? NAN : ((r.next() & 1) ? INFINITY : -INFINITY);
      else if (u < 0.07) v = 1e-40f;
      else if (u < 0.08) v = 3e38f;
      x[static_cast<std::size_t>(k)] = (k / 16) % 11 == 5 ? 0.0f : v;
    }
    quantize_row_scalar(x.data(), K, gs, d0.data(), s0.data());
    avx512::quantize_row(x.data(), K, gs, d1.data(), s1.data());
    for (std::int64_t k = 0; k < K; ++k)
      ASSERT_EQ(d0[static_cast<std::size_t>(k)], d1[static_cast<std::size_t>(k)]) << "trial " << trial << " k " << k << " x " << x[static_cast<std::size_t>(k)];
    for (std::int64_t b = 0; b < K / 16; ++b)
      ASSERT_EQ(f32_bits(s0[static_cast<std::size_t>(b)]), f32_bits(s1[static_cast<std::size_t>(b)])) << "trial " << trial << " block " << b;
  }
}

}  // namespace
}  // namespace nvfp4::opt
