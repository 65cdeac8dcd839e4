// sglang's conventions, read off the released wheels (pip download --no-deps sglang==V) and, for the
// rows diff decodes, confirmed on dumps sglang's own loaders and post-processing wrote
// (tools/engine_dumps/README.md). Cites are package-relative FILE:LINE@VERSION; the abbreviations
// of docs/engine-releases.md are spelled out.
#include "tools/diff/conventions.h"

namespace nvfp4::diff {

namespace {

using LQ = LinearQuantity;
using EQ = ExpertsQuantity;
constexpr Verdict kSem = Verdict::Semantic, kLay = Verdict::Layout;

const std::string kDenseBackends =
    "every FP4 GEMM runner but flashinfer_trtllm and marlin: cutlass, flashinfer_cutlass, flashinfer_cudnn, flashinfer_cutedsl "
    "(W4A4) pad the weight and swizzle the scales alike (srt/layers/quantization/fp4_utils.py)";

// ModelOptFp4LinearMethod.process_weights_after_loading: alpha = f32(max input_scale x max
// weight_scale_2) and input_scale_inv = f32(1 / max input_scale), 0-dim; the per-shard
// weight_scale_2 and input_scale kept as loaded (input_scale created with fill_value=1.0).
const std::vector<LinearScalar> kModelOptLinearScalars = {
    {"alpha", LQ::MaxInputTimesMaxWeight, kSem, Slots::One, When::Always, "max input scale x max weight_scale_2 (f32)"},
    {"input_scale_inv", LQ::InvMaxInput, kSem, Slots::One, When::Always, "1 / max input scale (f32)"},
    {"weight_scale_2", LQ::ShardWeight, kLay, Slots::PerShard, When::Always, "each shard's weight_scale_2"},
    {"input_scale", LQ::ShardInputOr1, kLay, Slots::PerShard, When::Always, "each shard's input_scale"},
};

// CompressedTensorsW4A4Fp4.process_weights_after_loading: the largest encode scales themselves,
// alpha = 1 / (in x w).
const std::vector<LinearScalar> kCtLinearScalars = {
    {"weight_global_scale", LQ::MaxWeightEnc, kSem, Slots::One, When::Always, "max weight_global_scale (encode)"},
    {"input_global_scale", LQ::MaxInputEnc, kSem, Slots::One, When::WithInputScales, "max input_global_scale (encode)"},
    {"alpha", LQ::InvOfMaxEncProduct, kSem, Slots::One, When::WithInputScales, "1 / (max input x max weight encode scale) (f32)"},
};

// ModelOptNvFp4FusedMoEMethod: g1_alphas (gate) and g1_alphas_up = f32(max w13 input scale x the
// half's weight_scale_2), g2_alphas likewise, *_input_scale_quant = f32(1 / max), 0-dim; the
// loaded per-expert scalars kept (w13_input_scale: the loader writes one of the expert's two input
// scales into both slots, whichever loads last). g1_alphas_up is read by trtllm's g1_scale_c only;
// 0.5.10.post1 has none (up_alpha false).
std::vector<ExpertsScalar> modelopt_experts_scalars(bool trtllm, bool up_alpha = true) {
  std::vector<ExpertsScalar> r = {
      {"g1_alphas", EQ::GateTimesA13, kSem, Slots::PerExpert, When::Always, "max w13 input scale x the gate's weight_scale_2 (f32)"},
      {"g1_alphas_up", EQ::UpTimesA13, trtllm ? kSem : kLay, Slots::PerExpert, When::Always, "max w13 input scale x the up's weight_scale_2 (f32)"},
      {"g2_alphas", EQ::W2TimesA2, kSem, Slots::PerExpert, When::Always, "max w2 input scale x w2's weight_scale_2 (f32)"},
      {"w13_input_scale_quant", EQ::InvA13, kSem, Slots::One, When::Always, "1 / max w13 input scale (f32)"},
      {"w2_input_scale_quant", EQ::InvA2, kSem, Slots::One, When::Always, "1 / max w2 input scale (f32)"},
      {"w13_weight_scale_2", EQ::HalfWeight, kLay, Slots::PerExpertHalf, When::Always, "each expert's gate and up weight_scale_2"},
      {"w2_weight_scale_2", EQ::W2Weight, kLay, Slots::PerExpert, When::Always, "each expert's w2 weight_scale_2"},
      {"w13_input_scale", EQ::EitherHalfInput, kLay, Slots::PerExpertHalf, When::WithInputScales, "one of the expert's gate and up input scales"},
      {"w2_input_scale", EQ::W2Input, kLay, Slots::PerExpert, When::WithInputScales, "each expert's w2 input scale"},
  };
  if (trtllm) r.push_back({"g1_scale_c", EQ::G1UpTimesInvA2, kSem, Slots::PerExpert, When::Always, "w2_input_scale_quant x g1_alphas_up (f32)"});
  if (!up_alpha) r.erase(r.begin() + 1);  // g1_alphas_up
  return r;
}

// ModelOptNvFp4FusedMoEMethod on flashinfer_trtllm in 0.5.10.post1: FusedMoE.weight_loader swaps
// w1 and w3 for this method (fused_moe_triton/layer.py:711-718), so _load_per_tensor_weight_scale
// writes the up's weight_scale_2 into column 0 and g1_alphas = f32(max w13 input scale x
// w13_weight_scale_2[:, 0]) is the up's (modelopt_quant.py:1707,1713,1751-1755); no g1_alphas_up;
// g1_scale_c = f32(w2_input_scale_quant x g1_alphas) (moe_runner/flashinfer_trtllm.py:289-295). The
// kernel applies g1_alphas to the gate half and g1_scale_c to the up half (:679-681): both the up's.
const std::vector<ExpertsScalar> kTrtllmScalars0510 = {
    {"g1_alphas", EQ::UpTimesA13, kSem, Slots::PerExpert, When::Always,
     "max w13 input scale x w13_weight_scale_2[:, 0], the up's: the loader swaps w1 and w3 (f32)"},
    {"g2_alphas", EQ::W2TimesA2, kSem, Slots::PerExpert, When::Always, "max w2 input scale x w2's weight_scale_2 (f32)"},
    {"w13_input_scale_quant", EQ::InvA13, kSem, Slots::One, When::Always, "1 / max w13 input scale (f32)"},
    {"w2_input_scale_quant", EQ::InvA2, kSem, Slots::One, When::Always, "1 / max w2 input scale (f32)"},
    {"w13_weight_scale_2", EQ::HalfWeightUpGate, kLay, Slots::PerExpertHalf, When::Always,
     "each expert's up and gate weight_scale_2, in the loader's swapped columns"},
    {"w2_weight_scale_2", EQ::W2Weight, kLay, Slots::PerExpert, When::Always, "each expert's w2 weight_scale_2"},
    {"w13_input_scale", EQ::EitherHalfInput, kLay, Slots::PerExpertHalf, When::WithInputScales, "one of the expert's gate and up input scales"},
    {"w2_input_scale", EQ::W2Input, kLay, Slots::PerExpert, When::WithInputScales, "each expert's w2 input scale"},
    {"g1_scale_c", EQ::G1UpTimesInvA2, kSem, Slots::PerExpert, When::Always, "w2_input_scale_quant x g1_alphas (f32)"},
};

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

// ModelOpt: the swizzles under *_blockscale_swizzled, aliased onto *_weight_scale where the shapes
// agree (alias_or_bind_derived_param); on trtllm both names are the shuffled scales.
const std::vector<LayoutName> kModelOptLayout = {{"w13_weight", "w13_weight"},           {"w2_weight", "w2_weight"},
                                                 {"w13_weight_scale", "w13_weight_scale"}, {"w13_blockscale_swizzled", "w13_blockscale_swizzled"},
                                                 {"w2_weight_scale", "w2_weight_scale"},   {"w2_blockscale_swizzled", "w2_blockscale_swizzled"}};
// prepare_static_weights_for_trtllm_fp4_moe's outputs under names of their own, the sources deleted
// (0.5.10.post1).
const std::vector<LayoutName> kGemmLayout = {{"gemm1_weights_fp4_shuffled", "w13_weight"},
                                             {"gemm2_weights_fp4_shuffled", "w2_weight"},
                                             {"gemm1_scales_fp4_shuffled", "w13_weight_scale"},
                                             {"gemm2_scales_fp4_shuffled", "w2_weight_scale"}};
// From 0.5.11 those outputs replace w13_weight and friends in place (ModelOpt: copy_or_rebind_param,
// srt/layers/moe/moe_runner/flashinfer_trtllm.py:481-488@0.5.11; compressed-tensors:
// replace_parameter, compressed_tensors_w4a4_nvfp4_moe.py:261-264@0.5.11).
const std::vector<LayoutName> kInPlaceTrtllmLayout = {{"w13_weight", "w13_weight"},
                                                      {"w2_weight", "w2_weight"},
                                                      {"w13_weight_scale", "w13_weight_scale"},
                                                      {"w2_weight_scale", "w2_weight_scale"}};
// Compressed-tensors: the swizzle replaces *_weight_scale (replace_parameter).
const std::vector<LayoutName> kCtLayout = {{"w13_weight", "w13_weight"},
                                           {"w2_weight", "w2_weight"},
                                           {"w13_weight_scale", "w13_blockscale_swizzled"},
                                           {"w2_weight_scale", "w2_blockscale_swizzled"}};

const std::string kCutlassPlain =
    "serves NVFP4 experts with its plain CUTLASS runner (cutlass_moe_fp4, CutlassMoEType.BlockscaledFP4: w13 rows [w1; w3], "
    "per-expert activation scales), whose layout diff does not decode yet";

const std::string kMq = "srt/layers/quantization/modelopt_quant.py";
const std::string kCtm = "srt/layers/quantization/compressed_tensors/schemes/compressed_tensors_w4a4_nvfp4_moe.py";

std::vector<LinearConvention> linear_rows() {
  return {
    // 0.5.10.post1 and 0.5.11 (the function line for line the same): weight_scale_interleaved a
    // Parameter of its own (copy_or_rebind_param), the raw loaded weight_scale kept even where the
    // shapes agree; the rest as 0.5.23.
    {.engine = Engine::Sglang, .releases = {"0.5.10.post1", "0.5.11"}, .format = CkptFormat::ModelOpt, .backends = kDenseBackends,
     .weight = "weight", .weight_align = 32, .swizzled = "weight_scale_interleaved", .loaded_scales = "weight_scale",
     .loaded = LoadedScales::AsLoaded, .scalars = kModelOptLinearScalars,
     .cite = kMq + ":1372-1465@0.5.10.post1 · :1369-1462@0.5.11 (ModelOptFp4LinearMethod.process_weights_after_loading)"},
    // CompressedTensorsW4A4Fp4.process_weights_after_loading in 0.5.10.post1 and 0.5.11 (the file
    // unchanged): line for line 0.5.23's.
    {.engine = Engine::Sglang, .releases = {"0.5.10.post1", "0.5.11"}, .format = CkptFormat::CompressedTensors,
     .backends = kDenseBackends, .weight = "weight_packed", .weight_align = 1, .swizzled = "weight_scale", .loaded_scales = "",
     .loaded = LoadedScales::None, .scalars = kCtLinearScalars,
     .cite = "srt/layers/quantization/compressed_tensors/schemes/compressed_tensors_w4a4_nvfp4.py:93-131@0.5.10.post1 · :93-131@0.5.11"},
    // ModelOptFp4LinearMethod.process_weights_after_loading: weight padded to N, K multiples of
    // 32 (pad_nvfp4_weight); weight_scale_interleaved the 128x4 swizzle, rows padded to 128 of
    // the unpadded N; alias_or_bind_derived_param keeps weight_scale.
    {.engine = Engine::Sglang, .releases = {"0.5.23", "0.5.23"}, .format = CkptFormat::ModelOpt, .backends = kDenseBackends,
     .weight = "weight", .weight_align = 32, .swizzled = "weight_scale_interleaved", .loaded_scales = "weight_scale",
     .loaded = LoadedScales::AliasWhereShapesAgree, .scalars = kModelOptLinearScalars,
     .cite = kMq + ":1846-1852,1910-1913,1991,2027@0.5.23"},
    // CompressedTensorsW4A4Fp4.process_weights_after_loading: weight_packed unpadded and not
    // renamed, the swizzle replaces weight_scale.
    {.engine = Engine::Sglang, .releases = {"0.5.23", "0.5.23"}, .format = CkptFormat::CompressedTensors,
     .backends = kDenseBackends, .weight = "weight_packed", .weight_align = 1, .swizzled = "weight_scale", .loaded_scales = "",
     .loaded = LoadedScales::None, .scalars = kCtLinearScalars,
     .cite = "srt/layers/quantization/compressed_tensors/schemes/compressed_tensors_w4a4_nvfp4.py:94-132@0.5.23"},
  };
}

std::vector<ExpertsConvention> experts_rows_0510() {
  return {
    // flashinfer_trtllm in 0.5.10.post1 (align_fp4_moe_weights_for_flashinfer_trtllm): FusedMoE pads
    // I to 128 (fused_moe_triton/layer.py:218-226, zero padding: narrow_padded_param_and_loaded_weight),
    // the loader's swap gives rows [w3; 0; w1; 0]; prepare_static_weights_for_trtllm_fp4_moe's
    // outputs (the FlashInfer permutations of 0.6.7.post3 are 0.7.2's) go under gemm1_/gemm2_ names
    // and w13_weight, w2_weight and their scales are deleted. w13/w2_blockscale_swizzled, created at
    // create_weights as the swizzle of the empty scales "for shapes, not for real content"
    // (modelopt_quant.py:1622-1642), are never written on this backend.
    {.engine = Engine::Sglang, .releases = {"0.5.10.post1", "0.5.10.post1"}, .format = CkptFormat::ModelOpt,
     .backend = MoeBackend::Trtllm, .prefix = "", .w13 = "gemm1_weights_fp4_shuffled", .w2 = "gemm2_weights_fp4_shuffled",
     .swz13 = "gemm1_scales_fp4_shuffled", .swz2 = "gemm2_scales_fp4_shuffled", .layout = kGemmLayout, .order = W13Order::UpFirst,
     .shuffle = ExpertsLayout::FlashinferTrtllm, .hidden_align = 1, .intermediate_align = 128, .w13_scales = W13Scales::UpForBoth,
     .activation = ActivationScale::OverEveryExpert, .scalars = kTrtllmScalars0510,
     .placeholders = {"w13_blockscale_swizzled", "w2_blockscale_swizzled"},
     .cite = kMq + ":1622-1642,1686-1822@0.5.10.post1 (ModelOptNvFp4FusedMoEMethod); "
                   "srt/layers/moe/moe_runner/flashinfer_trtllm.py:246-303@0.5.10.post1; "
                   "srt/layers/moe/fused_moe_triton/layer.py:218-226,318-337,529-535,711-718@0.5.10.post1"},
    // Compressed-tensors flashinfer_trtllm in 0.5.10.post1: 0.5.23's values (FusedMoE's 128 pad,
    // reorder_w1w3_to_w3w1, the gate's scale for both halves), the shuffled tensors under gemm1_/
    // gemm2_ names and the sources deleted.
    {.engine = Engine::Sglang, .releases = {"0.5.10.post1", "0.5.10.post1"}, .format = CkptFormat::CompressedTensors,
     .backend = MoeBackend::Trtllm, .prefix = "", .w13 = "gemm1_weights_fp4_shuffled", .w2 = "gemm2_weights_fp4_shuffled",
     .swz13 = "gemm1_scales_fp4_shuffled", .swz2 = "gemm2_scales_fp4_shuffled", .layout = kGemmLayout, .order = W13Order::UpFirst,
     .shuffle = ExpertsLayout::FlashinferTrtllm, .hidden_align = 1, .intermediate_align = 128, .w13_scales = W13Scales::GateForBoth,
     .activation = ActivationScale::OverEveryExpert, .scalars = ct_experts_scalars(true),
     .cite = kCtm + ":166-285@0.5.10.post1 (CompressedTensorsW4A4Nvfp4MoE.process_weights_after_loading)"},
    // flashinfer_cutlass in 0.5.10.post1 (ModelOptNvFp4FusedMoEMethod): rows [w3; w1]
    // (load_up_proj_weight_first, :1894-1897; FusedMoE's loader starts w1 at the second half,
    // fused_moe_triton/layer.py:421-426, and swaps no shard ids off trtllm, :711-718), so
    // w13_weight_scale_2 stays [gate, up] and g1_alphas = f32(max w13 input scale x
    // w13_weight_scale_2[:, 0]), the gate's, for both halves (:1693-1707,1750-1770); no
    // g1_alphas_up. process_weights_after_loading writes the 128x4 swizzle of the loaded scales into
    // w13/w2_blockscale_swizzled with copy_or_rebind_param and leaves w13/w2_weight_scale as loaded
    // (:1826-1869); the runner reads [w13_input_scale_quant, w13_blockscale_swizzled, g1_alphas,
    // ...] (apply, the flashinfer_cutlass_fused_moe call, :1986-2003). 0.5.11 the same
    // (modelopt_quant.py:1728,1765-1768,1865-1866,1903-1904,1971-1977,2109-2127@0.5.11;
    // fused_moe_triton/layer.py:446-452,775-780@0.5.11).
    {.engine = Engine::Sglang, .releases = {"0.5.10.post1", "0.5.11"}, .format = CkptFormat::ModelOpt,
     .backend = MoeBackend::FlashinferCutlass, .prefix = "", .w13 = "w13_weight", .w2 = "w2_weight",
     .swz13 = "w13_blockscale_swizzled", .swz2 = "w2_blockscale_swizzled", .layout = kModelOptLayout, .loaded = LoadedScales::AsLoaded,
     .order = W13Order::UpFirst, .shuffle = ExpertsLayout::Swizzle128x4, .hidden_align = 1, .intermediate_align = 1,
     .w13_scales = W13Scales::GateForBoth, .activation = ActivationScale::OverEveryExpert,
     .scalars = modelopt_experts_scalars(false, false),
     .cite = kMq + ":1686-1897,1986-2003@0.5.10.post1 (ModelOptNvFp4FusedMoEMethod.process_weights_after_loading, "
                   "load_up_proj_weight_first, apply) · :1707-1977,2109-2127@0.5.11; "
                   "srt/layers/moe/fused_moe_triton/layer.py:421-426,711-718@0.5.10.post1 · :446-452,775-780@0.5.11"},
    // Compressed-tensors on flashinfer_cutlass in 0.5.10.post1: CompressedTensorsW4A4Nvfp4MoE has no
    // load_up_proj_weight_first, so w13 stays [w1; w3], and off trtllm it runs sglang's own
    // cutlass_moe_fp4 (apply_weights, :402-421; silu_and_mul over [gate; up],
    // srt/layers/moe/cutlass_moe.py), the swizzle replacing w13/w2_weight_scale (:284-292), the
    // activation scales per expert (:203-239); the scalars are 0.5.23's. 0.5.11 the same (:167-287,
    // 386-405@0.5.11).
    {.engine = Engine::Sglang, .releases = {"0.5.10.post1", "0.5.11"}, .format = CkptFormat::CompressedTensors,
     .backend = MoeBackend::FlashinferCutlass, .prefix = "", .w13 = "w13_weight", .w2 = "w2_weight",
     .swz13 = "w13_weight_scale", .swz2 = "w2_weight_scale", .layout = kCtLayout, .order = W13Order::GateFirst,
     .shuffle = ExpertsLayout::Swizzle128x4, .hidden_align = 1, .intermediate_align = 1, .w13_scales = W13Scales::GateForBoth,
     .activation = ActivationScale::PerExpert, .scalars = ct_experts_scalars(false),
     .cite = kCtm + ":166-300,402-421@0.5.10.post1 · :167-287,386-405@0.5.11 "
                   "(CompressedTensorsW4A4Nvfp4MoE.process_weights_after_loading, apply_weights)"},
  };
}

std::vector<ExpertsConvention> experts_rows_0511() {
  return {
    // flashinfer_trtllm in 0.5.11: 0.5.10.post1's values (FusedMoE's 128 pad of I,
    // fused_moe_triton/layer.py:228-236; the loader's w1/w3 swap, :775-780, so rows [w3; 0; w1; 0]
    // and g1_alphas = max w13 input scale x w13_weight_scale_2[:, 0], the up's, modelopt_quant.py:1728,
    // 1765-1768; g1_scale_c = w2_input_scale_quant x g1_alphas, flashinfer_trtllm.py:493-502; no
    // g1_alphas_up), but align_fp4_moe_weights_for_flashinfer_trtllm writes the shuffled weights and
    // scales over w13_weight, w2_weight and their scales in place (flashinfer_trtllm.py:431-505; its
    // own 16-alignment pad, :383-428, finds I already a multiple of 128). w13/w2_blockscale_swizzled,
    // the swizzle of the empty scales "for shapes" (modelopt_quant.py:1643-1663), stay unwritten.
    {.engine = Engine::Sglang, .releases = {"0.5.11", "0.5.11"}, .format = CkptFormat::ModelOpt,
     .backend = MoeBackend::Trtllm, .prefix = "", .w13 = "w13_weight", .w2 = "w2_weight",
     .swz13 = "w13_weight_scale", .swz2 = "w2_weight_scale", .layout = kInPlaceTrtllmLayout, .order = W13Order::UpFirst,
     .shuffle = ExpertsLayout::FlashinferTrtllm, .hidden_align = 1, .intermediate_align = 128, .w13_scales = W13Scales::UpForBoth,
     .activation = ActivationScale::OverEveryExpert, .scalars = kTrtllmScalars0510,
     .placeholders = {"w13_blockscale_swizzled", "w2_blockscale_swizzled"},
     .cite = kMq + ":1643-1663,1707-1836@0.5.11 (ModelOptNvFp4FusedMoEMethod); "
                   "srt/layers/moe/moe_runner/flashinfer_trtllm.py:383-505@0.5.11; "
                   "srt/layers/moe/fused_moe_triton/layer.py:228-236,446-452,775-780@0.5.11"},
    // Compressed-tensors flashinfer_trtllm in 0.5.11: 0.5.10.post1's values, the shuffled tensors
    // written over w13_weight and friends with replace_parameter (:261-264) instead of under gemm1_/
    // gemm2_ names.
    {.engine = Engine::Sglang, .releases = {"0.5.11", "0.5.11"}, .format = CkptFormat::CompressedTensors,
     .backend = MoeBackend::Trtllm, .prefix = "", .w13 = "w13_weight", .w2 = "w2_weight", .swz13 = "w13_weight_scale",
     .swz2 = "w2_weight_scale", .layout = kInPlaceTrtllmLayout, .order = W13Order::UpFirst,
     .shuffle = ExpertsLayout::FlashinferTrtllm, .hidden_align = 1, .intermediate_align = 128, .w13_scales = W13Scales::GateForBoth,
     .activation = ActivationScale::OverEveryExpert, .scalars = ct_experts_scalars(true),
     .cite = kCtm + ":167-271@0.5.11 (CompressedTensorsW4A4Nvfp4MoE.process_weights_after_loading)"},
  };
}

std::vector<ExpertsConvention> experts_rows_0523() {
  return {
    // flashinfer_cutlass: rows [w3; w1] (load_up_proj_weight_first); one alpha for both halves
    // of w13: the runner's quant_scales are [w13_input_scale_quant, w13_blockscale_swizzled,
    // g1_alphas, ...] (the flashinfer_cutlass_fused_moe call), so an up half with its own
    // scale dequantizes off.
    {.engine = Engine::Sglang, .releases = {"0.5.23", "0.5.23"}, .format = CkptFormat::ModelOpt,
     .backend = MoeBackend::FlashinferCutlass, .prefix = "", .w13 = "w13_weight", .w2 = "w2_weight",
     .swz13 = "w13_blockscale_swizzled", .swz2 = "w2_blockscale_swizzled", .layout = kModelOptLayout,
     .order = W13Order::UpFirst, .shuffle = ExpertsLayout::Swizzle128x4, .hidden_align = 1, .intermediate_align = 1,
     .w13_scales = W13Scales::GateForBoth, .activation = ActivationScale::OverEveryExpert, .scalars = modelopt_experts_scalars(false),
     .cite = kMq + ":2825-2831,3005-3022@0.5.23"},
    // flashinfer_trtllm: rows [w3; 0; w1; 0], Ip = round_up(I, 64) in create_weights, shuffled
    // in place (moe_runner/flashinfer_trtllm.py); the up half has its own alpha,
    // g1_alphas_up, carried into g1_scale_c.
    {.engine = Engine::Sglang, .releases = {"0.5.23", "0.5.23"}, .format = CkptFormat::ModelOpt,
     .backend = MoeBackend::Trtllm, .prefix = "", .w13 = "w13_weight", .w2 = "w2_weight", .swz13 = "w13_blockscale_swizzled",
     .swz2 = "w2_blockscale_swizzled", .layout = kModelOptLayout, .order = W13Order::UpFirst,
     .shuffle = ExpertsLayout::FlashinferTrtllm, .hidden_align = 1, .intermediate_align = 64, .w13_scales = W13Scales::EachOwn,
     .activation = ActivationScale::OverEveryExpert, .scalars = modelopt_experts_scalars(true),
     .cite = kMq + ":2474-2487,2557,2825-2831,2859-2872,2971-2975,3101-3108@0.5.23; "
                   "srt/layers/moe/moe_runner/flashinfer_trtllm.py:613-625@0.5.23"},
    // Compressed-tensors, any backend but trtllm: the FlashInfer CUTLASS runner, rows [w3; w1]
    // (load_up_proj_weight_first = not use_flashinfer_trtllm), per-expert activation scales.
    {.engine = Engine::Sglang, .releases = {"0.5.23", "0.5.23"}, .format = CkptFormat::CompressedTensors,
     .backend = MoeBackend::FlashinferCutlass, .prefix = "", .w13 = "w13_weight", .w2 = "w2_weight",
     .swz13 = "w13_weight_scale", .swz2 = "w2_weight_scale", .layout = kCtLayout, .order = W13Order::UpFirst,
     .shuffle = ExpertsLayout::Swizzle128x4, .hidden_align = 1, .intermediate_align = 1, .w13_scales = W13Scales::GateForBoth,
     .activation = ActivationScale::PerExpert, .scalars = ct_experts_scalars(false), .cite = kCtm + ":49-51,276,308@0.5.23"},
    // Compressed-tensors trtllm: FusedMoE pads I to 128 for this method
    // (srt/layers/moe/fused_moe_triton/layer.py:513-524@0.5.23), the activation scales shared
    // over experts; both halves decoded with the gate's scale.
    {.engine = Engine::Sglang, .releases = {"0.5.23", "0.5.23"}, .format = CkptFormat::CompressedTensors,
     .backend = MoeBackend::Trtllm, .prefix = "", .w13 = "w13_weight", .w2 = "w2_weight", .swz13 = "w13_weight_scale",
     .swz2 = "w2_weight_scale", .layout = kCtLayout, .order = W13Order::UpFirst, .shuffle = ExpertsLayout::FlashinferTrtllm,
     .hidden_align = 1, .intermediate_align = 64, .w13_scales = W13Scales::GateForBoth, .activation = ActivationScale::OverEveryExpert,
     .scalars = ct_experts_scalars(true), .cite = kCtm + ":182-186,263-272@0.5.23"},
  };
}

std::vector<ExpertsConvention> experts_rows() {
  std::vector<ExpertsConvention> r = experts_rows_0510(), next = experts_rows_0511(), newest = experts_rows_0523();
  r.insert(r.end(), next.begin(), next.end());
  r.insert(r.end(), newest.begin(), newest.end());
  return r;
}

std::vector<ReleaseRule> answers() {
  return {
    // The plain cutlass MoE runner: served, refused, served again, refused for good.
    {Engine::Sglang, "0.5.10.post1", "0.5.10.post1", MoeBackend::Cutlass, Support::NotDecoded, kCutlassPlain,
     kMq + ":1880-1906,2017@0.5.10.post1"},
    // 0.5.11's own run (tools/engine_dumps/generate.py, moe_runner_backend=cutlass) raises it from
    // FusedMoE.__init__ (fused_moe_triton/layer.py:301 -> modelopt_quant.py:1999 -> runner.py:66);
    // its cutlass_moe_fp4 path is reached only under an unresolved `auto` (docs/engine-releases.md).
    {Engine::Sglang, "0.5.11", "0.5.14", MoeBackend::Cutlass, Support::Refused,
     "create_moe_runner hands every backend but flashinfer_cutlass to MoeRunner, which raises "
     "NotImplementedError(\"Unsupported runner backend: cutlass\")",
     "srt/layers/moe/moe_runner/runner.py:66@0.5.11 · :67@0.5.14"},
    {Engine::Sglang, "0.5.15", "0.5.15.post1", MoeBackend::Cutlass, Support::NotDecoded, kCutlassPlain,
     kMq + ":2462-2466@0.5.15; srt/layers/moe/moe_runner/runner.py:68@0.5.15"},
    {Engine::Sglang, "0.5.16", "0.5.23", MoeBackend::Cutlass, Support::Refused,
     "NotImplementedError(\"moe_runner_backend=cutlass is not supported for NVFP4 MoE. Use --moe-runner-backend "
     "flashinfer_cutlass instead.\")",
     kMq + ":2452-2456@0.5.16 · :3144-3148@0.5.23"},
    {Engine::Sglang, "0.5.10.post1", "0.5.22", std::nullopt, Support::NotDecoded,
     "holds names, aliases, padding or scalars that differ from 0.5.23's in ways diff does not decode yet "
     "(docs/engine-releases.md, the sglang tables)",
     ""},
  };
}

}  // namespace

const EngineConventions& sglang_conventions() {
  static const EngineConventions t = {
      .engine = Engine::Sglang,
      // Every release on PyPI in the range (docs/engine-releases.md).
      .releases = {"0.5.10.post1", "0.5.11", "0.5.12", "0.5.12.post1", "0.5.13", "0.5.13.post1", "0.5.14", "0.5.15", "0.5.15.post1",
                   "0.5.16", "0.5.17", "0.5.18", "0.5.19", "0.5.20", "0.5.21", "0.5.22", "0.5.23"},
      .linear = linear_rows(),
      .experts = experts_rows(),
      .answers = answers(),
  };
  return t;
}

}  // namespace nvfp4::diff
