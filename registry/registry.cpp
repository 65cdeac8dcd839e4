#include "registry/registry.h"

#include "core/error.h"
#include "optimized/optimized_pipeline.h"
#include "reference/reference_pipeline.h"

namespace nvfp4 {

const std::vector<std::string>& pipeline_names() {
  static const std::vector<std::string> names{"reference", "optimized"};
  return names;
}

std::unique_ptr<Pipeline> make_pipeline(const std::string& name, Backend b) {
  if (name == "reference") return std::make_unique<ref::ReferencePipeline>();
  if (name == "optimized") return std::make_unique<opt::OptimizedPipeline>(b);
  throw Error(ErrorKind::Usage, "", "", "unknown pipeline \"" + name + "\" (reference or optimized)");
}

}  // namespace nvfp4
