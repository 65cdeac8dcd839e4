// LoadPool, Process and Gemm (properties/reload_commands.h): each runs its call on both pipelines,
// checks each outcome against the model's, then both pipelines against the model's next state.
#include "properties/reload_commands.h"

#include <cmath>

#include "checks/gemm_vs_oracle.h"
#include "reference/gemm.h"
#include "reference/reference_pipeline.h"
#include "optimized/kernels/dispatch.h"

namespace nvfp4::reload_props {

void LoadPool::run(const Model& m, Sut& s) const {
  ++s.step;
  const std::string step = step_name(s, *this);
  const Outcome o = refuses_shapes(m, k) ? refused(ErrorKind::BadInput, {"a reload must keep every module's shape"}) : accepted();
  const Checkpoint c = Checkpoint::open(s.pool->dirs[k].path());
  expect_both(s, m, step, o, o, [&](Pipeline& p) { call(p, via, c); }, true);
  Model next = m;
  apply(next);
  require_state(s, next, step);
}
void LoadPool::show(std::ostream& os) const { os << via_name(via) << " pool checkpoint " << k; }

void Process::apply(Model& m) const {
  if (m.committed < 0) return;
  if (b != Backend::Trtllm || !m.trtllm_refused) m.ref_backend = b;
  if (b == m.opt_backend) m.opt_processed = true;
}
void Process::run(const Model& m, Sut& s) const {
  ++s.step;
  const std::string step = step_name(s, *this);
  Outcome ref, opt;
  if (m.committed < 0) {
    ref = opt = refused(ErrorKind::Usage, {"process_weights_after_loading before load_weights"});
  } else {
    if (b == Backend::Trtllm && m.trtllm_refused) ref = refused(ErrorKind::BadInput, {"trtllm needs the hidden size"});
    if (b != m.opt_backend) opt = refused(ErrorKind::Usage, {"cannot process for " + backend_name(b)});
  }
  expect_both(s, m, step, ref, opt, [&](Pipeline& p) { p.process_weights_after_loading(b); });
  Model next = m;
  apply(next);
  require_state(s, next, step);
}
void Process::show(std::ostream& os) const { os << "process_weights_after_loading for " << backend_name(b); }

void Gemm::run(const Model& m, Sut& s) const {
  ++s.step;
  const std::string step = step_name(s, *this);
  // Any projection of the committed shapes (of checkpoint 0 before a load): a linear or one expert's.
  const ModelSpec& spec = s.pool->spec[m.committed < 0 ? 0 : shapes_of(m.committed)];
  std::vector<GemmTarget> targets;
  for (const auto& l : spec.linears) targets.push_back({l.name, -1, ""});
  for (const auto& x : spec.experts)
    for (int e = 0; e < x.E; ++e)
      for (const char* proj : {"w13", "w2"}) targets.push_back({x.name, e, proj});
  const GemmTarget t = targets[pick % targets.size()];
  std::int64_t K = 0;
  for (const auto& l : spec.linears)
    if (l.name == t.module) K = l.K;
  for (const auto& x : spec.experts)
    if (x.name == t.module) K = t.proj == "w13" ? x.H : x.I;
  Tensor x = Tensor::empty(DType::F32, {M, K});
  for (std::int64_t i = 0; i < M * K; ++i)  // small multiples of powers of two: ties for the quantizer
    x.data_as<float>()[i] = std::ldexp(static_cast<float>(static_cast<int>((pick >> (i % 48)) % 17) - 8), static_cast<int>(i % 5) - 3);

  const auto outcome = [&](bool processed) {
    if (!processed) return refused(ErrorKind::Usage, {"GEMM before process_weights_after_loading"});
    if (mode == GemmMode::W4A4 && !m.input_scales) return refused(ErrorKind::BadInput, {"w4a4 needs input scales"});
    return accepted();
  };
  const Outcome ro = outcome(m.ref_backend.has_value()), oo = outcome(m.opt_processed);
  Tensor exact, fast;
  expect(step, *s.opt, oo, [&] { fast = s.opt->gemm(t, x, mode); }, false);  // its output is the one allocation
  expect(step, *s.ref, ro, [&] { exact = s.ref->gemm(t, x, mode); }, false);
  if (ro.accepted && oo.accepted) {
    auto& r = static_cast<ref::ReferencePipeline&>(*s.ref);
    const auto ops = r.operands(t, mode);
    const std::vector<double> mag = ref::gemm_abs_sum(x, ops.w, mode, ops.s);
    const double post = mode == GemmMode::W4A4 ? ops.s.alpha : ops.w.global_scale;
    const checks::KernelCheck kc = checks::check_kernel(exact, fast, mag, mode, checks::gemm_arith(opt::isa_name(opt::active_isa())), K, post);
    if (!kc.passed())
      RC_FAIL("at " + step + ": " + t.module + (t.expert >= 0 ? " expert " + std::to_string(t.expert) + " " + t.proj : "") + " " + kc.failure());
  }
  require_state(s, m, step);
}
void Gemm::show(std::ostream& os) const { os << "GEMM " << gemm_mode_name(mode) << " M=" << M << " (pick " << pick << ")"; }

}  // namespace nvfp4::reload_props
