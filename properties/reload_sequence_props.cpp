// Reload orders as a stateful test (rc::state). Both pipelines, made through registry/ for the
// case's backend and starting empty, run a random sequence of the calls the Pipeline API
// (core/pipeline.h) offers, in any order:
//   load pool checkpoint k           load_weights or update_weights_from_disk: on an empty pipeline
//                                    either one is the first load, on a loaded one either one is a
//                                    reload (each pipeline forwards the one call to the other)
//   load a damaged checkpoint        one kind of refusal (Refusal below), by either call
//   process for backend b            process_weights_after_loading, the case's backend or the other
//   GEMM                             a linear module or one expert's w13/w2, w4a4 or w4a16
// The pool holds four checkpoints written from the case: 0..2 with the same shapes (new weights,
// any layout on disk) and 3 with another intermediate size, which a loaded pipeline must refuse.
//
// The model is what a reader predicts from the API's comments:
//   committed      the pool checkpoint whose weights are committed (-1 before a first load succeeds)
//   ref_backend    what the reference last processed for (none before its first processing): it
//                  derives everything afresh for any backend (registry/registry.h), except that
//                  trtllm needs experts with H a multiple of 64 (reference/experts.cpp)
//   opt_processed  whether the optimized pipeline has processed since its first load: it is built
//                  for one backend and refuses any other (optimized/optimized_pipeline.h)
// and which calls are refused with which error: processing before a load and a GEMM before
// processing (Usage), the optimized pipeline processing for another backend (Usage), the reference
// processing for trtllm with H % 64 != 0 (BadInput), a w4a4 GEMM without input scales (BadInput),
// a reload of other shapes and every damaged checkpoint (BadInput, with the phrase of the check).
//
// After every command each pipeline must hold what a cold pipeline holds, built independently:
// fresh from the registry, loaded from the committed checkpoint and, when the model says
// processed, processed for the model's backend (names, aliases, bytes, reconciliation reports).
// The optimized pipeline must also keep each parameter's Parameter object and storage from the
// first time its name appeared, and allocate nothing once loaded (a GEMM's output aside). A refused
// call changes nothing: every name, alias, identity and address as before it. A GEMM both accept
// is within the optimized kernel's bound of the reference's exact oracle. A failure names the step
// and its command, the pipeline, the parameter and its first differing byte; RapidCheck prints the
// whole (shrunk) sequence. ReloadOrders.EveryOrderAndRefusalOnce walks each order and each refusal
// once, deterministically, on three fixed models, so none of them depends on the random draws.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <rapidcheck/state.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>
#include <tuple>

#include "checks/gemm_vs_oracle.h"
#include "core/allocator.h"
#include "core/error.h"
#include "core/module_map.h"
#include "checks/state.h"
#include "core/safetensors.h"
#include "core/test/temp_dir.h"
#include "generator/encoders.h"
#include "generator/test/small_model.h"
#include "optimized/gemm.h"
#include "properties/faults.h"
#include "properties/generators.h"
#include "checks/agreement.h"
#include "reference/gemm.h"
#include "reference/reference_pipeline.h"
#include "registry/registry.h"

