// AVX-512 w4a4 kernel for few activation rows (GEMV-like): lanes along blocks, no packing pass.
//
// For one weight row and 256 K (16 blocks), lane b = block b. Block b is the row's packed bytes
// 8b .. 8b + 7 (byte i holds codes 2i, low nibble, and 2i + 1): two vpermt2d gather dword 2b and
// dword 2b + 1 of every block into lane b, and vpermb maps the low nibbles of each, and of each
// shifted right by 4, to u8 2 e2m1 + 12 (the table repeats every 16 entries and vpermb reads only
// the low 6 bits of an index). So vector v holds codes off_v + 2t, t = 0..3, off = {0, 1, 8, 9} of
// every block; a block sum does not depend on the order of its terms, and the s8 activations,
// prepared once per GEMM, are laid out the same way. Four vpdpbusd leave the exact int32 block
// sums in the 16 lanes, starting from -12 * (block sum of x), which the offset adds back. Then one
// convert, one multiply by Sw * Sx and one FMA per 16 lanes (K/16 terms per output; gemm.h bounds
// K/4). The weight scales come as 4 dwords of the 128x4 layout, widened through F16
// (value * 2^-8, folded into the final factor).
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "optimized/kernels/avx512_rows.h"
#include "optimized/kernels/tiles.h"

namespace nvfp4::opt::avx512 {
namespace {

constexpr std::int64_t kChunk = tiles::kRowsChunkK;  // K per step: 16 blocks
static_assert(kChunk == 256, "the decode picks 16 blocks of 16 codes per chunk");
constexpr std::int8_t kOffsetCodes[16] = {12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0};  // 2 e2m1 + 12

constexpr int kCodeOffset[4] = {0, 1, 8, 9};  // vector v holds codes kCodeOffset[v] + 2t of each block

struct Tables {
  __m512i lut, even, odd;  // even / odd: dword 2b / 2b + 1 of the chunk's 32 into lane b
  Tables() {
    alignas(64) std::int8_t t[64];
    for (int i = 0; i < 64; ++i) t[i] = kOffsetCodes[i % 16];
    lut = _mm512_load_si512(t);
    even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  }
};

// The 4 code vectors of one row's chunk c (bytes past valid read as code 0).
inline void decode(const Tables& T, const std::uint8_t* p, std::int64_t valid, __m512i w[4]) {
  __m512i a, b;
  if (valid >= 128) {
    a = _mm512_loadu_si512(p);
    b = _mm512_loadu_si512(p + 64);
  } else {
    a = _mm512_maskz_loadu_epi8(valid >= 64 ? ~__mmask64{0} : (__mmask64{1} << valid) - 1, p);
    b = valid > 64 ? _mm512_maskz_loadu_epi8((__mmask64{1} << (valid - 64)) - 1, p + 64) : _mm512_setzero_si512();
  }
  const __m512i lo = _mm512_permutex2var_epi32(a, T.even, b), hi = _mm512_permutex2var_epi32(a, T.odd, b);
  w[0] = _mm512_permutexvar_epi8(lo, T.lut);
  w[1] = _mm512_permutexvar_epi8(_mm512_srli_epi16(lo, 4), T.lut);
  w[2] = _mm512_permutexvar_epi8(hi, T.lut);
  w[3] = _mm512_permutexvar_epi8(_mm512_srli_epi16(hi, 4), T.lut);
}

// Scales of blocks 16c .. 16c + 15 of a row: 4 groups of 4 at 512-byte steps. Times 2^-8; -0 reads +0.
// Only the `groups` groups that exist are read: the 128x4 layout pads K/16 to a multiple of 4, not
// 16, so in a last, partial chunk the groups past it would lie beyond the scale tensor (found by
// fuzz/gemm_differential under ASan); the missing ones read as 0 (their activations are 0 too).
inline __m512 scales(const std::uint8_t* s, int groups) {
  std::uint32_t u[4] = {0, 0, 0, 0};
  for (int j = 0; j < groups; ++j) std::memcpy(&u[j], s + 512 * j, 4);
  const __m128i v = _mm_and_si128(_mm_set_epi32(static_cast<int>(u[3]), static_cast<int>(u[2]), static_cast<int>(u[1]), static_cast<int>(u[0])),
                                  _mm_set1_epi8(0x7F));
  return _mm512_cvtph_ps(_mm256_slli_epi16(_mm256_cvtepu8_epi16(v), 7));
}

// scales() for the 4 rows from n0 (n0 % 4 == 0) at once: in the 128x4 layout 4 such rows lie 16 bytes
// apart inside one 512-byte group block (their dwords at 4r + pick of one 64-byte line), so each
// group is one line load, and two rounds of dword permutes put row r's 16 bytes in 128-bit lane r:
// ~5 operations per row where scales() takes ~10 (4 inserts from scalar loads, then the widening),
// which at M = 1 competes with the weight stream for the same two ports.
inline void scales4(const std::uint8_t* line0, int pick, int groups, __m512 sw[4]) {
  __m512i g[4];
  for (int j = 0; j < 4; ++j) g[j] = j < groups ? _mm512_loadu_si512(line0 + 512 * j) : _mm512_setzero_si512();
  // t01 dword 2r: line 0's row r; 2r + 1: line 1's (the upper 8 dwords unused); t23 the same of lines 2, 3.
  const __m512i pair = _mm512_add_epi32(_mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 28, 12, 24, 8, 20, 4, 16, 0), _mm512_set1_epi32(pick));
  const __m512i t01 = _mm512_permutex2var_epi32(g[0], pair, g[1]), t23 = _mm512_permutex2var_epi32(g[2], pair, g[3]);
  // Lane r: groups 0 .. 3 of row r.
  const __m512i rows = _mm512_permutex2var_epi32(t01, _mm512_set_epi32(23, 22, 7, 6, 21, 20, 5, 4, 19, 18, 3, 2, 17, 16, 1, 0), t23);
  const __m512i z = _mm512_and_si512(rows, _mm512_set1_epi8(0x7F));
  const __m512i h01 = _mm512_slli_epi16(_mm512_cvtepu8_epi16(_mm512_castsi512_si256(z)), 7);
  const __m512i h23 = _mm512_slli_epi16(_mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(z, 1)), 7);
  sw[0] = _mm512_cvtph_ps(_mm512_castsi512_si256(h01));
  sw[1] = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(h01, 1));
  sw[2] = _mm512_cvtph_ps(_mm512_castsi512_si256(h23));
  sw[3] = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(h23, 1));
}

