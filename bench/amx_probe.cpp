// What the AMX w4a4 kernel (optimized/kernels/amx.cpp) is up against, measured: AMX tile multiplies (TDPBSSD) give int32 sums
// over a tile's whole K, but NVFP4 scales every 16-element block, so each block needs its own tile
// multiply with K = 16, a zeroed accumulator tile before it and a tile store after it (the scaling
// then happens in AVX-512 registers, as in the VNNI kernel). "peak" runs full K = 64 tiles that
// stay in the accumulators; "block_scaled" runs the 16-K pattern. Both count multiply-adds (as
// 2 ops each) so they compare with limits/int8_vnni_peak. "w4a4_loop" is the whole inner loop a
// w4a4 kernel on AMX would run, data in L1/L2 as in the panel kernel's: per 16-block, the int32
// 16x16 tile (16 activation rows x 16 weight rows), stored, converted and scaled by Sw * Sx into
// 16 f32 accumulators; its GFLOP/s compare with the VNNI panel loop's (bench/analysis.md).
// Registered only where the CPU has AMX-INT8; skipped where the kernel refuses the tile state
// (arch_prctl). Both decided where the dispatcher decides them (opt::amx_support).
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "optimized/kernels/dispatch.h"

namespace {

using nvfp4::opt::amx_support;
using nvfp4::opt::AmxSupport;
bool cpu_has_amx_int8() { return amx_support() != AmxSupport::NoCpu; }
bool os_grants_amx() { return amx_support() == AmxSupport::Usable; }

struct TileConfig {
  std::uint8_t palette = 1, start_row = 0;
  std::uint8_t reserved[14] = {};
  std::uint16_t colsb[16] = {};
  std::uint8_t rows[16] = {};
};

// tmm0..3: 16x16 int32 accumulators; tmm4, 5: A, 16 rows of K bytes; tmm6, 7: B, K/4 rows of 64 bytes.
void configure(int K) {
  TileConfig c;
  for (int t = 0; t < 4; ++t) c.rows[t] = 16, c.colsb[t] = 64;
  for (int t = 4; t < 6; ++t) c.rows[t] = 16, c.colsb[t] = static_cast<std::uint16_t>(K);
  for (int t = 6; t < 8; ++t) c.rows[t] = static_cast<std::uint8_t>(K / 4), c.colsb[t] = 64;
  _tile_loadconfig(&c);
}

alignas(64) std::int8_t a_buf[2 * 16 * 64];
alignas(64) std::int8_t b_buf[16 * 2 * 16 * 64];
alignas(64) std::int32_t c_buf[4][16 * 16];

void BM_Amx(benchmark::State& state) {
  const bool block_scaled = state.range(0) != 0;
  if (!os_grants_amx()) return state.SkipWithError("the kernel does not grant the AMX tile state");
  const int K = block_scaled ? 16 : 64;
  configure(K);
  std::memset(a_buf, 1, sizeof a_buf);
  std::memset(b_buf, 1, sizeof b_buf);
  constexpr long kIters = 1'000'000;
  for (auto _ : state) {
    for (long i = 0; i < kIters; ++i) {
      const std::int8_t* b = b_buf + (i % 16) * 2 * 16 * 64;  // a new block of weights each time
      if (block_scaled) {
        _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
      }
      _tile_loadd(4, a_buf, 64);
      _tile_loadd(5, a_buf + 16 * 64, 64);
      _tile_loadd(6, b, 64);
      _tile_loadd(7, b + 16 * 64, 64);
      _tile_dpbssd(0, 4, 6);
      _tile_dpbssd(1, 4, 7);
      _tile_dpbssd(2, 5, 6);
      _tile_dpbssd(3, 5, 7);
      if (block_scaled) {
        _tile_stored(0, c_buf[0], 64); _tile_stored(1, c_buf[1], 64);
        _tile_stored(2, c_buf[2], 64); _tile_stored(3, c_buf[3], 64);
      }
    }
    if (!block_scaled) _tile_stored(0, c_buf[0], 64);
    benchmark::DoNotOptimize(c_buf);
  }
  _tile_release();
  state.counters["GOP"] = benchmark::Counter(2.0 * 4 * 16 * 16 * K * kIters * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_AmxW4a4Loop(benchmark::State& state) {
  if (!os_grants_amx()) return state.SkipWithError("the kernel does not grant the AMX tile state");
  TileConfig c;  // tmm0, 1: C; tmm2, 5: A (16 rows x 16 bytes); tmm3, 4: B (4 rows x 64 bytes)
  c.rows[0] = c.rows[1] = 16, c.colsb[0] = c.colsb[1] = 64;
  c.rows[2] = c.rows[5] = 16, c.colsb[2] = c.colsb[5] = 16;
  c.rows[3] = c.rows[4] = 4, c.colsb[3] = c.colsb[4] = 64;
  _tile_loadconfig(&c);
  constexpr long kBlocks = 256, kTiles = 64;  // K = 4096 against 64 x 16 weight rows
  std::vector<std::int8_t> a_v(kBlocks * 256, 1), b_v(kTiles * kBlocks * 256, 1);  // [block][16 rows][16], [tile][block][4][64]
  std::vector<float> sw_v(kTiles * kBlocks * 16, 0.25f), sx_v(16 * kBlocks, 0.5f);
  const std::int8_t* a = a_v.data();
  const std::int8_t* b = b_v.data();
  const float* sw = sw_v.data();
  const float* sx = sx_v.data();
  alignas(64) std::int32_t cbuf[2][256];
  alignas(64) float out[16][16];
  for (auto _ : state)
    for (long t = 0; t < kTiles; ++t) {
      __m512 f[16];
      for (auto& v : f) v = _mm512_setzero_ps();
      for (long blk = 0; blk < kBlocks; blk += 2) {
        _tile_zero(0);
        _tile_zero(1);
        _tile_loadd(2, a + 256 * blk, 16);
        _tile_loadd(5, a + 256 * (blk + 1), 16);
        _tile_loadd(3, b + (t * kBlocks + blk) * 256, 64);
        _tile_loadd(4, b + (t * kBlocks + blk + 1) * 256, 64);
        _tile_dpbssd(0, 2, 3);
        _tile_dpbssd(1, 5, 4);
        _tile_stored(0, cbuf[0], 64);
        _tile_stored(1, cbuf[1], 64);
        for (int u = 0; u < 2; ++u) {
          const __m512 s = _mm512_loadu_ps(sw + (t * kBlocks + blk + u) * 16);
          for (int i = 0; i < 16; ++i)
            f[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512(cbuf[u] + 16 * i)),
                                   _mm512_mul_ps(s, _mm512_set1_ps(sx[i * kBlocks + blk + u])), f[i]);
        }
      }
      for (int i = 0; i < 16; ++i) _mm512_store_ps(out[i], f[i]);
      benchmark::DoNotOptimize(out);
    }
  _tile_release();
  state.counters["GFLOP"] = benchmark::Counter(2.0 * kTiles * 16 * 16 * 16 * kBlocks * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

[[maybe_unused]] const bool registered = [] {
  if (cpu_has_amx_int8()) {
    benchmark::RegisterBenchmark("limits/amx_int8_peak/threads:1", BM_Amx)->Arg(0)->UseRealTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("limits/amx_int8_block_scaled/threads:1", BM_Amx)->Arg(1)->UseRealTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("limits/amx_w4a4_loop/threads:1", BM_AmxW4a4Loop)->UseRealTime()->Unit(benchmark::kMillisecond);
  }
  return true;
}();

}  // namespace
