#include <nlohmann/json.hpp>

#include "core/safetensors.h"
#include "tools/cli/args.h"
#include "tools/cli/cli.h"
#include "registry/registry.h"

namespace nvfp4::cli {

int cmd_process(const std::vector<std::string>& argv, std::ostream& out) {
  Args a(argv, {"pipeline", "backend", "out"}, {});
  const std::string dir = a.positional_at(0, "checkpoint directory CKPT");
  const std::string file = a.output("out", dir);
  Checkpoint c = open_quantized(dir);
  Backend b = parse_backend(a.get("backend", "cutlass"));
  auto p = make_pipeline(a.get("pipeline", "reference"), b);
  p->load_weights(c);
  p->process_weights_after_loading(b);
  // Every parameter name after post-processing, aliases included as their own tensors (a
  // safetensors file cannot share bytes between names) and listed in __metadata__. Nothing names
  // the pipeline, so the two pipelines' files can be compared byte for byte.
  std::vector<TensorToWrite> ts;
  nlohmann::json aliases = nlohmann::json::object();
  for (const auto& [mname, m] : p->modules())
    for (const auto& [pname, param] : m.entries()) {
      ts.push_back({mname + "." + pname, param->data});
      std::string target = m.alias_of(pname);
      if (!target.empty()) aliases[mname + "." + pname] = mname + "." + target;
    }
  write_safetensors(file, ts, {{"backend", backend_name(b)}, {"aliases", aliases.dump()}});
  out << "wrote " << ts.size() << " parameters of " << p->modules().size() << " modules (" << p->name() << ", "
      << backend_name(b) << ") to " << file << "\n";
  return 0;
}

}  // namespace nvfp4::cli
