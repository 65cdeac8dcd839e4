// The optimized pipeline's own number conversions for derived data (docs/architecture.md#no-shared-transforms: never shared with
// reference/ or core/, so that agreement between the pipelines means something).
//
// Rounding is left to the FPU: for a magnitude a < 2^23 * u, with u a power of two, the f32 sum
// a + u * 2^23 lands in the binade whose spacing is u, so the addition itself rounds a to a multiple
// of u, to nearest, ties to even; subtracting u * 2^23 again is exact. Choosing u from a's
// exponent gives any narrower format's grid. Branch-free, so bulk loops vectorize.
//
// Conventions match docs/formats.md#number-formats and the reference: E2M1 saturates to ±6, keeps the sign of zero,
// NaN -> 0x7 (CUDA's choice); E4M3 satfinite: |x| > 464 and ±Inf -> ±448, NaN -> 0x7F.
#pragma once
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>

namespace nvfp4::opt {

inline std::uint32_t bits_of(float x) { return std::bit_cast<std::uint32_t>(x); }
inline float float_of(std::uint32_t b) { return std::bit_cast<float>(b); }

// a rounded to a multiple of the power of two whose f32 bits are u_bits (ties to even).
inline float round_to_grid(float a, std::uint32_t u_bits) {
  const float c = float_of(u_bits + (23u << 23));  // u * 2^23
  return (a + c) - c;
}

inline std::uint8_t e4m3_satfinite(float x) {
  const std::uint32_t b = bits_of(x);
  const std::uint32_t sign = (b >> 24) & 0x80u;
  const std::uint32_t ab = b & 0x7FFFFFFFu;
  const float a = float_of(ab);
  // Grid spacing: 2^(e-3) in a normal binade 2^e >= 2^-6, 2^-9 in the subnormal range.
  const std::uint32_t e_bits = ab & 0x7F800000u;
  const std::uint32_t floor_bits = (127u - 6u) << 23;
  const float r = round_to_grid(a, (e_bits > floor_bits ? e_bits : floor_bits) - (3u << 23));
  const std::uint32_t normal = (bits_of(r) >> 20) - ((127u - 7u) << 3);  // exponent|3 mantissa bits, rebiased
  // Multiples of 2^-9; clamped first so that the unselected lanes convert in range (no UB).
  const std::uint32_t sub = static_cast<std::uint32_t>((r < 0.015625f ? r : 0.015625f) * 512.0f);
  std::uint32_t code = r < 0.015625f ? sub : normal;
  code = a > 464.0f ? 0x7Eu : code;  // 464 itself ties to 448 above
  code |= sign;
  return static_cast<std::uint8_t>(ab > 0x7F800000u ? 0x7Fu : code);
}

inline std::uint8_t e2m1(float x) {
  const std::uint32_t b = bits_of(x);
  const std::uint32_t sign = (b >> 28) & 0x8u;
  const std::uint32_t ab = b & 0x7FFFFFFFu;
  const float a = float_of(ab);
  // Grid spacing: 2^(e-1) in a binade 2^e >= 1, 0.5 below 1 (the one subnormal, 0.5).
  const std::uint32_t e_bits = ab & 0x7F800000u;
  const std::uint32_t one_bits = 127u << 23;
  const float r = round_to_grid(a, (e_bits > one_bits ? e_bits : one_bits) - (1u << 23));
  const std::uint32_t normal = (bits_of(r) >> 22) - (126u << 1);  // 1.0 -> 2, 1.5 -> 3, ..., 4.0 -> 6
  const std::uint32_t sub = static_cast<std::uint32_t>((r < 1.0f ? r : 1.0f) * 2.0f);  // 0 or 0.5
  std::uint32_t code = r < 1.0f ? sub : normal;
  code = a > 5.0f ? 0x7u : code;  // (5, 6] and beyond saturate to 6; 5 ties to 4 above
  code |= sign;
  return static_cast<std::uint8_t>(ab > 0x7F800000u ? 0x7u : code);
}

// Decoding tables, built from the formats' bit fields.
struct E4M3Table {
  std::array<float, 256> value;
  E4M3Table() {
    for (int c = 0; c < 256; ++c) {
      const int e = (c >> 3) & 15, m = c & 7;
      float v = e == 0 ? std::ldexp(static_cast<float>(m), -9) : std::ldexp(static_cast<float>(8 + m), e - 10);
      if ((c & 0x7F) == 0x7F) v = NAN;
      value[static_cast<std::size_t>(c)] = (c & 0x80) ? -v : v;
    }
  }
};
inline const E4M3Table kE4M3;
inline float e4m3_value(std::uint8_t c) { return kE4M3.value[c]; }

// E2M1 magnitudes doubled are the integers 0, 1, 2, 3, 4, 6, 8, 12: a block dot product is exact in int32.
inline constexpr std::array<std::int8_t, 16> kE2M1Doubled = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
inline float e2m1_value(std::uint8_t code) { return 0.5f * static_cast<float>(kE2M1Doubled[code & 0xF]); }

inline float bf16_value(std::uint16_t h) { return float_of(static_cast<std::uint32_t>(h) << 16); }

inline float f16_value(std::uint16_t h) {
  const std::uint32_t e = (h >> 10) & 31u, m = h & 1023u;
  float v = e == 0 ? std::ldexp(static_cast<float>(m), -24)
          : e == 31 ? (m ? NAN : INFINITY)
                    : std::ldexp(static_cast<float>(1024u + m), static_cast<int>(e) - 25);
  return (h & 0x8000u) ? -v : v;
}

// f32 -> BF16, ties to even; keeps NaN quiet. BF16 shares f32's exponent range, so the rounding is
// on the bit pattern: adding 0x7FFF plus the kept LSB carries into the kept bits exactly at or past
// the midpoint (and into the exponent, up to Inf, where it should).
inline std::uint16_t to_bf16(float x) {
  const std::uint32_t b = bits_of(x);
  if ((b & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((b >> 16) | 0x40u);
  return static_cast<std::uint16_t>((b + 0x7FFFu + ((b >> 16) & 1u)) >> 16);
}

// f32 -> F16, ties to even, overflow to Inf, NaN quiet.
inline std::uint16_t to_f16(float x) {
  const std::uint32_t b = bits_of(x);
  const std::uint16_t sign = static_cast<std::uint16_t>((b >> 16) & 0x8000u);
  const std::uint32_t ab = b & 0x7FFFFFFFu;
  if (ab > 0x7F800000u) return sign | 0x7E00u;
  const float a = float_of(ab);
  if (a >= 65520.0f) return sign | 0x7C00u;  // the midpoint of 65504 and 2^16 ties up to Inf
  const std::uint32_t e_bits = ab & 0x7F800000u, floor_bits = (127u - 14u) << 23;
  const float r = round_to_grid(a, (e_bits > floor_bits ? e_bits : floor_bits) - (10u << 23));
  const std::uint32_t code = r < 6.103515625e-05f ? static_cast<std::uint32_t>(r * 16777216.0f)  // multiples of 2^-24
                                                  : (bits_of(r) >> 13) - ((127u - 15u) << 10);
  return static_cast<std::uint16_t>(sign | code);
}

}  // namespace nvfp4::opt
