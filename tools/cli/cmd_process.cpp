// `nvfp4 process CKPT --out FILE`: every parameter after post-processing, written module by
// module: each module is loaded from a view of the checkpoint holding only its tensors,
// processed, appended to the output and released, so memory is bounded by the largest module. The
// file is byte for byte what processing the whole checkpoint at once writes (property
// streaming_process in properties/), and both pipelines write identical files.
#include <malloc.h>

#include <nlohmann/json.hpp>

#include "core/safetensors.h"
#include "registry/registry.h"
#include "tools/cli/cli.h"
#include "tools/cli/progress.h"

namespace nvfp4::cli {

namespace {
struct ProcessArgs {
  std::string dir, out, pipeline = "reference", backend = "cutlass";
};

int process(const ProcessArgs& a, std::ostream& out) {
  const std::string &dir = a.dir, &file = a.out, &pipeline = a.pipeline;
  check_output(file, "--out", dir);
  Checkpoint c = open_quantized(dir);
  Backend b = parse_backend(a.backend);
  const std::vector<ModuleUnit> units = module_units(c, map_modules(c));
  // Every parameter name after post-processing, aliases included as their own tensors (a
  // safetensors file cannot share bytes between names) and listed in __metadata__. Nothing names
  // the pipeline, so the two pipelines' files can be compared byte for byte.
  StreamingSafetensorsWriter w(file);
  nlohmann::json aliases = nlohmann::json::object();
  std::size_t params = 0;
  Progress progress(units.size(), false);
  for (const auto& u : units) {
    auto p = make_pipeline(pipeline, b);
    p->load_weights(c.subset(u.tensors));
    p->process_weights_after_loading(b);
    for (const auto& [mname, m] : p->modules())
      for (const auto& [pname, param] : m.entries()) {
        w.add(mname + "." + pname, param->data);
        ++params;
        std::string target = m.alias_of(pname);
        if (!target.empty()) aliases[mname + "." + pname] = mname + "." + target;
      }
    p.reset();
    c.release(u.tensors);
    ::malloc_trim(0);
    progress.step(u.name);
  }
  progress.done();
  w.finish({{"backend", backend_name(b)}, {"aliases", aliases.dump()}});
  out << "wrote " << params << " parameters of " << units.size() << " modules (" << pipeline << ", " << backend_name(b) << ") to " << file
      << "\n";
  return 0;
}
}  // namespace

Runner define_process(CLI::App& sub) {
  auto a = std::make_shared<ProcessArgs>();
  sub.add_option("CKPT", a->dir, "checkpoint directory")->required();
  sub.add_option("--out", a->out, "safetensors file to write (atomically: a temporary file renamed into place)")->required();
  sub.add_option("--pipeline", a->pipeline, "which pipeline post-processes")->check(one_of({"reference", "optimized"}))->capture_default_str();
  sub.add_option("--backend", a->backend, "MoE backend whose layouts are produced")->check(one_of({"cutlass", "trtllm"}))->capture_default_str();
  sub.footer(
      "Every parameter name after post-processing, aliases written as their own tensors and listed in\n"
      "__metadata__; nothing names the pipeline, so both pipelines' files compare byte for byte.\n"
      "Examples:\n"
      "  nvfp4 process /tmp/tiny --out /tmp/ref.safetensors\n"
      "  nvfp4 process /tmp/tiny --out /tmp/opt.safetensors --pipeline optimized && cmp /tmp/ref.safetensors /tmp/opt.safetensors");
  return [a](std::ostream& out) { return process(*a, out); };
}

}  // namespace nvfp4::cli
