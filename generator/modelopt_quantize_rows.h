// The body of modelopt_quantize over rows [n0, n1), included by modelopt_quantize.cpp (baseline
// x86-64) and modelopt_quantize_avx2.cpp (compiled with AVX2, -ffp-contract=off so that no FMA
// changes a rounding): one source, two instruction sets, the same bytes.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "generator/encoders.h"

namespace nvfp4::quantize_detail {

// f32_to_e2m1 of a non-negative magnitude as seven comparisons, which vectorize: each threshold is
// the midpoint between two E2M1 values, strict where the tie goes down to the even code (0.25 -> 0,
// 1.25 -> 1.0, 2.5 -> 2.0, 5 -> 4.0), inclusive where it goes up (0.75 -> 1.0, 1.75 -> 2.0,
// 3.5 -> 4.0); NaN -> 7 as f32_to_e2m1 has it. Equal to f32_to_e2m1 on every non-negative float
// (generator_exhaustive: ExhaustiveE2M1.ThresholdsEqualTheEncoderOnEveryNonNegativeFloat).
inline std::uint8_t e2m1_magnitude_code(float m) {
  const int c = (m > 0.25f) + (m >= 0.75f) + (m > 1.25f) + (m >= 1.75f) + (m > 2.5f) + (m >= 3.5f) + (m > 5.0f);
  return static_cast<std::uint8_t>(m != m ? 7 : c);
}

inline void quantize_rows(const float* w, std::int64_t n0, std::int64_t n1, std::int64_t K, float s2, std::uint8_t zero_block_code,
                          std::uint8_t* packed, std::uint8_t* scales, const float* e4m3_values) {
  const float six_s2 = 6.0f * s2;  // ModelOpt forms 6*s2 first, then divides
  for (std::int64_t n = n0; n < n1; ++n) {
    for (std::int64_t b = 0; b < K / 16; ++b) {
      const float* x = &w[n * K + 16 * b];
      float vmax = 0.0f;
      for (int i = 0; i < 16; ++i) vmax = std::fabs(x[i]) > vmax ? std::fabs(x[i]) : vmax;  // fmax: NaN skipped
      const float bs = vmax / six_s2;
      // torch .to(float8_e4m3fn) without a clamp: NaN on overflow; zero blocks get zero_block_code.
      const std::uint8_t S = bs == 0.0f ? zero_block_code : f32_to_e4m3_nan_overflow(bs);
      scales[n * (K / 16) + b] = S;
      if (vmax == 0.0f) {  // codes 0x0 (whatever S is, even 0x00: no 0/0)
        for (int i = 0; i < 8; ++i) packed[n * (K / 2) + 8 * b + i] = 0;
        continue;
      }
      const float denom = e4m3_values[S] * s2;  // product first, then a true division
      // _cast_fp4: magnitude by RNE with saturation, sign from v < 0 (so -0.0 -> 0x0).
      std::uint8_t c[16];
      for (int i = 0; i < 16; ++i) c[i] = static_cast<std::uint8_t>(e2m1_magnitude_code(std::fabs(x[i] / denom)) | (x[i] < 0.0f ? 0x8 : 0x0));
      for (int i = 0; i < 16; i += 2) packed[n * (K / 2) + 8 * b + i / 2] = static_cast<std::uint8_t>(c[i] | (c[i + 1] << 4));
    }
  }
}

// The same rows through AVX-512 intrinsics (modelopt_quantize_avx512.cpp) and AVX2 ones
// (modelopt_quantize_avx2.cpp); only call where the CPU has them (modelopt_quantize_rows checks).
void quantize_rows_avx512(const float* w, std::int64_t n0, std::int64_t n1, std::int64_t K, float s2, std::uint8_t zero_block_code,
                          std::uint8_t* packed, std::uint8_t* scales, const float* e4m3_values);
// The AVX-512 path's e2m1_magnitude_code of n magnitudes (n a multiple of 16), for the exhaustive test.
void e2m1_magnitude_codes_avx512(const float* m, std::size_t n, std::uint8_t* codes);
// Whether quantize_rows_avx512 may run here (AVX-512 F, BW, DQ, VL and VBMI).
inline bool have_avx512_quantizer() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vbmi");
}

void quantize_rows_avx2(const float* w, std::int64_t n0, std::int64_t n1, std::int64_t K, float s2, std::uint8_t zero_block_code,
                        std::uint8_t* packed, std::uint8_t* scales, const float* e4m3_values);

}  // namespace nvfp4::quantize_detail
