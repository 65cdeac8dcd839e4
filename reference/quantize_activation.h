// w4a4 activation quantization, the exact (TransformerEngine) path of docs/formats.md#w4a4-activation-quantization bit for bit:
//   S = e4m3_satfinite(vmax * (gs * f32(1/6)))        (0 when vmax == 0)
//   out_scale = vmax != 0 ? min(1 / (float(S) * (1 / gs)), FLT_MAX) : 0
//   code = e2m1(x * out_scale)
// with gs the global encode scale (input_scale_inv) and every operation in f32.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "reference/numerics.h"

namespace nvfp4::ref {

struct QuantizedActivation {
  std::int64_t M = 0, K = 0;
  std::vector<std::uint8_t> codes;   // [M, K], one E2M1 code per element
  std::vector<std::uint8_t> scales;  // [M, K/16] E4M3
};

// x: [M, K] F32/BF16/F16, K a multiple of 16.
QuantizedActivation quantize_activation(const Tensor& x, float gs);

}  // namespace nvfp4::ref
