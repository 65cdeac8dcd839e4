// Shards of one fused parameter whose global scales differ are put on one common scale (the max):
// each shard's block scales become e4m3_satfinite(float(S) * (own / common)), f32 operations in
// that order (vLLM reconcile_nvfp4_moe_w13_scales, DESIGN §5 step 3). Shards already at the
// common scale are left bit-identical.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace nvfp4::ref {

// rows: F8_E4M3 [rows, Kb] block scales of one shard; returns a fresh reconciled copy and the
// worst relative dequantization error it introduced.
Tensor reconcile_shard(const Tensor& rows, float own, float common, double* max_rel_error);

}  // namespace nvfp4::ref
