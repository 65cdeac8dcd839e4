// AMX kernels (AMX-TILE and AMX-BF16 on top of the AVX-512 set). Compiled with those flags; called
// only where the CPU has them and the OS grants this process the tile state (dispatch.h).
//
// Which kernel runs: from tiles::kAmxMinRows activation rows on, w4a4 runs on AMX tiles (here), and
// w4a16 too where its activations split exactly (below). Below that row count, and for w4a16 with
// an activation too small to split, the set hands the whole GEMM to the avx512 kernels
// (avx512.cpp): with fewer rows than one 16-row tile the tile multiply would work mostly on padding
// rows (the avx512 rows kernel reads each weight once, which is what few rows are bound by).
// kernel_hits(Isa::Amx) counts every GEMM of this set, amx_tile_gemms() those that ran tiles, so
// that a test can tell the two apart.
//
// Exact operands: an E2M1 value times its E4M3 block scale has at most 2 + 4 significant bits, so
// every dequantized weight 2 e2m1(w) Sw 2^-8 is exact in BF16 (8 bits), and so is every w4a4
// activation 2 e2m1(x) Sx. A w4a16 activation (f32, 24 bits) goes in as three BF16 parts, hi + mid
// + lo = x exactly (hi: x truncated to 8 bits; mid: the rest truncated; lo: what remains, at most
// 8 bits), each multiplied with the weights on its own tile. Every product of two such operands
// is exact in f32 (at most 8 + 6 bits). tdpbf16ps adds the products into f32 accumulator tiles,
// each addition rounded (Intel SDM vol. 2, TDPBF16PS: RNE, BF16 inputs and f32 results below
// 2^-126 flushed to 0). Nothing is flushed here: weights are multiples of 2^-17 and at least that
// (or 0); w4a4 activations likewise of 2^-9; a w4a16 GEMM runs tiles only where every nonzero
// |x| >= kSplitMin = 2^-80, so its parts are at least 2^-103, every product a multiple of 2^-120
// and every partial sum 0 or at least that. So the block scales ride in the operands and the
// accumulators stay in the tiles across all of K: no per-block convert, scale and FMA, which
// bounded the int8 tiles (one tdpbssd per 16-K block, then AVX-512 scaling) at the speed of the
// VNNI panels (bench/analysis.md). The price is the bound: K (w4a4) or 3K (w4a16) roundings per
// output (optimized/gemm.h, "Arithmetic").
//
// Layout (tdpbf16ps C += A . B, A: 16 rows x 32 BF16, B: 16 rows x 16 BF16 pairs): A is 16
// activation rows x 32 K (prepared once per GEMM; w4a16: three A tiles, one per part), B is 32 K x
// 16 stored rows: row kk holds, for each stored row r, the pair (k = 2kk, 2kk + 1), which is
// exactly packed byte kk of row r (the even k in the low nibble). So the weights decode straight
// from their packed bytes: the 16 rows' 128-K chunks are transposed as 16 x 16 dwords (lane r =
// row r's bytes 4j .. 4j + 3), and byte i of every lane becomes one B row: two vpermps of the
// nibbles through a table of 2 e2m1 as f32, times Sw 2^-8, and the two f32 packed as the high
// halves of one dword (exact: their low halves are 0). Per 32-row panel, kPanelChunksPerPass
// chunks at a time (32 KiB of B tiles), then every pair of activation tiles runs over them with 4
// accumulator tiles (2 activation tiles x 2 row groups), which are stored to and reloaded from
// memory once per pass, or stay in the tile registers across the passes where the block of
// activation tiles is one or two. The passes are decoded into two buffers in turn, the next one a
// row group's chunk at a time between the tile steps of the current one: the tiles then read B
// tiles stored a pass earlier (at M = 16 the tile loop took ~0.6 ms of the profile reading those
// just stored, ~0.3 ms alone now). (The interleave was meant to run the tile unit beside the decode, as it runs beside plain
// vector arithmetic; measured, the two still add up: bench/analysis.md, the amx section.)
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "optimized/kernels/avx512_panel.h"
#include "optimized/kernels/avx512_quantize.h"
#include "optimized/kernels/dispatch.h"
#include "optimized/kernels/kernels.h"
#include "optimized/kernels/tiles.h"

