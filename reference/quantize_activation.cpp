#include "reference/quantize_activation.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <stdexcept>

namespace nvfp4::ref {

Real real_of(DType d);

QuantizedActivation quantize_activation(const Tensor& x, float gs) {
  if (x.dim() != 2 || x.size(1) % 16) throw std::invalid_argument("quantize_activation needs [M, K] with K % 16 == 0");
  Real t = real_of(x.dtype());
  QuantizedActivation q;
  q.M = x.size(0);
  q.K = x.size(1);
  q.codes.resize(static_cast<std::size_t>(q.M * q.K));
  q.scales.resize(static_cast<std::size_t>(q.M * q.K / 16));
  const std::size_t es = dtype_bits(x.dtype()) / 8;
  const float sixth = 1.0f / 6.0f;
  for (std::int64_t m = 0; m < q.M; ++m)
    for (std::int64_t b = 0; b < q.K / 16; ++b) {
      float v[16], vmax = 0.0f;
      for (int i = 0; i < 16; ++i) {
        v[i] = real_value(x.data() + static_cast<std::size_t>(m * q.K + 16 * b + i) * es, t);
        vmax = std::max(vmax, std::fabs(v[i]));
      }
      float sf = vmax != 0.0f ? vmax * (gs * sixth) : 0.0f;
      std::uint8_t S = e4m3_satfinite(sf);
      float out_scale = vmax != 0.0f ? std::min(1.0f / (e4m3_value(S) * (1.0f / gs)), FLT_MAX) : 0.0f;
      q.scales[static_cast<std::size_t>(m * (q.K / 16) + b)] = S;
      for (int i = 0; i < 16; ++i)
        q.codes[static_cast<std::size_t>(m * q.K + 16 * b + i)] = e2m1_quantize(v[i] * out_scale);
    }
  return q;
}

}  // namespace nvfp4::ref
