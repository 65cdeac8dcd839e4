// The machine's limits, measured in the same run as the GEMMs so that every result can be printed
// as a fraction of its bound: DRAM read bandwidth (a streaming read over 2 GiB, far past the
// last-level cache), f32 FMA peak and int8 dot-product (VNNI) peak, each with 1 and 2 threads.
// The rows kernel's read order with its arithmetic stood in for (limits/rows_order_read) shows how
// far the weight stream falls behind DRAM once there is work per byte (bench/analysis.md, M = 1).
// The peak loops keep 12 independent accumulators in registers (asm barriers stop the compiler
// from folding or spilling them), enough to cover the instructions' latency on both ports.
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "bench/stream_read.h"
#include "optimized/kernels/tiles.h"

namespace nvfp4::bench {

long long stream_sum(const std::uint8_t* p, std::size_t n) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0;
  std::size_t i = 0;
  for (; i + 128 <= n; i += 128) {
    a0 = _mm512_add_epi64(a0, _mm512_loadu_si512(p + i));
    a1 = _mm512_add_epi64(a1, _mm512_loadu_si512(p + i + 64));
  }
  long long s = _mm512_reduce_add_epi64(_mm512_add_epi64(a0, a1));
  for (; i < n; ++i) s += p[i];
  return s;
}

}  // namespace nvfp4::bench

