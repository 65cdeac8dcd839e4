#include "optimized/gemm.h"

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "optimized/codecs.h"
#include "optimized/quantize_activation.h"

namespace nvfp4::opt {

namespace {

std::vector<float> rows_as_f32(const Tensor& x) {
  const std::int64_t n = x.numel();
  std::vector<float> f(static_cast<std::size_t>(n));
  if (x.dtype() == DType::F32) {
    std::memcpy(f.data(), x.data(), static_cast<std::size_t>(n) * 4);
  } else {
    const auto* h = x.data_as<std::uint16_t>();
    const bool bf = x.dtype() == DType::BF16;
    for (std::int64_t i = 0; i < n; ++i) f[static_cast<std::size_t>(i)] = bf ? bf16_value(h[i]) : f16_value(h[i]);
  }
  return f;
}

void store(Tensor& y, std::int64_t i, float v) {
  switch (y.dtype()) {
    case DType::F32: std::memcpy(y.data() + 4 * i, &v, 4); break;
    case DType::BF16: y.data_as<std::uint16_t>()[i] = to_bf16(v); break;
    default: y.data_as<std::uint16_t>()[i] = to_f16(v); break;
  }
}

std::uint8_t code_at(const std::uint8_t* row, std::int64_t k) { return (row[k / 2] >> (4 * (k % 2))) & 0xF; }

}  // namespace

Tensor gemm(const Tensor& x, const GemmWeights& w, GemmMode mode) {
  if (x.dtype() != DType::F32 && x.dtype() != DType::BF16 && x.dtype() != DType::F16)
    throw std::invalid_argument("gemm: x must be F32, BF16 or F16");
  const std::int64_t M = x.size(0), K = w.K, nb = K / 16;
  const std::vector<float> xf = rows_as_f32(x);
  Tensor y = Tensor::zeros(x.dtype(), {M, w.N});

  // w4a4: every activation row quantized once, as doubled E2M1 integers and f32 block scales.
  std::vector<std::int8_t> xq;
  std::vector<float> xs;
  if (mode == GemmMode::W4A4) {
    xq.resize(static_cast<std::size_t>(M * K));
    xs.resize(static_cast<std::size_t>(M * nb));
    std::vector<std::uint8_t> codes(static_cast<std::size_t>(K)), scales(static_cast<std::size_t>(nb));
    for (std::int64_t m = 0; m < M; ++m) {
      quantize_activation_row(xf.data() + m * K, K, w.input_gs, codes.data(), scales.data());
      for (std::int64_t k = 0; k < K; ++k) xq[static_cast<std::size_t>(m * K + k)] = kE2M1Doubled[codes[static_cast<std::size_t>(k)]];
      for (std::int64_t b = 0; b < nb; ++b) xs[static_cast<std::size_t>(m * nb + b)] = e4m3_value(scales[static_cast<std::size_t>(b)]);
    }
  }

  const std::int64_t* ro = w.swizzle->rows();
  const std::int64_t* co = w.swizzle->cols();
  std::vector<float> wv(static_cast<std::size_t>(K));    // w4a16: one decoded weight row
  std::vector<std::int8_t> wq(static_cast<std::size_t>(K));
  std::vector<float> ws(static_cast<std::size_t>(nb));
  for (std::int64_t n = 0; n < w.rows; ++n) {
    const std::int64_t col = w.out_col ? w.out_col[n] : n;
    if (col < 0) continue;
    const std::uint8_t* row = w.packed + n * w.row_bytes;
    for (std::int64_t b = 0; b < nb; ++b) ws[static_cast<std::size_t>(b)] = e4m3_value(w.scales[ro[n] + co[b]]);
    if (mode == GemmMode::W4A16) {
      for (std::int64_t k = 0; k < K; ++k) wv[static_cast<std::size_t>(k)] = e2m1_value(code_at(row, k)) * ws[static_cast<std::size_t>(k / 16)];
      for (std::int64_t m = 0; m < M; ++m) {
        const float* xr = xf.data() + m * K;
        float acc = 0.0f;
        for (std::int64_t k = 0; k < K; ++k) acc = std::fma(xr[k], wv[static_cast<std::size_t>(k)], acc);
        store(y, m * w.N + col, acc * w.global_scale);
      }
    } else {
      for (std::int64_t k = 0; k < K; ++k) wq[static_cast<std::size_t>(k)] = kE2M1Doubled[code_at(row, k)];
      for (std::int64_t m = 0; m < M; ++m) {
        const std::int8_t* xr = xq.data() + m * K;
        float acc = 0.0f;
        for (std::int64_t b = 0; b < nb; ++b) {
          std::int32_t d = 0;
          for (int i = 0; i < 16; ++i) d += xr[16 * b + i] * wq[static_cast<std::size_t>(16 * b + i)];
          // Sx * Sw / 4 is exact in f32: a product of two 4-bit significands, scaled by 2^-2.
          const float s = xs[static_cast<std::size_t>(m * nb + b)] * ws[static_cast<std::size_t>(b)] * 0.25f;
          acc = std::fma(static_cast<float>(d), s, acc);
        }
        store(y, m * w.N + col, acc * w.alpha);
      }
    }
  }
  return y;
}

double gemm_error_bound(GemmMode mode, std::int64_t K, double abs_sum, double post, DType out, double y_exact) {
  const double u = std::ldexp(1.0, -24);
  const double n = static_cast<double>(mode == GemmMode::W4A16 ? K : K / 16) + 1;
  const double f32 = n * u / (1 - n * u) * abs_sum + n * std::ldexp(1.0, -150) * std::max(1.0, post);
  int p = 24, emin = -126;
  if (out == DType::BF16) p = 8;
  if (out == DType::F16) { p = 11; emin = -14; }
  const double mag = 2 * (std::fabs(y_exact) + f32);
  const int e = mag == 0 ? emin : std::max(std::ilogb(mag), emin);
  return f32 + std::ldexp(1.0, e - (p - 1));
}

}  // namespace nvfp4::opt
