#include "optimized/gemm.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "optimized/codecs.h"
#include "optimized/kernels/dispatch.h"
#include "optimized/kernels/kernels.h"
#include "optimized/kernels/thread_pool.h"
#include "optimized/kernels/tiles.h"

namespace nvfp4::opt {

namespace {

void store(Tensor& y, std::int64_t i, float v) {
  switch (y.dtype()) {
    case DType::F32: std::memcpy(y.data() + 4 * i, &v, 4); break;
    case DType::BF16: y.data_as<std::uint16_t>()[i] = to_bf16(v); break;
    default: y.data_as<std::uint16_t>()[i] = to_f16(v); break;
  }
}

const KernelSet& kernels_for(Isa i) {
  switch (i) {
    case Isa::Amx: return amx_kernels();
    case Isa::Avx512: return avx512_kernels();
    case Isa::Avx2: return avx2_kernels();
    default: return scalar_kernels();
  }
}

// Per-thread buffers that keep their pages between calls: a GEMM in a loop (a bench, a decode
// step) would otherwise map, fault in and zero megabytes of fresh memory every call.
struct Scratch {
  std::vector<float> xf, xs, out, least;
  std::vector<std::int8_t> xq;
  Prepared prepared;
};

template <class T>
T* sized(std::vector<T>& v, std::int64_t n) {
  if (v.size() < static_cast<std::size_t>(n)) v.resize(static_cast<std::size_t>(n));
  return v.data();
}

// Row m of x as f32, zero-padded to Kp.
void load_row(const Tensor& x, std::int64_t m, std::int64_t K, std::int64_t Kp, float* r) {
  if (x.dtype() == DType::F32) {
    std::memcpy(r, x.data() + 4 * m * K, static_cast<std::size_t>(K) * 4);
  } else {
    const std::uint8_t* h = x.data() + 2 * m * K;  // any alignment: read through memcpy
    const bool bf = x.dtype() == DType::BF16;
    for (std::int64_t k = 0; k < K; ++k) {
      std::uint16_t v;
      std::memcpy(&v, h + 2 * k, 2);
      r[k] = bf ? bf16_value(v) : f16_value(v);
    }
  }
  std::fill(r + K, r + Kp, 0.0f);
}

// The smallest nonzero |r[k]| of k < K (INFINITY when all are 0). On the bits: a finite |v|
// orders as its bit pattern does, and an integer minimum vectorizes where a float one may not.
float smallest_nonzero(const float* r, std::int64_t K) {
  constexpr std::uint32_t kInf = 0x7F800000u;
  std::uint32_t least = kInf;
  for (std::int64_t k = 0; k < K; ++k) {
    std::uint32_t u;
    std::memcpy(&u, r + k, 4);
    u &= 0x7FFFFFFFu;
    least = std::min(least, u == 0 ? kInf : u);
  }
  float f;
  std::memcpy(&f, &least, 4);
  return f;
}

}  // namespace

Tensor gemm(const Tensor& x, const GemmWeights& w, GemmMode mode) {
  // The kernels write every output column (a test build poisons fresh tensors, so one left out shows).
  Tensor y = Tensor::empty(x.dtype(), {x.size(0), w.N});
  gemm_into(x, w, mode, y);
  return y;
}

void gemm_into(const Tensor& x, const GemmWeights& w, GemmMode mode, Tensor& y) {
  if (x.dtype() != DType::F32 && x.dtype() != DType::BF16 && x.dtype() != DType::F16)
    throw std::invalid_argument("gemm: x must be F32, BF16 or F16");
  if (y.dtype() != x.dtype() || y.shape() != Shape{x.size(0), w.N})
    throw std::invalid_argument("gemm: the output must be " + std::string(dtype_name(x.dtype())) + " " + shape_str({x.size(0), w.N}) + ", got " +
                                std::string(dtype_name(y.dtype())) + " " + shape_str(y.shape()));
  const Isa isa = active_isa();
  const KernelSet& kernels = kernels_for(isa);
  thread_local Scratch mine;
  Scratch& s = mine;  // the lambdas below run on pool threads: they must see this thread's buffers
  Activations a;
  a.M = x.size(0);
  a.K = w.K;
  a.Kp = (w.K + tiles::kActivationKPad - 1) / tiles::kActivationKPad * tiles::kActivationKPad;
  const std::int64_t M = a.M, K = a.K, Kp = a.Kp, nb = Kp / 16;
  // w4a4 kernels read only the quantized rows (kernels.h): an F32 x is quantized where it lies, with
  // no f32 copy (~2% of a GEMM at M = 128); w4a16 and the 16-bit dtypes go through the f32 rows.
  const bool direct = mode == GemmMode::W4A4 && x.dtype() == DType::F32;
  a.f = direct ? nullptr : sized(s.xf, M * Kp);
  if (mode == GemmMode::W4A4) {
    a.q = sized(s.xq, M * Kp);
    a.s = sized(s.xs, M * nb);
  }
  ThreadPool& pool = ThreadPool::global();

  // Every activation row once, rows in parallel: as f32 (and for w4a16 the smallest nonzero |x|,
  // which decides whether the amx set's BF16 split is exact); for w4a4 quantized (codes bitwise the
  // reference's, as doubled E2M1 integers and f32 block scales; the padding blocks past K hold code
  // 0 and scale 0); then, in a second round that knows the smallest |x|, laid out for the kernels.
  const std::int64_t row_tasks = M * Kp < tiles::kPrepareSplitElems ? 1 : std::min<std::int64_t>(M, pool.threads());
  const std::int64_t rows_per = (M + row_tasks - 1) / row_tasks;
  float* smallest = sized(s.least, row_tasks);
  pool.run(row_tasks, [&](std::int64_t t) {
    const std::int64_t m0 = t * rows_per, m1 = std::min(M, m0 + rows_per);
    float least = INFINITY;
    for (std::int64_t m = m0; m < m1; ++m) {
      const float* f = direct ? x.data_as<float>() + m * K : a.f + m * Kp;
      if (!direct) load_row(x, m, K, Kp, const_cast<float*>(f));
      if (mode == GemmMode::W4A16) least = std::min(least, smallest_nonzero(f, K));  // w4a4's tiles take codes, exact whatever x
      if (mode == GemmMode::W4A4) {
        auto* q = const_cast<std::int8_t*>(a.q) + m * Kp;
        auto* sc = const_cast<float*>(a.s) + m * nb;
        kernels.quantize(f, K, w.input_gs, q, sc);
        std::fill(q + K, q + Kp, std::int8_t{0});
        std::fill(sc + K / 16, sc + nb, 0.0f);
      }
    }
    smallest[t] = least;
  });
  a.smallest = *std::min_element(smallest, smallest + row_tasks);
  if (a.smallest == INFINITY) a.smallest = 0;
  s.prepared.resize(kernels.prepared_bytes(mode, a));
  pool.run(row_tasks, [&](std::int64_t t) {
    const std::int64_t m0 = t * rows_per, m1 = std::min(M, m0 + rows_per);
    if (m0 < m1) kernels.prepare(mode, a, s.prepared, m0, m1);
  });

  // F32 results go straight into y.
  float* out = x.dtype() == DType::F32 ? y.data_as<float>() : sized(s.out, M * w.N);
  // Split the stored rows: a few tasks per thread for balance, none for a problem too small to share.
  const double work = static_cast<double>(M) * static_cast<double>(w.rows) * static_cast<double>(K);
  const std::int64_t tasks = work < tiles::kSplitWork ? 1 : std::min<std::int64_t>(w.rows, tiles::kTasksPerThread * pool.threads());
  // Whole multiples of 32 rows per task: the panel kernels pack 32 rows at a time.
  const std::int64_t per = ((w.rows + tasks - 1) / tasks + tiles::kTaskRowMultiple - 1) / tiles::kTaskRowMultiple * tiles::kTaskRowMultiple;
  pool.run(tasks, [&](std::int64_t t) {
    const std::int64_t n0 = t * per, n1 = std::min(w.rows, n0 + per);
    if (n0 < n1) kernels.run(mode, w, a, s.prepared, out, n0, n1);
  });
  count_kernel_hit(isa);
  if (x.dtype() != DType::F32)
    for (std::int64_t i = 0; i < M * w.N; ++i) store(y, i, out[static_cast<std::size_t>(i)]);
}

}  // namespace nvfp4::opt
