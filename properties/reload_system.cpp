#include "properties/reload_system.h"

#include <rapidcheck.h>

#include <sstream>

#include "checks/agreement.h"
#include "core/allocator.h"
#include "core/error.h"
#include "registry/registry.h"

namespace nvfp4::reload_props {

void Pool::write(const PipelineCase& pc, const WriterOptions& r1, const WriterOptions& r2, const WriterOptions& other) {
  c = pc;
  opts = {c.ckpt, r1, r2, other};
  for (int k = 0; k < kPool; ++k) {
    gen[k] = generate_checkpoint(opts[k]);
    write_checkpoint(dirs[k].path(), gen[k], opts[k].files);
  }
  spec = {map_modules(Checkpoint::open(dirs[0].path())), map_modules(Checkpoint::open(dirs[kOtherShapes].path()))};
}

Model Pool::model() const {
  Model m;
  m.opt_backend = c.backend;
  m.experts = !spec[0].experts.empty();
  for (const auto& x : spec[0].experts) m.trtllm_refused |= x.H % 64 != 0;
  m.input_scales = c.ckpt.input_scales;
  return m;
}

const Cold& Pool::cold(const std::string& pipeline, int k, std::optional<Backend> b) {
  const auto key = std::make_tuple(pipeline, k, b ? static_cast<int>(*b) : -1);
  if (auto it = colds.find(key); it != colds.end()) return it->second;
  auto p = make_pipeline(pipeline, c.backend);
  p->load_weights(Checkpoint::open(dirs[k].path()));
  if (b) p->process_weights_after_loading(*b);
  return colds[key] = {capture(*p), p->reconciliations()};
}

Sut make_sut(std::shared_ptr<Pool> pool) {
  const Backend b = pool->c.backend;
  return Sut{std::move(pool), make_pipeline("reference", b), make_pipeline("optimized", b), {}, 0};
}

namespace {
std::string shown(const Command& c) {
  std::ostringstream os;
  c.show(os);
  return os.str();
}
}  // namespace

std::string step_name(const Sut& s, const Command& c) { return "step " + std::to_string(s.step) + " (" + shown(c) + ")"; }

void require_state(Sut& s, const Model& m, const std::string& step) {
  for (Pipeline* p : {s.ref.get(), s.opt.get()}) {
    const bool is_ref = p == s.ref.get();
    const std::string after = p->name() + " after " + step;
    if (m.committed < 0) {
      if (!p->modules().empty())
        RC_FAIL(after + ": holds " + std::to_string(p->modules().size()) + " modules, and no load has succeeded");
      continue;
    }
    const std::optional<Backend> b = is_ref ? m.ref_backend : m.opt_processed ? std::optional<Backend>(m.opt_backend) : std::nullopt;
    const std::string what = "cold " + p->name() + " of pool checkpoint " + std::to_string(m.committed) +
                             (b ? " processed for " + backend_name(*b) : " unprocessed");
    const Cold& want = s.pool->cold(p->name(), m.committed, b);
    std::string d = first_difference(want.state, peek(*p), Same::Bytes, what, after);
    if (d.empty()) d = checks::reconciliation_difference(want.rec, p->reconciliations(), what, after);
    if (!d.empty()) RC_FAIL(d);
  }
  // The contract CUDA graphs rely on: the same Parameters and storage whatever happened since.
  for (const auto& [name, p] : peek(*s.opt)) {
    const auto [it, fresh] = s.opt_first.try_emplace(name, p.identity, p.address);
    if (!fresh && it->second.first != p.identity)
      RC_FAIL("optimized after " + step + ": " + name + " is another Parameter than when it first appeared");
    if (!fresh && it->second.second != p.address)
      RC_FAIL("optimized after " + step + ": " + name + "'s storage moved since it first appeared");
  }
}

std::string expect(const std::string& step, Pipeline& p, const Outcome& want, const std::function<void()>& f, bool count_allocations) {
  const State before = peek(p);
  auto& alloc = TrackingAllocator::global();
  alloc.reset();
  std::optional<Error> got;
  try {
    f();
  } catch (const Error& e) {
    got = e;
  }
  const AllocStats st = alloc.stats();
  const std::string who = p.name() + " at " + step;
  if (count_allocations && (st.alloc_count || st.alloc_bytes))
    RC_FAIL(who + ": allocated " + std::to_string(st.alloc_bytes) + " bytes in " + std::to_string(st.alloc_count) + " allocations");
  if (want.accepted) {
    if (got) RC_FAIL(who + ": refused, but the model accepts it: " + got->what());
    return "";
  }
  if (!got) RC_FAIL(who + ": accepted, but the model refuses it");
  const std::string w = got->what();
  if (w.find('\n') != std::string::npos) RC_FAIL(who + ": the error is not one line: " + w);
  const auto kind = [](ErrorKind k) { return k == ErrorKind::Usage ? "Usage" : k == ErrorKind::BadInput ? "BadInput" : "another kind"; };
  if (got->kind() != want.kind) RC_FAIL(who + ": refused as " + kind(got->kind()) + ", the model says " + kind(want.kind) + ": " + w);
  bool named = want.phrases.empty();
  for (const auto& ph : want.phrases) named |= w.find(ph) != std::string::npos;
  if (!named) RC_FAIL(who + ": refused with \"" + w + "\", which holds none of the model's phrases, e.g. \"" + want.phrases[0] + "\"");
  const std::string d = first_difference(before, peek(p), Same::Addresses, p.name() + " before", p.name() + " after the refused " + step);
  if (!d.empty()) RC_FAIL(d);
  return w;
}

void expect_both(const Sut& s, const Model& m, const std::string& step, const Outcome& ref, const Outcome& opt,
                 const std::function<void(Pipeline&)>& f, bool same_message) {
  const std::string wo = expect(step, *s.opt, opt, [&] { f(*s.opt); }, m.committed >= 0);
  const std::string wr = expect(step, *s.ref, ref, [&] { f(*s.ref); }, false);
  if (same_message && !ref.accepted && !opt.accepted && wo != wr) RC_FAIL("at " + step + ": the optimized pipeline says \"" + wo + "\", the reference \"" + wr + "\"");
}

}  // namespace nvfp4::reload_props
