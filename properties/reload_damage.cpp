// LoadDamaged (properties/reload_commands.h): a damaged copy of a pool checkpoint, loaded by
// either call, which both pipelines must refuse with the same one-line message.
#include <rapidcheck.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>

#include "core/test/rewrite_in_place.h"
#include "core/safetensors.h"
#include "generator/encoders.h"
#include "properties/faults.h"
#include "properties/reload_commands.h"

namespace nvfp4::reload_props {
namespace {

namespace fs = std::filesystem;

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
// tools/test/hostile_reload_test.cpp (core/test/rewrite_in_place.h). The files' times are set back first: a rewrite within the
// filesystem's timestamp granularity would otherwise leave them unchanged.
class RewriteAtFirstView {
 public:
  explicit RewriteAtFirstView(const fs::path& dir) {
    for (const auto& e : fs::directory_iterator(dir))
      fs::last_write_time(e.path(), fs::last_write_time(e.path()) - std::chrono::hours(1));
    SafetensorsFile::set_view_hook_for_testing([this](const std::string& label, const std::string&) {
      if (done_) return;
      done_ = true;
      testdata::fill_data_section_in_place(label);
    });
  }
  ~RewriteAtFirstView() { SafetensorsFile::set_view_hook_for_testing({}); }
  RewriteAtFirstView(const RewriteAtFirstView&) = delete;
  RewriteAtFirstView& operator=(const RewriteAtFirstView&) = delete;
  bool done() const { return done_; }

 private:
  bool done_ = false;
};

}  // namespace

int LoadDamaged::base(const Model& m) const {
  if (m.committed < 0) return k;
  return shapes_of(m.committed) == 1 ? kOtherShapes : k % kOtherShapes;
}

std::string LoadDamaged::write(const Pool& pool, int b, const fs::path& dir, bool first_load) const {
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

void LoadDamaged::run(const Model& m, Sut& s) const {
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

void LoadDamaged::show(std::ostream& os) const {
  os << via_name(via) << " " << info(r).name << " (copy of pool checkpoint " << k << " or of the committed shapes, pick " << pick << ")";
}

}  // namespace nvfp4::reload_props
