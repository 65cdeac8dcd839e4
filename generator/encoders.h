// Scalar encoders for writing files: f32 to E2M1, E4M3, BF16 and F16 codes. The generator's, with
// the tests that check it; never the pipelines' (they have their own conversions, and the build
// keeps them from linking this library: cmake/Nvfp4Layering.cmake).
//
// Conventions:
// - E2M1: round to nearest, ties to even, saturate to ±6; sign kept (-0 -> 0x8); NaN -> 0x7 (CUDA's
//   __nv_cvt_float_to_fp4; ml_dtypes gives 0x8, so NaN is never compared against it).
// - E4M3 "fn": RNE; NaN -> 0x7F whatever its sign. Two overflow behaviours, both real: satfinite
//   (CUDA kernels: |x| > 464 and ±Inf -> ±448) and NaN-on-overflow (torch .to(), ml_dtypes:
//   |x| > 464 and ±Inf -> sign|0x7F).
// - BF16, F16: RNE, NaN stays NaN (quiet).
#pragma once
#include <cstdint>

#include "core/codecs.h"

namespace nvfp4 {

inline std::uint8_t f32_to_e2m1(float x);
inline std::uint8_t f32_to_e4m3_satfinite(float x);
inline std::uint8_t f32_to_e4m3_nan_overflow(float x);
std::uint16_t f32_to_bf16(float x);
std::uint16_t f32_to_f16(float x);

// Encoders are inline so that exhaustive sweeps and bulk loops can vectorize them.
namespace codec_detail {

// Rounds m / 2^shift to the nearest integer, ties to even, for m < 2^24. A shift past 31 is
// clamped to 31: the quotient is then 0 and the remainder below one half, as it should. Callers
// compute this for every input and select the result only where it applies, so shifts below 1
// (inputs outside the subnormal range) are clamped to stay defined. Written as selects, not
// branches, so that bulk loops vectorize.
inline std::uint32_t rne_shift(std::uint32_t m, int shift) {
  std::uint32_t s = static_cast<std::uint32_t>(shift > 31 ? 31 : shift < 1 ? 1 : shift);
  std::uint32_t q = m >> s;
  std::uint32_t rem = m & ((1u << s) - 1u);
  std::uint32_t half = 1u << (s - 1u);
  return q + static_cast<std::uint32_t>((rem > half) | ((rem == half) & (q & 1u)));
}

// Significand (with the implicit bit) and the binary exponent e such that |x| = m * 2^(e-150)
// for the f32 magnitude bits a.
inline void split(std::uint32_t a, std::uint32_t& m, int& e) {
  int be = static_cast<int>(a >> 23);
  m = (a & 0x7FFFFFu) | (be ? 0x800000u : 0u);
  e = be > 1 ? be : 1;
}

// Rounds the f32 magnitude a to `keep` mantissa bits, RNE, returning the f32 exponent|mantissa
// field shifted down; the caller rebiases.
inline std::uint32_t rne_mantissa(std::uint32_t a, int keep) {
  int drop = 23 - keep;
  return (a + ((1u << (drop - 1)) - 1) + ((a >> drop) & 1u)) >> drop;
}

// Subnormal-range code of magnitude bits a: RNE(|x| * 2^scale_log2) for |x| below the format's
// smallest normal.
inline std::uint32_t rne_scaled(std::uint32_t a, int shift_base) {
  std::uint32_t m;
  int e;
  split(a, m, e);
  return rne_shift(m, shift_base - e);
}

}  // namespace codec_detail

inline std::uint8_t f32_to_e2m1(float x) {
  using namespace codec_detail;
  std::uint32_t b = f32_bits(x);
  std::uint32_t sign = (b >> 28) & 0x8u;
  std::uint32_t a = b & 0x7FFFFFFFu;
  std::uint32_t normal = rne_mantissa(a, 1) - ((127u - 1u) << 1);  // [1, 5): 1 mantissa bit
  std::uint32_t sub = rne_scaled(a, 149);                           // [0, 1): multiples of 0.5
  std::uint32_t code = a >= 0x3F800000u ? normal : sub;
  code = a == 0x40A00000u ? 0x6u : code;                            // 5.0 ties to 4.0
  code = a > 0x40A00000u ? 0x7u : code;                             // > 5 and Inf saturate to 6
  code |= sign;
  return static_cast<std::uint8_t>(a > 0x7F800000u ? 0x7u : code);  // NaN
}

namespace codec_detail {
inline std::uint8_t e4m3_encode(float x, bool satfinite) {
  std::uint32_t b = f32_bits(x);
  std::uint32_t sign = (b >> 24) & 0x80u;
  std::uint32_t a = b & 0x7FFFFFFFu;
  std::uint32_t normal = rne_mantissa(a, 3) - ((127u - 7u) << 3);  // >= 2^-6: 3 mantissa bits
  std::uint32_t sub = rne_scaled(a, 141);                           // multiples of 2^-9
  std::uint32_t code = a >= 0x3C800000u ? normal : sub;
  code = a > 0x43E80000u ? (satfinite ? 0x7Eu : 0x7Fu) : code;     // > 464 (464 ties to 448)
  code |= sign;
  return static_cast<std::uint8_t>(a > 0x7F800000u ? 0x7Fu : code);  // NaN
}
}  // namespace codec_detail

inline std::uint8_t f32_to_e4m3_satfinite(float x) { return codec_detail::e4m3_encode(x, true); }
inline std::uint8_t f32_to_e4m3_nan_overflow(float x) { return codec_detail::e4m3_encode(x, false); }

}  // namespace nvfp4
