// ModelOpt's NVFP4 export arithmetic (docs/formats.md#modelopt-export-arithmetic), used only to *write* checkpoints
// (`nvfp4 make-checkpoint`, properties, benches). It is what lands on disk, so it mirrors
// modelopt/torch/quantization/qtensor/nvfp4_tensor.py step by step in f32.
#pragma once
#include <cstdint>
#include <span>

#include "core/tensor.h"

namespace nvfp4 {

struct QuantizedWeight {
  Tensor weight;  // U8 [N, K/2], even K index in the low nibble
  Tensor scale;   // F8_E4M3 [N, K/16], linear row-major
  float scale_2;  // s2 = amax / 2688
};

// Per-tensor decode scale from an amax: f32(amax) / f32(6 * 448).
float modelopt_scale_2(float amax);
// w is [N, K] row-major f32; amax is the (possibly fusion-group) max |w| the scale comes from.
// zero_block_code is the E4M3 byte written for an all-zero block (ModelOpt: 1.0 = 0x38).
QuantizedWeight modelopt_quantize(std::span<const float> w, std::int64_t N, std::int64_t K, float amax,
                                  std::uint8_t zero_block_code = 0x38);

// modelopt_quantize's bytes for `rows` rows of w at a time, into packed (rows x K/2) and scales
// (rows x K/16), with the scale s2 of the whole tensor: a writer quantizes a tensor in pieces.
void modelopt_quantize_rows(const float* w, std::int64_t rows, std::int64_t K, float s2, std::uint8_t zero_block_code,
                            std::uint8_t* packed, std::uint8_t* scales);

}  // namespace nvfp4
