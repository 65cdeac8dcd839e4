// Every one of the 2^32 float bit patterns through the generator's E4M3 (satfinite and
// NaN-on-overflow) and E2M1 encoders, against "nearest value, ties to even" derived from the value table
// (core/test/nearest_even_sweep.h).
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "core/test/nearest_even_sweep.h"
#include "generator/encoders.h"
#include "generator/modelopt_quantize_rows.h"

namespace nvfp4 {
namespace {

struct Sat { std::uint8_t operator()(float x) const { return f32_to_e4m3_satfinite(x); } };
struct NoSat { std::uint8_t operator()(float x) const { return f32_to_e4m3_nan_overflow(x); } };
struct E2M1 { std::uint8_t operator()(float x) const { return f32_to_e2m1(x); } };

TEST(ExhaustiveE4M3, SatfiniteMatchesNearestEvenOnAll2p32Floats) { sweep::sweep(sweep::e4m3_format(true), Sat{}); }

TEST(ExhaustiveE4M3, NanOnOverflowMatchesNearestEvenOnAll2p32Floats) { sweep::sweep(sweep::e4m3_format(false), NoSat{}); }

TEST(ExhaustiveE2M1, ThresholdsEqualTheEncoderOnEveryNonNegativeFloat) {
  // The writer's vectorizable E2M1 (seven comparisons) against the encoder, all 2^31 patterns
  // with the sign bit clear (NaN and Inf included).
  std::uint64_t bad = 0, first = 0;
  for (std::uint64_t b = 0; b < (std::uint64_t{1} << 31); ++b) {
    float m;
    const std::uint32_t u = static_cast<std::uint32_t>(b);
    std::memcpy(&m, &u, 4);
    if (quantize_detail::e2m1_magnitude_code(m) != f32_to_e2m1(m) && bad++ == 0) first = b;
  }
  EXPECT_EQ(bad, 0u) << "first at 0x" << std::hex << first;
}

TEST(ExhaustiveE2M1, QuarterTableEqualsTheEncoderOnEveryNonNegativeFloat) {
  // The AVX-512 quantizer's E2M1 (floor of 4m and a table) against the encoder, all 2^31 patterns
  // with the sign bit clear (NaN and Inf included), 2^16 at a time.
  if (!quantize_detail::have_avx512_quantizer()) GTEST_SKIP() << "no AVX-512 VBMI here";
  std::vector<float> m(1 << 16);
  std::vector<std::uint8_t> codes(m.size());
  std::uint64_t bad = 0, first = 0;
  for (std::uint64_t base = 0; base < (std::uint64_t{1} << 31); base += m.size()) {
    for (std::size_t i = 0; i < m.size(); ++i) {
      const std::uint32_t u = static_cast<std::uint32_t>(base + i);
      std::memcpy(&m[i], &u, 4);
    }
    quantize_detail::e2m1_magnitude_codes_avx512(m.data(), m.size(), codes.data());
    for (std::size_t i = 0; i < m.size(); ++i)
      if (codes[i] != f32_to_e2m1(m[i]) && bad++ == 0) first = base + i;
  }
  EXPECT_EQ(bad, 0u) << "first at 0x" << std::hex << first;
}

TEST(ExhaustiveE2M1, MatchesNearestEvenOnAll2p32Floats) { sweep::sweep(sweep::e2m1_format(), E2M1{}); }

}  // namespace
}  // namespace nvfp4