namespace nvfp4 {
namespace {

namespace fs = std::filesystem;

constexpr int kPool = 4, kOtherShapes = 3;
int shapes_of(int k) { return k == kOtherShapes ? 1 : 0; }

enum class Via { Load, Update };
const char* via_name(Via v) { return v == Via::Load ? "load_weights" : "update_weights_from_disk"; }
void call(Pipeline& p, Via v, const Checkpoint& c) {
  if (v == Via::Load) p.load_weights(c);
  else p.update_weights_from_disk(c);
}

// Every check that refuses a load, as the damage that trips it, with the phrase its message holds.
// The checks: core/module_map.cpp (a module's tensors present, with the dtypes and shapes it reads;
// a reload keeping every shape: the pool's checkpoint 3), optimized/source_loader.cpp and
// reference/loading.cpp (block and global scale values, an encode scale's reciprocal),
// core/safetensors_reader.cpp (a file shorter than its header says, refused by Checkpoint::open
// before a pipeline sees it) and core/guarded_mapping.h (a file changed while a load reads it).
enum class Refusal {
  Missing, WrongShape, WrongDtype, NanBlockScale, NegativeBlockScale, NanGlobalScale, InfGlobalScale,
  ZeroGlobalScale, NegativeGlobalScale, NoReciprocal, Truncated, ChangedWhileRead,
};
constexpr Refusal kRefusals[] = {
    Refusal::Missing, Refusal::WrongShape, Refusal::WrongDtype, Refusal::NanBlockScale, Refusal::NegativeBlockScale,
    Refusal::NanGlobalScale, Refusal::InfGlobalScale, Refusal::ZeroGlobalScale, Refusal::NegativeGlobalScale,
    Refusal::NoReciprocal, Refusal::Truncated, Refusal::ChangedWhileRead};

struct RefusalInfo {
  const char* name;
  std::vector<std::string> phrases;  // the message holds one of them
};
RefusalInfo info(Refusal r) {
  switch (r) {
    case Refusal::Missing: return {"a tensor missing", {"missing", "not found", "present on some", "a reload must keep every module's shape"}};
    case Refusal::WrongShape: return {"a tensor of the wrong shape", {"expected", "does not fit", "does not match"}};
    case Refusal::WrongDtype: return {"a tensor of the wrong dtype", {"expected", "does not fit"}};
    case Refusal::NanBlockScale: return {"a NaN block scale", {"NaN block scale at"}};
    case Refusal::NegativeBlockScale: return {"a negative block scale", {"negative block scale at"}};
    case Refusal::NanGlobalScale: return {"a NaN global scale", {"NaN global scale"}};
    case Refusal::InfGlobalScale: return {"an infinite global scale", {"infinite global scale"}};
    case Refusal::ZeroGlobalScale: return {"a zero global scale", {"is not positive"}};
    case Refusal::NegativeGlobalScale: return {"a negative global scale", {"is not positive"}};
    case Refusal::NoReciprocal: return {"an encode scale without a finite reciprocal", {"encode scale has no finite positive reciprocal"}};
    case Refusal::Truncated: return {"a file truncated inside a tensor", {"(truncated)"}};
    case Refusal::ChangedWhileRead: return {"a file rewritten while read", {"changed while being read"}};
  }
  return {"?", {}};
}

// What the model predicts of one pipeline's call: accepted, or refused with this kind of error and
// one of these phrases in its one-line message.
struct Outcome {
  bool accepted = true;
  ErrorKind kind = ErrorKind::BadInput;
  std::vector<std::string> phrases;
};
Outcome accepted() { return {}; }
Outcome refused(ErrorKind k, std::vector<std::string> phrases) { return {false, k, std::move(phrases)}; }


struct Model {
  Backend opt_backend = Backend::Cutlass;  // the case's: what the optimized pipeline is built for
  bool experts = false;
  bool trtllm_refused = false;             // experts with H % 64 != 0: the reference refuses trtllm
  bool input_scales = true;                // w4a4 possible
  int committed = -1;
  std::optional<Backend> ref_backend;
  bool opt_processed = false;
};

// A first load or a reload of pool checkpoint k, in the model: a loaded pipeline refuses other shapes.
bool refuses_shapes(const Model& m, int k) { return m.committed >= 0 && shapes_of(k) != shapes_of(m.committed); }
void commit(Model& m, int k) {
  if (m.committed < 0) {
    m.ref_backend.reset();
    m.opt_processed = false;
  }
  if (!refuses_shapes(m, k)) m.committed = k;
}

struct Cold {
  State state;
  std::vector<Reconciliation> rec;
};

struct Pool {
  PipelineCase c;
  std::array<WriterOptions, kPool> opts;
  std::array<GeneratedCheckpoint, kPool> gen;
  std::array<TempDir, kPool> dirs;
  std::array<ModelSpec, 2> spec;  // by shapes_of(k)
  // (pipeline, checkpoint, backend or -1 unprocessed), built on first use
  std::map<std::tuple<std::string, int, int>, Cold> colds;