struct Layout {
  std::int64_t chunks;
  std::size_t corr, sx;  // byte offsets
};
Layout layout(const Activations& a) {
  Layout l;
  l.chunks = (a.K + kChunk - 1) / kChunk;
  l.corr = static_cast<std::size_t>(a.M * l.chunks * kChunk);
  l.sx = l.corr + static_cast<std::size_t>(a.M * l.chunks) * 64;
  return l;
}

template <int R, int MT>
void tile(const Tables& T, const GemmWeights& w, const Prepared& p, const Layout& l, std::int64_t n0, std::int64_t m0, float* out) {
  const std::int8_t* x = p.as<std::int8_t>() + m0 * l.chunks * kChunk;
  const std::int32_t* corr = p.as<std::int32_t>(l.corr) + m0 * l.chunks * 16;
  const float* sx = p.as<float>(l.sx) + m0 * l.chunks * 16;
  __m512 f[R][MT];
  for (int r = 0; r < R; ++r)
    for (int m = 0; m < MT; ++m) f[r][m] = _mm512_setzero_ps();
  const std::int64_t* ro = w.swizzle->rows();
  const std::int64_t weight_bytes = w.rows * w.row_bytes;
  const std::int64_t pick = (n0 % 128) / 32;  // R = 4: the rows' dword within their 16-byte slots
  for (std::int64_t c = 0; c < l.chunks; ++c) {
    const std::int64_t valid = std::min<std::int64_t>(128, w.K / 2 - 128 * c);
    const int groups = static_cast<int>(std::min<std::int64_t>(4, (std::min<std::int64_t>(16, w.K / 16 - 16 * c) + 3) / 4));
    // Weights read once stream from DRAM. The hardware prefetchers alone leave ~40% of the DRAM
    // bandwidth unused under this much arithmetic per byte, so each row chunk fetches the bytes
    // kRowsPrefetchNearBytes past it into L1 and kRowsPrefetchFarBytes past it into L2: a distance
    // in bytes, since the stored rows are contiguous, which covers every weight byte whatever the
    // row length (bench/measurements.md, "rows kernel prefetch": 8/32 KiB beat 16 KiB alone by
    // 10-20% cold at M = 1-4, level hot). The scales sit 512 bytes apart (the 128x4 layout), which
    // no hardware prefetcher follows: fetch the chunk's of the rows after the next R.
    for (int r = 0; r < R; ++r) {
      const std::int64_t at = (n0 + r) * w.row_bytes + 128 * c;
      const char* cur = reinterpret_cast<const char*>(w.packed + at);
      if (at + tiles::kRowsPrefetchNearBytes + 128 <= weight_bytes) {
        _mm_prefetch(cur + tiles::kRowsPrefetchNearBytes, _MM_HINT_T0);
        _mm_prefetch(cur + tiles::kRowsPrefetchNearBytes + 64, _MM_HINT_T0);
      }
      if (at + tiles::kRowsPrefetchFarBytes + 128 <= weight_bytes) {
        _mm_prefetch(cur + tiles::kRowsPrefetchFarBytes, _MM_HINT_T1);
        _mm_prefetch(cur + tiles::kRowsPrefetchFarBytes + 64, _MM_HINT_T1);
      }
    }
    if (n0 + 3 * R <= w.rows)
      for (int r = 0; r < R; ++r) {
        const char* ns = reinterpret_cast<const char*>(w.scales + ro[n0 + 2 * R + r] + 2048 * c);
        for (int j = 0; j < groups; ++j) _mm_prefetch(ns + 512 * j, _MM_HINT_T0);
      }
    __m512i wq[R][4];
    __m512 sw[R];
    for (int r = 0; r < R; ++r) decode(T, w.packed + (n0 + r) * w.row_bytes + 128 * c, valid, wq[r]);
    if constexpr (R == 4)  // n0 % 4 == 0: run_rows steps by 4 from a task's first row (static_assert there)
      scales4(w.scales + ro[n0] - 4 * pick + 2048 * c, static_cast<int>(pick), groups, sw);
    else
      for (int r = 0; r < R; ++r) sw[r] = scales(w.scales + ro[n0 + r] + 2048 * c, groups);
    for (int m = 0; m < MT; ++m) {
      const std::int8_t* xm = x + (m * l.chunks + c) * kChunk;
      const __m512i cm = _mm512_load_si512(corr + (m * l.chunks + c) * 16);
      const __m512 sxm = _mm512_load_ps(sx + (m * l.chunks + c) * 16);
      for (int r = 0; r < R; ++r) {
        // Two chains of two dot products instead of one of four: half the latency to the FMA.
        __m512i acc0 = _mm512_dpbusd_epi32(cm, wq[r][0], _mm512_load_si512(xm));
        __m512i acc1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wq[r][1], _mm512_load_si512(xm + 64));
        acc0 = _mm512_dpbusd_epi32(acc0, wq[r][2], _mm512_load_si512(xm + 128));
        acc1 = _mm512_dpbusd_epi32(acc1, wq[r][3], _mm512_load_si512(xm + 192));
        f[r][m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(acc0, acc1)), _mm512_mul_ps(sw[r], sxm), f[r][m]);
      }
    }
  }
  const float post = w.alpha * 64.0f;  // 4 from the doubled codes, 2^-8 from the scale decode
  for (int r = 0; r < R; ++r) {
    const std::int64_t col = w.out_col ? w.out_col[n0 + r] : n0 + r;
    if (col < 0) continue;
    for (int m = 0; m < MT; ++m) out[(m0 + m) * w.N + col] = _mm512_reduce_add_ps(f[r][m]) * post;
  }
}

