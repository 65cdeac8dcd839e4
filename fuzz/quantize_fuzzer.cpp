// w4a4 activation quantization, three implementations bit for bit: the reference
// (reference/quantize_activation), the optimized scalar row quantizer and, where the CPU has it,
// the AVX-512 one the kernels use. The input gives the global encode scale and the values: raw f32
// bits, or small multiples of powers of two, which land on E2M1/E4M3 rounding midpoints far more
// often than random bits do. Non-finite values are replaced by 0 (GEMMs refuse them before
// quantizing). max_len 8 KiB.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "fuzz/byte_reader.h"
#include "fuzz/fuzz_check.h"
#include "optimized/kernels/avx512_quantize.h"
#include "optimized/kernels/dispatch.h"
#include "optimized/quantize_activation.h"
#include "reference/numerics.h"
#include "reference/quantize_activation.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > (8u << 10)) return 0;
  using namespace nvfp4;
  fuzz::ByteReader in(data, size);
  float gs = std::fabs(in.f32_bits());
  if (!std::isfinite(gs) || gs == 0.0f) gs = 1.0f;
  const std::int64_t M = in.in(1, 3), K = 16 * in.in(1, 8);
  Tensor x = Tensor::empty(DType::F32, {M, K});
  float* xs = x.data_as<float>();
  for (std::int64_t i = 0; i < M * K; ++i) {
    float v = in.flag() ? in.f32_bits() : std::ldexp(static_cast<float>(in.in(-64, 64)), static_cast<int>(in.in(-20, 8)));
    xs[i] = std::isfinite(v) ? v : 0.0f;
  }
  const ref::QuantizedActivation r = ref::quantize_activation(x, gs);
  const bool avx512 = std::ranges::count(opt::available_isas(), opt::Isa::Avx512) > 0;
  std::vector<std::uint8_t> codes(static_cast<std::size_t>(K)), scales(static_cast<std::size_t>(K / 16));
  std::vector<std::int8_t> doubled(static_cast<std::size_t>(K));
  std::vector<float> fscales(static_cast<std::size_t>(K / 16));
  for (std::int64_t m = 0; m < M; ++m) {
    opt::quantize_activation_row(xs + m * K, K, gs, codes.data(), scales.data());
    for (std::int64_t k = 0; k < K; ++k)
      FUZZ_CHECK(codes[k] == r.codes[m * K + k], "code [%lld, %lld] of x = %.9g: optimized 0x%x vs reference 0x%x", (long long)m,
                 (long long)k, xs[m * K + k], codes[k], r.codes[m * K + k]);
    for (std::int64_t b = 0; b < K / 16; ++b)
      FUZZ_CHECK(scales[b] == r.scales[m * (K / 16) + b], "scale [%lld, %lld]: optimized 0x%x vs reference 0x%x", (long long)m,
                 (long long)b, scales[b], r.scales[m * (K / 16) + b]);
    if (!avx512) continue;
    opt::avx512::quantize_row(xs + m * K, K, gs, doubled.data(), fscales.data());
    for (std::int64_t k = 0; k < K; ++k)
      FUZZ_CHECK(doubled[k] == static_cast<std::int8_t>(2 * ref::e2m1_value(r.codes[m * K + k])), "AVX-512 code [%lld, %lld]: %d vs 2 * e2m1(0x%x)",
                 (long long)m, (long long)k, doubled[k], r.codes[m * K + k]);
    for (std::int64_t b = 0; b < K / 16; ++b)
      FUZZ_CHECK(fscales[b] == ref::e4m3_value(r.scales[m * (K / 16) + b]), "AVX-512 scale [%lld, %lld]", (long long)m, (long long)b);
  }
  return 0;
}
