// quantize_rows for AVX-512 machines with VBMI (picked at run time by modelopt_quantize_rows, before
// the AVX2 path): one 16-element block per register. The operations are the scalar body's lane by
// lane (max ignoring NaN, a true division, then the magnitude's absolute value, sign from x < 0)
// except that the seven E2M1 threshold comparisons become one table lookup (quarter_codes16), equal
// to e2m1_magnitude_code on every non-negative float and NaN (generator_exhaustive). -ffp-contract=off
// (generator/CMakeLists.txt): no FMA may change a rounding.
#include <immintrin.h>

#include "generator/modelopt_quantize_rows.h"

namespace nvfp4::quantize_detail {

namespace {

// code(k) for k = 2 * floor(4m) + (4m not whole), k <= 44: e2m1_magnitude_code's thresholds in
// quarters (m > 0.25 iff k > 2, m >= 0.75 iff k >= 6, m > 1.25 iff k > 10, m >= 1.75 iff k >= 14,
// m > 2.5 iff k > 20, m >= 3.5 iff k >= 28, m > 5 iff k > 40).
alignas(64) constexpr std::uint8_t kQuarterCodes[64] = {
    0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 6, 6, 6, 6,
    6, 6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7};

__m128i quarter_codes16(__m512 m) {
  // 4m is exact for m <= 5.5 (a power-of-two scaling), so its floor n and whether it had a fraction
  // say exactly on which side of each threshold (a multiple of a quarter) m lies. Above 5.5 every
  // code is 7: min clamps there, and min returns its second operand for NaN, so NaN -> 7 too.
  const __m512 q = _mm512_mul_ps(_mm512_min_ps(m, _mm512_set1_ps(5.5f)), _mm512_set1_ps(4.0f));
  const __m512i n = _mm512_cvttps_epi32(q);
  const __mmask16 frac = _mm512_cmp_ps_mask(_mm512_cvtepi32_ps(n), q, _CMP_NEQ_UQ);
  const __m512i k = _mm512_mask_add_epi32(_mm512_add_epi32(n, n), frac, _mm512_add_epi32(n, n), _mm512_set1_epi32(1));
  const __m512i table = _mm512_load_si512(kQuarterCodes);
  return _mm512_castsi512_si128(_mm512_permutexvar_epi8(_mm512_castsi128_si512(_mm512_cvtepi32_epi8(k)), table));
}

}  // namespace

void e2m1_magnitude_codes_avx512(const float* m, std::size_t n, std::uint8_t* codes) {
  for (std::size_t i = 0; i < n; i += 16) _mm_storeu_si128(reinterpret_cast<__m128i*>(codes + i), quarter_codes16(_mm512_loadu_ps(m + i)));
}

void quantize_rows_avx512(const float* w, std::int64_t n0, std::int64_t n1, std::int64_t K, float s2, std::uint8_t zero_block_code,
                          std::uint8_t* packed, std::uint8_t* scales, const float* e4m3_values) {
  const float six_s2 = 6.0f * s2;  // ModelOpt forms 6*s2 first, then divides
  const __m512 absmask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7FFFFFFF));
  const __m128i nibble_pairs = _mm_set1_epi16(0x1001);  // c[2j] + 16 * c[2j+1]
  for (std::int64_t n = n0; n < n1; ++n) {
    for (std::int64_t b = 0; b < K / 16; ++b) {
      const __m512 x = _mm512_loadu_ps(&w[n * K + 16 * b]);
      // max(|x|, 0) returns 0 where |x| is NaN: NaN skipped, as fmax; the rest is an exact max.
      const float vmax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_and_ps(x, absmask), _mm512_setzero_ps()));
      const float bs = vmax / six_s2;
      const std::uint8_t S = bs == 0.0f ? zero_block_code : f32_to_e4m3_nan_overflow(bs);
      scales[n * (K / 16) + b] = S;
      std::uint8_t* out = &packed[n * (K / 2) + 8 * b];
      if (vmax == 0.0f) {  // codes 0x0, as the scalar body writes them
        _mm_storel_epi64(reinterpret_cast<__m128i*>(out), _mm_setzero_si128());
        continue;
      }
      const __m512 m = _mm512_and_ps(_mm512_div_ps(x, _mm512_set1_ps(e4m3_values[S] * s2)), absmask);
      __m128i c = quarter_codes16(m);
      c = _mm_mask_blend_epi8(_mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ), c, _mm_or_si128(c, _mm_set1_epi8(8)));
      const __m128i pairs = _mm_maddubs_epi16(c, nibble_pairs);
      _mm_storel_epi64(reinterpret_cast<__m128i*>(out), _mm_packus_epi16(pairs, pairs));
    }
  }
}

}  // namespace nvfp4::quantize_detail
