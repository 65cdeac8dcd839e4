// Derived values against formulas computed from the raw checkpoint tensors, independently of both
// pipelines (a property that compares the pipelines with each other cannot see a mistake
// they share). On generated checkpoints where every shard, expert and half has its own scale (and
// the max can sit anywhere), read straight from the files:
//   linear:  weight_global_scale = max_i s2_i;  alpha = max_i in_i * max_i s2_i;
//            input_scale_inv = 1 / max_i in_i
//   experts: w13_weight_global_scale[e] = max(s2_w1[e], s2_w3[e]);
//            g1_alphas[e] = in13 * w13_weight_global_scale[e], in13 = max over experts and halves;
//            g2_alphas[e] = in2 * s2_w2[e], in2 = max over experts;
//            w13_input_scale_quant = 1 / in13, w2_input_scale_quant = 1 / in2;
//            trtllm: g1_scale_c[e] = (1 / in2) * g1_alphas[e] (sglang's _compute_g1_scale_c: the
//            FC2 input quantization pre-applied to the up half, docs/formats.md#expert-scalars)
// and the loaded per-slot scalars (weight_scale_2, input_scale, w13/w2_weight_scale_2) equal to their
// shard's, expert's and half's own value, with s = 1 / stored for compressed-tensors (encode scales), every operation in f32, and the
// pipelines' values compared bit for bit.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cstring>
#include <sstream>

#include "core/checkpoint.h"
#include "core/module_map.h"
#include "core/module_names.h"
#include "core/test/temp_dir.h"
#include "properties/generators.h"
#include "properties/scale_aims.h"
#include "registry/registry.h"

namespace nvfp4 {
namespace {

// The decode scale a scalar tensor on disk stands for.
float decode(const Checkpoint& c, const std::string& name, bool encode) {
  const float v = c.tensor(name).get_f32(0);
  return encode ? 1.0f / v : v;
}

void same_bits(const Pipeline& p, const std::string& module, const std::string& param, std::int64_t i, float want) {
  const float got = p.modules().at(module).tensor(param).get_f32(i);
  std::uint32_t a, b;
  std::memcpy(&a, &got, 4);
  std::memcpy(&b, &want, 4);
  if (a != b) {
    std::ostringstream os;
    os.precision(9);
    os << p.name() << " " << module << "." << param << "[" << i << "] = " << got << " but the raw tensors give " << want;
    RC_FAIL(os.str());
  }
}

RC_GTEST_PROP(DerivedValuesProps, EqualFormulasFromTheRawCheckpointTensors, ()) {
  PipelineCase c = *gen::pipeline_case();
  RC_TAG(format_name(c.ckpt.format), c.ckpt.fused ? "fused" : "unfused");
  TempDir d;
  GeneratedCheckpoint g = generate_checkpoint(c.ckpt);
  write_checkpoint(d.path(), g, c.ckpt.files);
  aim_scales(g, map_modules(Checkpoint::open(d.path())));  // every shard, expert and half its own scale, the max anywhere
  write_checkpoint(d.path(), g, c.ckpt.files);
  const Checkpoint ck = Checkpoint::open(d.path());
  const ModelSpec spec = map_modules(ck);
  const FormatNames& fn = format_names(spec.format);
  for (const auto& name : pipeline_names()) {
    auto p = make_pipeline(name, c.backend);
    p->load_weights(ck);
    p->process_weights_after_loading(c.backend);
    for (const auto& l : spec.linears) {
      float common = 0.0f, in = 0.0f;
      for (const auto& pre : l.prefixes) {
        common = std::max(common, decode(ck, pre + "." + fn.weight_scale_2, fn.encode_scales));
        if (l.has_input_scale) in = std::max(in, decode(ck, pre + "." + fn.input_scale, fn.encode_scales));
      }
      // Per-slot fill: one slot per shard, each its shard's decode scale; a scalar fused on disk
      // fills every slot (vLLM #39764 wrote slot 0 only).
      for (std::size_t i = 0; i < l.shard_ids.size(); ++i) {
        const std::string& pre = l.prefixes[l.fused_on_disk ? 0 : i];
        same_bits(*p, l.name, "weight_scale_2", static_cast<std::int64_t>(i), decode(ck, pre + "." + fn.weight_scale_2, fn.encode_scales));
        if (l.has_input_scale)
          same_bits(*p, l.name, "input_scale", static_cast<std::int64_t>(i), decode(ck, pre + "." + fn.input_scale, fn.encode_scales));
      }
      same_bits(*p, l.name, "weight_global_scale", 0, common);
      if (!l.has_input_scale) continue;
      same_bits(*p, l.name, "alpha", 0, in * common);
      same_bits(*p, l.name, "input_scale_inv", 0, 1.0f / in);
    }
    for (const auto& x : spec.experts) {
      float in13 = 0.0f, in2 = 0.0f;
      std::vector<float> common(static_cast<std::size_t>(x.E)), s2_w2(static_cast<std::size_t>(x.E));
      for (std::int64_t e = 0; e < x.E; ++e) {
        const auto& pre = x.prefixes[static_cast<std::size_t>(e)];
        const float g = decode(ck, pre[ExpertRole::Gate] + "." + fn.weight_scale_2, fn.encode_scales),
                    u = decode(ck, pre[ExpertRole::Up] + "." + fn.weight_scale_2, fn.encode_scales);
        common[e] = std::max(g, u);
        s2_w2[e] = decode(ck, pre[ExpertRole::Down] + "." + fn.weight_scale_2, fn.encode_scales);
        same_bits(*p, x.name, "w13_weight_scale_2", 2 * e, g);  // [E, 2]: gate (w1), then up (w3)
        same_bits(*p, x.name, "w13_weight_scale_2", 2 * e + 1, u);
        same_bits(*p, x.name, "w2_weight_scale_2", e, s2_w2[e]);
        if (!x.has_input_scale) continue;
        in13 = std::max({in13, decode(ck, pre[ExpertRole::Gate] + "." + fn.input_scale, fn.encode_scales),
                         decode(ck, pre[ExpertRole::Up] + "." + fn.input_scale, fn.encode_scales)});
        in2 = std::max(in2, decode(ck, pre[ExpertRole::Down] + "." + fn.input_scale, fn.encode_scales));
      }
      for (std::int64_t e = 0; e < x.E; ++e) same_bits(*p, x.name, "w13_weight_global_scale", e, common[e]);
      if (!x.has_input_scale) continue;
      for (std::int64_t e = 0; e < x.E; ++e) {
        same_bits(*p, x.name, "g1_alphas", e, in13 * common[e]);
        same_bits(*p, x.name, "g2_alphas", e, in2 * s2_w2[e]);
        if (c.backend == Backend::Trtllm) same_bits(*p, x.name, "g1_scale_c", e, (1.0f / in2) * (in13 * common[e]));
      }
      same_bits(*p, x.name, "w13_input_scale_quant", 0, 1.0f / in13);
      same_bits(*p, x.name, "w2_input_scale_quant", 0, 1.0f / in2);
    }
  }
}

}  // namespace
}  // namespace nvfp4
