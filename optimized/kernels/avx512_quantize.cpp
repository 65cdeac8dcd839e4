#include "optimized/kernels/avx512_quantize.h"

#include <cfloat>

#include "optimized/codecs.h"

namespace nvfp4::opt::avx512 {

__m128i e2m1_16(__m512 x) {
  // The lanes of optimized/codecs.h e2m1(), step for step.
  const __m512i b = _mm512_castps_si512(x);
  const __m512i sign = _mm512_and_si512(_mm512_srli_epi32(b, 28), _mm512_set1_epi32(8));
  const __m512i ab = _mm512_and_si512(b, _mm512_set1_epi32(0x7FFFFFFF));
  const __m512 a = _mm512_castsi512_ps(ab);
  const __m512i e_bits = _mm512_and_si512(ab, _mm512_set1_epi32(0x7F800000));
  const __m512i u_bits = _mm512_sub_epi32(_mm512_max_epu32(e_bits, _mm512_set1_epi32(127 << 23)), _mm512_set1_epi32(1 << 23));
  const __m512 c = _mm512_castsi512_ps(_mm512_add_epi32(u_bits, _mm512_set1_epi32(23 << 23)));
  const __m512 r = _mm512_sub_ps(_mm512_add_ps(a, c), c);
  const __m512i normal = _mm512_sub_epi32(_mm512_srli_epi32(_mm512_castps_si512(r), 22), _mm512_set1_epi32(126 << 1));
  const __mmask16 below_one = _mm512_cmp_ps_mask(r, _mm512_set1_ps(1.0f), _CMP_LT_OQ);
  const __m512i sub = _mm512_cvttps_epi32(_mm512_mul_ps(_mm512_mask_blend_ps(below_one, _mm512_set1_ps(1.0f), r), _mm512_set1_ps(2.0f)));
  __m512i code = _mm512_mask_blend_epi32(below_one, normal, sub);
  code = _mm512_mask_blend_epi32(_mm512_cmp_ps_mask(a, _mm512_set1_ps(5.0f), _CMP_GT_OQ), code, _mm512_set1_epi32(7));
  code = _mm512_or_si512(code, sign);
  code = _mm512_mask_blend_epi32(_mm512_cmpgt_epu32_mask(ab, _mm512_set1_epi32(0x7F800000)), code, _mm512_set1_epi32(7));
  return _mm512_cvtepi32_epi8(code);
}

void quantize_row(const float* x, std::int64_t K, float gs, std::int8_t* doubled, float* scales) {
  const float sixth = 1.0f / 6.0f, inv_gs = 1.0f / gs;
  const __m128i table = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kE2M1Doubled.data()));
  const __m512i magnitude = _mm512_set1_epi32(0x7FFFFFFF);
  for (std::int64_t b = 0; b < K / 16; ++b) {
    const __m512 v = _mm512_loadu_ps(x + 16 * b);
    // max |x| ignoring NaN, as the scalar `a > vmax ? a : vmax` does: max_ps returns its second
    // operand (0) when the first is NaN.
    const __m512 a = _mm512_max_ps(_mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(v), magnitude)), _mm512_setzero_ps());
    const float vmax = _mm512_reduce_max_ps(a);
    const std::uint8_t S = e4m3_satfinite(vmax != 0.0f ? vmax * (gs * sixth) : 0.0f);
    const float r = 1.0f / (e4m3_value(S) * inv_gs);
    const float out_scale = vmax != 0.0f ? (FLT_MAX < r ? FLT_MAX : r) : 0.0f;
    scales[b] = e4m3_value(S);
    const __m128i codes = e2m1_16(_mm512_mul_ps(v, _mm512_set1_ps(out_scale)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(doubled + 16 * b), _mm_shuffle_epi8(table, codes));
  }
}

}  // namespace nvfp4::opt::avx512
