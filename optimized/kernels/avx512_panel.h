// The AVX-512 panel kernels, for more than a few activation rows: weights packed per GEMM into a
// panel per 32 stored rows where each dword lane is one row (lanes along N), so that one
// activation dword broadcast to all lanes feeds 16 rows at once. A panel is packed 512 K at a time
// (20 KiB, read from L1 by every activation tile before the next 512 K are packed). Declared here
// for avx512.cpp and the unit tests of the packing; compiled with the AVX-512 flags, called only on
// such CPUs.
//
// Packing a 16-row group, 128 K at a time: the 16 rows' 64 packed bytes are transposed as 16x16
// dwords, so that vector t holds, in lane r, row r's packed bytes 4t .. 4t + 3: the codes of
// k = 8t .. 8t + 7. One vpermb (its 6 index bits read a byte's low nibble; after a 4-bit shift,
// its high one) gives their values for the even k (8t + 0, 2, 4, 6) and another for the odd k: four
// codes of one 16-block per dword lane. Block b of the chunk is then the four vectors even(2b),
// even(2b + 1), odd(2b), odd(2b + 1), whose activations are, per block, x[0, 2, .., 14] then
// x[1, 3, .., 15] ("panel order").
//
// Panel codes: w4a16, the signed 2 e2m1; w4a4, 2 e2m1 + 12 (u8, 0 .. 24), which vpdpbusd multiplies
// with the activations' s8 2 e2m1(x). The offset adds 12 * (block sum of the activation row's codes),
// which the prepared activations keep per row and block, negated, to start the accumulators from:
// a broadcast load per accumulator, no ALU work (the reverse, an offset on the activations, would
// need a per-lane correction vector of the weights' block sums, loaded and copied into every
// accumulator: a register move each, and measured slower).
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "optimized/kernels/kernels.h"
#include "optimized/kernels/tiles.h"

namespace nvfp4::opt::avx512 {

// r[i] := the 16 dwords of column i of the 16x16 dword matrix whose rows are r[0..15].
__attribute__((always_inline)) inline void transpose16x16(__m512i r[16]) {
  __m512i t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
    r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
    r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
    r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
  }
  // Each 128-bit lane now holds a transposed 4x4 tile; move the tiles into place.
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm512_shuffle_i32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_i32x4(r[i], r[i + 4], 0xDD);
    t[i + 8] = _mm512_shuffle_i32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_i32x4(r[i + 8], r[i + 12], 0xDD);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0xDD);
    r[i + 4] = _mm512_shuffle_i32x4(t[i + 4], t[i + 12], 0x88);
    r[i + 12] = _mm512_shuffle_i32x4(t[i + 4], t[i + 12], 0xDD);
  }
}

// One 16-row group of the weights as the packers read it (pack_panel here, the amx set's BF16
// tiles): 16 row pointers from `first` (first % 16 == 0; rows past w.rows read a zero row).
struct RowGroup {
  RowGroup(const GemmWeights& w, std::int64_t first);
  // The rows' packed bytes of 128-K chunk cc, transposed as 16 x 16 dwords: t[j] lane r = row r's
  // bytes 4j .. 4j + 3 (the codes of k = 8j .. 8j + 7), bytes past K zero. Fetches 4 chunks ahead
  // by hand: 16 row streams are more than the hardware prefetcher follows.
  void chunk(std::int64_t cc, __m512i t[16]) const;
  // The block scales of blocks 4 c4 .. 4 c4 + 3 (c4 < (K / 16 + 3) / 4): lane r = row r's 4 E4M3
  // bytes. In the 128x4 layout the group's 4 blocks of a column group are the dword at
  // 4 * ((first % 128) / 32) of 16 consecutive 16-byte groups: 256 contiguous bytes, all inside
  // the padded buffer (rows past the end read its zero padding); two permutes pick the 16 dwords.
  __m512i scale_dwords(std::int64_t c4) const;

  const GemmWeights& w;
  std::int64_t first;
  const std::uint8_t* row[16];
};
// (Inline: called per 128-K chunk of the packers' inner loops, whose registers they share.)
__attribute__((always_inline)) inline void RowGroup::chunk(std::int64_t cc, __m512i t[16]) const {
  const std::int64_t valid = std::min<std::int64_t>(64, w.K / 2 - 64 * cc);
  for (int i = 0; i < 16; ++i) _mm_prefetch(reinterpret_cast<const char*>(row[i] + 64 * (cc + 4)), _MM_HINT_T0);
  if (valid == 64) {
    for (int i = 0; i < 16; ++i) t[i] = _mm512_loadu_si512(row[i] + 64 * cc);
  } else {
    const __mmask64 mask = (__mmask64{1} << valid) - 1;
    for (int i = 0; i < 16; ++i) t[i] = _mm512_maskz_loadu_epi8(mask, row[i] + 64 * cc);
  }
  transpose16x16(t);
}

__attribute__((always_inline)) inline __m512i RowGroup::scale_dwords(std::int64_t c4) const {
  const std::int64_t pick = (first % 128) / 32;
  const std::uint8_t* q = w.scales + w.swizzle->rows()[first] - 4 * pick + 512 * c4;
  const __m512i idx = _mm512_add_epi32(_mm512_set_epi32(28, 24, 20, 16, 12, 8, 4, 0, 28, 24, 20, 16, 12, 8, 4, 0),
                                       _mm512_set1_epi32(static_cast<int>(pick)));
  for (int l = 0; l < 4; ++l) _mm_prefetch(reinterpret_cast<const char*>(q + 512 * 4 + 64 * l), _MM_HINT_T0);
  const __m512i lo = _mm512_permutex2var_epi32(_mm512_loadu_si512(q), idx, _mm512_loadu_si512(q + 64));
  const __m512i hi = _mm512_permutex2var_epi32(_mm512_loadu_si512(q + 128), idx, _mm512_loadu_si512(q + 192));
  return _mm512_mask_blend_epi32(0xFF00, lo, hi);
}

