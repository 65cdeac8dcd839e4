// AVX2 kernels (with FMA and F16C). Compiled with those flags; called only when the CPU has them.
//
// The layout of avx512.cpp at half the width: K goes in chunks of 32, whose 16 packed bytes give
// the code of k = 2j in byte j and that of k = 2j + 1 in byte 16 + j; dword lane i then holds 4
// codes of block (i % 4) / 2 of the chunk, and the activations are permuted alike once per GEMM.
// w4a4: vpmaddubsw multiplies u8 weights 2 e2m1 + 12 (0..24) with s8 activations 2 e2m1(x)
// (pairs at most 2 * 24 * 12 = 576: no saturation), vpmaddwd adds the pairs into exact int32 quad
// sums, the offset's 12 * (quad sum of x) is taken off by starting from its negation (prepared),
// then one f32 FMA per quad with Sw * Sx. w4a16: vpshufb gives s8 2 e2m1, converted to f32 and
// multiplied by S / 2 (exact), one FMA per element.
#include <immintrin.h>

#include <cstring>

#include "optimized/codecs.h"
#include "optimized/kernels/dispatch.h"
#include "optimized/kernels/kernels.h"
#include "optimized/kernels/tiles.h"

namespace nvfp4::opt {
namespace {

constexpr std::int64_t kChunk = tiles::kAvx2ChunkK;

__m256i table32(const std::int8_t (&t)[16]) {
  return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(t)));
}
constexpr std::int8_t kOffsetCodes[16] = {12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0};
constexpr std::int8_t kDoubledCodes[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// The chunk's codes in bits 0..3 of each byte; a row ending mid-chunk (K % 32 == 16) reads 8 bytes.
inline __m256i chunk_codes(const std::uint8_t* p, std::int64_t K, std::int64_t c) {
  const __m128i b = K / 2 - 16 * c >= 16 ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(p))
                                         : _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  const __m256i v = _mm256_broadcastsi128_si256(b);
  return _mm256_and_si256(_mm256_blend_epi32(v, _mm256_srli_epi16(v, 4), 0xF0), _mm256_set1_epi8(0x0F));
}

struct Layout {
  std::size_t corr = 0, sx = 0;
};

Layout layout(GemmMode mode, const Activations& a) {
  Layout l;
  if (mode == GemmMode::W4A4) {
    l.corr = static_cast<std::size_t>(a.M * a.Kp);
    l.sx = l.corr + static_cast<std::size_t>(a.M * (a.Kp / kChunk) * 8 * 4);
  }
  return l;
}

std::size_t prepared_bytes(GemmMode mode, const Activations& a) {
  if (mode == GemmMode::W4A16) return static_cast<std::size_t>(a.M * a.Kp) * 4;
  return layout(mode, a).sx + static_cast<std::size_t>(a.M * (a.Kp / kChunk) * 8 * 4);
}

void prepare(GemmMode mode, const Activations& a, Prepared& p, std::int64_t m0, std::int64_t m1) {
  const std::int64_t nch = a.Kp / kChunk;
  if (mode == GemmMode::W4A16) {
    float* xp = p.as<float>();
    for (std::int64_t m = m0; m < m1; ++m)
      for (std::int64_t c = 0; c < nch; ++c)
        for (std::int64_t j = 0; j < 16; ++j) {
          xp[m * a.Kp + c * kChunk + j] = a.f[m * a.Kp + c * kChunk + 2 * j];
          xp[m * a.Kp + c * kChunk + 16 + j] = a.f[m * a.Kp + c * kChunk + 2 * j + 1];
        }
    return;
  }
  const Layout l = layout(mode, a);
  std::int8_t* xp = p.as<std::int8_t>();
  std::int32_t* corr = p.as<std::int32_t>(l.corr);
  float* sx = p.as<float>(l.sx);
  for (std::int64_t m = m0; m < m1; ++m)
    for (std::int64_t c = 0; c < nch; ++c) {
      std::int8_t* x = xp + m * a.Kp + c * kChunk;
      for (std::int64_t j = 0; j < 16; ++j) {
        x[j] = a.q[m * a.Kp + c * kChunk + 2 * j];
        x[16 + j] = a.q[m * a.Kp + c * kChunk + 2 * j + 1];
      }
      for (int i = 0; i < 8; ++i) {
        corr[(m * nch + c) * 8 + i] = -12 * (x[4 * i] + x[4 * i + 1] + x[4 * i + 2] + x[4 * i + 3]);
        sx[(m * nch + c) * 8 + i] = a.s[m * (a.Kp / 16) + 2 * c + (i % 4) / 2];
      }
    }
}

// E4M3 values of the chunk's two block scales (bytes 0 and 1 at s).
inline void chunk_scales(const std::uint8_t* s, float& s0, float& s1) {
  s0 = e4m3_value(s[0] & 0x7F);
  s1 = e4m3_value(s[1] & 0x7F);
}

