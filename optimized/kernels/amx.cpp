// AMX kernels (AMX-TILE and AMX-INT8 on top of the AVX-512 set). Compiled with those flags; called
// only where the CPU has them and the OS grants this process the tile state (dispatch.h).
//
// Which kernel runs: w4a4 from tiles::kAmxMinRows activation rows on runs on AMX tiles (here). Below
// that, and for w4a16 always, the set hands the whole GEMM to the avx512 kernels (avx512.cpp): with
// fewer rows than one 16-row tile the tile multiply would work mostly on padding rows (the avx512
// rows kernel reads each weight once, which is what few rows are bound by), and w4a16 has no
// integer operands for tdpbssd (its activations are f32, which AMX-BF16 would round to BF16). kernel_hits(Isa::Amx) counts every GEMM of this set, amx_tile_gemms() those
// that ran tiles, so that a test can tell the two apart.
//
// w4a4 on tiles: an NVFP4 block scale covers 16 K, so the tile multiply runs one block at a time.
// tdpbssd of an A tile of 16 activation rows x the block's 16 s8 codes 2 e2m1(x) with a B tile of
// 4 rows x 64 bytes, the AVX-512 panel's four code vectors of one 16-row group (row q of B, dword r:
// quad q of stored row r, the weights' s8 2 e2m1; the activations are prepared in the same k order),
// leaves the exact int32 block sums of 16 x 16 outputs (|sum| <= 16 * 12 * 12). The tile goes to
// memory (tilestored) and each of its rows into AVX-512 registers: one convert, one multiply by
// Sw * 2^-8 (exact: 12 + 4 significant bits), one FMA with Sx (an exact product, then one rounding):
// the VNNI kernel's terms, K/16 of them per output, within gemm.h's K/4 bound. kAmxStepBlocks
// blocks per step on as many accumulator tiles, software-pipelined (tile_16x16). The weights are
// packed as for the AVX-512 panels (pack_panel, 32 rows, 512 K at a time), the activation rows
// padded to whole tiles with code 0 and Sx 0.
//
// Speed: the scaling, not the multiplier, bounds it, as bench/analysis.md measured for AMX before
// this kernel existed. Timed in isolation (L1-resident operands, TSC cycles per 16 x 16 x 16 block),
// the tile work alone takes ~21, the AVX-512 scaling alone ~29, both together ~47: the two hardly
// overlap on this CPU, whatever the order of issue tried (a step's multiplies before, between or
// after the previous step's scaling). In the whole GEMM it comes out about level with the avx512
// set (the `gemm/w4a4/nvfp4_amx` rows of bench/gemm_bench.cpp beside `nvfp4_avx512`).
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "optimized/kernels/avx512_panel.h"
#include "optimized/kernels/avx512_quantize.h"
#include "optimized/kernels/dispatch.h"
#include "optimized/kernels/kernels.h"
#include "optimized/kernels/tiles.h"

namespace nvfp4::opt {
namespace {

using avx512::Panel;
constexpr std::int64_t kTileM = tiles::kAmxTileM;
static_assert(tiles::kAmxTileM == 16 && tiles::kAmxTileN == 16 && tiles::kPanelGroupRows == tiles::kAmxTileN,
              "a C tile is 16 rows of 16 int32; a B tile is one 16-row group of the panel");
static_assert(tiles::kAmxStepBlocks == 4, "tile_16x16 unrolls 4 blocks onto tmm0..3");

bool use_tiles(GemmMode mode, std::int64_t M) { return mode == GemmMode::W4A4 && M >= tiles::kAmxMinRows; }

// The prepared activations: per tile of 16 rows and per block of Kp, the A tile (16 rows x 16 s8
// codes, k in the panel's order: even k, then odd k); after all of them, per tile and block, the 16
// rows' Sx as f32. Rows past M hold code 0 and Sx 0.
struct Layout {
  std::int64_t tiles, blocks;
  std::size_t sx;  // byte offset of the scales
  std::size_t bytes() const { return sx + static_cast<std::size_t>(tiles * blocks) * 64; }
  const std::int8_t* codes(const Prepared& p, std::int64_t t, std::int64_t b) const { return p.as<std::int8_t>() + (t * blocks + b) * 256; }
  const float* scales(const Prepared& p, std::int64_t t, std::int64_t b) const { return p.as<float>(sx) + (t * blocks + b) * 16; }
};
Layout layout(const Activations& a) {
  Layout l;
  l.tiles = (a.M + kTileM - 1) / kTileM;
  l.blocks = a.Kp / 16;
  l.sx = static_cast<std::size_t>(l.tiles * l.blocks) * 256;
  return l;
}

void prepare_tiles(const Activations& a, Prepared& p, std::int64_t m0, std::int64_t m1) {
  const Layout l = layout(a);
  const __m128i order = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);  // panel order
  const std::int64_t end = m1 == a.M ? l.tiles * kTileM : m1;  // the last range writes the padding rows
  for (std::int64_t m = m0; m < end; ++m)
    for (std::int64_t b = 0; b < l.blocks; ++b) {
      auto* dst = const_cast<std::int8_t*>(l.codes(p, m / kTileM, b)) + 16 * (m % kTileM);
      float* sx = const_cast<float*>(l.scales(p, m / kTileM, b)) + m % kTileM;
      const bool real = m < a.M;
      const __m128i q = real ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(a.q + m * a.Kp + 16 * b)) : _mm_setzero_si128();
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm_shuffle_epi8(q, order));
      *sx = real ? a.s[m * l.blocks + b] : 0.0f;
    }
}

