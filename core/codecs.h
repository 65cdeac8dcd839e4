// Scalar codecs for reading, writing and printing files. The pipelines do NOT use these for derived
// data (DESIGN §2): reference/ and optimized/ each carry their own conversions, so that their
// agreement means something.
//
// Conventions (NVFP4-SPEC §1):
// - E2M1: round to nearest, ties to even, saturate to ±6; sign kept (-0 -> 0x8); NaN -> 0x7 (CUDA's
//   choice; ml_dtypes gives 0x8, so NaN is never compared against it).
// - E4M3 "fn": RNE; NaN -> 0x7F whatever its sign. Two overflow behaviours, both real: satfinite
//   (CUDA kernels: |x| > 464 and ±Inf -> ±448) and NaN-on-overflow (torch .to(), ml_dtypes:
//   |x| > 464 and ±Inf -> sign|0x7F).
// - BF16, F16: RNE, NaN stays NaN (quiet).
#pragma once
#include <bit>
#include <cstdint>

namespace nvfp4 {

float e2m1_to_f32(std::uint8_t code);  // low nibble used
std::uint8_t f32_to_e2m1(float x);
// Nibble packing: the element with the even K index sits in the low nibble.
inline std::uint8_t pack_e2m1(std::uint8_t even, std::uint8_t odd) {
  return static_cast<std::uint8_t>((even & 0xF) | ((odd & 0xF) << 4));
}
inline std::uint8_t e2m1_even(std::uint8_t byte) { return byte & 0xF; }
inline std::uint8_t e2m1_odd(std::uint8_t byte) { return byte >> 4; }

float e4m3_to_f32(std::uint8_t code);
std::uint8_t f32_to_e4m3_satfinite(float x);
std::uint8_t f32_to_e4m3_nan_overflow(float x);
inline bool e4m3_is_nan(std::uint8_t c) { return (c & 0x7F) == 0x7F; }

float bf16_to_f32(std::uint16_t h);
std::uint16_t f32_to_bf16(float x);
float f16_to_f32(std::uint16_t h);
std::uint16_t f32_to_f16(float x);

inline std::uint32_t f32_bits(float x) { return std::bit_cast<std::uint32_t>(x); }
inline float f32_from_bits(std::uint32_t b) { return std::bit_cast<float>(b); }

}  // namespace nvfp4
