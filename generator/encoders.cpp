#include "generator/encoders.h"

namespace nvfp4 {

std::uint16_t f32_to_bf16(float x) {
  std::uint32_t b = f32_bits(x);
  if ((b & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((b >> 16) | 0x40u);
  return static_cast<std::uint16_t>((b + 0x7FFFu + ((b >> 16) & 1u)) >> 16);
}

std::uint16_t f32_to_f16(float x) {
  using namespace codec_detail;
  std::uint32_t b = f32_bits(x);
  auto sign = static_cast<std::uint16_t>((b >> 16) & 0x8000u);
  std::uint32_t a = b & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return sign | 0x7E00u | static_cast<std::uint16_t>((a >> 13) & 0x3FFu);
  if (a >= 0x477FF000u) return sign | 0x7C00u;                     // >= 65520 rounds to Inf
  if (a >= 0x38800000u)                                            // >= 2^-14: normal
    return sign | static_cast<std::uint16_t>(rne_mantissa(a, 10) - ((127u - 15u) << 10));
  return sign | static_cast<std::uint16_t>(rne_scaled(a, 126));     // subnormal: multiples of 2^-24
}

}  // namespace nvfp4
