// Uses the installed nvfp4 package as an engine's test would: write a small MoE checkpoint, load
// it into the reference oracle and the optimized pipeline, and check that they agree (every name,
// alias, byte and reconciliation report) with the suite's own check.
#include <cstdio>
#include <filesystem>

#include "checks/agreement.h"
#include "generator/checkpoint_writer.h"
#include "optimized/optimized_pipeline.h"
#include "reference/reference_pipeline.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const std::filesystem::path dir = argv[1];
  nvfp4::WriterOptions o;
  o.experts = 2;
  nvfp4::write_checkpoint_streaming(dir, o, 1);
  const nvfp4::Checkpoint c = nvfp4::Checkpoint::open(dir);
  nvfp4::ref::ReferencePipeline ref;
  nvfp4::opt::OptimizedPipeline opt(nvfp4::Backend::Trtllm);
  for (nvfp4::Pipeline* p : {static_cast<nvfp4::Pipeline*>(&ref), static_cast<nvfp4::Pipeline*>(&opt)}) {
    p->load_weights(c);
    p->process_weights_after_loading(nvfp4::Backend::Trtllm);
  }
  const nvfp4::checks::Result r = nvfp4::checks::agreement(ref, opt);
  std::printf("%s: %s\n", r.name.c_str(), r.detail.c_str());
  return r.ok ? 0 : 1;
}
