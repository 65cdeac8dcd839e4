#include "optimized/kernels/avx512_quantize.h"

#include <cfloat>

#include "optimized/codecs.h"
#include "optimized/kernels/tiles.h"

namespace nvfp4::opt::avx512 {

namespace {

// The code of 16 floats in a small float format, lane by lane as optimized/codecs.h encodes one:
// |x| rounded to the format's grid (round_to_grid: spacing 2^(e - kMant) in a normal binade 2^e >=
// 2^kMinExp, 2^(kMinExp - kMant) below it), the code from the rounded value's bits (normal) or
// from it times 2^(kMant - kMinExp) (subnormal), kSat above sat_above, the sign bit, kNaN for NaN.
template <int kMant, int kMinExp, int kSignShift, int kSignBit, int kSat, int kNaN>
__m512i small_float_16(__m512 x, float sat_above) {
  const __m512i b = _mm512_castps_si512(x);
  const __m512i sign = _mm512_and_si512(_mm512_srli_epi32(b, kSignShift), _mm512_set1_epi32(kSignBit));
  const __m512i ab = _mm512_and_si512(b, _mm512_set1_epi32(0x7FFFFFFF));
  const __m512 a = _mm512_castsi512_ps(ab);
  const __m512i e_bits = _mm512_and_si512(ab, _mm512_set1_epi32(0x7F800000));
  const __m512i u_bits = _mm512_sub_epi32(_mm512_max_epu32(e_bits, _mm512_set1_epi32((127 + kMinExp) << 23)), _mm512_set1_epi32(kMant << 23));
  const __m512 c = _mm512_castsi512_ps(_mm512_add_epi32(u_bits, _mm512_set1_epi32(23 << 23)));
  const __m512 r = _mm512_sub_ps(_mm512_add_ps(a, c), c);
  const __m512i normal = _mm512_sub_epi32(_mm512_srli_epi32(_mm512_castps_si512(r), 23 - kMant), _mm512_set1_epi32((127 + kMinExp - 1) << kMant));
  const __m512 min_normal = _mm512_castsi512_ps(_mm512_set1_epi32((127 + kMinExp) << 23));
  const __mmask16 subnormal = _mm512_cmp_ps_mask(r, min_normal, _CMP_LT_OQ);
  const __m512 to_units = _mm512_castsi512_ps(_mm512_set1_epi32((127 + kMant - kMinExp) << 23));
  const __m512i sub = _mm512_cvttps_epi32(_mm512_mul_ps(_mm512_mask_blend_ps(subnormal, min_normal, r), to_units));
  __m512i code = _mm512_mask_blend_epi32(subnormal, normal, sub);
  code = _mm512_mask_blend_epi32(_mm512_cmp_ps_mask(a, _mm512_set1_ps(sat_above), _CMP_GT_OQ), code, _mm512_set1_epi32(kSat));
  code = _mm512_or_si512(code, sign);
  return _mm512_mask_blend_epi32(_mm512_cmpgt_epu32_mask(ab, _mm512_set1_epi32(0x7F800000)), code, _mm512_set1_epi32(kNaN));
}

// E2M1: 1 mantissa bit, normal from 2^0, saturating above 5 (itself a tie to 4) at 6, NaN -> 7.
// (Inlined into the row loop: a call per 16-element block measured 2% of a GEMM at M = 128.)
__attribute__((always_inline)) inline __m128i e2m1_codes(__m512 x) {
  return _mm512_cvtepi32_epi8(small_float_16<1, 0, 28, 0x8, 0x7, 0x7>(x, 5.0f));
}

}  // namespace

__m128i e2m1_16(__m512 x) { return e2m1_codes(x); }

// E4M3 satfinite: 3 mantissa bits, normal from 2^-6, saturating above 464 (itself a tie to 448) at 448.
__m512i e4m3_16(__m512 x) { return small_float_16<3, -6, 24, 0x80, 0x7E, 0x7F>(x, 464.0f); }

namespace {

// max |x| of one block ignoring NaN, as the scalar `a > vmax ? a : vmax` does: max_ps returns its
// second operand (0) when the first is NaN.
inline float block_max(const float* x) {
  const __m512 a = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(_mm512_loadu_ps(x)), _mm512_set1_epi32(0x7FFFFFFF)));
  return _mm512_reduce_max_ps(_mm512_max_ps(a, _mm512_setzero_ps()));
}

// Block b's codes, scaled by out_scale, as 2 e2m1 through the table.
inline void store_codes(const float* x, std::int64_t b, float out_scale, __m128i table, std::int8_t* doubled) {
  const __m128i codes = e2m1_codes(_mm512_mul_ps(_mm512_loadu_ps(x + 16 * b), _mm512_set1_ps(out_scale)));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(doubled + 16 * b), _mm_shuffle_epi8(table, codes));
}

// Blocks b .. b + n - 1 (n <= 16) of a row: their scales as lanes of one vector (the scalar
// expressions lane by lane, IEEE multiply and divide, so bitwise the same), which the scalar chain
// per block (a divide on it) made ~5% of a w4a4 GEMM at M = 128. Lanes past n have vmax 0, are
// computed and not stored. (Inlined twice: n = 16 constant for the whole groups.)
__attribute__((always_inline)) inline void quantize_group(const float* x, std::int64_t b, int n, float enc, float inv_gs, __m128i table,
                                                          std::int8_t* doubled, float* scales) {
  static_assert(tiles::kQuantizeGroupBlocks == 16, "one block per lane of a zmm");
  alignas(64) float vmax[16], out_scale[16];
  for (int i = 0; i < 16; ++i) vmax[i] = i < n ? block_max(x + 16 * (b + i)) : 0.0f;
  const __m512 m = _mm512_load_ps(vmax);
  const __mmask16 nonzero = _mm512_cmp_ps_mask(m, _mm512_setzero_ps(), _CMP_NEQ_UQ);  // vmax != 0
  const __m512i S = e4m3_16(_mm512_maskz_mul_ps(nonzero, m, _mm512_set1_ps(enc)));
  const __m512 value = _mm512_i32gather_ps(S, kE4M3.value.data(), 4);
  const __m512 r = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_mul_ps(value, _mm512_set1_ps(inv_gs)));
  const __m512 clamped = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(_mm512_set1_ps(FLT_MAX), r, _CMP_LT_OQ), r, _mm512_set1_ps(FLT_MAX));
  _mm512_store_ps(out_scale, _mm512_maskz_mov_ps(nonzero, clamped));
  _mm512_mask_storeu_ps(scales + b, static_cast<__mmask16>((1u << n) - 1), value);
  for (int i = 0; i < n; ++i) store_codes(x, b + i, out_scale[i], table, doubled);
}

}  // namespace

// kQuantizeGroupBlocks blocks at a time, the last group partial.
void quantize_row(const float* x, std::int64_t K, float gs, std::int8_t* doubled, float* scales) {
  const float sixth = 1.0f / 6.0f, inv_gs = 1.0f / gs, enc = gs * sixth;
  const __m128i table = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kE2M1Doubled.data()));
  const std::int64_t blocks = K / 16;
  std::int64_t b = 0;
  for (; b + 16 <= blocks; b += 16) quantize_group(x, b, 16, enc, inv_gs, table, doubled, scales);
  if (b < blocks) quantize_group(x, b, static_cast<int>(blocks - b), enc, inv_gs, table, doubled, scales);
}

}  // namespace nvfp4::opt::avx512
