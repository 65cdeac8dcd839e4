#include "reference/reference_pipeline.h"

#include <map>
#include <set>

#include "core/error.h"
#include "core/module_map.h"
#include "reference/experts.h"
#include "reference/gemm.h"
#include "reference/linear.h"

namespace nvfp4::ref {

ReferencePipeline::Modules ReferencePipeline::load_all(const Checkpoint& c, const ModelSpec& spec) {
  Modules out;
  for (const auto& l : spec.linears) {
    Module m = linear_create_weights(l);
    linear_load(m, l, c, spec.format);
    out.emplace(l.name, std::move(m));
  }
  for (const auto& x : spec.experts) {
    Module m = experts_create_weights(x);
    experts_load(m, x, c, spec.format);
    out.emplace(x.name, std::move(m));
  }
  return out;
}

ReferencePipeline::Processed ReferencePipeline::process_all(const ModelSpec& spec, const Modules& sources, Backend b) {
  Processed p;
  for (const auto& l : spec.linears) p.modules.emplace(l.name, linear_process(sources.at(l.name), l, p.rec));
  for (const auto& x : spec.experts) p.modules.emplace(x.name, experts_process(sources.at(x.name), x, b, p.rec));
  return p;
}

ReferencePipeline::Modules ReferencePipeline::fresh_copy(const Modules& sources) {
  Modules out;
  for (const auto& [name, m] : sources) {
    Module v;
    for (const auto& [pname, p] : m.entries()) v.add(pname, p->data.clone());
    out.emplace(name, std::move(v));
  }
  return out;
}

void ReferencePipeline::commit(Modules& into, Modules&& from) {
  for (auto& [name, fresh] : from) {
    Module& m = into[name];
    // The committed module holds fresh's names and aliases exactly, as a cold processing would:
    // a name fresh lacks goes (processing for cutlass after trtllm drops g1_scale_c). A name keeps
    // its Parameter object (new storage, as torch's `param.data = ...` keeps the Parameter), unless
    // that object already took another fresh Parameter: trtllm binds w13_weight_scale and
    // w13_blockscale_swizzled to one Parameter that cutlass keeps apart, and reusing it for both
    // would leave two names on one storage.
    std::map<const Parameter*, ParamPtr> kept;  // fresh Parameter -> the committed one
    std::set<const Parameter*> taken;           // committed Parameters already given a fresh one
    Module next;
    for (const auto& [pname, param] : fresh.entries()) {
      if (auto k = kept.find(param.get()); k != kept.end()) {
        next.bind(pname, k->second);
        continue;
      }
      ParamPtr p = param;
      if (m.has(pname) && !taken.count(m.param(pname).get())) {
        p = m.param(pname);
        p->data = param->data;
      }
      taken.insert(p.get());
      kept.emplace(param.get(), p);
      next.bind(pname, p);
    }
    m = std::move(next);
  }
}

// Every source read and checked, and no shard truncated or rewritten while it was read (its
// vanished bytes read as zeros: a check that refused them reported the wrong problem).
ReferencePipeline::Modules ReferencePipeline::load_intact(const Checkpoint& c, const ModelSpec& spec) {
  Modules sources;
  try {
    sources = load_all(c, spec);
  } catch (const Error&) {
    c.check_intact();
    throw;
  }
  c.check_intact();
  return sources;
}

void ReferencePipeline::load_weights(const Checkpoint& c) {
  if (!sources_.empty()) {
    update_weights_from_disk(c);
    return;
  }
  ModelSpec spec = map_modules(c);
  Modules sources = load_intact(c, spec);
  Modules visible = fresh_copy(sources);
  spec_ = std::move(spec);
  sources_ = std::move(sources);
  modules_ = std::move(visible);
  backend_.reset();
  reconciliations_.clear();
}

void ReferencePipeline::process_weights_after_loading(Backend b) {
  if (sources_.empty()) throw Error(ErrorKind::Usage, "", "", "process_weights_after_loading before load_weights");
  Processed p = process_all(spec_, sources_, b);
  commit(modules_, std::move(p.modules));
  reconciliations_ = std::move(p.rec);
  backend_ = b;
}

void ReferencePipeline::update_weights_from_disk(const Checkpoint& c) {
  if (sources_.empty()) {
    load_weights(c);
    return;
  }
  // Everything new is built aside; only when all of it succeeded is it committed.
  ModelSpec spec = map_modules(c);
  require_same_structure(spec_, spec, c.dir().string());
  Modules sources = load_intact(c, spec);
  Processed p;
  Modules visible;
  if (backend_) {
    p = process_all(spec, sources, *backend_);
    visible = std::move(p.modules);
  } else {
    visible = fresh_copy(sources);
  }
  // Only bookkeeping from here on: no I/O, no validation.
  spec_ = std::move(spec);
  sources_ = std::move(sources);
  commit(modules_, std::move(visible));
  if (backend_) reconciliations_ = std::move(p.rec);
}

LogicalWeight ReferencePipeline::logical_weight(const GemmTarget& t) const {
  if (!backend_) throw Error(ErrorKind::Usage, "", t.module, "GEMM before process_weights_after_loading");
  for (const auto& l : spec_.linears)
    if (l.name == t.module) return linear_logical(modules_.at(l.name), l);
  for (const auto& x : spec_.experts)
    if (x.name == t.module) return experts_logical(modules_.at(x.name), x, *backend_, t.expert, t.proj);
  bad_input("", t.module, "no such quantized module");
}

GemmScalars ReferencePipeline::scalars(const GemmTarget& t, GemmMode mode) const {
  if (!backend_) throw Error(ErrorKind::Usage, "", t.module, "GEMM before process_weights_after_loading");
  for (const auto& l : spec_.linears)
    if (l.name == t.module) return linear_scalars(modules_.at(l.name), l, mode);
  for (const auto& x : spec_.experts)
    if (x.name == t.module) return experts_scalars(modules_.at(x.name), x, t.expert, t.proj, mode);
  bad_input("", t.module, "no such quantized module");
}

ReferencePipeline::Operands ReferencePipeline::operands(const GemmTarget& t, GemmMode mode) const {
  return {logical_weight(t), scalars(t, mode)};
}

Tensor ReferencePipeline::gemm(const GemmTarget& t, const Tensor& x, GemmMode mode) const {
  Operands o = operands(t, mode);
  return gemm_exact(x, o.w, mode, o.s);
}

Tensor ReferencePipeline::gemm_eigen(const GemmTarget& t, const Tensor& x, GemmMode mode) const {
  Operands o = operands(t, mode);
  return ref::gemm_eigen(x, o.w, mode, o.s);
}

}  // namespace nvfp4::ref