namespace nvfp4::opt {
namespace {

constexpr std::int64_t kTileM = tiles::kAmxTileM;
constexpr std::int64_t kStepK = tiles::kAmxStepK;  // K per tile multiply
constexpr int kPanelRows = tiles::kPanelRows;
constexpr std::size_t kTileBytes = 1024;           // every tile here: 16 rows x 64 bytes
static_assert(tiles::kAmxTileM == 16 && tiles::kAmxTileN == 16 && tiles::kPanelGroupRows == tiles::kAmxTileN && kPanelRows == 32,
              "a C tile is 16 x 16 f32; a panel is two 16-row groups");
static_assert(kStepK == 32 && tiles::kPanelChunkK == 128, "32 BF16 per A row; 4 tile steps per transposed 128-K chunk");

constexpr float kSplitMin = 0x1p-80f;  // the smallest nonzero |x| a w4a16 GEMM splits exactly (above)

bool use_tiles(GemmMode mode, const Activations& a) {
  if (a.M < tiles::kAmxMinRows) return false;
  return mode == GemmMode::W4A4 || a.smallest == 0 || a.smallest >= kSplitMin;
}
int parts(GemmMode mode) { return mode == GemmMode::W4A4 ? 1 : 3; }

// The prepared activations: per tile of 16 rows, per 32-K step of Kp and per part, the A tile (16
// rows x 32 BF16, k in order): w4a4 2 e2m1(x) Sx; w4a16 the hi, mid and lo parts of x. Rows past
// M are 0.
struct Layout {
  std::int64_t tiles, steps, parts;
  std::size_t bytes() const { return static_cast<std::size_t>(tiles * steps * parts) * kTileBytes; }
  const std::uint8_t* a(const Prepared& p, std::int64_t t, std::int64_t s, int part = 0) const {
    return p.data + ((t * steps + s) * parts + part) * kTileBytes;
  }
};
Layout layout(GemmMode mode, const Activations& a) { return {(a.M + kTileM - 1) / kTileM, a.Kp / kStepK, parts(mode)}; }

// The high halves of 16 f32 that are exact in BF16, as 16 BF16.
inline __m256i high_halves(__m512 f) { return _mm512_cvtepi32_epi16(_mm512_srli_epi32(_mm512_castps_si512(f), 16)); }
inline __m512 truncated(__m512 f) { return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(f), _mm512_set1_epi32(-65536))); }

void prepare_tiles(GemmMode mode, const Activations& a, Prepared& p, std::int64_t m0, std::int64_t m1) {
  const Layout l = layout(mode, a);
  const std::int64_t blocks = a.Kp / 16;
  const std::int64_t end = m1 == a.M ? l.tiles * kTileM : m1;  // the last range writes the padding rows
  for (std::int64_t m = m0; m < end; ++m)
    for (std::int64_t s = 0; s < l.steps; ++s)
      for (int h = 0; h < 2; ++h) {
        const std::int64_t k = kStepK * s + 16 * h;
        __m512 part[3] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
        if (m < a.M && mode == GemmMode::W4A4) {
          const __m512i q = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a.q + m * a.Kp + k)));
          part[0] = _mm512_mul_ps(_mm512_cvtepi32_ps(q), _mm512_set1_ps(a.s[m * blocks + 2 * s + h]));
        } else if (m < a.M) {
          const __m512 x = _mm512_loadu_ps(a.f + m * a.Kp + k);
          part[0] = truncated(x);
          const __m512 rest = _mm512_sub_ps(x, part[0]);  // exact: the bits of x below hi's 8
          part[1] = truncated(rest);
          part[2] = _mm512_sub_ps(rest, part[1]);
        }
        for (int q = 0; q < l.parts; ++q) {
          auto* dst = const_cast<std::uint8_t*>(l.a(p, m / kTileM, s, q)) + 64 * (m % kTileM) + 32 * h;
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), high_halves(part[q]));
        }
      }
}