namespace {

bool has_avx512() { return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("fma"); }

template <class F>
void on_threads(int n, F f) {
  std::vector<std::thread> ts;
  for (int t = 0; t < n; ++t) ts.emplace_back(f, t);
  for (auto& t : ts) t.join();
}

constexpr std::size_t kReadBytes = std::size_t{2} << 30;

const char* read_buffer() {  // 2 GiB, far past the last-level cache
  static char* buf = [] {
    auto* p = static_cast<char*>(std::aligned_alloc(64, kReadBytes));
    std::memset(p, 1, kReadBytes);
    return p;
  }();
  return buf;
}

void BM_DramRead(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const std::size_t total = kReadBytes, part = total / static_cast<std::size_t>(threads);
  const char* buf = read_buffer();
  std::vector<long long> sink(static_cast<std::size_t>(threads));
  for (auto _ : state)
    on_threads(threads, [&](int t) {
      sink[static_cast<std::size_t>(t)] = nvfp4::bench::stream_sum(reinterpret_cast<const std::uint8_t*>(buf) + static_cast<std::size_t>(t) * part, part);
    });
  benchmark::DoNotOptimize(sink.data());
  state.counters["GB"] = benchmark::Counter(static_cast<double>(total) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// One thread reads the buffer as the w4a4 rows kernel reads its weights at M = 1 (4 stored rows of
// 2 KiB at a time, 128 bytes of each in turn: optimized/kernels/avx512_rows.cpp) and runs W
// vpdpbusd on each 128 bytes (8 accumulators; the kernel runs ~20 vector instructions per 128
// bytes); prefetch 1 adds the kernel's software prefetch (tiles::kRowsPrefetchNearBytes into L1,
// kRowsPrefetchFarBytes into L2), 0 leaves the stream to the hardware prefetchers.
template <int W>
void BM_RowsOrderRead(benchmark::State& state) {
  if (!has_avx512()) return state.SkipWithError("no AVX-512 VNNI on this CPU");
  constexpr std::size_t kRows = nvfp4::opt::tiles::kRowsWideRows, kRow = 2048, kNear = nvfp4::opt::tiles::kRowsPrefetchNearBytes, kFar = nvfp4::opt::tiles::kRowsPrefetchFarBytes;
  const bool prefetch = state.range(0) != 0;
  const char* buf = read_buffer();
  long long sink = 0;
  for (auto _ : state) {
    __m512i a[8];
    for (int i = 0; i < 8; ++i) a[i] = _mm512_set1_epi32(i);
    __m512i x0 = _mm512_setzero_si512();
    for (std::size_t g = 0; g < kReadBytes; g += kRows * kRow)
      for (std::size_t c = 0; c < kRow; c += 128)
        for (std::size_t r = 0; r < kRows; ++r) {
          const std::size_t at = g + r * kRow + c;
          if (prefetch && at + kFar + 128 <= kReadBytes) {
            _mm_prefetch(buf + at + kNear, _MM_HINT_T0);
            _mm_prefetch(buf + at + kNear + 64, _MM_HINT_T0);
            _mm_prefetch(buf + at + kFar, _MM_HINT_T1);
            _mm_prefetch(buf + at + kFar + 64, _MM_HINT_T1);
          }
          const __m512i x = _mm512_load_si512(buf + at), y = _mm512_load_si512(buf + at + 64);
          x0 = _mm512_xor_si512(x0, _mm512_xor_si512(x, y));
          for (int k = 0; k < W; ++k) a[k % 8] = _mm512_dpbusd_epi32(a[k % 8], x, y);
        }
    for (int i = 0; i < 8; ++i) x0 = _mm512_add_epi32(x0, a[i]);
    sink += _mm512_reduce_add_epi32(x0);
  }
  benchmark::DoNotOptimize(sink);
  state.counters["GB"] = benchmark::Counter(static_cast<double>(kReadBytes) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

constexpr long kPeakIters = 20'000'000;

void fma_loop() {
  __m512 a0 = _mm512_set1_ps(1), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
  const __m512 b = _mm512_set1_ps(0.999f), c = _mm512_set1_ps(1e-7f);
  for (long i = 0; i < kPeakIters; ++i) {
    a0 = _mm512_fmadd_ps(a0, b, c); a1 = _mm512_fmadd_ps(a1, b, c); a2 = _mm512_fmadd_ps(a2, b, c); a3 = _mm512_fmadd_ps(a3, b, c);
    a4 = _mm512_fmadd_ps(a4, b, c); a5 = _mm512_fmadd_ps(a5, b, c); a6 = _mm512_fmadd_ps(a6, b, c); a7 = _mm512_fmadd_ps(a7, b, c);
    a8 = _mm512_fmadd_ps(a8, b, c); a9 = _mm512_fmadd_ps(a9, b, c); a10 = _mm512_fmadd_ps(a10, b, c); a11 = _mm512_fmadd_ps(a11, b, c);
    asm volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5), "+v"(a6), "+v"(a7), "+v"(a8), "+v"(a9), "+v"(a10), "+v"(a11));
  }
}

void vnni_loop() {
  __m512i a0 = _mm512_set1_epi32(1), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
  const __m512i b = _mm512_set1_epi8(3), c = _mm512_set1_epi8(-2);
  for (long i = 0; i < kPeakIters; ++i) {
    a0 = _mm512_dpbusd_epi32(a0, b, c); a1 = _mm512_dpbusd_epi32(a1, b, c); a2 = _mm512_dpbusd_epi32(a2, b, c);
    a3 = _mm512_dpbusd_epi32(a3, b, c); a4 = _mm512_dpbusd_epi32(a4, b, c); a5 = _mm512_dpbusd_epi32(a5, b, c);
    a6 = _mm512_dpbusd_epi32(a6, b, c); a7 = _mm512_dpbusd_epi32(a7, b, c); a8 = _mm512_dpbusd_epi32(a8, b, c);
    a9 = _mm512_dpbusd_epi32(a9, b, c); a10 = _mm512_dpbusd_epi32(a10, b, c); a11 = _mm512_dpbusd_epi32(a11, b, c);
    asm volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5), "+v"(a6), "+v"(a7), "+v"(a8), "+v"(a9), "+v"(a10), "+v"(a11));
  }
}

void BM_Fp32FmaPeak(benchmark::State& state) {
  if (!has_avx512()) return state.SkipWithError("no AVX-512 on this CPU");
  const int threads = static_cast<int>(state.range(0));
  for (auto _ : state) on_threads(threads, [](int) { fma_loop(); });
  state.counters["GFLOP"] = benchmark::Counter(2.0 * 16 * 12 * kPeakIters * threads * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Int8VnniPeak(benchmark::State& state) {
  if (!has_avx512()) return state.SkipWithError("no AVX-512 VNNI on this CPU");
  const int threads = static_cast<int>(state.range(0));
  for (auto _ : state) on_threads(threads, [](int) { vnni_loop(); });
  state.counters["GOP"] = benchmark::Counter(2.0 * 64 * 12 * kPeakIters * threads * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(BM_DramRead)->Name("limits/dram_read/threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RowsOrderRead<0>)->Name("limits/rows_order_read/work:0/prefetch")->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RowsOrderRead<8>)->Name("limits/rows_order_read/work:8/prefetch")->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RowsOrderRead<16>)->Name("limits/rows_order_read/work:16/prefetch")->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RowsOrderRead<24>)->Name("limits/rows_order_read/work:24/prefetch")->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Fp32FmaPeak)->Name("limits/fp32_fma_peak/threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Int8VnniPeak)->Name("limits/int8_vnni_peak/threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
