// GEMM y[M, N] = x[M, K] . W^T side by side, in one binary and one run:
//   nvfp4_<isa>     the optimized kernels on NVFP4 weights (w4a4 and w4a16, f32 activations): the
//                   best path on every shape, every other path on N = K = 4096 (amx, where the CPU
//                   has it, is the best path; avx512 then runs at its M as well)
//   reference_exact the reference's exact oracle (small shapes only: it is the oracle, not a kernel)
//   certified_<lanes> the same f32 results from certified double sums (checks/certified_product.h),
//                   on each lane path the CPU runs: what verify's sampled rows run on
//   openblas_sgemm  OpenBLAS sgemm on the same matrix already dequantized to f32
//   onednn_u8s8s32  oneDNN's int8 matmul on the same codes as int8 (no per-block scaling): the 8-bit
//                   engine baseline; its weights reordered once into the layout it prefers
// over the shapes and M, with 1 and 2 threads, hot (one weight copy) and cold (copies
// rotated so every iteration reads its weights from DRAM: >= 16 copies and >= 150 MB for NVFP4 and
// int8; >= 150 MB, at least 2 copies, for f32, whose single copy is already tens of MB).
// Counters: GFLOP/s (2 M N K per second) and the weight bytes read per second.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <vector>

#include "bench/stream_read.h"
#include "bench/synthetic_weights.h"
#include "checks/certified_product.h"
#include "generator/rng.h"
#include "optimized/kernels/dispatch.h"
#include "optimized/kernels/thread_pool.h"
#include "reference/gemm.h"

extern "C" {
#include <cblas.h>
void openblas_set_num_threads(int);
}

namespace nvfp4::bench {
namespace {

struct Shape { std::int64_t N, K; };
constexpr Shape kShapes[] = {{4096, 4096}, {14336, 4096}, {4096, 14336}, {2048, 2048}, {768, 2048}, {4100, 4112}};
constexpr std::int64_t kMs[] = {1, 2, 4, 8, 16, 32, 128, 512};

std::string shape_name(Shape s) { return std::to_string(s.N) + "x" + std::to_string(s.K); }

// The data of one shape. Benchmarks run in registration order, one shape after another, so only the
// current shape's data is kept.
class ShapeData {
 public:
  static ShapeData& get(Shape s) {
    static std::unique_ptr<ShapeData> cur;
    if (!cur || cur->shape_.N != s.N || cur->shape_.K != s.K) {
      cur.reset();
      cur.reset(new ShapeData(s));
    }
    return *cur;
  }

  const std::vector<std::unique_ptr<SyntheticWeights>>& nvfp4(bool cold) {
    auto& v = cold ? nvfp4_cold_ : nvfp4_hot_;
    if (v.empty()) {
      v.push_back(make_weights(cache_, shape_.N, shape_.K, 1));
      const int n = cold ? copies_for(v[0]->bytes(), 16) : 1;
      for (int i = 1; i < n; ++i) v.push_back(make_weights(cache_, shape_.N, shape_.K, static_cast<std::uint64_t>(i + 1)));
    }
    return v;
  }
  const std::vector<std::vector<float>>& f32(bool cold) {
    auto& v = cold ? f32_cold_ : f32_hot_;
    if (v.empty()) {
      const std::size_t bytes = static_cast<std::size_t>(shape_.N * shape_.K) * 4;
      const int n = cold ? copies_for(bytes, 2) : 1;
      for (int i = 0; i < n; ++i) v.push_back(dequantized(*make_weights(cache_, shape_.N, shape_.K, static_cast<std::uint64_t>(100 + i))));
    }
    return v;
  }
  const std::vector<std::vector<std::int8_t>>& int8(bool cold) {
    auto& v = cold ? int8_cold_ : int8_hot_;
    if (v.empty()) {
      const std::size_t bytes = static_cast<std::size_t>(shape_.N * shape_.K);
      const int n = cold ? copies_for(bytes, 16) : 1;
      for (int i = 0; i < n; ++i) v.push_back(doubled_codes(*make_weights(cache_, shape_.N, shape_.K, static_cast<std::uint64_t>(200 + i))));
    }
    return v;
  }

