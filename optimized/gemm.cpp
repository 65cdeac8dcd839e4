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
    case Isa::Avx512: return avx512_kernels();
    case Isa::Avx2: return avx2_kernels();
    default: return scalar_kernels();
  }
}

}  // namespace

Tensor gemm(const Tensor& x, const GemmWeights& w, GemmMode mode) {
  if (x.dtype() != DType::F32 && x.dtype() != DType::BF16 && x.dtype() != DType::F16)
    throw std::invalid_argument("gemm: x must be F32, BF16 or F16");
  const Isa isa = active_isa();
  const KernelSet& kernels = kernels_for(isa);
  Activations a;
  a.M = x.size(0);
  a.K = w.K;
  a.Kp = (w.K + 63) / 64 * 64;
  const std::int64_t M = a.M, K = a.K, Kp = a.Kp;

  // x as f32, zero-padded to Kp.
  std::vector<float> xf(static_cast<std::size_t>(M * Kp), 0.0f);
  for (std::int64_t m = 0; m < M; ++m) {
    float* r = xf.data() + m * Kp;
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
  }
  a.f = xf.data();
  // w4a4: every activation row quantized once (codes bitwise the reference's), as doubled E2M1
  // integers and f32 block scales.
  std::vector<std::int8_t> xq;
  std::vector<float> xs;
  if (mode == GemmMode::W4A4) {
    xq.assign(static_cast<std::size_t>(M * Kp), 0);
    xs.assign(static_cast<std::size_t>(M * (Kp / 16)), 0.0f);
    for (std::int64_t m = 0; m < M; ++m) kernels.quantize(xf.data() + m * Kp, K, w.input_gs, xq.data() + m * Kp, xs.data() + m * (Kp / 16));
    a.q = xq.data();
    a.s = xs.data();
  }

  Prepared prepared;
  kernels.prepare(mode, a, prepared);
  std::vector<float> out(static_cast<std::size_t>(M * w.N), 0.0f);
  // Split the stored rows: a few tasks per thread for balance, none for a problem too small to share.
  ThreadPool& pool = ThreadPool::global();
  const double work = static_cast<double>(M) * static_cast<double>(w.rows) * static_cast<double>(K);
  const std::int64_t tasks = work < 4e5 ? 1 : std::min<std::int64_t>(w.rows, 4 * pool.threads());
  // Whole multiples of 32 rows per task: the panel kernels pack 32 rows at a time.
  const std::int64_t per = ((w.rows + tasks - 1) / tasks + 31) / 32 * 32;
  pool.run(tasks, [&](std::int64_t t) {
    const std::int64_t n0 = t * per, n1 = std::min(w.rows, n0 + per);
    if (n0 < n1) kernels.run(mode, w, a, prepared, out.data(), n0, n1);
  });
  count_kernel_hit(isa);

  Tensor y = Tensor::empty(x.dtype(), {M, w.N});
  for (std::int64_t i = 0; i < M * w.N; ++i) store(y, i, out[static_cast<std::size_t>(i)]);
  return y;
}

double gemm_error_bound(GemmMode mode, std::int64_t K, double abs_sum, double post, DType out, double y_exact) {
  const double u = std::ldexp(1.0, -24);
  const double n = static_cast<double>(mode == GemmMode::W4A16 ? K : K / 4) + 1;
  const double f32 = n * u / (1 - n * u) * abs_sum + n * std::ldexp(1.0, -150) * std::max(1.0, post);
  int p = 24, emin = -126;
  if (out == DType::BF16) p = 8;
  if (out == DType::F16) { p = 11; emin = -14; }
  const double mag = 2 * (std::fabs(y_exact) + f32);
  const int e = mag == 0 ? emin : std::max(std::ilogb(mag), emin);
  return f32 + std::ldexp(1.0, e - (p - 1));
}

}  // namespace nvfp4::opt