// tmm0..3: C (activation tile 0/1 x row group 0/1), tmm4, 5: A, tmm6, 7: B; all 16 rows x 64 bytes.
// (The layout of the 64-byte configuration: Intel SDM vol. 2, LDTILECFG.)
struct alignas(64) TileConfig {
  std::uint8_t palette = 1, start_row = 0;
  std::uint8_t reserved[14] = {};
  std::uint16_t colsb[16] = {};
  std::uint8_t rows[16] = {};
};
void configure_tiles() {
  TileConfig c;
  for (int t = 0; t < 8; ++t) c.rows[t] = 16, c.colsb[t] = 64;
  _tile_loadconfig(&c);
}

// The B tiles of the 32 rows from n0 for 128-K chunk cc of a pass from chunk cc0, row group g: per
// 32-K step, one tile at b + (step * 2 + g) * kTileBytes (step counted from the pass's first).
// Rows past w.rows and K past w.K hold 0.
void pack_bf16(const GemmWeights& w, std::int64_t n0, int g, std::int64_t cc, std::int64_t cc0, std::uint8_t* b) {
  alignas(64) static constexpr float kDoubled[16] = {0, 1, 2, 3, 4, 6, 8, 12, -0.0f, -1, -2, -3, -4, -6, -8, -12};  // 2 e2m1
  const __m512 lut = _mm512_load_ps(kDoubled);
  const std::int64_t nb = (w.K + 15) / 16;
  const avx512::RowGroup rg(w, n0 + 16 * g);
  __m512i t[16];
  rg.chunk(cc, t);  // t[j]: lane r = row r's packed bytes 4j .. 4j + 3 (k = 8j .. 8j + 7)
  __m512 s[8];      // per block of the chunk, lane r: Sw 2^-8 of row r (0 past the last block)
  for (int c4 = 0; c4 < 2; ++c4) {
    const std::int64_t gc4 = 2 * cc + c4;
    const __m512i s4 = 4 * gc4 < nb ? rg.scale_dwords(gc4) : _mm512_setzero_si512();
    for (int kk = 0; kk < 4; ++kk) s[4 * c4 + kk] = 4 * gc4 + kk < nb ? avx512::scale_values(s4, kk) : _mm512_setzero_ps();
  }
  for (int j = 0; j < 16; ++j) {
    const __m512 sc = s[j / 2];
    std::uint8_t* dst = b + ((4 * (cc - cc0) + j / 4) * 2 + g) * kTileBytes + 4 * (j % 4) * 64;
    for (int i = 0; i < 4; ++i) {
      // vpermps reads the low 4 bits of each index: the low nibble of byte i, then the high one.
      const __m512 lo = _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(t[j], 8 * i), lut), sc);
      const __m512 hi = _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(t[j], 8 * i + 4), lut), sc);
      const __m512i pair = _mm512_or_si512(_mm512_castps_si512(hi), _mm512_srli_epi32(_mm512_castps_si512(lo), 16));
      _mm512_store_si512(dst + 64 * i, pair);
    }
  }
}

// One pass of a panel (its 32 rows from n0, chunks [cc0, cc1)) decoded a unit (one row group's
// chunk) at a time, the units of the next pass spread over the tile steps of the current one
// (bench/measurements.md, "AMX: accumulators kept in the tiles, the next pass decoded between
// the tiles").
struct PassDecode {
  const GemmWeights* w = nullptr;
  std::int64_t n0 = 0, cc0 = 0, cc1 = 0;
  std::uint8_t* b = nullptr;
  std::int64_t next = 0, units = 0;
  // Spread: one unit after every `every` tile steps of the pass that runs meanwhile.
  std::int64_t every = 1, count = 0;
  void start(const GemmWeights& w_, std::int64_t n0_, std::int64_t cc0_, std::int64_t cc1_, std::uint8_t* b_, std::int64_t tile_steps) {
    w = &w_, n0 = n0_, cc0 = cc0_, cc1 = cc1_, b = b_, next = 0, units = 2 * (cc1 - cc0), count = 0;
    every = std::max<std::int64_t>(1, tile_steps / std::max<std::int64_t>(1, units));
  }
  void unit() {
    const std::int64_t chunks = cc1 - cc0;
    pack_bf16(*w, n0, static_cast<int>(next / chunks), cc0 + next % chunks, cc0, b);
    ++next;
  }
  void tick() {  // after a tile step
    if (next < units && ++count % every == 0) unit();
  }
  void finish() {
    while (next < units) unit();
  }
};

