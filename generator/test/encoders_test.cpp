// Hand-worked encoder vectors. Each table row says why the value was chosen; the sources are
// torchao's test_kernels.py and CUDA probes on an H100. And the writer's AVX2 quantizer against
// its scalar body.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "generator/encoders.h"
#include "generator/modelopt_quantize_rows.h"
#include "generator/rng.h"

namespace nvfp4 {
namespace {

const float kInf = std::numeric_limits<float>::infinity();
const float kNaN = std::numeric_limits<float>::quiet_NaN();

TEST(E2M1, RoundTripsEveryCode) {
  for (int c = 0; c < 16; ++c)
    EXPECT_EQ(f32_to_e2m1(e2m1_to_f32(static_cast<std::uint8_t>(c))), c) << "code " << c;
}

struct Case { float x; std::uint8_t code; const char* why; };

TEST(E2M1, TieAndSaturationTable) {
  const Case cases[] = {
      {0.0f, 0x0, "zero"},
      {-0.0f, 0x8, "negative zero keeps its sign"},
      {0.1f, 0x0, "below the first midpoint"},
      {0.25f, 0x0, "tie 0/0.5 goes to the even code 0"},
      {0.25000003f, 0x1, "one ulp above the tie"},
      {0.24999999f, 0x0, "one ulp below the tie"},
      {0.74999994f, 0x1, "one ulp below the 0.5/1.0 tie"},
      {0.75f, 0x2, "tie 0.5/1.0 goes to the even code 2"},
      {1.25f, 0x2, "tie 1.0/1.5 goes to even 1.0"},
      {1.2500001f, 0x3, "above the tie"},
      {1.75f, 0x4, "tie 1.5/2.0 goes to even 2.0 (crosses a binade)"},
      {2.5f, 0x4, "tie 2/3 goes to even 2"},
      {2.5000002f, 0x5, "above the tie"},
      {3.5f, 0x6, "tie 3/4 goes to even 4"},
      {5.0f, 0x6, "tie 4/6 goes to even 4"},
      {5.0000005f, 0x7, "above the last tie saturates to 6"},
      {6.5f, 0x7, "beyond the max saturates"},
      {100.0f, 0x7, "far beyond saturates"},
      {kInf, 0x7, "+Inf saturates"},
      {-kInf, 0xF, "-Inf saturates"},
      {-0.25f, 0x8, "negative tie to zero keeps the sign"},
      {-0.75f, 0xA, "negative tie"},
      {-5.0f, 0xE, "negative tie 4/6"},
      {-7.0f, 0xF, "negative saturation"},
      {1e-30f, 0x0, "tiny positive"},
      {-1e-30f, 0x8, "tiny negative rounds to -0"},
      {kNaN, 0x7, "NaN follows CUDA's __nv_cvt_float_to_fp4 (0x7)"},
  };
  for (const auto& c : cases) EXPECT_EQ(f32_to_e2m1(c.x), c.code) << c.x << ": " << c.why;
}

TEST(E4M3, ProbeTableSaturatingAndNot) {
  struct Row { float x; std::uint8_t sat, nosat; const char* why; };
  const Row rows[] = {
      {0.0009765625f, 0x00, 0x00, "2^-10 is half the min subnormal: tie to even 0"},
      {1.5f * 0.0009765625f, 0x01, 0x01, "1.5 * 2^-10 rounds up to 2^-9"},
      {3.0f * 0.0009765625f, 0x02, 0x02, "tie 0x01/0x02 goes to even"},
      {0.0146484375f, 0x08, 0x08, "7.5 * 2^-9: tie 0x07/0x08 lands on the min normal"},
      {1.0625f, 0x38, 0x38, "tie 1.0/1.125 goes to even 1.0"},
      {1.1875f, 0x3A, 0x3A, "tie 1.125/1.25 goes to even 1.25"},
      {449.0f, 0x7E, 0x7E, "rounds down to 448"},
      {463.99f, 0x7E, 0x7E, "below the 448/480 midpoint"},
      {464.0f, 0x7E, 0x7E, "tie 448/480: 480 would be the NaN pattern, even is 448"},
      {464.01f, 0x7E, 0x7F, "past the midpoint: satfinite clamps, torch gives NaN"},
      {480.0f, 0x7E, 0x7F, "first value past the range"},
      {1e10f, 0x7E, 0x7F, "far past the range"},
      {kInf, 0x7E, 0x7F, "+Inf"},
      {-kInf, 0xFE, 0xFF, "-Inf keeps its sign"},
      {-464.01f, 0xFE, 0xFF, "negative overflow"},
      {-0.0f, 0x80, 0x80, "negative zero"},
      {kNaN, 0x7F, 0x7F, "NaN is 0x7F whatever the variant"},
      {-kNaN, 0x7F, 0x7F, "negative NaN too (CUDA)"},
  };
  for (const auto& r : rows) {
    EXPECT_EQ(f32_to_e4m3_satfinite(r.x), r.sat) << r.x << ": " << r.why;
    EXPECT_EQ(f32_to_e4m3_nan_overflow(r.x), r.nosat) << r.x << ": " << r.why;
  }
}

TEST(E4M3, RoundTripsEveryFiniteByte) {
  for (int c = 0; c < 256; ++c) {
    if ((c & 0x7F) == 0x7F) continue;
    float v = e4m3_to_f32(static_cast<std::uint8_t>(c));
    EXPECT_EQ(f32_to_e4m3_satfinite(v), c);
    EXPECT_EQ(f32_to_e4m3_nan_overflow(v), c);
  }
}

TEST(BF16, HandVectors) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(f32_to_bf16(f32_from_bits(0x3F808000)), 0x3F80);  // exact tie, even mantissa stays
  EXPECT_EQ(f32_to_bf16(f32_from_bits(0x3F818000)), 0x3F82);  // exact tie, odd mantissa rounds up
  EXPECT_EQ(f32_to_bf16(f32_from_bits(0x3F808001)), 0x3F81);  // just past the tie
  EXPECT_EQ(f32_to_bf16(f32_from_bits(0x7F7FFFFF)), 0x7F80);  // FLT_MAX rounds to Inf
  EXPECT_EQ(f32_to_bf16(-kInf), 0xFF80);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(kNaN))));
  EXPECT_EQ(bf16_to_f32(0xC040), -3.0f);
}