  void write(const PipelineCase& pc, const WriterOptions& r1, const WriterOptions& r2, const WriterOptions& other) {
    c = pc;
    opts = {c.ckpt, r1, r2, other};
    for (int k = 0; k < kPool; ++k) {
      gen[k] = generate_checkpoint(opts[k]);
      write_checkpoint(dirs[k].path(), gen[k], opts[k].files);
    }
    spec = {map_modules(Checkpoint::open(dirs[0].path())), map_modules(Checkpoint::open(dirs[kOtherShapes].path()))};
  }
  Model model() const {
    Model m;
    m.opt_backend = c.backend;
    m.experts = !spec[0].experts.empty();
    for (const auto& x : spec[0].experts) m.trtllm_refused |= x.H % 64 != 0;
    m.input_scales = c.ckpt.input_scales;
    return m;
  }
  // A pipeline of the registry, loaded from checkpoint k and processed for b, nothing else.
  const Cold& cold(const std::string& pipeline, int k, std::optional<Backend> b) {
    const auto key = std::make_tuple(pipeline, k, b ? static_cast<int>(*b) : -1);
    if (auto it = colds.find(key); it != colds.end()) return it->second;
    auto p = make_pipeline(pipeline, c.backend);
    p->load_weights(Checkpoint::open(dirs[k].path()));
    if (b) p->process_weights_after_loading(*b);
    return colds[key] = {capture(*p), p->reconciliations()};
  }
};

struct Sut {
  std::shared_ptr<Pool> pool;
  std::unique_ptr<Pipeline> ref, opt;
  // The optimized pipeline's Parameter and storage address of each name, since it first appeared.
  std::map<std::string, std::pair<const Parameter*, const void*>> opt_first;
  int step = 0;
};

using Command = rc::state::Command<Model, Sut>;

std::string shown(const Command& c) {
  std::ostringstream os;
  c.show(os);
  return os.str();
}

std::string step_name(const Sut& s, const Command& c) { return "step " + std::to_string(s.step) + " (" + shown(c) + ")"; }


// Each pipeline against its cold twin of the model's state, then the optimized pipeline's
// identities and addresses against those of each name's first appearance.
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

// Runs one pipeline's call and checks it against the model's outcome; returns the refusal's
// message ("" when accepted). With count_allocations (the optimized pipeline, once loaded) the
// call must allocate nothing, refused or not; refused, it must leave every name, alias, identity
// and address as before.
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

// Both pipelines, the optimized one first (its allocations are counted alone). Both refusing a
// load, they name the same first problem: the optimized checks run in the reference loaders'
// order (optimized/source_loader.h).
void expect_both(const Sut& s, const Model& m, const std::string& step, const Outcome& ref, const Outcome& opt,
                 const std::function<void(Pipeline&)>& f, bool same_message = false) {
  const std::string wo = expect(step, *s.opt, opt, [&] { f(*s.opt); }, m.committed >= 0);
  const std::string wr = expect(step, *s.ref, ref, [&] { f(*s.ref); }, false);
  if (same_message && !ref.accepted && !opt.accepted && wo != wr) RC_FAIL("at " + step + ": the optimized pipeline says \"" + wo + "\", the reference \"" + wr + "\"");
}

struct LoadPool : Command {
  int k = *rc::gen::inRange(0, kPool);
  Via via = *rc::gen::element(Via::Load, Via::Update);
  LoadPool() = default;
  LoadPool(int k, Via v) : k(k), via(v) {}
  void apply(Model& m) const override { commit(m, k); }
  void run(const Model& m, Sut& s) const override {
    ++s.step;
    const std::string step = step_name(s, *this);
    const Outcome o = refuses_shapes(m, k) ? refused(ErrorKind::BadInput, {"a reload must keep every module's shape"}) : accepted();
    const Checkpoint c = Checkpoint::open(s.pool->dirs[k].path());
    expect_both(s, m, step, o, o, [&](Pipeline& p) { call(p, via, c); }, true);
    Model next = m;
    apply(next);
    require_state(s, next, step);
  }
  void show(std::ostream& os) const override { os << via_name(via) << " pool checkpoint " << k; }
};

Tensor scalar_like(const Tensor& t, float v) {
  Tensor r = Tensor::empty(t.dtype(), t.shape());
  if (t.dtype() == DType::BF16) {
    const std::uint16_t h = f32_to_bf16(v);
    std::memcpy(r.data(), &h, 2);
  } else {
    std::memcpy(r.data(), &v, 4);
  }
  return r;
}

// The same shape in a dtype the loaders do not read there: packed weights as I8, block scales as
// U8 (the same bytes), global scales as F16 1.0.
Tensor retyped(const Tensor& t) {
  if (t.dtype() == DType::U8 || t.dtype() == DType::F8_E4M3) {
    Tensor r = Tensor::empty(t.dtype() == DType::U8 ? DType::I8 : DType::U8, t.shape());
    std::memcpy(r.data(), t.data(), t.nbytes());
    return r;
  }
  Tensor r = Tensor::empty(DType::F16, t.shape());
  for (std::int64_t i = 0; i < r.numel(); ++i) r.data_as<std::uint16_t>()[i] = 0x3C00;
  return r;
}

// While alive: at the first tensor view any load takes, the data section of the file it reads is
// rewritten in place with 0x77 bytes (valid E2M1 pairs, a valid E4M3 scale, a finite positive
// global scale), so no value check can notice and only the file's own state tells, as in
// tools/test/hostile_input_test.cpp. The files' times are set back first: a rewrite within the
// filesystem's timestamp granularity would otherwise leave them unchanged.
class RewriteAtFirstView {
 public:
  explicit RewriteAtFirstView(const fs::path& dir) {
    for (const auto& e : fs::directory_iterator(dir))
      fs::last_write_time(e.path(), fs::last_write_time(e.path()) - std::chrono::hours(1));
    SafetensorsFile::set_view_hook_for_testing([this](const std::string& label, const std::string&) {
      if (done_) return;
      done_ = true;
      std::fstream f(label, std::ios::in | std::ios::out | std::ios::binary);
      std::uint64_t n = 0;
      f.read(reinterpret_cast<char*>(&n), 8);
      const std::string fill(fs::file_size(label) - 8 - n, '\x77');
      f.seekp(static_cast<std::streamoff>(8 + n));
      f.write(fill.data(), static_cast<std::streamsize>(fill.size()));
    });
  }
  ~RewriteAtFirstView() { SafetensorsFile::set_view_hook_for_testing({}); }
  RewriteAtFirstView(const RewriteAtFirstView&) = delete;
  RewriteAtFirstView& operator=(const RewriteAtFirstView&) = delete;
  bool done() const { return done_; }