template <int R>
void rows(const Tables& T, const GemmWeights& w, const Activations& a, const Prepared& p, const Layout& l, std::int64_t n0,
          float* out) {
  using Fn = void (*)(const Tables&, const GemmWeights&, const Prepared&, const Layout&, std::int64_t, std::int64_t, float*);
  constexpr int kMaxM = R > 2 ? tiles::kRowsTileMWide : tiles::kRowsTileM;  // registers: 5 per row, R per activation row
  static_assert(kMaxM <= 8, "kTiles below lists tiles up to 8 rows");
  static constexpr Fn kTiles[9] = {nullptr, tile<R, 1>, tile<R, 2>, tile<R, std::min(3, kMaxM)>, tile<R, std::min(4, kMaxM)>,
                                   tile<R, std::min(5, kMaxM)>, tile<R, std::min(6, kMaxM)>, tile<R, std::min(7, kMaxM)>,
                                   tile<R, std::min(8, kMaxM)>};
  for (std::int64_t m0 = 0; m0 < a.M; m0 += kMaxM) kTiles[std::min<std::int64_t>(kMaxM, a.M - m0)](T, w, p, l, n0, m0, out);
}

}  // namespace

std::size_t RowsActivations::bytes(const Activations& a) {
  const Layout l = layout(a);
  return l.sx + static_cast<std::size_t>(a.M * l.chunks) * 64;
}