// tmm0..3: C, 16 x 16 int32; tmm4, 5: A, 16 rows x 16 bytes; tmm6, 7: B, 4 rows x 64 bytes.
// (The layout of the 64-byte configuration: Intel SDM vol. 2, LDTILECFG.)
struct alignas(64) TileConfig {
  std::uint8_t palette = 1, start_row = 0;
  std::uint8_t reserved[14] = {};
  std::uint16_t colsb[16] = {};
  std::uint8_t rows[16] = {};
};
void configure_tiles() {
  TileConfig c;
  for (int t = 0; t < 4; ++t) c.rows[t] = 16, c.colsb[t] = 64;
  for (int t = 4; t < 6; ++t) c.rows[t] = 16, c.colsb[t] = 16;
  for (int t = 6; t < 8; ++t) c.rows[t] = 4, c.colsb[t] = 64;
  _tile_loadconfig(&c);
}

// f[i] += (int32 block sums of output row i) * Sw * 2^-8 (lanes) * Sx of activation row i.
__attribute__((always_inline)) inline void scale_add(const std::int32_t* sums, const float* sw, const float* sx, __m512 f[16]) {
  const __m512 s = _mm512_load_ps(sw);
  for (int i = 0; i < 16; ++i)
    f[i] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_load_si512(sums + 16 * i)), s), _mm512_set1_ps(sx[i]), f[i]);
}

// The tile multiplies of one step (blocks b .. b + 3) into tmm0..3, and their stores.
__attribute__((always_inline)) inline void step_multiply(const Panel& P, int g, const std::int8_t* x, std::int64_t b) {
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  _tile_loadd(4, x + 256 * b, 16);
  _tile_loadd(6, P.codes(b, g), 64);
  _tile_dpbssd(0, 4, 6);
  _tile_loadd(5, x + 256 * (b + 1), 16);
  _tile_loadd(7, P.codes(b + 1, g), 64);
  _tile_dpbssd(1, 5, 7);
  _tile_loadd(4, x + 256 * (b + 2), 16);
  _tile_loadd(6, P.codes(b + 2, g), 64);
  _tile_dpbssd(2, 4, 6);
  _tile_loadd(5, x + 256 * (b + 3), 16);
  _tile_loadd(7, P.codes(b + 3, g), 64);
  _tile_dpbssd(3, 5, 7);
}
__attribute__((always_inline)) inline void step_store(std::int32_t (*sums)[256]) {
  _tile_stored(0, sums[0], 64);
  _tile_stored(1, sums[1], 64);
  _tile_stored(2, sums[2], 64);
  _tile_stored(3, sums[3], 64);
}

// One 16 x 16 output tile (activation tile x group g of the panel) over the panel's blocks
// [0, count), whose activations start at x / sx; acc holds the tile's f32 sums, 32 floats per row.
// Software-pipelined: step s's multiplies are issued, then step s - 1's sums (stored a step
// earlier) are scaled while the tile unit works, then step s's sums are stored.
void tile_16x16(const Panel& P, int g, const std::int8_t* x, const float* sx, std::int64_t count, float* acc, bool first) {
  __m512 f[16];
  for (int i = 0; i < 16; ++i) f[i] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(acc + 32 * i);
  alignas(64) std::int32_t sums[2][4][256];
  const std::int64_t steps = count / 4;
  for (std::int64_t s = 0; s <= steps; ++s) {
    if (s < steps) step_multiply(P, g, x, 4 * s);
    if (s > 0) {
      const std::int64_t b = 4 * (s - 1);
      for (int j = 0; j < 4; ++j) scale_add(sums[(s - 1) % 2][j], P.scales(b + j, g), sx + 16 * (b + j), f);
    }
    if (s < steps) step_store(sums[s % 2]);
  }
  for (std::int64_t b = 4 * steps; b < count; ++b) {  // a K tail of 1..3 blocks past a whole step
    _tile_zero(0);
    _tile_loadd(4, x + 256 * b, 16);
    _tile_loadd(6, P.codes(b, g), 64);
    _tile_dpbssd(0, 4, 6);
    _tile_stored(0, sums[0][0], 64);
    scale_add(sums[0][0], P.scales(b, g), sx + 16 * b, f);
  }
  for (int i = 0; i < 16; ++i) _mm512_storeu_ps(acc + 32 * i, f[i]);
}

