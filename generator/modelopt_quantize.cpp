#include "generator/modelopt_quantize.h"

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
  float e4m3_values[256];
  for (int i = 0; i < 256; ++i) e4m3_values[i] = e4m3_to_f32(static_cast<std::uint8_t>(i));
  static const bool avx2 = __builtin_cpu_supports("avx2");
  (avx2 ? quantize_detail::quantize_rows_avx2 : quantize_detail::quantize_rows)(w.data(), 0, N, K, q.scale_2, zero_block_code, q.weight.data(),
                                                                                   q.scale.data(), e4m3_values);
  return q;
}

}  // namespace nvfp4
