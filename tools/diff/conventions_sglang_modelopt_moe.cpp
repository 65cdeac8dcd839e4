// sglang's ModelOpt experts (ModelOptNvFp4FusedMoEMethod), read off the released wheels
// (docs/engine-releases.md, "Experts, ModelOpt") and, where tools/engine_dumps/README.md lists a
// release's own dump, confirmed on it. FusedMoE loads the per-tensor weight scales with idx = 0 for
// w1 and 1 for w3, and each input scale into both slots of the expert (whichever loads last)
// (srt/layers/moe/fused_moe_triton/layer.py:376-395,668-674@0.5.15).
#include "tools/diff/conventions_sglang_experts.h"

namespace nvfp4::diff::sglang_rows {

namespace {

using EQ = ExpertsQuantity;
constexpr Verdict kSem = Verdict::Semantic, kLay = Verdict::Layout;

// The per-tensor scalars every row keeps as loaded, after its alphas.
void kept_scalars(std::vector<ExpertsScalar>& r, bool up_gate_columns) {
  if (up_gate_columns)
    r.push_back({"w13_weight_scale_2", EQ::HalfWeightUpGate, kLay, Slots::PerExpertHalf, When::Always,
                 "each expert's up and gate weight_scale_2, in the loader's swapped columns"});
  else
    r.push_back({"w13_weight_scale_2", EQ::HalfWeight, kLay, Slots::PerExpertHalf, When::Always, "each expert's gate and up weight_scale_2"});
  r.push_back({"w2_weight_scale_2", EQ::W2Weight, kLay, Slots::PerExpert, When::Always, "each expert's w2 weight_scale_2"});
  r.push_back({"w13_input_scale", EQ::EitherHalfInput, kLay, Slots::PerExpertHalf, When::WithInputScales, "one of the expert's gate and up input scales"});
  r.push_back({"w2_input_scale", EQ::W2Input, kLay, Slots::PerExpert, When::WithInputScales, "each expert's w2 input scale"});
}

// The FlashInfer backends: g1_alphas (gate) and, on trtllm, g1_alphas_up = f32(max w13 input scale x
// the half's weight_scale_2), g2_alphas likewise, *_input_scale_quant = f32(1 / max), 0-dim.
// g1_alphas_up is read by trtllm's g1_scale_c only; elsewhere (0.5.14+) it is written and never
// read: the rows name it an unused placeholder.
std::vector<ExpertsScalar> modelopt_experts_scalars(bool trtllm) {
  std::vector<ExpertsScalar> r = {
      {"g1_alphas", EQ::GateTimesA13, kSem, Slots::PerExpert, When::Always, "max w13 input scale x the gate's weight_scale_2 (f32)"},
      {"g1_alphas_up", EQ::UpTimesA13, kSem, Slots::PerExpert, When::Always, "max w13 input scale x the up's weight_scale_2 (f32)"},
      {"g2_alphas", EQ::W2TimesA2, kSem, Slots::PerExpert, When::Always, "max w2 input scale x w2's weight_scale_2 (f32)"},
      {"w13_input_scale_quant", EQ::InvA13, kSem, Slots::One, When::Always, "1 / max w13 input scale (f32)"},
      {"w2_input_scale_quant", EQ::InvA2, kSem, Slots::One, When::Always, "1 / max w2 input scale (f32)"},
  };
  if (!trtllm) r.erase(r.begin() + 1);  // g1_alphas_up
  kept_scalars(r, false);
  if (trtllm) r.push_back({"g1_scale_c", EQ::G1UpTimesInvA2, kSem, Slots::PerExpert, When::Always, "w2_input_scale_quant x g1_alphas_up (f32)"});
  return r;
}

// trtllm through 0.5.13.post1: FusedMoE.weight_loader swaps w1 and w3 for this method, so column 0
// of w13_weight_scale_2 holds the up's and g1_alphas = f32(max w13 input scale x column 0) is the
// up's (modelopt_quant.py:1707,1713,1751-1755@0.5.10.post1); no g1_alphas_up; g1_scale_c =
// f32(w2_input_scale_quant x g1_alphas) (moe_runner/flashinfer_trtllm.py:289-295@0.5.10.post1). The
// kernel applies g1_alphas to the gate half and g1_scale_c to the up half: both the up's.
std::vector<ExpertsScalar> trtllm_scalars_0510() {
  std::vector<ExpertsScalar> r = {
      {"g1_alphas", EQ::UpTimesA13, kSem, Slots::PerExpert, When::Always,
       "max w13 input scale x w13_weight_scale_2[:, 0], the up's: the loader swaps w1 and w3 (f32)"},
      {"g2_alphas", EQ::W2TimesA2, kSem, Slots::PerExpert, When::Always, "max w2 input scale x w2's weight_scale_2 (f32)"},
      {"w13_input_scale_quant", EQ::InvA13, kSem, Slots::One, When::Always, "1 / max w13 input scale (f32)"},
      {"w2_input_scale_quant", EQ::InvA2, kSem, Slots::One, When::Always, "1 / max w2 input scale (f32)"},
  };
  kept_scalars(r, true);
  r.push_back({"g1_scale_c", EQ::G1UpTimesInvA2, kSem, Slots::PerExpert, When::Always, "w2_input_scale_quant x g1_alphas (f32)"});
  return r;
}

// trtllm 0.5.14-0.5.22: _compute_gemm1_alphas reads column 0 as the gate's and column 1 as the up's,
// but the loader still swaps w1 and w3, so g1_alphas is the up's and g1_alphas_up the gate's
// (modelopt_quant.py:1862-1885@0.5.15), and g1_scale_c = f32(w2_input_scale_quant x g1_alphas_up)
// (moe_runner/flashinfer_trtllm.py:497-512@0.5.15): the gate half gets the up's scale and the up
// half the gate's.
std::vector<ExpertsScalar> trtllm_scalars_0514() {
  std::vector<ExpertsScalar> r = {
      {"g1_alphas", EQ::UpTimesA13, kSem, Slots::PerExpert, When::Always,
       "max w13 input scale x w13_weight_scale_2[:, 0], the up's: the loader swaps w1 and w3 (f32)"},
      {"g1_alphas_up", EQ::GateTimesA13, kSem, Slots::PerExpert, When::Always,
       "max w13 input scale x w13_weight_scale_2[:, 1], the gate's: the loader swaps w1 and w3 (f32)"},
      {"g2_alphas", EQ::W2TimesA2, kSem, Slots::PerExpert, When::Always, "max w2 input scale x w2's weight_scale_2 (f32)"},
      {"w13_input_scale_quant", EQ::InvA13, kSem, Slots::One, When::Always, "1 / max w13 input scale (f32)"},
      {"w2_input_scale_quant", EQ::InvA2, kSem, Slots::One, When::Always, "1 / max w2 input scale (f32)"},
  };
  kept_scalars(r, true);
  r.push_back({"g1_scale_c", EQ::G1TimesInvA2, kSem, Slots::PerExpert, When::Always, "w2_input_scale_quant x g1_alphas_up, the gate's (f32)"});
  return r;
}

// The plain cutlass runner (cutlass_moe_fp4): the activation scales per expert, a13 = the larger of
// the expert's two w13 input scales (w13_input_scale.max(dim=-1)), a2 = its w2 input scale;
// g1_alphas [E] = f32(a13 x the gate's weight_scale_2) for both halves, g2_alphas [E],
// *_input_scale_quant [E] = f32(1 / a); no g1_scale_c. g1_alphas_up (0.5.15) is written and never
// read: an unused placeholder.
std::vector<ExpertsScalar> cutlass_scalars() {
  std::vector<ExpertsScalar> r = {
      {"g1_alphas", EQ::GateTimesA13, kSem, Slots::PerExpert, When::Always, "the expert's larger w13 input scale x the gate's weight_scale_2 (f32)"},
      {"g2_alphas", EQ::W2TimesA2, kSem, Slots::PerExpert, When::Always, "the expert's w2 input scale x w2's weight_scale_2 (f32)"},
      {"w13_input_scale_quant", EQ::InvA13, kSem, Slots::PerExpert, When::Always, "1 / the expert's larger w13 input scale (f32)"},
      {"w2_input_scale_quant", EQ::InvA2, kSem, Slots::PerExpert, When::Always, "1 / the expert's w2 input scale (f32)"},
  };
  kept_scalars(r, false);
  return r;
}

// The swizzles under *_blockscale_swizzled, aliased onto *_weight_scale where the shapes agree
// (alias_or_bind_derived_param); on trtllm both names are the shuffled scales.
const std::vector<LayoutName> kModelOptLayout = {{"w13_weight", "w13_weight"},           {"w2_weight", "w2_weight"},
                                                 {"w13_weight_scale", "w13_weight_scale"}, {"w13_blockscale_swizzled", "w13_blockscale_swizzled"},
                                                 {"w2_weight_scale", "w2_weight_scale"},   {"w2_blockscale_swizzled", "w2_blockscale_swizzled"}};

// A 128x4 swizzle row (flashinfer_cutlass, cutlass): the kernel reads *_blockscale_swizzled.
// unread_up_alpha: g1_alphas_up, written from 0.5.14 and never read by these runners (their
// quant_scales pass g1_alphas for both halves).
ExpertsConvention swizzled(ReleaseRange releases, MoeBackend b, LoadedScales loaded, W13Order order, std::vector<ExpertsScalar> scalars,
                           ActivationScale activation, bool unread_up_alpha, std::string cite) {
  return {.engine = Engine::Sglang, .releases = std::move(releases), .format = CkptFormat::ModelOpt, .backend = b, .prefix = "",
          .w13 = "w13_weight", .w2 = "w2_weight", .swz13 = "w13_blockscale_swizzled", .swz2 = "w2_blockscale_swizzled",
          .layout = kModelOptLayout, .loaded = loaded, .order = order, .shuffle = ExpertsLayout::Swizzle128x4, .hidden_align = 1,
          .intermediate_align = 1, .w13_scales = W13Scales::GateForBoth, .activation = activation, .scalars = std::move(scalars),
          .placeholders = unread_up_alpha ? std::vector<std::string>{"g1_alphas_up"} : std::vector<std::string>{}, .cite = std::move(cite)};
}

// A trtllm row from 0.5.11: rows [w3; 0; w1; 0] (the loader's swap), shuffled in place.
ExpertsConvention trtllm(ReleaseRange releases, std::vector<LayoutName> layout, std::int64_t ip_align, W13Scales scales,
                         std::vector<ExpertsScalar> scalars, std::vector<std::string> placeholders, std::string cite) {
  return {.engine = Engine::Sglang, .releases = std::move(releases), .format = CkptFormat::ModelOpt, .backend = MoeBackend::Trtllm,
          .prefix = "", .w13 = "w13_weight", .w2 = "w2_weight", .swz13 = "w13_weight_scale", .swz2 = "w2_weight_scale",
          .layout = std::move(layout), .order = W13Order::UpFirst, .shuffle = ExpertsLayout::FlashinferTrtllm, .hidden_align = 1,
          .intermediate_align = ip_align, .w13_scales = scales, .activation = ActivationScale::OverEveryExpert, .scalars = std::move(scalars),
          .placeholders = std::move(placeholders), .cite = std::move(cite)};
}

const std::string kFm = "srt/layers/moe/fused_moe_triton/layer.py", kFt = "srt/layers/moe/moe_runner/flashinfer_trtllm.py";

// 0.5.23: rows [w3; 0; w1; 0] via load_up_proj_weight_first, no shard swap, Ip = round_up(I, 64)
// in create_weights; the up half has its own alpha, g1_alphas_up, carried into g1_scale_c. Its
// swizzled names decode the aliased shuffled scales.
ExpertsConvention newest_trtllm() {
  ExpertsConvention r = trtllm({"0.5.23", "0.5.23"}, kModelOptLayout, 64, W13Scales::EachOwn, modelopt_experts_scalars(true), {},
                               kMq + ":2474-2487,2557,2825-2831,2859-2872,2971-2975,3101-3108@0.5.23; " + kFt + ":613-625@0.5.23");
  r.swz13 = "w13_blockscale_swizzled";
  r.swz2 = "w2_blockscale_swizzled";
  return r;
}

std::vector<ExpertsConvention> trtllm_rows() {
  return {
    // 0.5.10.post1 (align_fp4_moe_weights_for_flashinfer_trtllm): FusedMoE pads I to 128 (zero
    // padding: narrow_padded_param_and_loaded_weight), the loader's swap gives rows [w3; 0; w1; 0];
    // prepare_static_weights_for_trtllm_fp4_moe's outputs (the FlashInfer permutations of
    // 0.6.7.post3 are 0.7.2's) go under gemm1_/gemm2_ names and w13_weight, w2_weight and their
    // scales are deleted. w13/w2_blockscale_swizzled, created at create_weights as the swizzle of the
    // empty scales "for shapes, not for real content" (modelopt_quant.py:1622-1642), are never written.
    {.engine = Engine::Sglang, .releases = {"0.5.10.post1", "0.5.10.post1"}, .format = CkptFormat::ModelOpt,
     .backend = MoeBackend::Trtllm, .prefix = "", .w13 = "gemm1_weights_fp4_shuffled", .w2 = "gemm2_weights_fp4_shuffled",
     .swz13 = "gemm1_scales_fp4_shuffled", .swz2 = "gemm2_scales_fp4_shuffled", .layout = kGemmLayout, .order = W13Order::UpFirst,
     .shuffle = ExpertsLayout::FlashinferTrtllm, .hidden_align = 1, .intermediate_align = 128, .w13_scales = W13Scales::UpForBoth,
     .activation = ActivationScale::OverEveryExpert, .scalars = trtllm_scalars_0510(),
     .placeholders = {"w13_blockscale_swizzled", "w2_blockscale_swizzled"},
     .cite = kMq + ":1622-1642,1686-1822@0.5.10.post1 (ModelOptNvFp4FusedMoEMethod); " + kFt + ":246-303@0.5.10.post1; " + kFm +
             ":218-226,318-337,529-535,711-718@0.5.10.post1"},
    // 0.5.11: 0.5.10.post1's values (fused_moe_triton/layer.py:228-236,775-780), but the shuffled
    // weights and scales written over w13_weight, w2_weight and their scales in place (its own
    // 16-alignment pad finds I already a multiple of 128); the placeholders stay unwritten.
    trtllm({"0.5.11", "0.5.11"}, kInPlaceTrtllmLayout, 128, W13Scales::UpForBoth, trtllm_scalars_0510(),
           {"w13_blockscale_swizzled", "w2_blockscale_swizzled"},
           kMq + ":1643-1663,1707-1836@0.5.11 (ModelOptNvFp4FusedMoEMethod); " + kFt + ":383-505@0.5.11; " + kFm + ":228-236,446-452,775-780@0.5.11"),
    // 0.5.12-0.5.13.post1: as 0.5.11, and after shuffling w13/w2_blockscale_swizzled =
    // w13/w2_weight_scale (an alias of the shuffled scales, no placeholder left; 0.5.13 no longer
    // creates one).
    trtllm({"0.5.12", "0.5.13.post1"}, kModelOptLayout, 128, W13Scales::UpForBoth, trtllm_scalars_0510(), {},
           kMq + ":1642,1834-1838@0.5.12 · :1812,2027-2031@0.5.13.post1; " + kFt + ":487,502@0.5.13"),
    // 0.5.14-0.5.22: + g1_alphas_up, each half given the other's scale (trtllm_scalars_0514); the
    // FusedMoE 128 pad of I and the shard swap through 0.5.22 (fused_moe_triton/layer.py:421-428,
    // 1228-1235@0.5.22).
    trtllm({"0.5.14", "0.5.22"}, kModelOptLayout, 128, W13Scales::Swapped, trtllm_scalars_0514(), {},
           kMq + ":2073-2079,2158-2162@0.5.14 · :1862-1885,2268-2271@0.5.15 · :2755-2761,2898@0.5.22; " + kFt + ":495@0.5.14 · :597,700@0.5.22; " +
               kFm + ":421-428,1228-1235@0.5.22"),
    newest_trtllm(),
  };
}

std::vector<ExpertsConvention> swizzled_rows() {
  return {
    // flashinfer_cutlass 0.5.10.post1-0.5.11: rows [w3; w1] (load_up_proj_weight_first; no shard
    // swap off trtllm), g1_alphas the gate's for both halves (the runner's quant_scales pass
    // g1_alphas only), no g1_alphas_up; the swizzle written into w13/w2_blockscale_swizzled with
    // copy_or_rebind_param and w13/w2_weight_scale left as loaded.
    swizzled({"0.5.10.post1", "0.5.11"}, MoeBackend::FlashinferCutlass, LoadedScales::AsLoaded, W13Order::UpFirst,
             modelopt_experts_scalars(false), ActivationScale::OverEveryExpert, false,
             kMq + ":1686-1897,1986-2003@0.5.10.post1 · :1707-1977,2109-2127@0.5.11; " + kFm + ":421-426,711-718@0.5.10.post1 · :446-452,775-780@0.5.11"),
    // 0.5.12-0.5.13.post1: alias_or_bind_derived_param, so w13/w2_weight_scale hold the swizzle
    // where the shapes agree; still no g1_alphas_up.
    swizzled({"0.5.12", "0.5.13.post1"}, MoeBackend::FlashinferCutlass, LoadedScales::AliasWhereShapesAgree, W13Order::UpFirst,
             modelopt_experts_scalars(false), ActivationScale::OverEveryExpert, false, kMq + ":1865-1880@0.5.12 · :2058-2076@0.5.13.post1"),
    // 0.5.14-0.5.23: + g1_alphas_up (the up's, written, never read); 0.5.21+ adds
    // _cutlass_swiglu_params, a plain attribute.
    swizzled({"0.5.14", "0.5.23"}, MoeBackend::FlashinferCutlass, LoadedScales::AliasWhereShapesAgree, W13Order::UpFirst,
             modelopt_experts_scalars(false), ActivationScale::OverEveryExpert, true, kMq + ":2073-2079,2194-2207@0.5.14 · :2825-2831,3005-3022@0.5.23"),
    // The plain cutlass runner where a release serves it: 0.5.10.post1 (create_moe_runner builds a
    // runner for trtllm only) and 0.5.15-0.5.15.post1 ("The plain CUTLASS backend uses the direct
    // cutlass_moe_fp4 fused path"). cutlass_moe_fp4 (CutlassMoEType.BlockscaledFP4) reads w13 as
    // [w1; w3] (no load_up_proj_weight_first), the swizzles, and per-expert scalars; 0.5.10.post1
    // keeps the loaded scales beside the swizzle, 0.5.15 aliases them.
    swizzled({"0.5.10.post1", "0.5.10.post1"}, MoeBackend::Cutlass, LoadedScales::AsLoaded, W13Order::GateFirst, cutlass_scalars(),
             ActivationScale::PerExpert, false, kMq + ":1747-1748,1880-1892,1899-1906,2020-2031@0.5.10.post1"),
    swizzled({"0.5.15", "0.5.15.post1"}, MoeBackend::Cutlass, LoadedScales::AliasWhereShapesAgree, W13Order::GateFirst, cutlass_scalars(),
             ActivationScale::PerExpert, true, kMq + ":2191,2424-2430,2462-2466,2629@0.5.15 (the same @0.5.15.post1); srt/layers/moe/moe_runner/runner.py:68-69@0.5.15"),
  };
}

}  // namespace

std::vector<ExpertsConvention> modelopt_experts() {
  std::vector<ExpertsConvention> r = trtllm_rows(), s = swizzled_rows();
  r.insert(r.end(), s.begin(), s.end());
  return r;
}

}  // namespace nvfp4::diff::sglang_rows
