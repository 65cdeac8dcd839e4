// Reload sequences as a stateful test (rc::state): both pipelines, loaded from checkpoint 0 of a
// pool of three checkpoints with the same shapes (any layout on disk), run a random sequence of
// commands: reload pool checkpoint k, reload a damaged copy of one (every fault kind), process
// again, multiply. The model a reader can follow is one number: which pool checkpoint is committed.
// After every command both pipelines must hold exactly what a cold load of that checkpoint holds
// (names, aliases, bytes), the optimized one in the Parameters and storage it created at the first
// load, having allocated nothing since; a refused reload must change nothing; a GEMM must be within
// the optimized kernel's bound of the reference's exact oracle.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <rapidcheck/state.h>

#include <array>
#include <cmath>
#include <memory>
#include <sstream>

#include "core/allocator.h"
#include "core/error.h"
#include "core/module_map.h"
#include "core/pipeline_state.h"
#include "core/test/temp_dir.h"
#include "optimized/gemm.h"
#include "properties/faults.h"
#include "properties/generators.h"
#include "reference/gemm.h"
#include "reference/reference_pipeline.h"
#include "registry/registry.h"

namespace nvfp4 {
namespace {

struct Model {
  int current = 0;  // the pool checkpoint whose weights are committed
};

struct Pool {
  PipelineCase c;
  std::array<WriterOptions, 3> opts;
  std::array<GeneratedCheckpoint, 3> gen;
  std::array<TempDir, 3> dirs;
  std::array<State, 3> cold_ref, cold_opt;
};

struct Sut {
  std::shared_ptr<Pool> pool;
  std::unique_ptr<Pipeline> ref, opt;
  State opt_first;  // identities and addresses of the first load
};

void require_state(const Sut& s, const Model& m, const std::string& step) {
  const std::string what = "pool checkpoint " + std::to_string(m.current) + " (cold)";
  std::string d = first_difference(s.pool->cold_ref[m.current], capture(*s.ref), Same::Bytes, what, "reference after " + step);
  if (d.empty()) d = first_difference(s.pool->cold_opt[m.current], capture(*s.opt), Same::Bytes, what, "optimized after " + step);
  if (d.empty()) {
    // Same Parameters and storage as at the first load (the contract CUDA graphs rely on).
    const State now = capture(*s.opt);
    for (const auto& [name, p] : now) {
      const auto it = s.opt_first.find(name);
      if (it == s.opt_first.end() || it->second.identity != p.identity || it->second.address != p.address)
        d = "optimized " + name + ": not the Parameter or storage of the first load, after " + step;
    }
  }
  if (!d.empty()) RC_FAIL(d);
}

struct Reload : rc::state::Command<Model, Sut> {
  int k = *rc::gen::inRange(0, 3);
  void apply(Model& m) const override { m.current = k; }
  void run(const Model& m, Sut& s) const override {
    Model next = m;
    apply(next);
    const Checkpoint c = Checkpoint::open(s.pool->dirs[k].path());
    auto& alloc = TrackingAllocator::global();
    alloc.reset();
    s.opt->update_weights_from_disk(c);
    const AllocStats st = alloc.stats();
    if (st.alloc_count || st.alloc_bytes) RC_FAIL("optimized reload allocated " + std::to_string(st.alloc_bytes) + " bytes");
    s.ref->update_weights_from_disk(c);
    require_state(s, next, "reload of pool checkpoint " + std::to_string(k));
  }
  void show(std::ostream& os) const override { os << "reload pool checkpoint " << k; }
};

struct CorruptReload : rc::state::Command<Model, Sut> {
  int k = *rc::gen::inRange(0, 3);
  std::uint64_t pick = *gen::any_u64();
  void run(const Model& m, Sut& s) const override {
    // Chosen here (the pool is the SUT's), reproducibly from the command's own draws.
    const GeneratedCheckpoint& g = s.pool->gen[k];
    const auto names = quantized_tensors(g, s.pool->opts[k].format);
    const std::string v = names[pick % names.size()];
    const auto faults = faults_for(g, s.pool->opts[k].format, v);
    const Fault f = faults[(pick / names.size()) % faults.size()];
    TempDir bad;
    write_damaged(bad.path(), g, s.pool->opts[k].files, v, f, pick);
    for (Pipeline* p : {s.ref.get(), s.opt.get()}) {
      try {
        p->update_weights_from_disk(Checkpoint::open(bad.path()));
        RC_FAIL(p->name() + " accepted " + v + " (" + fault_name(f) + ")");
      } catch (const Error& e) {
        const std::string w = e.what();
        RC_ASSERT(w.find('\n') == std::string::npos);
      }
    }
    require_state(s, m, "a refused reload (" + v + ", " + fault_name(f) + ")");
  }
  void show(std::ostream& os) const override { os << "reload a damaged copy of pool checkpoint " << k << " (pick " << pick << ")"; }
};

struct ProcessAgain : rc::state::Command<Model, Sut> {
  void run(const Model& m, Sut& s) const override {
    s.ref->process_weights_after_loading(s.pool->c.backend);
    s.opt->process_weights_after_loading(s.pool->c.backend);
    require_state(s, m, "processing again");
  }
  void show(std::ostream& os) const override { os << "process_weights_after_loading again"; }
};

struct Gemm : rc::state::Command<Model, Sut> {
  std::int64_t M = *rc::gen::inRange<std::int64_t>(1, 6);
  GemmMode mode = *rc::gen::element(GemmMode::W4A4, GemmMode::W4A16);
  std::uint64_t pick = *gen::any_u64();
  void run(const Model&, Sut& s) const override {
    const ModelSpec& spec = s.ref->spec();
    if (spec.linears.empty()) return;
    const LinearSpec& l = spec.linears[pick % spec.linears.size()];
    if (mode == GemmMode::W4A4 && !l.has_input_scale) return;
    const GemmTarget t{l.name, -1, ""};
    Tensor x = Tensor::empty(DType::F32, {M, l.K});
    for (std::int64_t i = 0; i < M * l.K; ++i)  // small multiples of powers of two: ties for the quantizer
      x.data_as<float>()[i] = std::ldexp(static_cast<float>(static_cast<int>((pick >> (i % 48)) % 17) - 8), static_cast<int>(i % 5) - 3);
    auto& r = static_cast<ref::ReferencePipeline&>(*s.ref);
    const Tensor exact = r.gemm(t, x, mode), fast = s.opt->gemm(t, x, mode);
    const auto ops = r.operands(t, mode);
    const std::vector<double> mag = ref::gemm_abs_sum(x, ops.w, mode, ops.s);
    const double post = mode == GemmMode::W4A4 ? ops.s.alpha : ops.w.global_scale;
    for (std::int64_t i = 0; i < exact.numel(); ++i) {
      const double e = exact.get_f32(i), f = fast.get_f32(i);
      if (!(std::fabs(f - e) <= opt::gemm_error_bound(mode, l.K, mag[static_cast<std::size_t>(i)], post, DType::F32, e))) {
        std::ostringstream os;
        os << gemm_mode_name(mode) << " " << l.name << " M=" << M << " element " << i << ": optimized " << f << " vs exact " << e;
        RC_FAIL(os.str());
      }
    }
  }
  void show(std::ostream& os) const override { os << "GEMM " << gemm_mode_name(mode) << " M=" << M << " (pick " << pick << ")"; }
};

RC_GTEST_PROP(ReloadSequenceProps, EveryStepMatchesTheModel, ()) {
  auto pool = std::make_shared<Pool>();
  pool->c = *gen::pipeline_case();
  pool->opts = {pool->c.ckpt, *gen::reload_of(pool->c.ckpt), *gen::reload_of(pool->c.ckpt)};
  RC_TAG(backend_name(pool->c.backend), pool->c.ckpt.experts ? "moe" : "dense");
  for (int k = 0; k < 3; ++k) {
    pool->gen[k] = generate_checkpoint(pool->opts[k]);
    write_checkpoint(pool->dirs[k].path(), pool->gen[k], pool->opts[k].files);
    for (const std::string name : {"reference", "optimized"}) {
      auto p = make_pipeline(name, pool->c.backend);
      p->load_weights(Checkpoint::open(pool->dirs[k].path()));
      p->process_weights_after_loading(pool->c.backend);
      (name == "reference" ? pool->cold_ref : pool->cold_opt)[k] = capture(*p);
    }
  }
  Sut s{pool, make_pipeline("reference", pool->c.backend), make_pipeline("optimized", pool->c.backend), {}};
  for (Pipeline* p : {s.ref.get(), s.opt.get()}) {
    p->load_weights(Checkpoint::open(pool->dirs[0].path()));
    p->process_weights_after_loading(pool->c.backend);
  }
  s.opt_first = capture(*s.opt);
  rc::state::check(Model{}, s, rc::state::gen::execOneOfWithArgs<Reload, CorruptReload, ProcessAgain, Gemm>());
}

}  // namespace
}  // namespace nvfp4
