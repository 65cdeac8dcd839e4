#include "core/codecs.h"

#include <algorithm>

namespace nvfp4 {
namespace {

// Rounds m / 2^shift to the nearest integer, ties to even.
std::uint32_t rne_shift(std::uint32_t m, int shift) {
  if (shift <= 0) return m << -shift;
  if (shift > 31) return 0;  // m < 2^24 here, so the quotient is below one half
  std::uint32_t q = m >> shift;
  std::uint32_t rem = m & ((1u << shift) - 1);
  std::uint32_t half = 1u << (shift - 1);
  if (rem > half || (rem == half && (q & 1u))) ++q;
  return q;
}

// Significand (with the implicit bit) and the binary exponent e such that |x| = m * 2^(e-150)
// for the f32 magnitude bits a.
inline void split(std::uint32_t a, std::uint32_t& m, int& e) {
  int be = static_cast<int>(a >> 23);
  m = (a & 0x7FFFFFu) | (be ? 0x800000u : 0u);
  e = std::max(be, 1);
}

// Rounds the f32 magnitude a (a normal in the target format) to `keep` mantissa bits, RNE,
// returning the f32 exponent|mantissa field shifted down; the caller rebiases.
inline std::uint32_t rne_mantissa(std::uint32_t a, int keep) {
  int drop = 23 - keep;
  return (a + ((1u << (drop - 1)) - 1) + ((a >> drop) & 1u)) >> drop;
}

}  // namespace

float e2m1_to_f32(std::uint8_t code) {
  static constexpr float kLut[16] = {0.f,  0.5f,  1.f,  1.5f,  2.f,  3.f,  4.f,  6.f,
                                     -0.f, -0.5f, -1.f, -1.5f, -2.f, -3.f, -4.f, -6.f};
  return kLut[code & 0xF];
}

std::uint8_t f32_to_e2m1(float x) {
  std::uint32_t b = f32_bits(x);
  auto sign = static_cast<std::uint8_t>((b >> 28) & 0x8u);
  std::uint32_t a = b & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return 0x7;                                 // NaN
  if (a > 0x40A00000u) return sign | 0x7;                          // > 5.0 (incl. Inf): 6.0
  if (a == 0x40A00000u) return sign | 0x6;                         // 5.0 ties to 4.0
  if (a >= 0x3F800000u)                                            // [1, 5): normal, 1 mantissa bit
    return sign | static_cast<std::uint8_t>(rne_mantissa(a, 1) - ((127u - 1u) << 1));
  std::uint32_t m; int e;                                          // [0, 1): multiples of 0.5
  split(a, m, e);
  return sign | static_cast<std::uint8_t>(rne_shift(m, 149 - e));
}

float e4m3_to_f32(std::uint8_t c) {
  int exp = (c >> 3) & 0xF, man = c & 7;
  float mag;
  if (exp == 15 && man == 7) mag = __builtin_nanf("");
  else if (exp == 0) mag = static_cast<float>(man) * (1.0f / 512.0f);
  else mag = (1.0f + static_cast<float>(man) / 8.0f) * f32_from_bits(static_cast<std::uint32_t>(exp - 7 + 127) << 23);
  return (c & 0x80) ? -mag : mag;
}

namespace {
std::uint8_t e4m3_encode(float x, bool satfinite) {
  std::uint32_t b = f32_bits(x);
  auto sign = static_cast<std::uint8_t>((b >> 24) & 0x80u);
  std::uint32_t a = b & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return 0x7F;                                // NaN
  if (a > 0x43E80000u) return sign | (satfinite ? 0x7E : 0x7F);    // > 464 (464 ties to 448)
  if (a >= 0x3C800000u)                                            // >= 2^-6: normal, 3 mantissa bits
    return sign | static_cast<std::uint8_t>(rne_mantissa(a, 3) - ((127u - 7u) << 3));
  std::uint32_t m; int e;                                          // subnormal: multiples of 2^-9
  split(a, m, e);
  return sign | static_cast<std::uint8_t>(rne_shift(m, 141 - e));
}
}  // namespace

std::uint8_t f32_to_e4m3_satfinite(float x) { return e4m3_encode(x, true); }
std::uint8_t f32_to_e4m3_nan_overflow(float x) { return e4m3_encode(x, false); }

float bf16_to_f32(std::uint16_t h) { return f32_from_bits(static_cast<std::uint32_t>(h) << 16); }

std::uint16_t f32_to_bf16(float x) {
  std::uint32_t b = f32_bits(x);
  if ((b & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((b >> 16) | 0x40u);
  return static_cast<std::uint16_t>((b + 0x7FFFu + ((b >> 16) & 1u)) >> 16);
}

float f16_to_f32(std::uint16_t h) {
  std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  int exp = (h >> 10) & 0x1F;
  std::uint32_t man = h & 0x3FFu;
  if (exp == 0x1F) return f32_from_bits(sign | 0x7F800000u | (man << 13));
  if (exp == 0) {
    float v = static_cast<float>(man) * (1.0f / 16777216.0f);  // man * 2^-24, exact
    return sign ? -v : v;
  }
  return f32_from_bits(sign | (static_cast<std::uint32_t>(exp - 15 + 127) << 23) | (man << 13));
}

std::uint16_t f32_to_f16(float x) {
  std::uint32_t b = f32_bits(x);
  auto sign = static_cast<std::uint16_t>((b >> 16) & 0x8000u);
  std::uint32_t a = b & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return sign | 0x7E00u | static_cast<std::uint16_t>((a >> 13) & 0x3FFu);
  if (a >= 0x477FF000u) return sign | 0x7C00u;                     // >= 65520 rounds to Inf
  if (a >= 0x38800000u)                                            // >= 2^-14: normal
    return sign | static_cast<std::uint16_t>(rne_mantissa(a, 10) - ((127u - 15u) << 10));
  std::uint32_t m; int e;                                          // subnormal: multiples of 2^-24
  split(a, m, e);
  return sign | static_cast<std::uint16_t>(rne_shift(m, 126 - e));
}

}  // namespace nvfp4