// A tile at `a` into tmm A, times both B tiles (tmm6, 7), into accumulators tmm C0, C1. (A macro:
// GCC's tile intrinsics paste the register number into their assembly, so it must be a literal.)
#define NVFP4_AMX_MULTIPLY(C0, C1, A, a) \
  do {                                   \
    _tile_loadd(A, (a), 64);             \
    _tile_dpbf16ps(C0, A, 6);            \
    _tile_dpbf16ps(C1, A, 7);            \
  } while (0)

// The accumulators of activation tiles t0 (and t0 + 1 when two) x both row groups; acc rows of 32
// f32 (kPanelRows) from activation row 16 t0. Two tiles: tmm0, 1 for tile t0, tmm2, 3 for t0 + 1.
// One tile would have only 2 accumulators, each a chain of dependent tile multiplies (the tile
// unit's latency is several times its issue interval): its multiplies alternate between tmm0, 1
// and tmm2, 3, added at the end. acc_begin loads (or zeroes) them, acc_steps multiplies `steps`
// steps of B from step s0 of A into them, acc_end stores them; nothing between touches the tiles.
template <bool kTwo>
void acc_begin(const float* acc, bool zero) {
  constexpr std::size_t kStride = kPanelRows * 4;
  if (zero) {
    _tile_zero(0);
    _tile_zero(1);
  } else {
    _tile_loadd(0, acc, kStride);
    _tile_loadd(1, acc + 16, kStride);
  }
  if (kTwo && !zero) {
    _tile_loadd(2, acc + kTileM * kPanelRows, kStride);
    _tile_loadd(3, acc + kTileM * kPanelRows + 16, kStride);
  } else {
    _tile_zero(2);
    _tile_zero(3);
  }
}

template <bool kTwo>
void acc_steps(const Layout& l, const Prepared& p, std::int64_t t0, std::int64_t s0, std::int64_t steps, const std::uint8_t* b, PassDecode& next) {
  std::int64_t u = 0;  // multiplies so far (one tile: which accumulators are next)
  for (std::int64_t s = 0; s < steps; ++s, next.tick()) {
    _tile_loadd(6, b + (2 * s) * kTileBytes, 64);
    _tile_loadd(7, b + (2 * s + 1) * kTileBytes, 64);
    for (int q = 0; q < l.parts; ++q, ++u) {
      if constexpr (kTwo) {
        NVFP4_AMX_MULTIPLY(0, 1, 4, l.a(p, t0, s0 + s, q));
        NVFP4_AMX_MULTIPLY(2, 3, 5, l.a(p, t0 + 1, s0 + s, q));
      } else if (u % 2 == 0) {
        NVFP4_AMX_MULTIPLY(0, 1, 4, l.a(p, t0, s0 + s, q));
      } else {
        NVFP4_AMX_MULTIPLY(2, 3, 5, l.a(p, t0, s0 + s, q));
      }
    }
  }
}

