// Hand-worked decoder vectors: every E2M1 and E4M3 code by its format's definition, named values,
// nibble packing (the encoders' vectors: generator/test/encoders_test.cpp). Sources: docs/formats.md#number-formats,
// torchao's test_kernels.py and CUDA probes on an H100.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/codecs.h"

namespace nvfp4 {
namespace {

const float kInf = std::numeric_limits<float>::infinity();

TEST(E2M1, DecodesAll16Codes) {
  // E2M1: sign, 2 exponent bits (bias 1), 1 mantissa bit; code 1 is the only subnormal (0.5).
  const float expect[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.f, -0.5f, -1, -1.5f, -2, -3, -4, -6};
  for (int c = 0; c < 16; ++c) {
    EXPECT_EQ(e2m1_to_f32(static_cast<std::uint8_t>(c)), expect[c]) << "code " << c;
    EXPECT_EQ(std::signbit(e2m1_to_f32(static_cast<std::uint8_t>(c))), c >= 8) << "code " << c;
  }
}

TEST(E2M1, PackingPutsTheEvenElementInTheLowNibble) {
  // torchao test_fp4_pack_unpack: rows [0, .5, 4, -0] -> [0x10, 0x86]; [-0, 1, -6, 3] -> [0x28, 0x5F]
  // (codes 0x0 0, 0x1 0.5, 0x2 1, 0x5 3, 0x6 4, 0x7 6, 0x8 -0, 0xF -6).
  EXPECT_EQ(pack_e2m1(0x0, 0x1), 0x10);
  EXPECT_EQ(pack_e2m1(0x6, 0x8), 0x86);
  EXPECT_EQ(pack_e2m1(0x8, 0x2), 0x28);
  EXPECT_EQ(pack_e2m1(0xF, 0x5), 0x5F);
  EXPECT_EQ(pack_e2m1(0x1, 0x7), 0x71);  // the CUDA probe __nv_cvt_float2_to_fp4x2(0.5, 6.0)
  EXPECT_EQ(e2m1_even(0x71), 0x1);
  EXPECT_EQ(e2m1_odd(0x71), 0x7);
  EXPECT_EQ(e2m1_to_f32(e2m1_even(0x5F)), -6.0f);
  EXPECT_EQ(e2m1_to_f32(e2m1_odd(0x5F)), 3.0f);
}

TEST(E4M3, DecodesAll256BytesByTheFormatDefinition) {
  // Independent of the decoder: value = (-1)^s * 2^(e-7) * (1 + m/8), subnormal 2^-6 * m/8,
  // S.1111.111 is NaN, no infinities.
  for (int c = 0; c < 256; ++c) {
    int s = c >> 7, e = (c >> 3) & 15, m = c & 7;
    float got = e4m3_to_f32(static_cast<std::uint8_t>(c));
    if (e == 15 && m == 7) {
      EXPECT_TRUE(std::isnan(got)) << c;
      continue;
    }
    double v = e == 0 ? std::ldexp(m / 8.0, -6) : std::ldexp(1.0 + m / 8.0, e - 7);
    EXPECT_EQ(static_cast<double>(got), s ? -v : v) << "byte " << c;
    EXPECT_EQ(std::signbit(got), s == 1) << "byte " << c;
  }
}

TEST(E4M3, NamedValues) {
  EXPECT_EQ(e4m3_to_f32(0x38), 1.0f);
  EXPECT_EQ(e4m3_to_f32(0x7E), 448.0f);          // max finite
  EXPECT_EQ(e4m3_to_f32(0x08), 0.015625f);       // min normal 2^-6
  EXPECT_EQ(e4m3_to_f32(0x01), 0.001953125f);    // min subnormal 2^-9
  // compressed-tensors' zero-block scale 0.125 is 0x20 (docs/formats.md#known-erratum: 0x28 is 0.25);
  // ml_dtypes agrees with this test.
  EXPECT_EQ(e4m3_to_f32(0x20), 0.125f);
  EXPECT_EQ(e4m3_to_f32(0x28), 0.25f);
}

TEST(BF16, Decodes) {
  EXPECT_EQ(bf16_to_f32(0x3F80), 1.0f);
  EXPECT_EQ(bf16_to_f32(0xC040), -3.0f);
  EXPECT_EQ(bf16_to_f32(0xFF80), -kInf);
  EXPECT_TRUE(std::isnan(bf16_to_f32(0x7FC0)));
}

TEST(F16, Decodes) {
  EXPECT_EQ(f16_to_f32(0x3C00), 1.0f);
  EXPECT_EQ(f16_to_f32(0x7BFF), 65504.0f);                // max finite
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));  // min subnormal
  EXPECT_EQ(f16_to_f32(0x0400), std::ldexp(1.0f, -14));  // min normal
  EXPECT_EQ(f16_to_f32(0x3555), 0.33325195f);
  EXPECT_EQ(f16_to_f32(0xC000), -2.0f);
  EXPECT_EQ(f16_to_f32(0x7C00), kInf);
  EXPECT_TRUE(std::isnan(f16_to_f32(0x7E00)));
}

}  // namespace
}  // namespace nvfp4
