#include "core/error.h"
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
  p->load_weights(c);
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
