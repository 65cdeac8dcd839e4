#include "core/codecs.h"

namespace nvfp4 {
float e2m1_to_f32(std::uint8_t code) {
  static constexpr float kLut[16] = {0.f,  0.5f,  1.f,  1.5f,  2.f,  3.f,  4.f,  6.f,
                                     -0.f, -0.5f, -1.f, -1.5f, -2.f, -3.f, -4.f, -6.f};
  return kLut[code & 0xF];
}

float e4m3_to_f32(std::uint8_t c) {
  int exp = (c >> 3) & 0xF, man = c & 7;
  float mag;
  if (exp == 15 && man == 7) mag = __builtin_nanf("");
  else if (exp == 0) mag = static_cast<float>(man) * (1.0f / 512.0f);
  else mag = (1.0f + static_cast<float>(man) / 8.0f) * f32_from_bits(static_cast<std::uint32_t>(exp - 7 + 127) << 23);
  return (c & 0x80) ? -mag : mag;
}

float bf16_to_f32(std::uint16_t h) { return f32_from_bits(static_cast<std::uint32_t>(h) << 16); }

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

}  // namespace nvfp4
