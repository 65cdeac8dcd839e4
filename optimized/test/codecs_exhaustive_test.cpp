// The optimized pipeline's own encoders on all 2^32 float bit patterns, against "nearest value,
// ties to even" derived from each format's value table (core/test/nearest_even_sweep.h): E4M3
// satfinite (reconcile, activation scales), E2M1 (activation codes), and the F16/BF16 output
// rounding of its GEMM. Decoders against every code.
#include <gtest/gtest.h>

#include <cmath>

#include "core/codecs.h"
#include "core/test/nearest_even_sweep.h"
#include "optimized/codecs.h"

namespace nvfp4::opt {
namespace {

struct E4M3 { std::uint8_t operator()(float x) const { return e4m3_satfinite(x); } };
struct E2M1 { std::uint8_t operator()(float x) const { return e2m1(x); } };
struct F16 { std::uint16_t operator()(float x) const { return to_f16(x); } };
struct BF16 { std::uint16_t operator()(float x) const { return to_bf16(x); } };

TEST(OptimizedExhaustive, E4M3SatfiniteMatchesNearestEvenOnAll2p32Floats) { sweep::sweep(sweep::e4m3_format(true), E4M3{}); }

TEST(OptimizedExhaustive, E2M1MatchesNearestEvenOnAll2p32Floats) { sweep::sweep(sweep::e2m1_format(), E2M1{}); }

TEST(OptimizedExhaustive, F16MatchesNearestEvenOnAll2p32Floats) { sweep::sweep(sweep::f16_format(), F16{}); }

TEST(OptimizedExhaustive, BF16MatchesNearestEvenOnAll2p32Floats) { sweep::sweep(sweep::bf16_format(), BF16{}); }

// NaN in, a quiet NaN of the same sign out, for every NaN pattern.
TEST(OptimizedExhaustive, NaNStaysNaNInF16AndBF16) {
  std::uint32_t bad = 0;
  for (std::uint32_t b = 0x7F800001u; b <= 0x7FFFFFFFu && !bad; ++b)
    for (std::uint32_t s : {0u, 0x80000000u}) {
      const float x = f32_from_bits(b | s);
      const std::uint16_t h = to_f16(x), g = to_bf16(x);
      const std::uint16_t sign = static_cast<std::uint16_t>(s >> 16);
      if ((h & 0x7E00) != 0x7E00 || (h & 0x8000) != sign || (g & 0x7FC0) != 0x7FC0 || (g & 0x8000) != sign) bad = b | s;
    }
  EXPECT_EQ(bad, 0u) << "NaN bits 0x" << std::hex << bad;
}

TEST(OptimizedCodecs, DecodersMatchEveryCode) {
  for (int c = 0; c < 256; ++c) {
    const float a = e4m3_value(static_cast<std::uint8_t>(c)), b = e4m3_to_f32(static_cast<std::uint8_t>(c));
    EXPECT_TRUE(a == b || (std::isnan(a) && std::isnan(b))) << "E4M3 0x" << std::hex << c;
  }
  for (int c = 0; c < 16; ++c) EXPECT_EQ(e2m1_value(static_cast<std::uint8_t>(c)), e2m1_to_f32(static_cast<std::uint8_t>(c))) << c;
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const float a = f16_value(static_cast<std::uint16_t>(h)), b = f16_to_f32(static_cast<std::uint16_t>(h));
    ASSERT_TRUE(f32_bits(a) == f32_bits(b) || (std::isnan(a) && std::isnan(b))) << "F16 0x" << std::hex << h;
    ASSERT_EQ(f32_bits(bf16_value(static_cast<std::uint16_t>(h))), h << 16);
  }
}

}  // namespace
}  // namespace nvfp4::opt
