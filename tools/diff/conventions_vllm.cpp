// vLLM's conventions, read off the released wheels (pip download --no-deps vllm==V) and, for the
// rows diff decodes, confirmed on dumps vLLM's own loaders and post-processing wrote
// (tools/engine_dumps/README.md). Cites are package-relative FILE:LINE@VERSION; the abbreviations
// of docs/engine-releases.md are spelled out.
#include "tools/diff/conventions.h"

namespace nvfp4::diff {

namespace {

using LQ = LinearQuantity;
using EQ = ExpertsQuantity;
constexpr Verdict kSem = Verdict::Semantic, kLay = Verdict::Layout;

const std::string kDenseBackends =
    "VLLM_CUTLASS, FLASHINFER_CUTLASS and FLASHINFER_CUDNN: CutlassNvFp4LinearKernel and its siblings pad and swizzle alike "
    "(model_executor/kernels/linear/nvfp4/cutlass.py:37-44@0.33.0)";
const std::string kFfm = "model_executor/layers/quantization/utils/flashinfer_fp4_moe.py";

// ModelOptLinearMethod (KNvfp4Static.process, maybe_fuse_global_scales): 0-dim max scales, alpha =
// in x w, input_global_scale_inv = f32(1 / in); no input scales (W4A16): no input globals.
const std::vector<LinearScalar> kModelOptLinearScalars = {
    {"alpha", LQ::MaxInputTimesMaxWeight, kSem, Slots::One, When::Always, "max input scale x max weight_scale_2 (f32)"},
    {"weight_global_scale", LQ::MaxWeight, kSem, Slots::One, When::Always, "max weight_scale_2"},
    {"input_global_scale", LQ::MaxInput, kSem, Slots::One, When::WithInputScales, "max input scale"},
    {"input_global_scale_inv", LQ::InvMaxInput, kSem, Slots::One, When::WithInputScales, "1 / max input scale (f32)"},
};

// CompressedTensorsW4A4Nvfp4: the f32 reciprocals of the largest encode scales as decode scales,
// the input one kept as _inv, alpha = in x w.
const std::vector<LinearScalar> kCtLinearScalars = {
    {"weight_global_scale", LQ::InvMaxWeightEnc, kSem, Slots::One, When::Always, "1 / max weight_global_scale (f32)"},
    {"input_global_scale", LQ::InvMaxInputEnc, kSem, Slots::One, When::WithInputScales, "1 / max input_global_scale (f32)"},
    {"input_global_scale_inv", LQ::MaxInputEnc, kSem, Slots::One, When::WithInputScales, "max input_global_scale (encode)"},
    {"alpha", LQ::ProductOfInvMaxEnc, kSem, Slots::One, When::WithInputScales, "input_global_scale x weight_global_scale (f32)"},
};

// ModelOptNvFp4FusedMoE (prepare_nvfp4_moe_layer_for_fi_or_cutlass, the experts' in-place fusion):
// one w13 scale per expert, the gate's; a13, a2 per expert (cutlass: the larger of the expert's gate
// and up) or the max over every expert (FlashInfer backends), held as decode scales under
// w13/w2_input_scale; the alphas fused into w13/w2_weight_scale_2; trtllm: g1_scale_c = g1 x f32(1 / a2).
std::vector<ExpertsScalar> modelopt_experts_scalars(MoeBackend b) {
  const bool shared = b != MoeBackend::Cutlass;
  const std::string from = shared ? "max over every expert's" : "the expert's";
  std::vector<ExpertsScalar> r = {
      {"w13_weight_scale_2", EQ::GateTimesA13, kSem, Slots::PerExpert, When::Always, "g1 alpha: the gate's weight_scale_2 x a13 (f32)"},
      {"w2_weight_scale_2", EQ::W2TimesA2, kSem, Slots::PerExpert, When::Always, "g2 alpha: w2's weight_scale_2 x a2 (f32)"},
      {"w13_input_scale", EQ::A13, kSem, Slots::PerExpert, When::WithInputScales,
       "a13: " + from + (shared ? " gate and up input scales" : " gate and up input scale, the larger")},
      {"w2_input_scale", EQ::A2, kSem, Slots::PerExpert, When::WithInputScales, "a2: " + from + " w2 input scale" + (shared ? "s" : "")},
  };
  if (b == MoeBackend::Trtllm) r.push_back({"g1_scale_c", EQ::G1TimesInvA2, kSem, Slots::PerExpert, When::Always, "g1 alpha x f32(1 / a2) (f32)"});
  return r;
}

// CompressedTensorsW4A4Nvfp4MoEMethod: as ModelOpt with encode scales (a13, a2 the smallest input
// encode scales, shared on every FlashInfer backend); the alphas fused into w13/w2_weight_scale_2;
// the encode scales kept.
std::vector<ExpertsScalar> ct_experts_scalars(MoeBackend b) {
  const std::string over = b != MoeBackend::Cutlass ? " over every expert" : " of the expert";
  std::vector<ExpertsScalar> r = {
      {"w13_weight_scale_2", EQ::EncG1, kSem, Slots::PerExpert, When::Always,
       "g1 alpha: f32(1 / the smallest gate and up input_global_scale" + over + ") x f32(1 / the gate's weight_global_scale) (f32)"},
      {"w2_weight_scale_2", EQ::EncG2, kSem, Slots::PerExpert, When::Always,
       "g2 alpha: f32(1 / the smallest w2 input_global_scale" + over + ") x f32(1 / w2's weight_global_scale) (f32)"},
      {"w13_weight_global_scale", EQ::HalfWeightEnc, kLay, Slots::PerExpertHalf, When::Always, "each expert's gate and up weight_global_scale"},
      {"w2_weight_global_scale", EQ::W2WeightEnc, kLay, Slots::PerExpert, When::Always, "each expert's w2 weight_global_scale"},
      {"w13_input_global_scale", EQ::HalfInputEnc, kLay, Slots::PerExpertHalf, When::Always, "each expert's gate and up input_global_scale"},
      {"w2_input_global_scale", EQ::W2InputEnc, kLay, Slots::PerExpert, When::Always, "each expert's w2 input_global_scale"},
  };
  if (b == MoeBackend::Trtllm)
    r.push_back({"g1_scale_c", EQ::EncScaleC, kSem, Slots::PerExpert, When::Always, "the smallest w2 input_global_scale" + over + " x g1 alpha (f32)"});
  return r;
}

// The swizzled (or shuffled) scales replace w13/w2_weight_scale (replace_parameter).
const std::vector<LayoutName> kLayout = {{"w13_weight", "w13_weight"},
                                         {"w2_weight", "w2_weight"},
                                         {"w13_weight_scale", "w13_blockscale_swizzled"},
                                         {"w2_weight_scale", "w2_blockscale_swizzled"}};

const std::string kMo = "model_executor/layers/quantization/modelopt.py:1039-1116@0.33.0; ";
const std::string kVcm =
    "model_executor/layers/quantization/compressed_tensors/compressed_tensors_moe/compressed_tensors_moe_w4a4_nvfp4.py:262-265@0.33.0; ";

std::vector<LinearConvention> linear_rows() {
  return {
    // ModelOpt: weight padded to N, K multiples of 32; the swizzle replaces weight_scale.
    {.engine = Engine::Vllm, .releases = {"0.33.0", "0.33.0"}, .format = CkptFormat::ModelOpt, .backends = kDenseBackends,
     .weight = "weight", .weight_align = 32, .swizzled = "weight_scale", .loaded_scales = "", .loaded = LoadedScales::None,
     .scalars = kModelOptLinearScalars, .cite = "model_executor/layers/quantization/modelopt.py:2094,2127-2134,2411-2419,2688@0.33.0"},
    // Compressed-tensors: weight_packed renamed weight and padded as above.
    {.engine = Engine::Vllm, .releases = {"0.33.0", "0.33.0"}, .format = CkptFormat::CompressedTensors,
     .backends = kDenseBackends, .weight = "weight", .weight_align = 32, .swizzled = "weight_scale", .loaded_scales = "",
     .loaded = LoadedScales::None, .scalars = kCtLinearScalars,
     .cite = "model_executor/layers/quantization/compressed_tensors/schemes/compressed_tensors_w4a4_nvfp4.py:95-138@0.33.0"},
  };
}

std::vector<ExpertsConvention> experts_rows() {
  return {
    // Parameters under routed_experts. (the MoERunner's). VLLM_CUTLASS keeps [w1; w3];
    // FLASHINFER_CUTLASS and FLASHINFER_TRTLLM reorder_w1w3_to_w3w1 (flashinfer_fp4_moe.py:384);
    // trtllm pads H to 256 with zeros first (so the shuffle and the 128x4 tiles run over the
    // padded rows) and each half of I to 64 (:401,419; flashinfer_utils.py:255,283-302), then
    // FlashInfer's layout. a13, a2: per expert on VLLM_CUTLASS, else over every expert
    // (:387-397). No backend reconciles gate and up.
    {.engine = Engine::Vllm, .releases = {"0.33.0", "0.33.0"}, .format = CkptFormat::ModelOpt, .backend = MoeBackend::Cutlass,
     .prefix = "routed_experts.", .w13 = "w13_weight", .w2 = "w2_weight", .swz13 = "w13_weight_scale", .swz2 = "w2_weight_scale",
     .layout = kLayout, .order = W13Order::GateFirst, .shuffle = ExpertsLayout::Swizzle128x4,
     .hidden_align = 1, .intermediate_align = 1, .w13_scales = W13Scales::GateForBoth,
     .activation = ActivationScale::PerExpert, .scalars = modelopt_experts_scalars(MoeBackend::Cutlass),
     .cite = kMo + kFfm + ":384,387-397,401,419@0.33.0"},
    {.engine = Engine::Vllm, .releases = {"0.33.0", "0.33.0"}, .format = CkptFormat::ModelOpt, .backend = MoeBackend::FlashinferCutlass,
     .prefix = "routed_experts.", .w13 = "w13_weight", .w2 = "w2_weight", .swz13 = "w13_weight_scale", .swz2 = "w2_weight_scale",
     .layout = kLayout, .order = W13Order::UpFirst, .shuffle = ExpertsLayout::Swizzle128x4,
     .hidden_align = 1, .intermediate_align = 1, .w13_scales = W13Scales::GateForBoth,
     .activation = ActivationScale::OverEveryExpert, .scalars = modelopt_experts_scalars(MoeBackend::FlashinferCutlass),
     .cite = kMo + kFfm + ":384,387-397,401,419@0.33.0"},
    {.engine = Engine::Vllm, .releases = {"0.33.0", "0.33.0"}, .format = CkptFormat::ModelOpt, .backend = MoeBackend::Trtllm,
     .prefix = "routed_experts.", .w13 = "w13_weight", .w2 = "w2_weight", .swz13 = "w13_weight_scale", .swz2 = "w2_weight_scale",
     .layout = kLayout, .order = W13Order::UpFirst, .shuffle = ExpertsLayout::FlashinferTrtllm,
     .hidden_align = 256, .intermediate_align = 64, .w13_scales = W13Scales::GateForBoth,
     .activation = ActivationScale::OverEveryExpert, .scalars = modelopt_experts_scalars(MoeBackend::Trtllm),
     .cite = kMo + kFfm + ":384,387-397,401,419@0.33.0"},
    {.engine = Engine::Vllm, .releases = {"0.33.0", "0.33.0"}, .format = CkptFormat::CompressedTensors, .backend = MoeBackend::Cutlass,
     .prefix = "routed_experts.", .w13 = "w13_weight", .w2 = "w2_weight", .swz13 = "w13_weight_scale", .swz2 = "w2_weight_scale",
     .layout = kLayout, .order = W13Order::GateFirst, .shuffle = ExpertsLayout::Swizzle128x4,
     .hidden_align = 1, .intermediate_align = 1, .w13_scales = W13Scales::GateForBoth,
     .activation = ActivationScale::PerExpert, .scalars = ct_experts_scalars(MoeBackend::Cutlass),
     .cite = kVcm + kFfm + ":384,387-397,401,419@0.33.0"},
    {.engine = Engine::Vllm, .releases = {"0.33.0", "0.33.0"}, .format = CkptFormat::CompressedTensors, .backend = MoeBackend::FlashinferCutlass,
     .prefix = "routed_experts.", .w13 = "w13_weight", .w2 = "w2_weight", .swz13 = "w13_weight_scale", .swz2 = "w2_weight_scale",
     .layout = kLayout, .order = W13Order::UpFirst, .shuffle = ExpertsLayout::Swizzle128x4,
     .hidden_align = 1, .intermediate_align = 1, .w13_scales = W13Scales::GateForBoth,
     .activation = ActivationScale::OverEveryExpert, .scalars = ct_experts_scalars(MoeBackend::FlashinferCutlass),
     .cite = kVcm + kFfm + ":384,387-397,401,419@0.33.0"},
    {.engine = Engine::Vllm, .releases = {"0.33.0", "0.33.0"}, .format = CkptFormat::CompressedTensors, .backend = MoeBackend::Trtllm,
     .prefix = "routed_experts.", .w13 = "w13_weight", .w2 = "w2_weight", .swz13 = "w13_weight_scale", .swz2 = "w2_weight_scale",
     .layout = kLayout, .order = W13Order::UpFirst, .shuffle = ExpertsLayout::FlashinferTrtllm,
     .hidden_align = 256, .intermediate_align = 64, .w13_scales = W13Scales::GateForBoth,
     .activation = ActivationScale::OverEveryExpert, .scalars = ct_experts_scalars(MoeBackend::Trtllm),
     .cite = kVcm + kFfm + ":384,387-397,401,419@0.33.0"},
  };
}

std::vector<ReleaseRule> answers() {
  return {
    {Engine::Vllm, "0.19.1", "0.32.0", std::nullopt, Support::NotDecoded,
     "holds names, prefixes, padding or scalars that differ from 0.33.0's in ways diff does not decode yet "
     "(docs/engine-releases.md, the vLLM tables)",
     ""},
  };
}

}  // namespace

const EngineConventions& vllm_conventions() {
  static const EngineConventions t = {
      .engine = Engine::Vllm,
      // Every release on PyPI in the range (docs/engine-releases.md).
      .releases = {"0.19.1", "0.20.0", "0.20.1", "0.20.2", "0.21.0", "0.22.0", "0.22.1", "0.23.0", "0.24.0", "0.25.0",
                   "0.25.1", "0.26.0", "0.27.0", "0.27.1", "0.28.0", "0.29.0", "0.30.0", "0.31.0", "0.32.0", "0.33.0"},
      .linear = linear_rows(),
      .experts = experts_rows(),
      .answers = answers(),
  };
  return t;
}

}  // namespace nvfp4::diff
