// w4a4 activation quantization: the exact (TransformerEngine) path of docs/formats.md#w4a4-activation-quantization, every
// operation in f32, per 16-element block of a row:
//   vmax = max |x| (a NaN element does not raise it), S = e4m3_satfinite(vmax * (gs * f32(1/6)))
//   (0 when vmax == 0), out_scale = vmax != 0 ? min(1 / (float(S) * (1 / gs)), FLT_MAX) : 0,
//   code = e2m1(x * out_scale),
// with gs the global encode scale (input_scale_inv). The codes must equal the reference's bit for bit.
#pragma once
#include <cstdint>

namespace nvfp4::opt {

// x: K values (K % 16 == 0); codes: K E2M1 codes, one a byte; scales: K / 16 E4M3 bytes.
void quantize_activation_row(const float* x, std::int64_t K, float gs, std::uint8_t* codes, std::uint8_t* scales);

}  // namespace nvfp4::opt
