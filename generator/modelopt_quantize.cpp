#include "generator/modelopt_quantize.h"

#include <array>
#include <cmath>
#include <stdexcept>

#include "core/codecs.h"
#include "generator/modelopt_quantize_rows.h"

namespace nvfp4 {

float modelopt_scale_2(float amax) { return amax / 2688.0f; }

QuantizedWeight modelopt_quantize(std::span<const float> w, std::int64_t N, std::int64_t K, float amax,
                                  std::uint8_t zero_block_code) {
  if (K % 16 != 0 || static_cast<std::int64_t>(w.size()) != N * K)
    throw std::invalid_argument("modelopt_quantize: K must be a multiple of 16 and w must be [N, K]");
  QuantizedWeight q{Tensor::zeros(DType::U8, {N, K / 2}), Tensor::empty(DType::F8_E4M3, {N, K / 16}),
                    modelopt_scale_2(amax)};
  // Rows in parallel would change nothing but speed; the writer already runs modules in parallel.
  modelopt_quantize_rows(w.data(), N, K, q.scale_2, zero_block_code, q.weight.data(), q.scale.data());
  return q;
}

void modelopt_quantize_rows(const float* w, std::int64_t rows, std::int64_t K, float s2, std::uint8_t zero_block_code,
                            std::uint8_t* packed, std::uint8_t* scales) {
  static const auto e4m3_values = [] {
    std::array<float, 256> v{};
    for (int i = 0; i < 256; ++i) v[static_cast<std::size_t>(i)] = e4m3_to_f32(static_cast<std::uint8_t>(i));
    return v;
  }();
  static const auto kernel = quantize_detail::have_avx512_quantizer() ? quantize_detail::quantize_rows_avx512
                             : __builtin_cpu_supports("avx2")            ? quantize_detail::quantize_rows_avx2
                                                                         : quantize_detail::quantize_rows;
  kernel(w, 0, rows, K, s2, zero_block_code, packed, scales, e4m3_values.data());
}

}  // namespace nvfp4
