// `nvfp4 process CKPT --out FILE`: every parameter after post-processing, written module by module
// (issue 10): each module is loaded from a view of the checkpoint holding only its tensors,
// processed, appended to the output and released, so memory is bounded by the largest module. The
// file is byte for byte what processing the whole checkpoint at once writes (property
// streaming_process in properties/), and both pipelines write identical files.
#include <malloc.h>

#include <nlohmann/json.hpp>

#include "core/safetensors.h"
#include "registry/registry.h"
#include "tools/cli/args.h"
#include "tools/cli/cli.h"

namespace nvfp4::cli {

int cmd_process(const std::vector<std::string>& argv, std::ostream& out) {
  Args a(argv, {"pipeline", "backend", "out"}, {});
  const std::string dir = a.positional_at(0, "checkpoint directory CKPT");
  const std::string file = a.output("out", dir);
  Checkpoint c = open_quantized(dir);
  Backend b = parse_backend(a.get("backend", "cutlass"));
  const std::string pipeline = a.get("pipeline", "reference");
  make_pipeline(pipeline, b);  // an unknown pipeline is a usage error before any work
  const std::vector<ModuleUnit> units = module_units(c, map_modules(c));
  // Every parameter name after post-processing, aliases included as their own tensors (a
  // safetensors file cannot share bytes between names) and listed in __metadata__. Nothing names
  // the pipeline, so the two pipelines' files can be compared byte for byte.
  StreamingSafetensorsWriter w(file);
  nlohmann::json aliases = nlohmann::json::object();
  std::size_t params = 0;
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
  }
  w.finish({{"backend", backend_name(b)}, {"aliases", aliases.dump()}});
  out << "wrote " << params << " parameters of " << units.size() << " modules (" << pipeline << ", " << backend_name(b) << ") to " << file
      << "\n";
  return 0;
}

}  // namespace nvfp4::cli