// Byte kk of every lane of scale_dwords as its E4M3 value times 2^-8 (an E4M3 byte b, sign
// cleared so that -0 reads +0, shifted left by 7 is the F16 of that).
inline __m512 scale_values(__m512i s4, int kk) {
  const __m512i byte = _mm512_and_si512(_mm512_srli_epi32(s4, 8 * kk), _mm512_set1_epi32(0x7F));
  return _mm512_cvtph_ps(_mm256_slli_epi16(_mm512_cvtepi32_epi16(byte), 7));
}

// Output rows [m0, m1) of the panel's 32 stored rows from row0 (the panels' and the amx tiles'
// results; lanes: row m0's 32 sums, then each next row's kPanelRows floats on): out[m, col] =
// lanes[r] * post, col the output column of stored row row0 + r (none for padding). Where the 32
// stored rows map to 32 consecutive columns (no out_col, or one that maps them so), two vector
// stores per row: the 32 scalar stores per row, each row's line in another page, took ~8% of a
// w4a16 GEMM at M = 512 (bench/measurements.md, "Panel rows written two vectors at a time").
inline void write_panel_rows(const GemmWeights& w, std::int64_t row0, std::int64_t m0, std::int64_t m1, const float* lanes, float post,
                             float* out) {
  constexpr int kRows = tiles::kPanelRows;
  static_assert(kRows == 32, "two 16-float vectors per row");
  std::int64_t first = -1;  // the first of 32 consecutive output columns, if so
  if (row0 + kRows <= w.rows) {
    first = w.out_col ? w.out_col[row0] : row0;
    for (int r = 1; r < kRows && first >= 0 && w.out_col; ++r)
      if (w.out_col[row0 + r] != first + r) first = -1;
  }
  if (first >= 0) {
    const __m512 p = _mm512_set1_ps(post);
    for (std::int64_t m = m0; m < m1; ++m, lanes += kRows) {
      float* o = out + m * w.N + first;
      _mm512_storeu_ps(o, _mm512_mul_ps(_mm512_loadu_ps(lanes), p));
      _mm512_storeu_ps(o + 16, _mm512_mul_ps(_mm512_loadu_ps(lanes + 16), p));
    }
    return;
  }
  for (std::int64_t m = m0; m < m1; ++m, lanes += kRows)
    for (int r = 0; r < kRows && row0 + r < w.rows; ++r) {
      const std::int64_t col = w.out_col ? w.out_col[row0 + r] : row0 + r;
      if (col >= 0) out[m * w.N + col] = lanes[r] * post;
    }
}

// Rows [n0, n0 + 32) of w as a panel: per 16-block of K and per 16-row group, 4 zmm of codes
// (s8 2 e2m1), -12 * the row's block sum of them (int32, w4a4 only) and the 16 block scales times
// 2^-8 (f32). Rows past w.rows hold code 0 and scale 0.
struct Panel {
  static constexpr int kRows = tiles::kPanelRows;
  static_assert(kRows == 2 * tiles::kPanelGroupRows && tiles::kPanelGroupRows == 16, "two groups of 16 dword lanes");
  static_assert(tiles::kPanelChunkK == 128, "pack_panel transposes 64 packed bytes (128 K) per row");
  static constexpr std::size_t kBlockBytes = 5 * 64;  // per block and group
  std::int64_t blocks = 0;       // K / 16 rounded up to whole 128-K chunks
  std::uint8_t* data = nullptr;  // blocks * 2 groups * kBlockBytes, 64-aligned
  static std::size_t bytes(std::int64_t K) { return static_cast<std::size_t>((K + 127) / 128 * 8) * 2 * kBlockBytes; }
  std::uint8_t* at(std::int64_t b, int group) const { return data + (b * 2 + group) * static_cast<std::int64_t>(kBlockBytes); }
  const __m512i* codes(std::int64_t b, int group) const { return reinterpret_cast<const __m512i*>(at(b, group)); }
  const float* scales(std::int64_t b, int group) const { return reinterpret_cast<const float*>(at(b, group) + 256); }
};
// Packs the 128-K chunks [cc0, cc1) of the rows into p (its block 0 is block 8 * cc0 of the rows).
void pack_panel(GemmMode mode, const GemmWeights& w, std::int64_t n0, std::int64_t cc0, std::int64_t cc1, Panel& p);

// The activation side of the panel kernels, prepared once per GEMM.
struct PanelActivations {
  // w4a4: per row, the u8 codes 2 e2m1(x) + 12 in panel order, and per block Sx.
  // w4a16: per row, x in panel order (f32).
  static std::size_t bytes(GemmMode mode, const Activations& a);
  static void prepare(GemmMode mode, const Activations& a, Prepared& p, std::int64_t m0, std::int64_t m1);
};
void run_panels(GemmMode mode, const GemmWeights& w, const Activations& a, const Prepared& p, float* out, std::int64_t n0,
                std::int64_t n1);

}  // namespace nvfp4::opt::avx512