TEST(F16, HandVectors) {
  EXPECT_EQ(f32_to_f16(1.0f), 0x3C00);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7BFF);        // max finite
  EXPECT_EQ(f32_to_f16(65519.996f), 0x7BFF);      // below the overflow midpoint
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7C00);        // tie 65504/65536 -> even -> Inf
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);  // min subnormal
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);  // tie to even 0
  EXPECT_EQ(f32_to_f16(std::ldexp(3.0f, -25)), 0x0002);  // tie 1/2 -> even 2
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -14)), 0x0400);  // min normal
  EXPECT_EQ(f32_to_f16(-2.0f), 0xC000);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f16_to_f32(0x3555), 0.33325195f);
  EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(kNaN))));
  for (std::uint32_t h = 0; h < 0x10000; ++h) {  // every finite half round-trips
    if ((h & 0x7C00) == 0x7C00) continue;
    ASSERT_EQ(f32_to_f16(f16_to_f32(static_cast<std::uint16_t>(h))), h) << h;
  }
}

using QuantizeRows = void (*)(const float*, std::int64_t, std::int64_t, std::int64_t, float, std::uint8_t, std::uint8_t*, std::uint8_t*,
                              const float*);

// The writer's vector quantizers against the scalar body they mirror, on blocks aimed at every E2M1
// threshold (values exactly at t * denom for each tie), zero blocks, NaN and Inf elements, -0.0,
// values past the E4M3 range, and random normals. The output buffers start as garbage (0xA5): a
// path must write every byte, zero blocks included (the streaming writer reuses its buffers).
void expect_scalar_bytes(QuantizeRows path) {
  const std::int64_t N = 64, K = 256;
  std::vector<float> w(static_cast<std::size_t>(N * K));
  Rng r(7);
  const float ties[] = {0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5.0f, 6.0f};
  for (std::int64_t i = 0; i < N * K; ++i) {
    const std::int64_t row = i / K;
    float v = static_cast<float>(r.normal()) * (row % 5 == 0 ? 1e4f : 0.02f);
    if (row % 4 == 1) v = (i % 16 == 0 ? 6.0f : ties[i % 8]) * ((i / 8) % 2 ? -1.0f : 1.0f) * 0.01f;  // block max 0.06: ties on the grid
    if (row == 2) v = 0.0f;
    if (row == 3 && i % 7 == 0) v = -0.0f;
    if (row == 6 && i % 31 == 0) v = std::numeric_limits<float>::quiet_NaN();
    if (row == 7 && i % 29 == 0) v = std::numeric_limits<float>::infinity();
    w[static_cast<std::size_t>(i)] = v;
  }
  float e4m3[256];
  for (int i = 0; i < 256; ++i) e4m3[i] = e4m3_to_f32(static_cast<std::uint8_t>(i));
  for (float amax : {0.06f, 1.0f, 3e4f, -1.0f}) {  // a negative amax: negative scales and block scales
    std::vector<std::uint8_t> p1(static_cast<std::size_t>(N * K / 2)), p2(p1.size(), 0xA5), s1(static_cast<std::size_t>(N * K / 16)),
        s2(s1.size(), 0xA5);
    quantize_detail::quantize_rows(w.data(), 0, N, K, amax / 2688.0f, 0x38, p1.data(), s1.data(), e4m3);
    path(w.data(), 0, N, K, amax / 2688.0f, 0x38, p2.data(), s2.data(), e4m3);
    EXPECT_EQ(s1, s2) << "block scales, amax " << amax;
    for (std::size_t i = 0; i < p1.size(); ++i)
      ASSERT_EQ(p1[i], p2[i]) << "amax " << amax << ", packed byte " << i << " (row " << 2 * i / K << ")";
  }
}

TEST(Quantizer, Avx2PathWritesTheScalarPathsBytes) {
  if (!__builtin_cpu_supports("avx2")) GTEST_SKIP() << "no AVX2 here";
  expect_scalar_bytes(quantize_detail::quantize_rows_avx2);
}

TEST(Quantizer, Avx512PathWritesTheScalarPathsBytes) {
  if (!quantize_detail::have_avx512_quantizer()) GTEST_SKIP() << "no AVX-512 VBMI here";
  expect_scalar_bytes(quantize_detail::quantize_rows_avx512);
}

}  // namespace
}  // namespace nvfp4
