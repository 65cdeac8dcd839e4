#include "optimized/optimized_pipeline.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <set>

#include "core/error.h"
#include "optimized/scalar_params.h"
#include "optimized/source_loader.h"
#include "optimized/mutants.h"

namespace nvfp4::opt {

void OptimizedPipeline::create_weights(const ModelSpec& spec) {
  std::map<std::string, Module> modules;
  std::map<std::string, LinearPlan> linear;
  std::map<std::string, ExpertsPlan> experts;
  std::int64_t scratch = 0;
  std::size_t shards = 0;
  for (const auto& l : spec.linears) {
    LinearPlan p = linear_create_weights(l, layouts_, modules[l.name]);
    scratch = std::max(scratch, p.scratch_bytes);
    shards += l.shard_ids.size();
    linear.emplace(l.name, std::move(p));
  }
  for (const auto& x : spec.experts) {
    ExpertsPlan p = experts_create_weights(x, backend_, layouts_, modules[x.name]);
    scratch = std::max(scratch, p.scratch_bytes);
    shards += static_cast<std::size_t>(2 * x.E);
    experts.emplace(x.name, std::move(p));
  }
  scratch_ = Tensor::empty(DType::U8, {scratch});
  modules_ = std::move(modules);
  linear_ = std::move(linear);
  experts_ = std::move(experts);
  reconciliations_.clear();
  reconciliations_.reserve(shards);
}

namespace {

// The checks of every source, then whether a shard was truncated under them (bytes past the new
// end read as zeros, which the checks may have refused for the wrong reason).
void validate_intact(const Checkpoint& c, const ModelSpec& spec) {
  try {
    validate_sources(c, spec);
  } catch (const Error&) {
    c.check_intact();
    throw;
  }
  c.check_intact();
}

}  // namespace

void OptimizedPipeline::load_weights(const Checkpoint& c) {
  if (loaded_) {
    update_weights_from_disk(c);
    return;
  }
  ModelSpec spec = map_modules(c);
  for (const auto& x : spec.experts) experts_check_backend(x, backend_);  // before allocating anything
  validate_intact(c, spec);  // a shard truncated while validated: refused before anything is allocated
  create_weights(spec);
  copy_sources(c, spec, modules_);
  try {
    c.check_intact();
  } catch (const Error&) {  // truncated during the copy: nothing is loaded, as before the call
    *this = OptimizedPipeline(backend_);
    throw;
  }
  spec_ = std::move(spec);
  loaded_ = true;
  processed_ = false;
}

void OptimizedPipeline::update_weights_from_disk(const Checkpoint& c) {
  if (!loaded_) {
    load_weights(c);
    return;
  }
  ModelSpec spec = map_modules(c);
  require_same_structure(spec_, spec, c.dir().string());
  validate_intact(c, spec);  // truncated while validated: refused before any byte of the weights is written
  // Every check has passed: from here on nothing throws, so the previous weights are only
  // overwritten by a load that completes. On a processed trtllm model the expert weights go straight
  // to their shuffled rows (the loaded layout would only be shuffled again, two more passes over the
  // largest tensors); everything else is loaded as on a first load and processed again.
  const bool direct = processed_ && backend_ == Backend::Trtllm;
  Placements placements;
  for (auto& [name, plan] : experts_) {
    experts_restore_loaded_views(modules_.at(name), plan, direct);
    if (direct) placements.merge(experts_direct_rows(plan));
  }
  copy_sources(c, spec, modules_, placements);
  spec_ = std::move(spec);
  const bool reprocess = processed_;
  processed_ = false;
  if (reprocess) {
    if constexpr (mutant(6)) processed_ = true;  // mutant 6: a pure skip flag, nothing re-derived
    else process(direct);
  }
  // A shard truncated between the checks and the end of the copy (the one window a reload without
  // a copy aside cannot close): some bytes were read as zeros and the previous weights are gone.
  // The pipeline stays consistent in structure but refuses every use until a reload succeeds.
  torn_.clear();
  try {
    c.check_intact();
  } catch (const Error& e) {
    torn_ = e.file();
    throw Error(ErrorKind::BadInput, e.file(), "",
                e.problem() + " during the copy; the weights are incomplete and every use is refused until a reload succeeds");
  }
}

void OptimizedPipeline::require_intact() const {
  if (!torn_.empty())
    throw Error(ErrorKind::BadInput, torn_, "", "was truncated during the last reload's copy; reload before using the weights");
}

void OptimizedPipeline::process(bool weights_placed) {
  reconciliations_.clear();
  std::span<std::uint8_t> scratch(scratch_.data(), scratch_.nbytes());
  for (const auto& l : spec_.linears) linear_process(modules_.at(l.name), linear_.at(l.name), scratch, reconciliations_);
  for (const auto& x : spec_.experts)
    experts_process(modules_.at(x.name), experts_.at(x.name), scratch, reconciliations_, weights_placed);
  processed_ = true;
  if constexpr (mutant(1))  // mutant 1: the source scale freed once a separate swizzled copy exists
    for (const auto& l : spec_.linears)
      if (!linear_.at(l.name).interleaved_aliases) modules_.at(l.name).erase("weight_scale");
}

void OptimizedPipeline::process_weights_after_loading(Backend b) {
  if (!loaded_) throw Error(ErrorKind::Usage, "", "", "process_weights_after_loading before load_weights");
  if (b != backend_)
    throw Error(ErrorKind::Usage, "", "",
                "this optimized pipeline sized its buffers for " + backend_name(backend_) + " at create_weights; it cannot process for " +
                    backend_name(b));
  require_intact();
  if (processed_ && !mutant(7)) return;  // in-place results cannot be processed twice (a double swizzle)
  process(false);
}

std::int64_t OptimizedPipeline::resident_bytes() const {
  std::set<const Storage*> seen;
  std::int64_t total = 0;
  auto count = [&](const Tensor& t) {
    if (t.defined() && seen.insert(t.storage().get()).second) total += static_cast<std::int64_t>(t.storage()->nbytes());
  };
  auto count_param = [&](const ParamPtr& p) {
    if (p) count(p->data);
  };
  for (const auto& [n, m] : modules_)
    for (const auto& [pn, p] : m.entries()) count_param(p);
  for (const auto& [n, p] : linear_)
    for (const auto* r : {&p.interleaved, &p.alpha, &p.input_scale_inv, &p.weight_global_scale}) count_param(*r);
  for (const auto& [n, p] : experts_) {
    for (const auto* r : {&p.w13_swizzled, &p.w2_swizzled, &p.w13_global, &p.g1_alphas, &p.g2_alphas, &p.w13_quant, &p.w2_quant,
                          &p.g1_scale_c})
      count_param(*r);
    count(p.maps);
  }
  layouts_.for_each_tensor(count);
  count(scratch_);
  return total;
}

GemmWeights OptimizedPipeline::weights(const GemmTarget& t) const {
  GemmWeights w;
  if (auto it = linear_.find(t.module); it != linear_.end()) {
    const LinearPlan& p = it->second;
    const Module& m = modules_.at(t.module);
    w.packed = m.tensor("weight").data();
    w.rows = w.N = p.N;
    w.row_bytes = p.K / 2;
    w.K = p.K;
    w.scales = m.tensor("weight_scale_interleaved").data();
    w.swizzle = p.swizzle.get();
    w.global_scale = f32_at(m.tensor("weight_global_scale"), 0);
    if (p.has_input_scale) {
      w.alpha = f32_at(m.tensor("alpha"), 0);
      w.input_gs = f32_at(m.tensor("input_scale_inv"), 0);
    }
    return w;
  }
  auto it = experts_.find(t.module);
  if (it == experts_.end()) bad_input("", t.module, "no such quantized module");
  const ExpertsPlan& p = it->second;
  const Module& m = modules_.at(t.module);
  if (t.expert < 0 || t.expert >= p.E)
    bad_input("", p.name, "expert " + std::to_string(t.expert) + " out of range [0, " + std::to_string(p.E) + ")");
  if (t.proj != "w13" && t.proj != "w2") bad_input("", p.name, "proj must be w13 or w2, not \"" + t.proj + "\"");
  const bool w13 = t.proj == "w13", trt = p.backend == Backend::Trtllm;
  const Tensor& packed = m.tensor(t.proj + "_weight");
  const SwizzleMap& s = w13 ? *p.w13_swizzle : *p.w2_swizzle;
  w.rows = packed.size(1);
  w.row_bytes = packed.size(2);
  w.packed = packed.data() + t.expert * w.rows * w.row_bytes;
  w.scales = m.tensor(t.proj + "_blockscale_swizzled").data() + t.expert * s.batch_bytes();
  w.swizzle = &s;
  if (trt) w.out_col = (w13 ? p.w13_rows : p.w2_rows)->data();
  w.N = w13 ? 2 * p.I : p.H;
  w.K = w13 ? p.H : p.I;
  w.global_scale = f32_at(m.tensor(w13 ? "w13_weight_global_scale" : "w2_weight_scale_2"), t.expert);
  if (p.has_input_scale) {
    w.alpha = f32_at(m.tensor(w13 ? "g1_alphas" : "g2_alphas"), t.expert);
    w.input_gs = f32_at(m.tensor(w13 ? "w13_input_scale_quant" : "w2_input_scale_quant"), 0);
  }
  return w;
}

Tensor OptimizedPipeline::gemm(const GemmTarget& t, const Tensor& x, GemmMode mode) const {
  if (!processed_) throw Error(ErrorKind::Usage, "", t.module, "GEMM before process_weights_after_loading");
  require_intact();
  const GemmWeights w = weights(t);
  const bool has_input = linear_.count(t.module) ? linear_.at(t.module).has_input_scale : experts_.at(t.module).has_input_scale;
  if (mode == GemmMode::W4A4 && !has_input) bad_input("", t.module, "w4a4 needs input scales, and this checkpoint has none (W4A16)");
  if (x.dim() != 2 || x.size(1) != w.K)
    throw Error(ErrorKind::BadInput, "", "x", "shape " + shape_str(x.shape()) + " does not match K = " + std::to_string(w.K));
  if (x.dtype() != DType::F32 && x.dtype() != DType::BF16 && x.dtype() != DType::F16)
    throw Error(ErrorKind::BadInput, "", "x", "input dtype must be F32, BF16 or F16, not " + std::string(dtype_name(x.dtype())));
  // Refused as the reference refuses (one pass over x): NaN/Inf in both modes (a saturating w4a4
  // quantizer would hide them), and for w4a16 |x| >= FLT_MAX / (5376 K), past which the kernels'
  // f32 partial sums of x * e2m1 * S (|e2m1 * S| <= 2688) could overflow (optimized/gemm.h).
  const double limit = mode == GemmMode::W4A16 ? static_cast<double>(std::numeric_limits<float>::max()) / (5376.0 * static_cast<double>(w.K))
                                               : std::numeric_limits<double>::infinity();
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    const float v = x.get_f32(i);
    if (std::isfinite(v) && std::fabs(static_cast<double>(v)) < limit) continue;
    char b[200];  // snprintf, not string concatenation: GCC 12 warns falsely on the latter (PR 105651)
    if (!std::isfinite(v))
      std::snprintf(b, sizeof b, "holds a non-finite value at [%lld, %lld] (NaN and Inf activations are refused in both modes)",
                    static_cast<long long>(i / w.K), static_cast<long long>(i % w.K));
    else
      std::snprintf(b, sizeof b, "holds |x| = %.6g at [%lld, %lld], past the w4a16 limit FLT_MAX / (5376 K) = %.6g (f32 accumulation could overflow)",
                    std::fabs(static_cast<double>(v)), static_cast<long long>(i / w.K), static_cast<long long>(i % w.K), limit);
    throw Error(ErrorKind::BadInput, "", "x", b);
  }
  return opt::gemm(x, w, mode);
}

}  // namespace nvfp4::opt
