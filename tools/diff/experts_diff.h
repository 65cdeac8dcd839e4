// One experts module of an engine dump against the checkpoint.
//
// sglang 0.5.23 ModelOptNvFp4FusedMoEMethod, read off its code and off dumps its own loaders wrote
// (tools/engine_dumps/README.md):
//   flashinfer_cutlass: w13 rows [w3 (up); w1 (gate)] (load_up_proj_weight_first); the 128x4
//     swizzles of the loaded block scales under w13/w2_blockscale_swizzled, aliased onto
//     w13/w2_weight_scale where the shapes agree; one alpha for both halves of w13: g1_alphas =
//     f32(max w13 input scale x the gate's weight_scale_2): the runner's quant_scales are
//     [w13_input_scale_quant, w13_blockscale_swizzled, g1_alphas, ...] (modelopt_quant.py, the
//     flashinfer_cutlass_fused_moe call), so an up half with its own scale dequantizes off.
//   flashinfer_trtllm: FlashInfer's layout (the reference's trtllm: I padded to 64 per half, gated
//     reorder, shuffle, swizzle), scales not reconciled: the up half has its own alpha,
//     g1_alphas_up, carried into g1_scale_c = f32(w2_input_scale_quant x g1_alphas_up).
//   Both: g2_alphas = f32(max w2 input scale x w2's weight_scale_2), w13/w2_input_scale_quant =
//     f32(1 / max input scale), 0-dim; the loaded per-expert scalars kept. sglang refuses cutlass.
// vLLM 0.33.0 ModelOptNvFp4FusedMoE, parameters under `routed_experts.`: one w13 global scale per
//   expert, the gate's, for every backend (it warns when gate and up differ and reconciles
//   nothing); the swizzled scales replace w13/w2_weight_scale. cutlass (VLLM_CUTLASS): [w1; w3];
//   flashinfer_cutlass: [w3; w1]; flashinfer_trtllm: H padded to 256 with zeros first (so the
//   shuffle and the 128x4 tiles run over the padded rows), then FlashInfer's layout. Scalars in
//   vllm_scalars (experts_diff.cpp).
#pragma once
#include <string>

#include "core/checkpoint.h"
#include "core/module_map.h"
#include "tools/diff/engine_dump.h"
#include "tools/diff/module_diff.h"

namespace nvfp4::diff {

enum class MoeBackend { Cutlass, FlashinferCutlass, Trtllm };
std::string moe_backend_name(MoeBackend b);

// As diff_linear: semantic (codes and block scales through the backend's row order, padding,
// shuffle and swizzle, dequantized under the global scale each half's alpha applies; scalars) and
// layout (bytes of the reference's post-processing under the backend's order, no reconcile).
ModuleDiff diff_experts(const ExpertsSpec& s, const Checkpoint& c, const EngineDump& d, Engine e, MoeBackend b);

}  // namespace nvfp4::diff