void write_out(const GemmWeights& w, std::int64_t row0, std::int64_t m, const float* lanes, float post, float* out) {
  for (int r = 0; r < Panel::kRows && row0 + r < w.rows; ++r) {
    const std::int64_t col = w.out_col ? w.out_col[row0 + r] : row0 + r;
    if (col >= 0) out[m * w.N + col] = lanes[r] * post;
  }
}

void run_tiles(const GemmWeights& w, const Activations& a, const Prepared& p, float* out, std::int64_t n0, std::int64_t n1) {
  thread_local Prepared panel_buf, acc_buf;  // 64-byte aligned, kept between calls
  const Layout l = layout(a);
  constexpr std::int64_t kChunks = tiles::kPanelChunksPerPass;
  panel_buf.resize(Panel::bytes(kChunks * tiles::kPanelChunkK));
  acc_buf.resize(static_cast<std::size_t>(l.tiles * kTileM * Panel::kRows) * 4);
  Panel P;
  P.data = panel_buf.data;
  float* acc = acc_buf.as<float>();
  const std::int64_t chunks = (w.K + tiles::kPanelChunkK - 1) / tiles::kPanelChunkK, nb = (w.K + 15) / 16;
  // As the AVX-512 panels do: activation tiles in blocks that stay in L2 (~1 MiB), each panel packed
  // once per block.
  const std::int64_t tb = std::max<std::int64_t>(1, tiles::kPanelRowBlockBytes / (l.blocks * (256 + 64)));
  configure_tiles();
  for (std::int64_t tlo = 0; tlo < l.tiles; tlo += tb) {
    const std::int64_t thi = std::min(l.tiles, tlo + tb);
    for (std::int64_t row0 = n0; row0 < n1; row0 += Panel::kRows) {
      for (std::int64_t cc0 = 0; cc0 < chunks; cc0 += kChunks) {
        const std::int64_t cc1 = std::min(chunks, cc0 + kChunks);
        pack_panel(GemmMode::W4A16, w, row0, cc0, cc1, P);  // W4A16's panel codes: the s8 2 e2m1 that tdpbssd takes
        const std::int64_t b0 = 8 * cc0, count = std::min(nb, 8 * cc1) - b0;
        for (std::int64_t t = tlo; t < thi; ++t)
          for (int g = 0; g < 2 && row0 + tiles::kPanelGroupRows * g < w.rows; ++g)
            tile_16x16(P, g, l.codes(p, t, b0), l.scales(p, t, b0), count, acc + (t * kTileM) * Panel::kRows + 16 * g, cc0 == 0);
      }
      const float post = w.alpha * 64.0f;  // 4 from the doubled codes, 2^-8 from the scale decode
      for (std::int64_t m = tlo * kTileM; m < std::min(a.M, thi * kTileM); ++m) write_out(w, row0, m, acc + m * Panel::kRows, post, out);
    }
  }
  _tile_release();
  if (n0 == 0) count_amx_tile_gemm();  // once per GEMM: the range that starts at stored row 0
}

std::size_t prepared_bytes(GemmMode mode, const Activations& a) {
  return use_tiles(mode, a.M) ? layout(a).bytes() : avx512_kernels().prepared_bytes(mode, a);
}

void prepare(GemmMode mode, const Activations& a, Prepared& p, std::int64_t m0, std::int64_t m1) {
  if (use_tiles(mode, a.M)) return prepare_tiles(a, p, m0, m1);
  avx512_kernels().prepare(mode, a, p, m0, m1);
}

void run(GemmMode mode, const GemmWeights& w, const Activations& a, const Prepared& p, float* out, std::int64_t n0, std::int64_t n1) {
  if (use_tiles(mode, a.M)) return run_tiles(w, a, p, out, n0, n1);
  avx512_kernels().run(mode, w, a, p, out, n0, n1);
}

}  // namespace

const KernelSet& amx_kernels() {
  static const KernelSet k{avx512::quantize_row, prepared_bytes, prepare, run};
  return k;
}

}  // namespace nvfp4::opt
