#include "core/error.h"
#include "core/module_map.h"
#include "core/safetensors.h"
#include "tools/cli/args.h"
#include "tools/cli/cli.h"
#include "registry/registry.h"

namespace nvfp4::cli {

int cmd_gemm(const std::vector<std::string>& argv, std::ostream& out) {
  Args a(argv, {"module", "expert", "proj", "input", "out", "mode", "pipeline", "backend"}, {});
  // Every argument is checked before any file is opened: a usage error is reported as one.
  const std::string dir = a.positional_at(0, "checkpoint directory CKPT");
  const std::string file = a.output("out", dir);
  GemmTarget t{a.require("module"), static_cast<int>(a.get_int("expert", -1, 0, 1 << 20)), a.get("proj", "")};
  std::string in = a.require("input");
  GemmMode mode = parse_gemm_mode(a.require("mode"));
  Backend b = parse_backend(a.get("backend", "cutlass"));
  auto p = make_pipeline(a.get("pipeline", "reference"), b);
  Checkpoint c = open_quantized(dir);
  SafetensorsFile xf = SafetensorsFile::open(in);
  if (!xf.find("x")) throw Error(ErrorKind::BadInput, in, "x", "input file has no tensor named x");
  Tensor x = xf.tensor("x");
  if (x.dim() != 2) throw Error(ErrorKind::BadInput, in, "x", "expected [M, K], found " + describe(x));
  // Only the module multiplied is loaded (issue 10: independent of the checkpoint's size), after
  // the module, expert and K are checked against the headers, before any weight byte is read.
  const ModelSpec spec = map_modules(c);
  const std::vector<ModuleUnit> units = module_units(c, spec);
  const ModuleUnit* unit = nullptr;
  for (const auto& u : units)
    if (u.name == t.module) unit = &u;
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
  p->load_weights(c.subset(unit->tensors));
  p->process_weights_after_loading(b);
  Tensor y;
  try {
    y = p->gemm(t, x, mode);
  } catch (const Error& e) {
    // Problems with x belong to the input file; the rest (module, expert) to the checkpoint.
    if (!e.file().empty()) throw;
    throw Error(e.kind(), e.tensor() == "x" ? in : c.dir().string(), e.tensor(), e.problem());
  }
  write_safetensors(file, {{"y", y}}, {{"pipeline", p->name()}, {"mode", gemm_mode_name(mode)}, {"backend", backend_name(b)}});
  out << "y " << describe(y) << " written to " << file << " (" << p->name() << ", " << gemm_mode_name(mode) << ")\n";
  return 0;
}

}  // namespace nvfp4::cli
