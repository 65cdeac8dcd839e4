// Both pipelines side by side, from the one registry, on generated checkpoints of every layout the
// writer makes: the same names, aliases and bytes after every step of a reload sequence; a warm
// reload equal to a cold load; the optimized pipeline's counted memory contract (first load
// allocates exactly what stays resident, a reload allocates nothing and moves nothing); and a failed
// reload, at any tensor with any fault, that leaves both pipelines exactly as they were, their
// reconciliation reports included, with later reloads behaving as if it never happened.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstdio>

#include "core/allocator.h"
#include "core/error.h"
#include "checks/state.h"
#include "core/test/temp_dir.h"
#include "optimized/optimized_pipeline.h"
#include "properties/faults.h"
#include "properties/generators.h"
#include "checks/agreement.h"
#include "registry/registry.h"

namespace nvfp4 {
namespace {

struct Pair {
  std::unique_ptr<Pipeline> ref, opt;
  opt::OptimizedPipeline& optimized() { return static_cast<opt::OptimizedPipeline&>(*opt); }
};

Pair make_pair(Backend b) { return {make_pipeline("reference", b), make_pipeline("optimized", b)}; }


// The two pipelines hold the same names, aliases, bytes and reconciliation reports.
void require_agreement(Pair& p, const std::string& step) {
  const checks::Result r = checks::agreement(*p.ref, *p.opt);
  if (!r.ok) RC_FAIL("after " + step + ": " + r.detail);
}

void require_same(const State& a, const State& b, Same same, const std::string& wa, const std::string& wb) {
  std::string d = first_difference(a, b, same, wa, wb);
  if (!d.empty()) RC_FAIL(d);
}

// A reload of the optimized pipeline, counted: it must allocate nothing.
void reload_counted(Pair& p, const std::filesystem::path& dir, const std::string& step) {
  auto& alloc = TrackingAllocator::global();
  const Checkpoint c = Checkpoint::open(dir);
  alloc.reset();
  p.opt->update_weights_from_disk(c);
  const AllocStats s = alloc.stats();
  if (s.alloc_count || s.alloc_bytes)
    RC_FAIL("optimized reload (" + step + ") allocated " + std::to_string(s.alloc_bytes) + " bytes in " +
            std::to_string(s.alloc_count) + " allocations");
  p.ref->update_weights_from_disk(c);
}

// First load + processing of the optimized pipeline, counted: everything it allocates stays
// resident, and the peak is within resident + one scratch buffer.
void load_counted(Pair& p, const std::filesystem::path& dir, Backend b) {
  auto& alloc = TrackingAllocator::global();
  const Checkpoint c = Checkpoint::open(dir);
  alloc.reset();
  const AllocStats start = alloc.stats();
  p.opt->load_weights(c);
  p.opt->process_weights_after_loading(b);
  const AllocStats s = alloc.stats();
  const std::int64_t resident = p.optimized().resident_bytes(), scratch = p.optimized().scratch_bytes();
  RC_ASSERT(s.alloc_bytes == resident);
  RC_ASSERT(s.live_bytes - start.live_bytes == resident);
  RC_ASSERT(s.peak_bytes - start.live_bytes <= resident + scratch);
  p.ref->load_weights(c);
  p.ref->process_weights_after_loading(b);
}

State cold(const std::string& pipeline, const std::filesystem::path& dir, Backend b) {
  auto p = make_pipeline(pipeline, b);
  p->load_weights(Checkpoint::open(dir));
  p->process_weights_after_loading(b);
  return capture(*p);
}

RC_GTEST_PROP(PipelinesProps, AgreeBitwiseThroughReloadSequences, ()) {
  const PipelineCase c = *gen::pipeline_case();
  const WriterOptions bo = *gen::reload_of(c.ckpt);
  RC_TAG(backend_name(c.backend), c.ckpt.experts ? "moe" : "dense");
  TempDir a, b;
  write_checkpoint(a.path(), generate_checkpoint(c.ckpt), c.ckpt.files);
  write_checkpoint(b.path(), generate_checkpoint(bo), bo.files);
  Pair p = make_pair(c.backend);
  load_counted(p, a.path(), c.backend);
  require_agreement(p, "load A");
  const State ref_a = capture(*p.ref), opt_a = capture(*p.opt);
  // Processing again, as an engine may call process_weights_after_loading twice: the reference
  // re-derives from its sources, the optimized pipeline must not swizzle its swizzled scales again.
  p.ref->process_weights_after_loading(c.backend);
  p.opt->process_weights_after_loading(c.backend);
  require_agreement(p, "load A, processed twice");
  require_same(opt_a, capture(*p.opt), Same::Addresses, "optimized: load A", "optimized: processed twice");

  reload_counted(p, a.path(), "A -> A");
  require_agreement(p, "A -> A");
  require_same(opt_a, capture(*p.opt), Same::Addresses, "optimized: load A", "optimized: A -> A");
  require_same(ref_a, capture(*p.ref), Same::Identities, "reference: load A", "reference: A -> A");

  reload_counted(p, b.path(), "A -> B");
  require_agreement(p, "A -> B");
  require_same(cold("optimized", b.path(), c.backend), capture(*p.opt), Same::Bytes, "optimized: cold B", "optimized: A -> B");
  require_same(cold("reference", b.path(), c.backend), capture(*p.ref), Same::Bytes, "reference: cold B", "reference: A -> B");
  for (const auto& [name, s] : capture(*p.opt))
    if (s.identity != opt_a.at(name).identity || s.address != opt_a.at(name).address)
      RC_FAIL("optimized " + name + ": a different Parameter or storage after A -> B");

  reload_counted(p, a.path(), "A -> B -> A");
  require_agreement(p, "A -> B -> A");
  require_same(opt_a, capture(*p.opt), Same::Addresses, "optimized: A", "optimized: A -> B -> A");
  require_same(ref_a, capture(*p.ref), Same::Identities, "reference: A", "reference: A -> B -> A");
}

RC_GTEST_PROP(PipelinesProps, FailedReloadChangesNothingObservable, ()) {
  const PipelineCase c = *gen::pipeline_case();
  const WriterOptions bad_opts = *gen::reload_of(c.ckpt), later = *gen::reload_of(c.ckpt);
  TempDir good, bad, next;
  write_checkpoint(good.path(), generate_checkpoint(c.ckpt), c.ckpt.files);
  GeneratedCheckpoint g = generate_checkpoint(bad_opts);
  const std::string victim = *rc::gen::elementOf(quantized_tensors(g, bad_opts.format));
  const Fault fault = *rc::gen::elementOf(faults_for(g, bad_opts.format, victim));
  RC_TAG(fault_name(fault));
  write_damaged(bad.path(), g, bad_opts.files, victim, fault, *gen::any_u64());
  write_checkpoint(next.path(), generate_checkpoint(later), later.files);

  Pair p = make_pair(c.backend);
  load_counted(p, good.path(), c.backend);
  for (Pipeline* q : {p.ref.get(), p.opt.get()}) {
    const checks::Result r = checks::failed_reload(*q, [&](Pipeline& x) { x.update_weights_from_disk(Checkpoint::open(bad.path())); }, capture(*q),
                                                   q->reconciliations(),
                                                   pipeline_kind(q->name()).reload, "of " + victim + " (" + fault_name(fault) + ")");
    if (!r.ok) RC_FAIL(r.detail);
    const std::string w = r.values.at("refused");
    if (w.find('\n') != std::string::npos) RC_FAIL("error is not one line: " + w);
  }
  require_agreement(p, "the failed reload");
  // What happens next is what would have happened without the failed reload.
  p.ref->process_weights_after_loading(c.backend);
  p.opt->process_weights_after_loading(c.backend);
  require_agreement(p, "processing again after the failed reload");
  reload_counted(p, next.path(), "a good reload after the failed one");
  require_agreement(p, "a good reload after the failed one");
  require_same(cold("reference", next.path(), c.backend), capture(*p.ref), Same::Bytes, "reference: cold", "reference: after");
}

}  // namespace
}  // namespace nvfp4
