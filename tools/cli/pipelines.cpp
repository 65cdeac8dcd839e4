#include "tools/cli/pipelines.h"

#include "core/error.h"
#include "reference/reference_pipeline.h"

namespace nvfp4::cli {

std::vector<std::string> pipeline_names() { return {"reference"}; }

std::unique_ptr<Pipeline> make_pipeline(const std::string& name) {
  if (name == "reference") return std::make_unique<ref::ReferencePipeline>();
  if (name == "optimized")
    throw Error(ErrorKind::Usage, "", "", "the optimized pipeline is not part of this build yet; use --pipeline reference");
  throw Error(ErrorKind::Usage, "", "", "unknown pipeline \"" + name + "\" (reference)");
}

}  // namespace nvfp4::cli
