// sglang's compressed-tensors experts (CompressedTensorsW4A4Nvfp4MoE), read off the released wheels
// (docs/engine-releases.md, "Experts, compressed-tensors"). The scheme picks trtllm by
// use_flashinfer_trtllm = is_flashinfer_trtllm() and every other moe_runner_backend (cutlass,
// flashinfer_cutlass, auto) takes the same non-trtllm path: no release refuses cutlass here
// (compressed_tensors_w4a4_nvfp4_moe.py:179-230@0.5.10.post1 · :49,182-242@0.5.23).
#include "tools/diff/conventions_sglang_experts.h"

namespace nvfp4::diff::sglang_rows {

namespace {

using EQ = ExpertsQuantity;
constexpr Verdict kSem = Verdict::Semantic, kLay = Verdict::Layout;

// CompressedTensorsW4A4Nvfp4MoE: w13/w2_weight_scale_2 = f32(1 / the gate's, w2's encode scale);
// a13, a2 = the smallest input encode scales, shared over experts on trtllm only; g1/g2_alphas =
// f32(f32(1 / a) x weight decode scale); the encode scales kept; trtllm: g1_scale_c = a2 x g1.
std::vector<ExpertsScalar> ct_experts_scalars(bool trtllm) {
  const std::string over = trtllm ? " over every expert" : " of the expert";
  std::vector<ExpertsScalar> r = {
      {"w13_weight_scale_2", EQ::InvGateEnc, kSem, Slots::PerExpert, When::Always, "1 / the gate's weight_global_scale (f32)"},
      {"w2_weight_scale_2", EQ::InvW2Enc, kSem, Slots::PerExpert, When::Always, "1 / w2's weight_global_scale (f32)"},
      {"w13_input_scale_quant", EQ::MinEnc13, kSem, Slots::PerExpert, When::Always, "the smallest gate and up input_global_scale" + over},
      {"w2_input_scale_quant", EQ::MinEnc2, kSem, Slots::PerExpert, When::Always, "the smallest w2 input_global_scale" + over},
      {"g1_alphas", EQ::EncG1, kSem, Slots::PerExpert, When::Always,
       "f32(1 / the smallest gate and up input_global_scale" + over + ") x f32(1 / the gate's weight_global_scale) (f32)"},
      {"g2_alphas", EQ::EncG2, kSem, Slots::PerExpert, When::Always,
       "f32(1 / the smallest w2 input_global_scale" + over + ") x f32(1 / w2's weight_global_scale) (f32)"},
      {"w13_weight_global_scale", EQ::HalfWeightEnc, kLay, Slots::PerExpertHalf, When::Always, "each expert's gate and up weight_global_scale"},
      {"w2_weight_global_scale", EQ::W2WeightEnc, kLay, Slots::PerExpert, When::Always, "each expert's w2 weight_global_scale"},
      {"w13_input_global_scale", EQ::HalfInputEnc, kLay, Slots::PerExpertHalf, When::Always, "each expert's gate and up input_global_scale"},
      {"w2_input_global_scale", EQ::W2InputEnc, kLay, Slots::PerExpert, When::Always, "each expert's w2 input_global_scale"},
  };
  if (trtllm) r.push_back({"g1_scale_c", EQ::EncScaleC, kSem, Slots::PerExpert, When::Always, "the smallest w2 input_global_scale" + over + " x g1 alpha (f32)"});
  return r;
}

// Off trtllm the swizzle replaces *_weight_scale (replace_parameter / a new Parameter).
const std::vector<LayoutName> kCtLayout = {{"w13_weight", "w13_weight"},
                                           {"w2_weight", "w2_weight"},
                                           {"w13_weight_scale", "w13_blockscale_swizzled"},
                                           {"w2_weight_scale", "w2_blockscale_swizzled"}};

// Every backend but trtllm, in every release: served by one row per w13 row order.
ExpertsConvention non_trtllm(ReleaseRange releases, W13Order order, std::string cite) {
  return {.engine = Engine::Sglang, .releases = std::move(releases), .format = CkptFormat::CompressedTensors,
          .backend = MoeBackend::FlashinferCutlass, .prefix = "", .w13 = "w13_weight", .w2 = "w2_weight",
          .swz13 = "w13_weight_scale", .swz2 = "w2_weight_scale", .layout = kCtLayout, .order = order,
          .shuffle = ExpertsLayout::Swizzle128x4, .hidden_align = 1, .intermediate_align = 1, .w13_scales = W13Scales::GateForBoth,
          .activation = ActivationScale::PerExpert, .scalars = ct_experts_scalars(false), .cite = std::move(cite),
          .also = {MoeBackend::Cutlass}};
}

}  // namespace

std::vector<ExpertsConvention> ct_experts() {
  return {
    // flashinfer_trtllm in 0.5.10.post1: FusedMoE pads I to 128 (padded loading), loaded
    // [w1; 0; w3; 0], then reorder_w1w3_to_w3w1 gives [w3; 0; w1; 0]; both halves decoded with the
    // gate's scale; the shuffled tensors under gemm1_/gemm2_ names and the sources deleted.
    {.engine = Engine::Sglang, .releases = {"0.5.10.post1", "0.5.10.post1"}, .format = CkptFormat::CompressedTensors,
     .backend = MoeBackend::Trtllm, .prefix = "", .w13 = "gemm1_weights_fp4_shuffled", .w2 = "gemm2_weights_fp4_shuffled",
     .swz13 = "gemm1_scales_fp4_shuffled", .swz2 = "gemm2_scales_fp4_shuffled", .layout = kGemmLayout, .order = W13Order::UpFirst,
     .shuffle = ExpertsLayout::FlashinferTrtllm, .hidden_align = 1, .intermediate_align = 128, .w13_scales = W13Scales::GateForBoth,
     .activation = ActivationScale::OverEveryExpert, .scalars = ct_experts_scalars(true),
     .cite = kCtm + ":166-285@0.5.10.post1 (CompressedTensorsW4A4Nvfp4MoE.process_weights_after_loading)"},
    // flashinfer_trtllm from 0.5.11: the same values, the shuffled tensors written over w13_weight
    // and friends with replace_parameter; FusedMoE keeps its 128 pad of I for this method
    // (fused_moe_triton/layer.py:232@0.5.11 · :513-524@0.5.23).
    {.engine = Engine::Sglang, .releases = {"0.5.11", "0.5.23"}, .format = CkptFormat::CompressedTensors,
     .backend = MoeBackend::Trtllm, .prefix = "", .w13 = "w13_weight", .w2 = "w2_weight", .swz13 = "w13_weight_scale",
     .swz2 = "w2_weight_scale", .layout = kInPlaceTrtllmLayout, .order = W13Order::UpFirst,
     .shuffle = ExpertsLayout::FlashinferTrtllm, .hidden_align = 1, .intermediate_align = 128, .w13_scales = W13Scales::GateForBoth,
     .activation = ActivationScale::OverEveryExpert, .scalars = ct_experts_scalars(true),
     .cite = kCtm + ":167-271@0.5.11 · :182-186,263-272@0.5.23 (CompressedTensorsW4A4Nvfp4MoE.process_weights_after_loading)"},
    // Every other backend through 0.5.16: no load_up_proj_weight_first, so w13 stays [w1; w3]; the
    // swizzle replaces w13/w2_weight_scale, the activation scales per expert. Through 0.5.15.post1
    // sglang's own cutlass_moe_fp4 runs it (CutlassMoEParams(BlockscaledFP4), apply_weights; silu_and_mul
    // over [gate; up], srt/layers/moe/cutlass_moe.py); 0.5.16 hands the same tensors, [w1; w3]
    // still, to the FlashInfer CUTLASS runner.
    non_trtllm({"0.5.10.post1", "0.5.16"}, W13Order::GateFirst,
               kCtm + ":166-300,402-421@0.5.10.post1 · :274,282,392@0.5.15.post1 · :273,290@0.5.16 "
                      "(CompressedTensorsW4A4Nvfp4MoE.process_weights_after_loading, apply_weights)"),
    // From 0.5.17 the FlashInfer CUTLASS runner's [w3; w1] (load_up_proj_weight_first = not
    // use_flashinfer_trtllm, forwarded by the wrapper).
    non_trtllm({"0.5.17", "0.5.23"}, W13Order::UpFirst, kCtm + ":46-49,273,294@0.5.17 · :49-51,276,308@0.5.23"),
  };
}

}  // namespace nvfp4::diff::sglang_rows