template <bool kTwo>
void acc_end(float* acc) {
  constexpr std::size_t kStride = kPanelRows * 4;
  _tile_stored(0, acc, kStride);
  _tile_stored(1, acc + 16, kStride);
  if constexpr (kTwo) {
    _tile_stored(2, acc + kTileM * kPanelRows, kStride);
    _tile_stored(3, acc + kTileM * kPanelRows + 16, kStride);
  } else {
    alignas(64) float odd[kTileM * kPanelRows];
    _tile_stored(2, odd, kStride);
    _tile_stored(3, odd + 16, kStride);
    for (int i = 0; i < kTileM * kPanelRows; i += 16) _mm512_storeu_ps(acc + i, _mm512_add_ps(_mm512_loadu_ps(acc + i), _mm512_load_ps(odd + i)));
  }
}

template <bool kTwo>
void tiles_pass(const Layout& l, const Prepared& p, std::int64_t t0, std::int64_t s0, std::int64_t steps, const std::uint8_t* b, float* acc,
                bool first, PassDecode& next) {
  acc_begin<kTwo>(acc, first);
  acc_steps<kTwo>(l, p, t0, s0, steps, b, next);
  acc_end<kTwo>(acc);
}

// Loops: activation tiles in blocks of about kPanelRowBlockBytes of one K superblock (kAmxSuperK),
// which stay in L2 while every panel of the range runs over them (the panel decoded once per block
// and pass); K superblocks so that a long K does not shrink the blocks to a tile or two, the
// accumulators of every panel of the range kept in memory across them. The passes (superblock,
// panel, chunks) run in the same order for every block, each decoded into one of two buffers
// while the tiles run over the pass before it in the other.
void run_tiles(GemmMode mode, const GemmWeights& w, const Activations& a, const Prepared& p, float* out, std::int64_t n0, std::int64_t n1) {
  struct Pass {
    std::int64_t pi, sc0, cc0, cc1;
  };
  thread_local Prepared b_buf, acc_buf;  // 64-byte aligned, kept between calls
  thread_local std::vector<Pass> passes;
  const Layout l = layout(mode, a);
  constexpr std::int64_t kChunks = tiles::kPanelChunksPerPass, kSuperChunks = tiles::kAmxSuperK / tiles::kPanelChunkK;
  static_assert(kSuperChunks % kChunks == 0, "a superblock is whole passes");
  const std::int64_t chunks = (w.K + tiles::kPanelChunkK - 1) / tiles::kPanelChunkK, ksteps = (w.K + kStepK - 1) / kStepK;
  const std::int64_t super_steps = std::min(l.steps, kSuperChunks * (tiles::kPanelChunkK / kStepK));
  const std::int64_t tb = std::max<std::int64_t>(1, tiles::kPanelRowBlockBytes / static_cast<std::int64_t>(super_steps * l.parts * kTileBytes));
  const std::int64_t panels = (n1 - n0 + kPanelRows - 1) / kPanelRows, panel_acc = std::min(tb, l.tiles) * kTileM * kPanelRows;
  const std::size_t pass_bytes = static_cast<std::size_t>(kChunks * (tiles::kPanelChunkK / kStepK) * 2) * kTileBytes;
  b_buf.resize(2 * pass_bytes);
  acc_buf.resize(static_cast<std::size_t>(panels * panel_acc) * 4);
  passes.clear();
  for (std::int64_t sc0 = 0; sc0 < chunks; sc0 += kSuperChunks)
    for (std::int64_t pi = 0; pi < panels; ++pi)
      for (std::int64_t cc0 = sc0; cc0 < std::min(chunks, sc0 + kSuperChunks); cc0 += kChunks) passes.push_back({pi, sc0, cc0, std::min(chunks, cc0 + kChunks)});
  const std::int64_t n = static_cast<std::int64_t>(passes.size());
  auto buffer = [&](std::int64_t i) { return b_buf.data + (i % 2) * pass_bytes; };  // i: passes so far, over all blocks
  // 2^-8 from the scale decode, 2 from the doubled weight codes, 2 more from the w4a4 activations'.
  const float post = mode == GemmMode::W4A4 ? w.alpha * 64.0f : w.global_scale * 128.0f;
  configure_tiles();
  PassDecode next;
  next.start(w, n0 + kPanelRows * passes[0].pi, passes[0].cc0, passes[0].cc1, buffer(0), 1);
  next.finish();
  std::int64_t done = 0;  // passes run, over all blocks
  for (std::int64_t tlo = 0; tlo < l.tiles; tlo += tb) {
    const std::int64_t thi = std::min(l.tiles, tlo + tb);
    // A block of one or two tiles keeps its accumulators in the tile registers across the
    // superblock's passes (pack_bf16 leaves them alone): no store, reload and wait for the chain
    // of multiplies to drain at every pass, which cost M = 32 a tenth of its time.
    const std::int64_t resident = thi - tlo <= 2 ? thi - tlo : 0, calls = resident ? 1 : (thi - tlo + 1) / 2;
    for (std::int64_t i = 0; i < n; ++i, ++done) {
      const Pass& ps = passes[static_cast<std::size_t>(i)];
      const std::uint8_t* b = buffer(done);
      float* acc = acc_buf.as<float>() + ps.pi * panel_acc;
      const std::int64_t s0 = 4 * ps.cc0, steps = std::min(ksteps, 4 * ps.cc1) - s0;
      const Pass& after = passes[static_cast<std::size_t>((i + 1) % n)];  // the next block's first after the last
      if (i + 1 < n || thi < l.tiles) next.start(w, n0 + kPanelRows * after.pi, after.cc0, after.cc1, buffer(done + 1), steps * calls);
      if (resident == 2 && ps.cc0 == ps.sc0) acc_begin<true>(acc, ps.sc0 == 0);
      if (resident == 1 && ps.cc0 == ps.sc0) acc_begin<false>(acc, ps.sc0 == 0);
      if (resident == 2) acc_steps<true>(l, p, tlo, s0, steps, b, next);
      if (resident == 1) acc_steps<false>(l, p, tlo, s0, steps, b, next);
      if (!resident) {
        std::int64_t t = tlo;
        for (; t + 2 <= thi; t += 2) tiles_pass<true>(l, p, t, s0, steps, b, acc + (t - tlo) * kTileM * kPanelRows, ps.cc0 == 0, next);
        if (t < thi) tiles_pass<false>(l, p, t, s0, steps, b, acc + (t - tlo) * kTileM * kPanelRows, ps.cc0 == 0, next);
      }
      const bool panel_done = ps.cc1 == std::min(chunks, ps.sc0 + kSuperChunks);  // the last pass of the panel's superblock
      if (resident == 2 && panel_done) acc_end<true>(acc);
      if (resident == 1 && panel_done) acc_end<false>(acc);
      next.finish();
    }
    for (std::int64_t pi = 0; pi < panels; ++pi)
      avx512::write_panel_rows(w, n0 + kPanelRows * pi, tlo * kTileM, std::min(a.M, thi * kTileM), acc_buf.as<float>() + pi * panel_acc, post, out);
  }
  _tile_release();
  if (n0 == 0) count_amx_tile_gemm();  // once per GEMM: the range that starts at stored row 0
}

std::size_t prepared_bytes(GemmMode mode, const Activations& a) {
  return use_tiles(mode, a) ? layout(mode, a).bytes() : avx512_kernels().prepared_bytes(mode, a);
}

void prepare(GemmMode mode, const Activations& a, Prepared& p, std::int64_t m0, std::int64_t m1) {
  if (use_tiles(mode, a)) return prepare_tiles(mode, a, p, m0, m1);
  avx512_kernels().prepare(mode, a, p, m0, m1);
}

void run(GemmMode mode, const GemmWeights& w, const Activations& a, const Prepared& p, float* out, std::int64_t n0, std::int64_t n1) {
  if (use_tiles(mode, a)) return run_tiles(mode, w, a, p, out, n0, n1);
  avx512_kernels().run(mode, w, a, p, out, n0, n1);
}

}  // namespace

const KernelSet& amx_kernels() {
  static const KernelSet k{avx512::quantize_row, prepared_bytes, prepare, run};
  return k;
}

}  // namespace nvfp4::opt
