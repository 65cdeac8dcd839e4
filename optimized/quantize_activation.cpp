#include "optimized/quantize_activation.h"

#include <cfloat>
#include <cmath>

#include "optimized/codecs.h"

namespace nvfp4::opt {

void quantize_activation_row(const float* x, std::int64_t K, float gs, std::uint8_t* codes, std::uint8_t* scales) {
  const float sixth = 1.0f / 6.0f, inv_gs = 1.0f / gs;
  for (std::int64_t b = 0; b < K / 16; ++b) {
    const float* v = x + 16 * b;
    float vmax = 0.0f;
    for (int i = 0; i < 16; ++i) {
      const float a = std::fabs(v[i]);
      vmax = a > vmax ? a : vmax;
    }
    const std::uint8_t S = e4m3_satfinite(vmax != 0.0f ? vmax * (gs * sixth) : 0.0f);
    const float r = 1.0f / (e4m3_value(S) * inv_gs);
    const float out_scale = vmax != 0.0f ? (FLT_MAX < r ? FLT_MAX : r) : 0.0f;
    scales[b] = S;
    for (int i = 0; i < 16; ++i) codes[16 * b + i] = e2m1(v[i] * out_scale);
  }
}

}  // namespace nvfp4::opt
