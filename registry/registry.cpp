#include "registry/registry.h"

#include "core/error.h"
#include "optimized/optimized_pipeline.h"
#include "reference/reference_pipeline.h"

namespace nvfp4 {

const std::vector<PipelineKind>& pipelines() {
  static const std::vector<PipelineKind> table{
      // Derives everything afresh on each processing; keeps its Parameter objects across reloads.
      {"reference", [](Backend) -> std::unique_ptr<Pipeline> { return std::make_unique<ref::ReferencePipeline>(); },
       {Same::Identities, false}},
      // Preallocated and in place, as an engine under CUDA graphs must be: a reload keeps every
      // storage address and allocates nothing.
      {"optimized", [](Backend b) -> std::unique_ptr<Pipeline> { return std::make_unique<opt::OptimizedPipeline>(b); },
       {Same::Addresses, true}},
  };
  return table;
}

const PipelineKind& pipeline_kind(const std::string& name) {
  std::string known;
  for (const auto& k : pipelines()) {
    if (k.name == name) return k;
    known += (known.empty() ? "" : ", ") + k.name;
  }
  throw Error(ErrorKind::Usage, "", "", "unknown pipeline \"" + name + "\" (" + known + ")");
}

const std::vector<std::string>& pipeline_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> r;
    for (const auto& k : pipelines()) r.push_back(k.name);
    return r;
  }();
  return names;
}

std::unique_ptr<Pipeline> make_pipeline(const std::string& name, Backend b) { return pipeline_kind(name).make(b); }

std::string every_pipeline() {
  const std::size_t n = pipelines().size();
  return n == 2 ? "both pipelines" : "all " + std::to_string(n) + " pipelines";
}

}  // namespace nvfp4