template <int MT>
void w4a4_tile(const GemmWeights& w, const Activations& a, const Prepared& p, const Layout& l, std::int64_t m0, std::int64_t n,
               float* out) {
  const std::int64_t nch = a.Kp / kChunk;
  const __m256i lut = table32(kOffsetCodes), ones = _mm256_set1_epi16(1);
  const std::uint8_t* row = w.packed + n * w.row_bytes;
  const std::uint8_t* srow = w.scales + w.swizzle->rows()[n];
  const std::int8_t* xp = p.as<std::int8_t>() + m0 * a.Kp;
  const std::int32_t* corr = p.as<std::int32_t>(l.corr) + m0 * nch * 8;
  const float* sx = p.as<float>(l.sx) + m0 * nch * 8;
  __m256 acc[MT];
  for (int j = 0; j < MT; ++j) acc[j] = _mm256_setzero_ps();
  // Chunks past K (the buffers are padded to 64) hold zero activations and no weight bytes.
  for (std::int64_t c = 0; c < (w.K + kChunk - 1) / kChunk; ++c) {
    const __m256i wv = _mm256_shuffle_epi8(lut, chunk_codes(row + 16 * c, w.K, c));
    float s0, s1;
    chunk_scales(srow + (c / 2) * 512 + (c % 2) * 2, s0, s1);
    const __m256 sw = _mm256_setr_ps(s0, s0, s1, s1, s0, s0, s1, s1);
    for (int j = 0; j < MT; ++j) {
      const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xp + j * a.Kp + c * kChunk));
      __m256i q = _mm256_madd_epi16(_mm256_maddubs_epi16(wv, x), ones);
      q = _mm256_add_epi32(q, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(corr + (j * nch + c) * 8)));
      acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(q), _mm256_mul_ps(sw, _mm256_loadu_ps(sx + (j * nch + c) * 8)), acc[j]);
    }
  }
  const std::int64_t col = w.out_col ? w.out_col[n] : n;
  for (int j = 0; j < MT; ++j) {
    const __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc[j]), _mm256_extractf128_ps(acc[j], 1));
    const __m128 q = _mm_add_ps(h, _mm_movehl_ps(h, h));
    out[(m0 + j) * w.N + col] = _mm_cvtss_f32(_mm_add_ss(q, _mm_movehdup_ps(q))) * (w.alpha * 0.25f);
  }
}

template <int MT>
void w4a16_tile(const GemmWeights& w, const Activations& a, const Prepared& p, std::int64_t m0, std::int64_t n, float* out) {
  const __m256i lut = table32(kDoubledCodes);
  const std::uint8_t* row = w.packed + n * w.row_bytes;
  const std::uint8_t* srow = w.scales + w.swizzle->rows()[n];
  const float* xp = p.as<float>() + m0 * a.Kp;
  __m256 acc[MT];
  for (int j = 0; j < MT; ++j) acc[j] = _mm256_setzero_ps();
  for (std::int64_t c = 0; c < (w.K + kChunk - 1) / kChunk; ++c) {
    const __m256i d = _mm256_shuffle_epi8(lut, chunk_codes(row + 16 * c, w.K, c));
    float s0, s1;
    chunk_scales(srow + (c / 2) * 512 + (c % 2) * 2, s0, s1);
    const __m256 h0 = _mm256_set1_ps(0.5f * s0), h1 = _mm256_set1_ps(0.5f * s1);  // doubled codes * S / 2 = e2m1 * S
    const __m128i lo = _mm256_castsi256_si128(d), hi = _mm256_extracti128_si256(d, 1);
    // Bytes 0..7: even k of block 0, 8..15: even k of block 1; 16..23 and 24..31: the odd k.
    const __m256 w0 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)), h0);
    const __m256 w1 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))), h1);
    const __m256 w2 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)), h0);
    const __m256 w3 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))), h1);
    for (int j = 0; j < MT; ++j) {
      const float* x = xp + j * a.Kp + c * kChunk;
      acc[j] = _mm256_fmadd_ps(_mm256_loadu_ps(x), w0, acc[j]);
      acc[j] = _mm256_fmadd_ps(_mm256_loadu_ps(x + 8), w1, acc[j]);
      acc[j] = _mm256_fmadd_ps(_mm256_loadu_ps(x + 16), w2, acc[j]);
      acc[j] = _mm256_fmadd_ps(_mm256_loadu_ps(x + 24), w3, acc[j]);
    }
  }
  const std::int64_t col = w.out_col ? w.out_col[n] : n;
  for (int j = 0; j < MT; ++j) {
    const __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc[j]), _mm256_extractf128_ps(acc[j], 1));
    const __m128 q = _mm_add_ps(h, _mm_movehl_ps(h, h));
    out[(m0 + j) * w.N + col] = _mm_cvtss_f32(_mm_add_ss(q, _mm_movehdup_ps(q))) * w.global_scale;
  }
}

template <int MT>
void tile(GemmMode mode, const GemmWeights& w, const Activations& a, const Prepared& p, const Layout& l, std::int64_t m0,
          std::int64_t n, float* out) {
  if (mode == GemmMode::W4A4) w4a4_tile<MT>(w, a, p, l, m0, n, out);
  else w4a16_tile<MT>(w, a, p, m0, n, out);
}

void run(GemmMode mode, const GemmWeights& w, const Activations& a, const Prepared& p, float* out, std::int64_t n0, std::int64_t n1) {
  const Layout l = layout(mode, a);
  constexpr int kTile = static_cast<int>(tiles::kAvx2TileM);
  using TileFn = void (*)(GemmMode, const GemmWeights&, const Activations&, const Prepared&, const Layout&, std::int64_t,
                          std::int64_t, float*);
  static constexpr TileFn kTail[kTile] = {nullptr, tile<1>, tile<2>, tile<3>};
  static_assert(kTile == 4, "kTail lists the remainders of a 4-row tile");
  for (std::int64_t n = n0; n < n1; ++n) {
    if (w.out_col && w.out_col[n] < 0) continue;
    std::int64_t m0 = 0;
    for (; m0 + kTile <= a.M; m0 += kTile) tile<kTile>(mode, w, a, p, l, m0, n, out);
    if (a.M > m0) kTail[a.M - m0](mode, w, a, p, l, m0, n, out);
  }
}

}  // namespace

const KernelSet& avx2_kernels() {
  static const KernelSet k{quantize_row_scalar, prepared_bytes, prepare, run};
  return k;
}

}  // namespace nvfp4::opt
