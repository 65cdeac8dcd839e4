// Shards of one fused parameter whose global scales differ are put on one common scale (the max):
// each shard's block scales become e4m3_satfinite(float(S) * (own / common)), f32 operations in
// that order (vLLM reconcile_nvfp4_moe_w13_scales, docs/formats.md#reconciling-shard-scales). Shards already at the
// common scale are left bit-identical.
// vLLM (nvfp4_utils.py) computes scale_factors = s2 / common in f32, multiplies the f32 block
// scales and casts to E4M3; the factor is <= 1, so saturation never matters. It differs in one
// shortcut: when torch.allclose(gate_s2, up_s2) holds over all experts it keeps the block scales
// and the *gate* scale. Here shards are compared exactly and the common scale is always the max.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace nvfp4::ref {

// rows: F8_E4M3 [rows, Kb] block scales of one shard; returns a fresh reconciled copy and the
// worst relative dequantization error it introduced.
Tensor reconcile_shard(const Tensor& rows, float own, float common, double* max_rel_error);

}  // namespace nvfp4::ref