void RowsActivations::prepare(const Activations& a, Prepared& p, std::int64_t m0, std::int64_t m1) {
  const Layout l = layout(a);
  std::int8_t* x = p.as<std::int8_t>();
  std::int32_t* corr = p.as<std::int32_t>(l.corr);
  float* sx = p.as<float>(l.sx);
  const std::int64_t nb = a.K / 16;
  for (std::int64_t m = m0; m < m1; ++m)
    for (std::int64_t c = 0; c < l.chunks; ++c)
      for (int b = 0; b < 16; ++b) {
        const std::int64_t block = 16 * c + b;
        std::int32_t sum = 0;
        for (int v = 0; v < 4; ++v)  // the order decode() leaves the codes in
          for (int t = 0; t < 4; ++t) {
            const std::int8_t q = block < nb ? a.q[m * a.Kp + 16 * block + kCodeOffset[v] + 2 * t] : 0;
            x[(m * l.chunks + c) * kChunk + 64 * v + 4 * b + t] = q;
            sum += q;
          }
        corr[(m * l.chunks + c) * 16 + b] = -12 * sum;
        sx[(m * l.chunks + c) * 16 + b] = block < nb ? a.s[m * (a.Kp / 16) + block] : 0.0f;
      }
}

void run_rows(const GemmWeights& w, const Activations& a, const Prepared& p, float* out, std::int64_t n0, std::int64_t n1) {
  static const Tables T;
  const Layout l = layout(a);
  std::int64_t n = n0;
  // More rows at once where few activation rows leave registers free: more independent chains
  // and more weight streams in flight.
  static_assert(tiles::kRowsWideRows == 4, "rows<4> below");
  // rows<4> reads the 4 rows' scales as one line per group (scales4): n % 4 == 0 holds because gemm()
  // starts every task at a multiple of kTaskRowMultiple.
  static_assert(tiles::kTaskRowMultiple % 4 == 0, "rows<4> from multiples of 4");
  if (a.M <= tiles::kRowsWideMaxM)
    for (; n + 4 <= n1; n += 4) rows<4>(T, w, a, p, l, n, out);
  for (; n + 2 <= n1; n += 2) rows<2>(T, w, a, p, l, n, out);
  if (n < n1) rows<1>(T, w, a, p, l, n, out);
}

}  // namespace nvfp4::opt::avx512
