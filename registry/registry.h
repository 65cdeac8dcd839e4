// The one registry of pipelines (docs/architecture.md#registry): the CLI, the properties, the fuzz
// targets and the benches make pipelines here, by name, so each of them runs every pipeline there
// is. One table: each entry its name, how to make it, and what its reloads promise to keep (which
// the checks hold it to).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "checks/reload.h"
#include "core/pipeline.h"

namespace nvfp4 {

struct PipelineKind {
  std::string name;
  // A pipeline that will be processed for backend b. The optimized pipeline sizes its buffers for b
  // at create_weights; the reference derives everything afresh and takes any backend.
  std::unique_ptr<Pipeline> (*make)(Backend b);
  checks::ReloadPromise reload;
};

// The reference first (the oracle every other pipeline is judged against), then the pipelines
// under test.
const std::vector<PipelineKind>& pipelines();
// The entry named `name`; throws Usage for a name not in the table.
const PipelineKind& pipeline_kind(const std::string& name);
// The table's names, in its order.
const std::vector<std::string>& pipeline_names();
std::unique_ptr<Pipeline> make_pipeline(const std::string& name, Backend b);
// "both pipelines" (or "all N pipelines"), for report lines that speak of every one.
std::string every_pipeline();

}  // namespace nvfp4