 private:
  bool done_ = false;
};

struct LoadDamaged : Command {
  Refusal r = *rc::gen::elementOf(std::vector<Refusal>(std::begin(kRefusals), std::end(kRefusals)));
  int k = *rc::gen::inRange(0, kPool);
  Via via = *rc::gen::element(Via::Load, Via::Update);
  std::uint64_t pick = *gen::any_u64();
  LoadDamaged() = default;
  LoadDamaged(Refusal r, int k, Via v, std::uint64_t pick) : r(r), k(k), via(v), pick(pick) {}

  // A damaged copy of a pool checkpoint of the committed one's shapes (else the shape check would
  // answer first): k itself before the first load.
  int base(const Model& m) const {
    if (m.committed < 0) return k;
    return shapes_of(m.committed) == 1 ? kOtherShapes : k % kOtherShapes;
  }
  // Writes the damaged copy of checkpoint b into dir; returns the tensor damaged ("" if none).
  // Without its input scale a module is a valid W4A16 one (core/module_map.cpp): a reload must
  // refuse it (other shapes), a first load may not.
  std::string write(const Pool& pool, int b, const fs::path& dir, bool first_load) const {
    WriterOptions o = pool.opts[b];
    GeneratedCheckpoint g = pool.gen[b];
    if (r == Refusal::NoReciprocal && o.format != CkptFormat::CompressedTensors) {  // only encode scales have reciprocals
      o.format = CkptFormat::CompressedTensors;
      g = generate_checkpoint(o);
    }
    if (r == Refusal::ChangedWhileRead) {
      write_checkpoint(dir, g, o.files);
      return "";
    }
    const FormatNames& fn = format_names(o.format);
    std::vector<std::string> victims;
    for (const std::string& v : quantized_tensors(g, o.format)) {
      const bool block = v.ends_with("." + fn.weight_scale), weight = v.ends_with("." + fn.weight) && !block;
      const bool global = !block && !weight;
      switch (r) {
        case Refusal::NanBlockScale:
        case Refusal::NegativeBlockScale: if (block) victims.push_back(v); break;
        case Refusal::NanGlobalScale:
        case Refusal::InfGlobalScale:
        case Refusal::ZeroGlobalScale:
        case Refusal::NegativeGlobalScale:
        case Refusal::NoReciprocal: if (global) victims.push_back(v); break;
        case Refusal::Missing: if (!(first_load && v.ends_with("." + fn.input_scale))) victims.push_back(v); break;
        default: victims.push_back(v);
      }
    }
    const std::string v = victims[pick % victims.size()];
    const auto fault = [&]() -> std::optional<Fault> {
      switch (r) {
        case Refusal::Missing: return Fault::Drop;
        case Refusal::WrongShape: return Fault::Reshape;
        case Refusal::NanBlockScale:
        case Refusal::NanGlobalScale: return Fault::NanScale;
        case Refusal::NegativeBlockScale:
        case Refusal::NegativeGlobalScale: return Fault::NegativeScale;
        case Refusal::InfGlobalScale: return Fault::InfScale;
        case Refusal::ZeroGlobalScale: return Fault::ZeroScale;
        case Refusal::Truncated: return Fault::Truncate;
        default: return std::nullopt;
      }
    }();
    if (fault) {
      write_damaged(dir, g, o.files, v, *fault, pick / victims.size());
      return v;
    }
    Tensor& t = g.tensors.at(v);
    // An encode scale so small its reciprocal overflows: 1e-45 (F32) or 1e-40 (BF16) is positive
    // and finite, 1 / it is not.
    t = r == Refusal::WrongDtype ? retyped(t) : scalar_like(t, t.dtype() == DType::BF16 ? 1e-40f : 1e-45f);
    write_checkpoint(dir, g, o.files);
    return v;
  }

