// The plain kernels: one f32 FMA per term in K order (w4a16), one exact int32 dot product per
// 16-block and one FMA per block (w4a4). The fallback path, and the order the others are tested
// against besides the exact oracle.
#include <cmath>

#include "optimized/codecs.h"
#include "optimized/kernels/kernels.h"
#include "optimized/quantize_activation.h"

namespace nvfp4::opt {
namespace {

std::uint8_t code_at(const std::uint8_t* row, std::int64_t k) { return (row[k / 2] >> (4 * (k % 2))) & 0xF; }

std::size_t prepared_bytes(GemmMode, const Activations&) { return 0; }
void prepare(GemmMode, const Activations&, Prepared&, std::int64_t, std::int64_t) {}

void run(GemmMode mode, const GemmWeights& w, const Activations& a, const Prepared&, float* out, std::int64_t n0, std::int64_t n1) {
  const std::int64_t K = w.K, nb = K / 16;
  const std::int64_t* ro = w.swizzle->rows();
  const std::int64_t* co = w.swizzle->cols();
  std::vector<float> ws(static_cast<std::size_t>(nb)), wv(static_cast<std::size_t>(K));
  std::vector<std::int8_t> wq(static_cast<std::size_t>(K));
  for (std::int64_t n = n0; n < n1; ++n) {
    const std::int64_t col = w.out_col ? w.out_col[n] : n;
    if (col < 0) continue;
    const std::uint8_t* row = w.packed + n * w.row_bytes;
    for (std::int64_t b = 0; b < nb; ++b) ws[static_cast<std::size_t>(b)] = e4m3_value(w.scales[ro[n] + co[b]]);
    if (mode == GemmMode::W4A16) {
      for (std::int64_t k = 0; k < K; ++k) wv[static_cast<std::size_t>(k)] = e2m1_value(code_at(row, k)) * ws[static_cast<std::size_t>(k / 16)];
      for (std::int64_t m = 0; m < a.M; ++m) {
        const float* x = a.f + m * a.Kp;
        float acc = 0.0f;
        for (std::int64_t k = 0; k < K; ++k) acc = std::fma(x[k], wv[static_cast<std::size_t>(k)], acc);
        out[m * w.N + col] = acc * w.global_scale;
      }
    } else {
      for (std::int64_t k = 0; k < K; ++k) wq[static_cast<std::size_t>(k)] = kE2M1Doubled[code_at(row, k)];
      for (std::int64_t m = 0; m < a.M; ++m) {
        const std::int8_t* x = a.q + m * a.Kp;
        const float* xs = a.s + m * (a.Kp / 16);
        float acc = 0.0f;
        for (std::int64_t b = 0; b < nb; ++b) {
          std::int32_t d = 0;
          for (int i = 0; i < 16; ++i) d += x[16 * b + i] * wq[static_cast<std::size_t>(16 * b + i)];
          // Sx * Sw / 4 is exact in f32: a product of two 4-bit significands, scaled by 2^-2.
          acc = std::fma(static_cast<float>(d), xs[b] * ws[static_cast<std::size_t>(b)] * 0.25f, acc);
        }
        out[m * w.N + col] = acc * w.alpha;
      }
    }
  }
}

}  // namespace

void quantize_row_scalar(const float* x, std::int64_t K, float gs, std::int8_t* doubled, float* scales) {
  std::vector<std::uint8_t> codes(static_cast<std::size_t>(K)), s(static_cast<std::size_t>(K / 16));
  quantize_activation_row(x, K, gs, codes.data(), s.data());
  for (std::int64_t k = 0; k < K; ++k) doubled[k] = kE2M1Doubled[codes[static_cast<std::size_t>(k)]];
  for (std::int64_t b = 0; b < K / 16; ++b) scales[b] = e4m3_value(s[static_cast<std::size_t>(b)]);
}

const KernelSet& scalar_kernels() {
  static const KernelSet k{quantize_row_scalar, prepared_bytes, prepare, run};
  return k;
}

}  // namespace nvfp4::opt
