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
// Up to 0.27.1 the fused alphas are plain attributes (layer.w13_weight_scale_2 = ..., not in
// named_parameters, so in no dump): alphas_are_parameters false leaves them out.
std::vector<ExpertsScalar> ct_experts_scalars(MoeBackend b, bool alphas_are_parameters) {
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
  if (!alphas_are_parameters) r.erase(r.begin(), r.begin() + 2);
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

const std::string kMoPy = "model_executor/layers/quantization/modelopt.py";
const std::string kVclPy = "model_executor/layers/quantization/compressed_tensors/schemes/compressed_tensors_w4a4_nvfp4.py";
const std::string kDenseBackends0191 =
    "VLLM_CUTLASS, FLASHINFER_CUTLASS and FLASHINFER_CUDNN: convert_to_nvfp4_linear_kernel_format gives all three "
    "prepare_weights_for_nvfp4_cutlass (model_executor/layers/quantization/utils/nvfp4_utils.py:107-117,163-170@0.19.1)";
// MergedColumnParallelLinear.weight_loader_v2 and QKVParallelLinear.weight_loader_v2, 0.19.1 only (0.20.0 fills every slot).
const std::string kSlotZero = "model_executor/layers/linear.py:912-915,1124-1129@0.19.1";

LinearConvention linear_row(ReleaseRange r, CkptFormat f, std::string cite, bool slot_zero) {
  const bool mo = f == CkptFormat::ModelOpt;
  return {.engine = Engine::Vllm, .releases = std::move(r), .format = f, .backends = slot_zero ? kDenseBackends0191 : kDenseBackends,
          .weight = "weight", .weight_align = 32, .swizzled = "weight_scale", .loaded_scales = "", .loaded = LoadedScales::None,
          .scalars = mo ? kModelOptLinearScalars : kCtLinearScalars, .cite = std::move(cite),
          .fused_scales = slot_zero ? FusedScales::SlotZeroOnly : FusedScales::EverySlot, .fused_cite = slot_zero ? kSlotZero : ""};
}

// ModelOpt: weight padded to N, K multiples of 32, the swizzle replaces weight_scale; compressed-
// tensors: weight_packed renamed weight and padded alike. The same names and values in every
// release; 0.19.1 loads a fused-on-disk per-tensor scale into slot 0 only (every slot from 0.20.0).
std::vector<LinearConvention> linear_rows() {
  return {
    linear_row({"0.19.1", "0.19.1"}, CkptFormat::ModelOpt, kMoPy + ":1153-1171@0.19.1", true),
    linear_row({"0.20.0", "0.33.0"}, CkptFormat::ModelOpt, kMoPy + ":1169-1200@0.20.0 · :2094,2127-2134,2411-2419,2688@0.33.0", false),
    linear_row({"0.19.1", "0.19.1"}, CkptFormat::CompressedTensors, kVclPy + ":88-111@0.19.1", true),
    linear_row({"0.20.0", "0.33.0"}, CkptFormat::CompressedTensors, kVclPy + ":88-124@0.20.0 · :95-138@0.33.0", false),
  };
}

// The experts' conventions change at these releases (docs/engine-releases.md, vLLM experts);
// between them every release has the same code for each row.
struct Era {
  ReleaseRange releases;
  std::string prefix;              // where the parameters sit under the experts module
  std::int64_t trtllm_h, trtllm_i; // flashinfer_trtllm: H and I padded to multiples of these
  IntermediatePad trtllm_pad;
  bool ct_alphas_are_parameters;   // compressed-tensors' w13/w2_weight_scale_2
  std::string prefix_cite, trtllm_cite, ct_cite;
};

const std::string kFu = "model_executor/layers/quantization/utils/flashinfer_utils.py";
const std::string kVcmPy = "model_executor/layers/quantization/compressed_tensors/compressed_tensors_moe";
const std::string kOnLayer = "parameters on the FusedMoE layer itself: process_weights_after_loading(self, layer: FusedMoE), ";
const std::string kRouted = "FusedMoE returns a MoERunner holding them under routed_experts: model_executor/layers/fused_moe/layer.py:";
const std::string kAttr = "w13/w2_weight_scale_2 plain attributes: " + kVcmPy;

const std::vector<Era> kEras = {
    {{"0.19.1", "0.19.1"}, "", 1, 16, IntermediatePad::Tail, false, kOnLayer + kMoPy + ":1343@0.19.1",
     "no H padding, I to 16 at the tail of w13: " + kFfm + ":251@0.19.1, " + kFu + ":212,250@0.19.1", kAttr + ".py:564-567@0.19.1"},
    {{"0.20.0", "0.23.0"}, "", 256, 16, IntermediatePad::Tail, false, kOnLayer + kMoPy + ":1367@0.20.0",
     "H to 256, I to 16 at the tail: " + kFfm + ":345-353@0.20.0, " + kFu + ":266-271@0.20.0", kAttr + "/compressed_tensors_moe_w4a4_nvfp4.py:226-229@0.20.0"},
    {{"0.24.0", "0.25.1"}, "routed_experts.", 256, 16, IntermediatePad::Tail, false, kRouted + "340@0.24.0",
     "H to 256, I to 16 at the tail: " + kFfm + ":333-340@0.25.1", kAttr + "/compressed_tensors_moe_w4a4_nvfp4.py:227-230@0.27.1"},
    {{"0.26.0", "0.27.1"}, "routed_experts.", 256, 64, IntermediatePad::Tail, false, kRouted + "340@0.24.0",
     "H to 256, I to 64 at the tail: " + kFfm + ":362@0.26.0, " + kFu + ":221@0.26.0",
     kAttr + "/compressed_tensors_moe_w4a4_nvfp4.py:227-230@0.27.1"},
    {{"0.28.0", "0.28.0"}, "routed_experts.", 256, 64, IntermediatePad::Tail, true, kRouted + "340@0.24.0",
     "H to 256, I to 64 at the tail: " + kFu + ":235@0.28.0",
     "replace_parameter: " + kVcmPy + "/compressed_tensors_moe_w4a4_nvfp4.py:240-243@0.28.0"},
    {{"0.29.0", "0.33.0"}, "routed_experts.", 256, 64, IntermediatePad::PerHalf, true, kRouted + "415@0.33.0",
     "H to 256, each half of I to 64: " + kFu + ":236-244@0.29.0 · " + kFfm + ":401,419@0.33.0, " + kFu + ":255,283-302@0.33.0",
     "replace_parameter: " + kVcmPy + "/compressed_tensors_moe_w4a4_nvfp4.py:262-265@0.33.0"},
};

// What an era's row for this format and backend rests on, besides the methods' common lines.
std::string era_cite(const Era& e, CkptFormat f, MoeBackend b) {
  return e.prefix_cite + (b == MoeBackend::Trtllm ? "; " + e.trtllm_cite : "") + (f == CkptFormat::ModelOpt ? "" : "; " + e.ct_cite);
}

// One era's row for a format and backend. VLLM_CUTLASS keeps [w1; w3]; FLASHINFER_CUTLASS and
// FLASHINFER_TRTLLM reorder_w1w3_to_w3w1 (flashinfer_fp4_moe.py:238@0.19.1 · :384@0.33.0); trtllm
// pads (H first, so the shuffle and the 128x4 tiles run over the padded rows), then FlashInfer's
// layout. a13, a2: per expert on VLLM_CUTLASS, else over every expert (:241-246@0.19.1 ·
// :387-397@0.33.0). No backend reconciles gate and up.
ExpertsConvention experts_row(const Era& e, CkptFormat f, MoeBackend b) {
  const bool trtllm = b == MoeBackend::Trtllm, mo = f == CkptFormat::ModelOpt;
  return {.engine = Engine::Vllm, .releases = e.releases, .format = f, .backend = b, .prefix = e.prefix, .w13 = "w13_weight",
          .w2 = "w2_weight", .swz13 = "w13_weight_scale", .swz2 = "w2_weight_scale", .layout = kLayout,
          .order = b == MoeBackend::Cutlass ? W13Order::GateFirst : W13Order::UpFirst,
          .shuffle = trtllm ? ExpertsLayout::FlashinferTrtllm : ExpertsLayout::Swizzle128x4, .hidden_align = trtllm ? e.trtllm_h : 1,
          .intermediate_align = trtllm ? e.trtllm_i : 1, .intermediate_pad = trtllm ? e.trtllm_pad : IntermediatePad::PerHalf,
          .w13_scales = W13Scales::GateForBoth,
          .activation = b == MoeBackend::Cutlass ? ActivationScale::PerExpert : ActivationScale::OverEveryExpert,
          .scalars = mo ? modelopt_experts_scalars(b) : ct_experts_scalars(b, e.ct_alphas_are_parameters),
          .cite = (mo ? kMo : kVcm) + kFfm + ":384,387-397@0.33.0; " + era_cite(e, f, b)};
}

// What a row decodes: two adjacent eras whose rows agree on it are one row.
bool same_decode(const ExpertsConvention& a, const ExpertsConvention& b) {
  auto names = [](const ExpertsConvention& r) {
    std::vector<std::string> n;
    for (const auto& s : r.scalars) n.push_back(s.name);
    return n;
  };
  return a.prefix == b.prefix && a.hidden_align == b.hidden_align && a.intermediate_align == b.intermediate_align &&
         a.intermediate_pad == b.intermediate_pad && names(a) == names(b);
}

std::vector<ExpertsConvention> experts_rows() {
  std::vector<ExpertsConvention> rows;
  for (CkptFormat f : {CkptFormat::ModelOpt, CkptFormat::CompressedTensors})
    for (MoeBackend b : {MoeBackend::Cutlass, MoeBackend::FlashinferCutlass, MoeBackend::Trtllm})
      for (std::size_t i = 0; i < kEras.size(); ++i) {
        ExpertsConvention r = experts_row(kEras[i], f, b);
        if (i > 0 && same_decode(rows.back(), r)) {
          rows.back().releases.last = r.releases.last;
          const std::string more = era_cite(kEras[i], f, b);
          if (rows.back().cite.find(more) == std::string::npos) rows.back().cite += " · " + more;
        } else {
          rows.push_back(std::move(r));
        }
      }
  return rows;
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
      .answers = {},  // every known release decoded
  };
  return t;
}

}  // namespace nvfp4::diff
