// The 128x4 block-scale layout (docs/formats.md#the-128x4-block-scale-layout), written as the tensor permutation vLLM's
// swizzle_blockscale and torchao's to_blocked perform: pad [B, M, K] to [B, Mp, Kp] (Mp = 128k,
// Kp = 4k) with zero bytes, view it as (b, mT, i, j, kT, kk) with m = 128 mT + 32 i + j and
// k = 4 kT + kk, and lay it out in the order (b, mT, kT, j, i, kk).
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace nvfp4::ref {

std::int64_t round_up(std::int64_t x, std::int64_t m);
// [M, K] -> [Mp, Kp] or [B, M, K] -> [B, Mp, Kp], F8_E4M3 (any 1-byte dtype is kept).
Tensor swizzle_128x4(const Tensor& linear);
// Inverse: [.., Mp, Kp] swizzled -> [.., M, K] linear.
Tensor unswizzle_128x4(const Tensor& swizzled, std::int64_t M, std::int64_t K);

}  // namespace nvfp4::ref
