// quantize_rows for AVX2 machines (picked at run time by modelopt_quantize), written with
// intrinsics: the compiler would not vectorize the shared scalar body. Every operation is the
// scalar one lane by lane (max ignoring NaN, true division, the seven E2M1 thresholds of
// e2m1_magnitude_code, NaN -> 7, sign from x < 0), so the bytes are the same: the writer's tests and
// `nvfp4 make-checkpoint` outputs compare equal across the two paths (generator_unit: Quantizer).
// -ffp-contract=off (generator/CMakeLists.txt): no FMA may change a rounding.
#include <immintrin.h>

#include "generator/modelopt_quantize_rows.h"

namespace nvfp4::quantize_detail {

namespace {

// Eight E2M1 codes (in int32 lanes) of |x| / denom with x's sign.
inline __m256i codes8(__m256 x, __m256 denom) {
  const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  const __m256 m = _mm256_div_ps(_mm256_and_ps(x, absmask), denom);
  __m256i c = _mm256_setzero_si256();
  auto add = [&](__m256 mask) { c = _mm256_sub_epi32(c, _mm256_castps_si256(mask)); };  // a true lane is -1
  add(_mm256_cmp_ps(m, _mm256_set1_ps(0.25f), _CMP_GT_OQ));
  add(_mm256_cmp_ps(m, _mm256_set1_ps(0.75f), _CMP_GE_OQ));
  add(_mm256_cmp_ps(m, _mm256_set1_ps(1.25f), _CMP_GT_OQ));
  add(_mm256_cmp_ps(m, _mm256_set1_ps(1.75f), _CMP_GE_OQ));
  add(_mm256_cmp_ps(m, _mm256_set1_ps(2.5f), _CMP_GT_OQ));
  add(_mm256_cmp_ps(m, _mm256_set1_ps(3.5f), _CMP_GE_OQ));
  add(_mm256_cmp_ps(m, _mm256_set1_ps(5.0f), _CMP_GT_OQ));
  const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(m, m, _CMP_UNORD_Q));
  c = _mm256_blendv_epi8(c, _mm256_set1_epi32(7), nan);
  const __m256i neg = _mm256_castps_si256(_mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
  return _mm256_or_si256(c, _mm256_and_si256(neg, _mm256_set1_epi32(8)));
}

}  // namespace

void quantize_rows_avx2(const float* w, std::int64_t n0, std::int64_t n1, std::int64_t K, float s2, std::uint8_t zero_block_code,
                        std::uint8_t* packed, std::uint8_t* scales, const float* e4m3_values) {
  const float six_s2 = 6.0f * s2;  // ModelOpt forms 6*s2 first, then divides
  const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  for (std::int64_t n = n0; n < n1; ++n) {
    for (std::int64_t b = 0; b < K / 16; ++b) {
      const float* x = &w[n * K + 16 * b];
      const __m256 x0 = _mm256_loadu_ps(x), x1 = _mm256_loadu_ps(x + 8);
      // max(|x|, acc) returns acc where |x| is NaN: NaN skipped, as fmax.
      __m256 v = _mm256_max_ps(_mm256_and_ps(x0, absmask), _mm256_setzero_ps());
      v = _mm256_max_ps(_mm256_and_ps(x1, absmask), v);
      alignas(32) float lanes[8];
      _mm256_store_ps(lanes, v);
      float vmax = 0.0f;
      for (float l : lanes) vmax = l > vmax ? l : vmax;
      const float bs = vmax / six_s2;
      const std::uint8_t S = bs == 0.0f ? zero_block_code : f32_to_e4m3_nan_overflow(bs);
      scales[n * (K / 16) + b] = S;
      if (vmax == 0.0f) {  // codes 0x0, as the scalar body writes them
        for (int i = 0; i < 8; ++i) packed[n * (K / 2) + 8 * b + i] = 0;
        continue;
      }
      const __m256 denom = _mm256_set1_ps(e4m3_values[S] * s2);
      alignas(32) std::int32_t c[16];
      _mm256_store_si256(reinterpret_cast<__m256i*>(c), codes8(x0, denom));
      _mm256_store_si256(reinterpret_cast<__m256i*>(c + 8), codes8(x1, denom));
      for (int i = 0; i < 16; i += 2) packed[n * (K / 2) + 8 * b + i / 2] = static_cast<std::uint8_t>(c[i] | (c[i + 1] << 4));
    }
  }
}

}  // namespace nvfp4::quantize_detail
