// Scalar decoders for reading and printing files: E2M1, E4M3, BF16 and F16 codes to f32, and the
// nibble order of packed E2M1. Only decoders live here. The encoders that write files are the
// generator's (generator/encoders.h), which no pipeline links: reference/ and optimized/ each carry
// their own conversions for derived data, so that their agreement means something
// (docs/architecture.md#no-shared-transforms; the formats: docs/formats.md#number-formats).
//
// Value sets: E2M1 is sign, 2 exponent bits (bias 1), 1 mantissa bit (0, 0.5, 1, 1.5, 2, 3, 4, 6);
// E4M3 "fn" is bias 7 with no infinities, S.1111.111 being NaN (max finite 448).
#pragma once
#include <bit>
#include <cstdint>

namespace nvfp4 {

float e2m1_to_f32(std::uint8_t code);  // low nibble used
// Nibble packing: the element with the even K index sits in the low nibble.
inline std::uint8_t pack_e2m1(std::uint8_t even, std::uint8_t odd) {
  return static_cast<std::uint8_t>((even & 0xF) | ((odd & 0xF) << 4));
}
inline std::uint8_t e2m1_even(std::uint8_t byte) { return byte & 0xF; }
inline std::uint8_t e2m1_odd(std::uint8_t byte) { return byte >> 4; }

float e4m3_to_f32(std::uint8_t code);
inline bool e4m3_is_nan(std::uint8_t c) { return (c & 0x7F) == 0x7F; }

float bf16_to_f32(std::uint16_t h);
float f16_to_f32(std::uint16_t h);

inline std::uint32_t f32_bits(float x) { return std::bit_cast<std::uint32_t>(x); }
inline float f32_from_bits(std::uint32_t b) { return std::bit_cast<float>(b); }

}  // namespace nvfp4
