#include "core/modelopt_quantize.h"

#include <cmath>
#include <stdexcept>

#include "core/codecs.h"

namespace nvfp4 {

float modelopt_scale_2(float amax) { return amax / 2688.0f; }

QuantizedWeight modelopt_quantize(std::span<const float> w, std::int64_t N, std::int64_t K, float amax,
                                  std::uint8_t zero_block_code) {
  if (K % 16 != 0 || static_cast<std::int64_t>(w.size()) != N * K)
    throw std::invalid_argument("modelopt_quantize: K must be a multiple of 16 and w must be [N, K]");
  QuantizedWeight q{Tensor::zeros(DType::U8, {N, K / 2}), Tensor::empty(DType::F8_E4M3, {N, K / 16}),
                    modelopt_scale_2(amax)};
  const float s2 = q.scale_2;
  const float six_s2 = 6.0f * s2;  // ModelOpt forms 6*s2 first, then divides
  std::uint8_t* packed = q.weight.data();
  std::uint8_t* scales = q.scale.data();
  for (std::int64_t n = 0; n < N; ++n) {
    for (std::int64_t b = 0; b < K / 16; ++b) {
      const float* x = &w[static_cast<std::size_t>(n * K + 16 * b)];
      float vmax = 0.0f;
      for (int i = 0; i < 16; ++i) vmax = std::fabs(x[i]) > vmax ? std::fabs(x[i]) : vmax;  // fmax: NaN skipped
      float bs = vmax / six_s2;
      // torch .to(float8_e4m3fn) without a clamp: NaN on overflow; zero blocks get zero_block_code.
      std::uint8_t S = bs == 0.0f ? zero_block_code : f32_to_e4m3_nan_overflow(bs);
      scales[n * (K / 16) + b] = S;
      if (vmax == 0.0f) continue;  // codes stay 0x0 (whatever S is, even 0x00: no 0/0)
      const float denom = e4m3_to_f32(S) * s2;  // product first, then a true division
      // _cast_fp4: magnitude by RNE with saturation, sign from v < 0 (so -0.0 -> 0x0). One
      // straight loop over the block so that the compiler vectorizes the divisions.
      std::uint8_t c[16];
      for (int i = 0; i < 16; ++i) c[i] = static_cast<std::uint8_t>(f32_to_e2m1(std::fabs(x[i] / denom)) | (x[i] < 0.0f ? 0x8 : 0x0));
      for (int i = 0; i < 16; i += 2) packed[n * (K / 2) + 8 * b + i / 2] = pack_e2m1(c[i], c[i + 1]);
    }
  }
  return q;
}

}  // namespace nvfp4
