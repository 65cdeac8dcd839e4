// The GEMM oracles on hand-worked cases, including one where rounding twice (through f32)
// gives a different BF16 result than rounding the exact sum once.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "generator/encoders.h"
#include "reference/gemm.h"

namespace nvfp4::ref {
namespace {

LogicalWeight ones(std::int64_t N, std::int64_t K) {
  LogicalWeight w;
  w.N = N;
  w.K = K;
  w.codes.assign(static_cast<std::size_t>(N * K), 0x2);       // E2M1 1.0
  w.scales.assign(static_cast<std::size_t>(N * K / 16), 0x38);  // E4M3 1.0
  w.global_scale = 1.0f;
  return w;
}

TEST(GemmExact, RoundsTheExactSumOnceIntoBf16) {
  // x = [1, 2^-8, 2^-30, 0...] in BF16 against weights of 1: the exact sum 1 + 2^-8 + 2^-30 is just
  // above the BF16 midpoint between 1 and 1 + 2^-7, so it rounds up; summing in f32 first drops
  // 2^-30 and the tie then rounds to even (1.0).
  Tensor x = Tensor::zeros(DType::BF16, {1, 16});
  auto* h = x.data_as<std::uint16_t>();
  h[0] = f32_to_bf16(1.0f);
  h[1] = f32_to_bf16(std::ldexp(1.0f, -8));
  h[2] = f32_to_bf16(std::ldexp(1.0f, -30));
  for (bool exact : {true, false}) {
    Tensor y = exact ? gemm_exact(x, ones(1, 16), GemmMode::W4A16, {}) : gemm_eigen(x, ones(1, 16), GemmMode::W4A16, {});
    EXPECT_EQ(y.data_as<std::uint16_t>()[0], 0x3F81) << "1 + 2^-7";
  }
  float f32_sum = (1.0f + std::ldexp(1.0f, -8)) + std::ldexp(1.0f, -30);
  EXPECT_EQ(f32_to_bf16(f32_sum), 0x3F80) << "the double rounding the oracle avoids";
}

TEST(GemmExact, BlocksTooWideForTheIntegerDotSumPerElement) {
  // Row 0 spans 64 bits of exponent in one block (2^24, 1, 2^-40), past the block dot product's 24;
  // row 1 is the same three values spread over three blocks, each narrow. In F32 2^24 + 1 is a tie
  // between 2^24 and 2^24 + 2; the 2^-40 breaks it upward, so both rows must give 2^24 + 2 (an
  // accumulator that lost the small term would round the tie to even, 2^24).
  Tensor x = Tensor::zeros(DType::F32, {2, 48});
  float* v = x.data_as<float>();
  v[0] = std::ldexp(1.0f, 24), v[1] = 1.0f, v[2] = std::ldexp(1.0f, -40);
  v[48 + 0] = std::ldexp(1.0f, 24), v[48 + 16] = 1.0f, v[48 + 32] = std::ldexp(1.0f, -40);
  for (GemmMode m : {GemmMode::W4A16}) {
    std::vector<double> mag;
    Tensor y = gemm_exact(x, ones(1, 48), m, {}, &mag);
    EXPECT_EQ(y.data_as<float>()[0], 16777218.0f) << "the wide block (per-element path)";
    EXPECT_EQ(y.data_as<float>()[1], 16777218.0f) << "three narrow blocks (integer dot path)";
    // sum |x w| = 2^24 + 1 + 2^-40: in double 2^-40 is under half an ulp (2^-29) of 2^24 + 1, so
    // the nearest double is 2^24 + 1, and one step up from it (2^24 + 1 + 2^-28) is the bound.
    for (int r = 0; r < 2; ++r) EXPECT_EQ(mag[static_cast<std::size_t>(r)], 16777217.0 + std::ldexp(1.0, -28)) << "row " << r;
  }
}

TEST(GemmExact, W4A16DequantizesWithBlockAndGlobalScales) {
  LogicalWeight w = ones(2, 32);
  w.codes[0] = 0xF;        // -6
  w.scales[1] = 0x40;      // row 0, block 1: 2.0
  w.global_scale = 0.5f;
  Tensor x = Tensor::empty(DType::F32, {1, 32});
  for (int k = 0; k < 32; ++k) x.data_as<float>()[k] = 1.0f;
  Tensor y = gemm_exact(x, w, GemmMode::W4A16, {});
  // Row 0: (-6 + 15 * 1) * 1 * 0.5 + 16 * 1 * 2 * 0.5 = 4.5 + 16; row 1: 32 * 0.5.
  EXPECT_EQ(y.data_as<float>()[0], 20.5f);
  EXPECT_EQ(y.data_as<float>()[1], 16.0f);
}

TEST(GemmExact, W4A4OnTheTieBlock) {
  // The tie block (docs/formats.md#the-tie-block) quantizes (gs = 896) to codes summing to 27.5 with S = 448: against weights of 1
  // and alpha 1 the product is 27.5 * 448 = 12320 exactly; alpha 0.25 scales it once.
  const float block[16] = {3.0f, 0.375f, 0.125f, 0.625f, 1.125f, -0.375f, 0.875f, 1.75f,
                           2.25f, 0.0625f, 0.0f, -0.0f, 1.5f, 2.5f, 0.25f, 0.5f};
  Tensor x = Tensor::empty(DType::F32, {1, 16});
  std::memcpy(x.data(), block, sizeof block);
  Tensor y = gemm_exact(x, ones(1, 16), GemmMode::W4A4, {1.0f, 896.0f});
  EXPECT_EQ(y.data_as<float>()[0], 12320.0f);
  y = gemm_exact(x, ones(1, 16), GemmMode::W4A4, {0.25f, 896.0f});
  EXPECT_EQ(y.data_as<float>()[0], 3080.0f);
}

TEST(GemmExact, F16OverflowAndCancellation) {
  Tensor x = Tensor::empty(DType::F16, {2, 16});
  auto* h = x.data_as<std::uint16_t>();
  for (int k = 0; k < 32; ++k) h[k] = f32_to_f16(0.0f);
  for (int k = 0; k < 16; ++k) h[k] = f32_to_f16(60000.0f);  // 16 * 60000 overflows F16
  h[16] = f32_to_f16(1024.0f);
  h[17] = f32_to_f16(-1024.0f);
  h[18] = f32_to_f16(std::ldexp(1.0f, -24));  // the smallest subnormal survives the cancellation
  Tensor y = gemm_exact(x, ones(1, 16), GemmMode::W4A16, {});
  EXPECT_EQ(y.data_as<std::uint16_t>()[0], 0x7C00);  // +Inf
  EXPECT_EQ(y.data_as<std::uint16_t>()[1], 0x0001);
}

TEST(GemmMagnitudes, EigenChunksAndTheExactOraclesMagnitudes) {
  // N = 37 rows of K = 2048 go through Eigen 16 rows at a time (2^15 doubles): chunks of 16, 16
  // and 5, so a wrong chunk offset or a stale tail shows. Truth in long double (64-bit
  // significand) from values decoded here by formula, not by the oracle's tables: the E2M1 magnitudes
  // by hand, E4M3 normals (bytes 0x20..0x5F, exponent field 4..11) as (8 + m) * 2^(e - 10).
  const std::int64_t M = 3, N = 37, K = 2048;
  const long double e2m1[8] = {0, 0.5L, 1, 1.5L, 2, 3, 4, 6};
  std::uint64_t st = 0x9E3779B97F4A7C15ull;
  auto next = [&st] { st ^= st << 13, st ^= st >> 7, st ^= st << 17; return st; };
  LogicalWeight w;
  w.N = N, w.K = K, w.global_scale = 0.37f;
  for (std::int64_t i = 0; i < N * K; ++i) w.codes.push_back(static_cast<std::uint8_t>(next() & 0xF));
  for (std::int64_t i = 0; i < N * K / 16; ++i) w.scales.push_back(static_cast<std::uint8_t>(0x20 + next() % 0x40));
  Tensor x = Tensor::empty(DType::F32, {M, K});
  for (std::int64_t i = 0; i < M * K; ++i)
    x.data_as<float>()[i] = std::ldexp(static_cast<float>(next() % 2001) - 1000.0f, -static_cast<int>(next() % 12));
  const std::vector<double> eig = gemm_eigen_double(x, w, GemmMode::W4A16, {});
  std::vector<double> exact_mag;
  gemm_exact(x, w, GemmMode::W4A16, {}, &exact_mag);
  for (std::int64_t m = 0; m < M; ++m)
    for (std::int64_t n = 0; n < N; ++n) {
      long double y = 0, a = 0;
      for (std::int64_t k = 0; k < K; ++k) {
        const std::uint8_t c = w.codes[static_cast<std::size_t>(n * K + k)], b = w.scales[static_cast<std::size_t>(n * K / 16 + k / 16)];
        const long double s = std::ldexp(static_cast<long double>(8 + (b & 7)), ((b >> 3) & 0xF) - 10);
        const long double v = (c & 8 ? -1 : 1) * e2m1[c & 7] * s * static_cast<long double>(w.global_scale);
        y += static_cast<long double>(x.data_as<float>()[m * K + k]) * v;
        a += std::fabs(static_cast<long double>(x.data_as<float>()[m * K + k]) * v);
      }
      const std::size_t i = static_cast<std::size_t>(m * N + n);
      const long double slack = static_cast<long double>(K) * std::ldexp(1.0L, -63) * a;  // long double's own error
      EXPECT_LE(std::fabs(static_cast<long double>(eig[i]) - y), eigen_error_bound(static_cast<double>(a), K) + slack) << "[" << m << ", " << n << "]";
      // The exact oracle's magnitude: rounded once, then one step up; within 2 ulps above.
      EXPECT_GE(static_cast<long double>(exact_mag[i]), a - slack) << "[" << m << ", " << n << "]: exact magnitude not an upper bound";
      EXPECT_LE(static_cast<long double>(exact_mag[i]), a * (1 + 4 * std::ldexp(1.0L, -53)) + slack) << "[" << m << ", " << n << "]";
    }
}

}  // namespace
}  // namespace nvfp4::ref
