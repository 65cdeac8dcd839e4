#include "core/error.h"
#include "core/module_map.h"
#include "core/safetensors.h"
#include "tools/cli/cli.h"
#include "registry/registry.h"

namespace nvfp4::cli {

namespace {
struct GemmArgs {
  std::string dir, module, proj, input, out, mode, pipeline = "reference", backend = "cutlass";
  std::int64_t expert = -1;
};

// The unit holding t: its module, of an experts module the chunk of one expert holding t.expert
// (module_units with 1-byte chunks); nullptr when no module has that name.
const ModuleUnit* unit_of(const std::vector<ModuleUnit>& units, const GemmTarget& t) {
  const ModuleUnit* unit = nullptr;
  for (const auto& u : units)
    if (u.module == t.module && (unit == nullptr || u.first_expert <= t.expert)) unit = &u;
  return unit;
}

int gemm(const GemmArgs& a, std::ostream& out) {
  // Every argument is checked before any file is opened: a usage error is reported as one.
  const std::string &dir = a.dir, &file = a.out, &in = a.input;
  check_output(file, "--out", dir);
  GemmTarget t{a.module, static_cast<int>(a.expert), a.proj};
  GemmMode mode = parse_gemm_mode(a.mode);
  Backend b = parse_backend(a.backend);
  auto p = make_pipeline(a.pipeline, b);
  Checkpoint c = open_quantized(dir);
  SafetensorsFile xf = SafetensorsFile::open(in);
  if (!xf.find("x")) throw Error(ErrorKind::BadInput, in, "x", "input file has no tensor named x");
  Tensor x = xf.tensor("x");
  if (x.dim() != 2) throw Error(ErrorKind::BadInput, in, "x", "expected [M, K], found " + describe(x));
  // Only the module multiplied is loaded (independent of the checkpoint's size), and of an
  // experts module only the expert multiplied (a chunk of one, renumbered from 0, that carries the
  // layer's input-scale maxima: the same y as with the whole layer loaded), after the module,
  // expert and K are checked against the headers, before any weight byte is read.
  const ModelSpec spec = map_modules(c);
  const std::vector<ModuleUnit> units = module_units(c, spec, 1);
  const ModuleUnit* unit = unit_of(units, t);
  if (!unit) throw Error(ErrorKind::BadInput, c.dir().string(), t.module, "no such quantized module");
  std::int64_t K = -1;
  for (const auto& l : spec.linears)
    if (l.name == t.module) K = l.K;
  for (const auto& xs : spec.experts)
    if (xs.name == t.module) {
      if (t.expert < 0 || t.expert >= xs.E)
        throw Error(ErrorKind::BadInput, c.dir().string(), t.module,
                    "expert " + std::to_string(t.expert) + " out of range [0, " + std::to_string(xs.E) + ")");
      K = t.proj == "w13" ? xs.H : t.proj == "w2" ? xs.I : x.size(1);  // a bad --proj: the pipeline names it
    }
  if (x.size(1) != K)
    throw Error(ErrorKind::BadInput, in, "x", "shape " + shape_str(x.shape()) + " does not match K = " + std::to_string(K) + " of " + t.module +
                                              (t.proj.empty() ? "" : " " + t.proj));
  p->load_weights(unit_view(c, spec, *unit));
  p->process_weights_after_loading(b);
  GemmTarget in_view = t;
  if (t.expert >= 0) in_view.expert = t.expert - static_cast<int>(unit->first_expert);
  Tensor y;
  try {
    y = p->gemm(in_view, x, mode);
  } catch (const Error& e) {
    // Problems with x belong to the input file; the rest (module, expert) to the checkpoint.
    if (!e.file().empty()) throw;
    throw Error(e.kind(), e.tensor() == "x" ? in : c.dir().string(), e.tensor(), e.problem());
  }
  write_safetensors(file, {{"y", y}}, {{"pipeline", p->name()}, {"mode", gemm_mode_name(mode)}, {"backend", backend_name(b)}});
  out << "y " << describe(y) << " written to " << file << " (" << p->name() << ", " << gemm_mode_name(mode) << ")\n";
  return 0;
}
}  // namespace

Runner define_gemm(CLI::App& sub) {
  auto a = std::make_shared<GemmArgs>();
  sub.add_option("CKPT", a->dir, "checkpoint directory")->required();
  sub.add_option("--module", a->module, "quantized module to multiply (as nvfp4 inspect names it)")->required();
  sub.add_option("--expert", a->expert, "expert index, for an experts module")->check(int_range(0, 1 << 20));
  sub.add_option("--proj", a->proj, "expert projection, for an experts module")->check(one_of({"w13", "w2"}));
  sub.add_option("--input", a->input, "safetensors file holding tensor x [M, K] (F32, BF16 or F16)")->required();
  sub.add_option("--out", a->out, "safetensors file to write tensor y [M, N] to, in x's dtype")->required();
  sub.add_option("--mode", a->mode, "w4a4: activations quantized to NVFP4 with the input scale; w4a16: activations as given")
      ->required()
      ->check(one_of({"w4a4", "w4a16"}));
  sub.add_option("--pipeline", a->pipeline, "reference: the exact oracle (one rounding); optimized: the kernels, within their bound")
      ->check(one_of({"reference", "optimized"}))
      ->capture_default_str();
  sub.add_option("--backend", a->backend, "MoE backend whose layouts are multiplied")->check(one_of({"cutlass", "trtllm"}))->capture_default_str();
  sub.footer(
      "Loads only the module multiplied, after checking the module, expert and K against the headers.\n"
      "Example:\n"
      "  nvfp4 gemm /tmp/tiny --module model.layers.0.mlp.down_proj --input x.safetensors --out y.safetensors --mode w4a16");
  return [a](std::ostream& out) { return gemm(*a, out); };
}

}  // namespace nvfp4::cli
