// sglang's conventions, read off the released wheels (pip download --no-deps sglang==V) and, for the
// rows diff decodes, confirmed on dumps sglang's own loaders and post-processing wrote
// (tools/engine_dumps/README.md). Cites are package-relative FILE:LINE@VERSION; the abbreviations
// of docs/engine-releases.md are spelled out.
#include "tools/diff/conventions.h"
#include "tools/diff/conventions_sglang_experts.h"

namespace nvfp4::diff {

namespace {

using LQ = LinearQuantity;
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

const std::string kMq = "srt/layers/quantization/modelopt_quant.py";
const std::string kCtl = "srt/layers/quantization/compressed_tensors/schemes/compressed_tensors_w4a4_nvfp4.py";

std::vector<LinearConvention> linear_rows() {
  return {
    // ModelOptFp4LinearMethod.process_weights_after_loading: weight padded to N, K multiples of 32
    // (pad_nvfp4_weight); weight_scale_interleaved the 128x4 swizzle, rows padded to 128 of the
    // unpadded N. 0.5.10.post1 and 0.5.11 (the function line for line the same): the swizzle a
    // Parameter of its own (copy_or_rebind_param), the raw loaded weight_scale kept even where the
    // shapes agree.
    {.engine = Engine::Sglang, .releases = {"0.5.10.post1", "0.5.11"}, .format = CkptFormat::ModelOpt, .backends = kDenseBackends,
     .weight = "weight", .weight_align = 32, .swizzled = "weight_scale_interleaved", .loaded_scales = "weight_scale",
     .loaded = LoadedScales::AsLoaded, .scalars = kModelOptLinearScalars,
     .cite = kMq + ":1372-1465@0.5.10.post1 · :1369-1462@0.5.11 (ModelOptFp4LinearMethod.process_weights_after_loading)"},
    // From 0.5.12 alias_or_bind_derived_param writes the swizzle into weight_scale where the shapes
    // agree. What else moves in the range changes no rule here: a checkpoint without input scales
    // leaves input_scale uninitialized through 0.5.17 (1.0 from 0.5.18), and fused-on-disk per-tensor
    // scales fill slot 0 only through 0.5.15.post1 (srt/layers/linear.py:835-842,1087-1089@0.5.15.post1;
    // every slot from 0.5.16): the uninitialized slots differ from the checkpoint's, and diff fails
    // them (docs/engine-releases.md, Linear).
    {.engine = Engine::Sglang, .releases = {"0.5.12", "0.5.23"}, .format = CkptFormat::ModelOpt, .backends = kDenseBackends,
     .weight = "weight", .weight_align = 32, .swizzled = "weight_scale_interleaved", .loaded_scales = "weight_scale",
     .loaded = LoadedScales::AliasWhereShapesAgree, .scalars = kModelOptLinearScalars,
     .cite = kMq + ":1336,1433,1460@0.5.12 · :1467,1583,1619@0.5.15.post1 · :1846-1852,1910-1913,1991,2027@0.5.23"},
    // CompressedTensorsW4A4Fp4.process_weights_after_loading, the same in every release:
    // weight_packed unpadded and not renamed, the swizzle replaces weight_scale.
    {.engine = Engine::Sglang, .releases = {"0.5.10.post1", "0.5.23"}, .format = CkptFormat::CompressedTensors,
     .backends = kDenseBackends, .weight = "weight_packed", .weight_align = 1, .swizzled = "weight_scale", .loaded_scales = "",
     .loaded = LoadedScales::None, .scalars = kCtLinearScalars, .cite = kCtl + ":93-131@0.5.10.post1 · :94-132@0.5.23"},
  };
}

std::vector<ExpertsConvention> experts_rows() {
  std::vector<ExpertsConvention> r = sglang_rows::modelopt_experts(), ct = sglang_rows::ct_experts();
  r.insert(r.end(), ct.begin(), ct.end());
  return r;
}

// The plain cutlass MoE runner, ModelOpt: served (decoded by its rows) in 0.5.10.post1 and
// 0.5.15-0.5.15.post1, refused otherwise. Compressed-tensors never refuses it (its rows).
std::vector<ReleaseRule> answers() {
  return {
    // 0.5.11's own run (tools/engine_dumps/generate.py, moe_runner_backend=cutlass) raises it from
    // FusedMoE.__init__ (fused_moe_triton/layer.py:301 -> modelopt_quant.py:1999 -> runner.py:66);
    // its cutlass_moe_fp4 path is reached only under an unresolved `auto` (docs/engine-releases.md).
    {Engine::Sglang, "0.5.11", "0.5.14", MoeBackend::Cutlass, Support::Refused,
     "create_moe_runner hands every backend but flashinfer_cutlass to MoeRunner, which raises "
     "NotImplementedError(\"Unsupported runner backend: cutlass\")",
     "srt/layers/moe/moe_runner/runner.py:66@0.5.11 · :67@0.5.14", CkptFormat::ModelOpt},
    {Engine::Sglang, "0.5.16", "0.5.23", MoeBackend::Cutlass, Support::Refused,
     "NotImplementedError(\"moe_runner_backend=cutlass is not supported for NVFP4 MoE. Use --moe-runner-backend "
     "flashinfer_cutlass instead.\")",
     kMq + ":2452-2456@0.5.16 · :3144-3148@0.5.23", CkptFormat::ModelOpt},
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