 private:
  explicit ShapeData(Shape s) : shape_(s) {}
  Shape shape_;
  opt::LayoutCache cache_;
  std::vector<std::unique_ptr<SyntheticWeights>> nvfp4_hot_, nvfp4_cold_;
  std::vector<std::vector<float>> f32_hot_, f32_cold_;
  std::vector<std::vector<std::int8_t>> int8_hot_, int8_cold_;
};

Tensor activations(std::int64_t M, std::int64_t K) {
  Tensor x = Tensor::empty(DType::F32, {M, K});
  Rng r(static_cast<std::uint64_t>(M * 131 + K));
  for (std::int64_t i = 0; i < M * K; ++i) x.data_as<float>()[i] = static_cast<float>(r.normal());
  return x;
}

void set_threads(int t) {
  opt::ThreadPool::global().set_threads(t);
  openblas_set_num_threads(t);
  omp_set_num_threads(t);
}

void counters(benchmark::State& st, Shape s, std::int64_t M, double weight_bytes) {
  st.counters["GFLOP"] = benchmark::Counter(2.0 * static_cast<double>(M * s.N * s.K) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  st.counters["weight_GB"] = benchmark::Counter(weight_bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void nvfp4_gemm(benchmark::State& st, Shape s, GemmMode mode, opt::Isa isa, std::int64_t M, int threads, bool cold) {
  auto& copies = ShapeData::get(s).nvfp4(cold);
  set_threads(threads);
  opt::ScopedIsa forced(isa);
  const Tensor x = activations(M, s.K);
  // The output allocated once, as the OpenBLAS and oneDNN runs below allocate theirs (and an engine
  // its activations): opt::gemm() would allocate and, in this build, poison a fresh one per call,
  // a serial pass of M x N x 4 bytes (and its page faults) that no kernel needs.
  Tensor y = Tensor::empty(x.dtype(), {M, s.N});
  std::size_t i = 0;
  for (auto _ : st) {
    opt::gemm_into(x, copies[i++ % copies.size()]->w, mode, y);
    benchmark::DoNotOptimize(y.data());
  }
  counters(st, s, M, static_cast<double>(copies[0]->bytes()));
}

void openblas_sgemm(benchmark::State& st, Shape s, std::int64_t M, int threads, bool cold) {
  auto& copies = ShapeData::get(s).f32(cold);
  set_threads(threads);
  const Tensor x = activations(M, s.K);
  std::vector<float> y(static_cast<std::size_t>(M * s.N));
  std::size_t i = 0;
  for (auto _ : st) {
    const float* w = copies[i++ % copies.size()].data();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(M), static_cast<int>(s.N), static_cast<int>(s.K), 1.0f,
                x.data_as<float>(), static_cast<int>(s.K), w, static_cast<int>(s.K), 0.0f, y.data(), static_cast<int>(s.N));
    benchmark::DoNotOptimize(y.data());
  }
  counters(st, s, M, static_cast<double>(s.N * s.K) * 4);
}

void onednn_int8(benchmark::State& st, Shape s, std::int64_t M, int threads, bool cold) {
  using namespace dnnl;
  using dt = memory::data_type;
  using tag = memory::format_tag;
  auto& copies = ShapeData::get(s).int8(cold);
  set_threads(threads);
  static engine eng(engine::kind::cpu, 0);
  stream strm(eng);
  const memory::desc src_md({M, s.K}, dt::u8, tag::ab), user_w({s.K, s.N}, dt::s8, tag::ba), dst_md({M, s.N}, dt::s32, tag::ab);
  const matmul::primitive_desc pd(matmul::desc(src_md, memory::desc({s.K, s.N}, dt::s8, tag::any), dst_md), eng);
  const matmul mm(pd);
  // Weights reordered once, outside the timing, into oneDNN's preferred layout (an engine does this at load).
  std::vector<memory> weights;
  for (const auto& c : copies) {
    memory user(user_w, eng, const_cast<std::int8_t*>(c.data())), packed(pd.weights_desc(), eng);
    reorder(user, packed).execute(strm, user, packed);
    weights.push_back(packed);
  }
  strm.wait();
  std::vector<std::uint8_t> xs(static_cast<std::size_t>(M * s.K));
  Rng r(7);
  for (auto& v : xs) v = static_cast<std::uint8_t>(r.next() % 25);
  memory src(src_md, eng, xs.data()), dst(dst_md, eng);
  std::size_t i = 0;
  for (auto _ : st) {
    mm.execute(strm, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights[i++ % weights.size()]}, {DNNL_ARG_DST, dst}});
    strm.wait();
  }
  counters(st, s, M, static_cast<double>(s.N * s.K));
}

// The cold GEMMs' DRAM bound measured on their own pages: one thread per half of each copy (its
// packed rows, then its scales), the copies rotated as the cold GEMMs rotate them, read with
// the limits' DRAM loop (stream_read.h); in the same process as the cold GEMMs, so that their
// fraction of the bound can be read against the very pages they read (on this project's VM host the
// M = 1 cold GEMM moved by ~25% from one process to the next: bench/measurements.md, "The cold
// copies' own read rate").
void cold_read(benchmark::State& st, Shape s, int threads) {
  auto& copies = ShapeData::get(s).nvfp4(true);
  set_threads(threads);
  std::vector<long long> sink(static_cast<std::size_t>(threads));
  std::size_t i = 0;
  for (auto _ : st) {
    const SyntheticWeights& c = *copies[i++ % copies.size()];
    opt::ThreadPool::global().run(threads, [&](std::int64_t t) {
      auto half = [&](const std::vector<std::uint8_t>& v) {
        const std::size_t per = (v.size() / static_cast<std::size_t>(threads) + 63) / 64 * 64;
        const std::size_t lo = std::min(v.size(), per * static_cast<std::size_t>(t)), hi = std::min(v.size(), lo + per);
        return stream_sum(v.data() + lo, hi - lo);
      };
      sink[static_cast<std::size_t>(t)] = half(c.packed) + half(c.scales);
    });
  }
  benchmark::DoNotOptimize(sink.data());
  st.counters["weight_GB"] = benchmark::Counter(static_cast<double>(copies[0]->bytes()) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// lanes: nullopt for ref::gemm_exact itself.
void reference_exact(benchmark::State& st, Shape s, GemmMode mode, std::int64_t M, std::optional<checks::LanePath> lanes) {
  auto& w = *ShapeData::get(s).nvfp4(false)[0];
  ref::LogicalWeight lw;
  lw.N = s.N;
  lw.K = s.K;
  for (std::int64_t n = 0; n < s.N; ++n) {
    for (std::int64_t k = 0; k < s.K; ++k) lw.codes.push_back((w.packed[static_cast<std::size_t>(n * s.K / 2 + k / 2)] >> (4 * (k % 2))) & 0xF);
    for (std::int64_t b = 0; b < s.K / 16; ++b) lw.scales.push_back(w.scales[static_cast<std::size_t>(w.swizzle->rows()[n] + w.swizzle->cols()[b])]);
  }
  lw.global_scale = w.w.global_scale;
  const ref::GemmScalars sc{w.w.alpha, w.w.input_gs};
  const Tensor x = activations(M, s.K);
  for (auto _ : st) {
    Tensor y = lanes ? checks::certified_gemm(x, lw, mode, sc, *lanes).y : ref::gemm_exact(x, lw, mode, sc);
    benchmark::DoNotOptimize(y.data());
  }
  counters(st, s, M, static_cast<double>(w.bytes()));
}

// Every path but the best, 1 thread, hot, at M = 1 and 16; where amx is the best path, avx512 also at
// the M that the AMX tiles run, on 1 and 2 threads: the path a CPU without AMX runs, against oneDNN
// held to the same VNNI instructions (the Targets table's same-ISA rows).
void register_other_paths(Shape s, opt::Isa best) {
  for (opt::Isa isa : opt::available_isas()) {
    if (isa == best) continue;
    // The extra M for both modes: the amx set runs both on tiles from 16 rows on.
    const bool tiles = isa == opt::Isa::Avx512 && best == opt::Isa::Amx;
    for (int t : {1, 2})
      for (std::int64_t M : {1, 16, 32, 128, 512})
        for (GemmMode mode : {GemmMode::W4A4, GemmMode::W4A16})
          if ((M <= 16 && t == 1) || (M >= 16 && tiles))
            benchmark::RegisterBenchmark(("gemm/" + gemm_mode_name(mode) + "/nvfp4_" + opt::isa_name(isa) + "/" + shape_name(s) + "/M:" +
                                          std::to_string(M) + "/threads:" + std::to_string(t) + "/hot")
                                             .c_str(),
                                         [=](benchmark::State& st) { nvfp4_gemm(st, s, mode, isa, M, t, false); })
                ->UseRealTime()
                ->Unit(benchmark::kMicrosecond);
  }
}

// Registered in this order: per shape, everything that uses it.
const bool registered = [] {
  using benchmark::RegisterBenchmark;
  const opt::Isa best = opt::available_isas().front();
  for (Shape s : kShapes) {
    const std::string sn = shape_name(s);
    for (bool cold : {false, true})
      for (int t : {1, 2})
        for (std::int64_t M : kMs) {
          const std::string tail = "/" + sn + "/M:" + std::to_string(M) + "/threads:" + std::to_string(t) + (cold ? "/cold" : "/hot");
          for (GemmMode mode : {GemmMode::W4A4, GemmMode::W4A16})
            RegisterBenchmark(("gemm/" + gemm_mode_name(mode) + "/nvfp4_" + opt::isa_name(best) + tail).c_str(),
                              [=](benchmark::State& st) { nvfp4_gemm(st, s, mode, best, M, t, cold); })
                ->UseRealTime()->Unit(benchmark::kMicrosecond);
          RegisterBenchmark(("gemm/f32/openblas_sgemm" + tail).c_str(), [=](benchmark::State& st) { openblas_sgemm(st, s, M, t, cold); })
              ->UseRealTime()->Unit(benchmark::kMicrosecond);
          RegisterBenchmark(("gemm/int8/onednn_u8s8s32" + tail).c_str(), [=](benchmark::State& st) { onednn_int8(st, s, M, t, cold); })
              ->UseRealTime()->Unit(benchmark::kMicrosecond);
        }
    if (s.N == 4096 && s.K == 4096) {
      register_other_paths(s, best);  // every other dispatch path, on one shape
      if (__builtin_cpu_supports("avx512f"))
        for (int t : {1, 2})
          RegisterBenchmark(("gemm/read/cold_copies/" + sn + "/threads:" + std::to_string(t)).c_str(), [=](benchmark::State& st) { cold_read(st, s, t); })
              ->UseRealTime()->Unit(benchmark::kMicrosecond);
    }
    if (s.N == 768)  // the oracle costs a multiprecision sum per element: small shape, few rows
      for (std::int64_t M : {std::int64_t{1}, std::int64_t{16}})
        for (GemmMode mode : {GemmMode::W4A4, GemmMode::W4A16})
          for (const auto& [name, lanes] : std::vector<std::pair<std::string, std::optional<checks::LanePath>>>{
                   {"reference_exact", std::nullopt},
                   {"certified_avx512", checks::LanePath::Avx512},
                   {"certified_avx2", checks::LanePath::Avx2},
                   {"certified_portable", checks::LanePath::Portable}})
            if (!lanes || checks::lane_path_available(*lanes))
              RegisterBenchmark(("gemm/" + gemm_mode_name(mode) + "/" + name + "/" + sn + "/M:" + std::to_string(M) + "/threads:1/hot").c_str(),
                                [=](benchmark::State& st) { reference_exact(st, s, mode, M, lanes); })
                  ->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(1);
  }
  return true;
}();

}  // namespace
}  // namespace nvfp4::bench