  void run(const Model& m, Sut& s) const override {
    ++s.step;
    const int b = base(m);
    const RefusalInfo ri = info(r);
    const Outcome o = refused(ErrorKind::BadInput, ri.phrases);
    std::string step = step_name(s, *this);
    std::string said[2];  // by the optimized pipeline, by the reference, the copy's directory elided
    for (Pipeline* p : {s.opt.get(), s.ref.get()}) {  // a fresh copy each: the rewrite spoils it
      TempDir bad;
      const std::string victim = write(*s.pool, b, bad.path(), m.committed < 0);
      step = step_name(s, *this) + " on " + (victim.empty() ? "" : victim + " of ") + "a copy of pool checkpoint " + std::to_string(b);
      std::optional<RewriteAtFirstView> rewrite;
      if (r == Refusal::ChangedWhileRead) rewrite.emplace(bad.path());
      // Opened inside the call: a file shorter than its header says is refused by Checkpoint::open.
      std::string w = expect(step, *p, o, [&] { call(*p, via, Checkpoint::open(bad.path())); }, p == s.opt.get() && m.committed >= 0);
      if (rewrite && !rewrite->done()) RC_FAIL(p->name() + " at " + step + ": the load took no tensor view");
      for (std::size_t at; (at = w.find(bad.path().string())) != std::string::npos;) w.replace(at, bad.path().string().size(), "<copy>");
      said[p == s.ref.get()] = w;
    }
    if (said[0] != said[1]) RC_FAIL("at " + step + ": the optimized pipeline says \"" + said[0] + "\", the reference \"" + said[1] + "\"");
    require_state(s, m, step);
  }
  void show(std::ostream& os) const override {
    os << via_name(via) << " " << info(r).name << " (copy of pool checkpoint " << k << " or of the committed shapes, pick " << pick << ")";
  }
};

struct Process : Command {
  Backend b = *rc::gen::element(Backend::Cutlass, Backend::Trtllm);
  Process() = default;
  explicit Process(Backend b) : b(b) {}
  void apply(Model& m) const override {
    if (m.committed < 0) return;
    if (b != Backend::Trtllm || !m.trtllm_refused) m.ref_backend = b;
    if (b == m.opt_backend) m.opt_processed = true;
  }
  void run(const Model& m, Sut& s) const override {
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
  void show(std::ostream& os) const override { os << "process_weights_after_loading for " << backend_name(b); }
};

struct Gemm : Command {
  std::int64_t M = *rc::gen::inRange<std::int64_t>(1, 6);
  GemmMode mode = *rc::gen::element(GemmMode::W4A4, GemmMode::W4A16);
  std::uint64_t pick = *gen::any_u64();
  Gemm() = default;
  Gemm(std::int64_t M, GemmMode mode, std::uint64_t pick) : M(M), mode(mode), pick(pick) {}
  void run(const Model& m, Sut& s) const override {
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
      const checks::KernelCheck kc = checks::check_kernel(exact, fast, mag, mode, K, post);
      if (!kc.passed())
        RC_FAIL("at " + step + ": " + t.module + (t.expert >= 0 ? " expert " + std::to_string(t.expert) + " " + t.proj : "") + " " + kc.failure());
    }
    require_state(s, m, step);
  }
  void show(std::ostream& os) const override { os << "GEMM " << gemm_mode_name(mode) << " M=" << M << " (pick " << pick << ")"; }
};

Sut make_sut(std::shared_ptr<Pool> pool) {
  const Backend b = pool->c.backend;
  return Sut{std::move(pool), make_pipeline("reference", b), make_pipeline("optimized", b), {}, 0};
}

RC_GTEST_PROP(ReloadSequenceProps, EveryStepMatchesTheModel, ()) {
  auto pool = std::make_shared<Pool>();
  const PipelineCase c = *gen::pipeline_case();
  WriterOptions other = c.ckpt;
  other.intermediate += 16;
  pool->write(c, *gen::reload_of(c.ckpt), *gen::reload_of(c.ckpt), *gen::reload_of(other));
  RC_TAG(backend_name(c.backend), c.ckpt.experts ? "moe" : "dense");
  Sut s = make_sut(pool);
  rc::state::check(pool->model(), s, rc::state::gen::execOneOfWithArgs<LoadPool, LoadDamaged, Process, Gemm>());
}

// Each order once, and each refusal before the first load, before the first processing and after
// it, on a dense cutlass model, a MoE cutlass one whose H the reference refuses for trtllm, and a
// MoE trtllm one that the reference may also process for cutlass.
struct WalkCase {
  const char* name;
  Backend backend;
  int experts;
  std::int64_t hidden;
};
void PrintTo(const WalkCase& c, std::ostream* os) { *os << c.name; }

class ReloadOrders : public ::testing::TestWithParam<WalkCase> {};

TEST_P(ReloadOrders, EveryOrderAndRefusalOnce) {
  const WalkCase wc = GetParam();
  PipelineCase c;
  c.backend = wc.backend;
  c.ckpt = small_model();
  c.ckpt.experts = wc.experts;
  c.ckpt.hidden = wc.hidden;
  c.ckpt.files = 2;
  c.ckpt.unequal_scales = true;
  WriterOptions r1 = c.ckpt, r2 = c.ckpt, other = c.ckpt;
  r1.seed = 1;
  r1.fused = true;
  r1.unequal_scales = false;
  r2.seed = 2;
  r2.format = CkptFormat::CompressedTensors;
  r2.files = 1;
  other.seed = 3;
  other.intermediate += 16;
  auto pool = std::make_shared<Pool>();
  pool->write(c, r1, r2, other);
  const Backend other_backend = wc.backend == Backend::Cutlass ? Backend::Trtllm : Backend::Cutlass;

  using Cmd = std::shared_ptr<const Command>;
  std::vector<Cmd> cmds;
  std::uint64_t pick = 13;  // another victim each time
  auto refusals = [&](int k) {
    for (std::size_t i = 0; i < std::size(kRefusals); ++i, pick += 7919)
      cmds.push_back(std::make_shared<LoadDamaged>(kRefusals[i], k, i % 2 ? Via::Load : Via::Update, pick));
  };
  auto gemms = [&] {
    for (std::uint64_t pick : {0, 5, 11}) cmds.push_back(std::make_shared<Gemm>(3, pick % 2 ? GemmMode::W4A4 : GemmMode::W4A16, pick));
  };
  gemms();                                                    // GEMM before a load
  cmds.push_back(std::make_shared<Process>(wc.backend));      // processing before a load
  refusals(0);                                                // every refusal of a first load
  cmds.push_back(std::make_shared<LoadPool>(1, Via::Update)); // a first load by update_weights_from_disk
  cmds.push_back(std::make_shared<LoadPool>(2, Via::Load));   // two loads in a row
  cmds.push_back(std::make_shared<LoadPool>(kOtherShapes, Via::Load));  // other shapes: refused
  gemms();                                                    // GEMM before processing
  refusals(0);                                                // every refusal before processing
  cmds.push_back(std::make_shared<LoadPool>(0, Via::Update)); // a reload before processing
  cmds.push_back(std::make_shared<Process>(other_backend));   // processing for the other backend first
  cmds.push_back(std::make_shared<Process>(wc.backend));
  cmds.push_back(std::make_shared<Process>(wc.backend));      // processing twice
  gemms();
  refusals(1);                                                // every refusal after processing
  cmds.push_back(std::make_shared<LoadPool>(kOtherShapes, Via::Update));
  cmds.push_back(std::make_shared<LoadPool>(1, Via::Load));   // load_weights as a reload
  cmds.push_back(std::make_shared<LoadPool>(2, Via::Update));
  cmds.push_back(std::make_shared<Process>(other_backend)); // a backend change after processing
  gemms();
  cmds.push_back(std::make_shared<LoadPool>(0, Via::Update)); // a reload after the change
  cmds.push_back(std::make_shared<Process>(wc.backend));      // and back
  gemms();
  Sut s = make_sut(pool);
  try {
    rc::state::runAll(cmds, pool->model(), s);
  } catch (const rc::detail::CaseResult& r) {  // what RC_FAIL throws outside a property
    FAIL() << r.description;
  }
}

INSTANTIATE_TEST_SUITE_P(Models, ReloadOrders,
                         ::testing::Values(WalkCase{"dense_cutlass", Backend::Cutlass, 0, 64},
                                           WalkCase{"moe_cutlass_h48", Backend::Cutlass, 2, 48},
                                           WalkCase{"moe_trtllm", Backend::Trtllm, 2, 64}),
                         [](const auto& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace nvfp4
