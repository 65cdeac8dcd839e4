// The one registry of pipelines (docs/architecture.md#registry): the CLI, the properties, the fuzz targets and the
// benches all make pipelines here, by name, so each of them runs every pipeline there is.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/pipeline.h"

namespace nvfp4 {

// {"reference", "optimized"}
const std::vector<std::string>& pipeline_names();
// A pipeline that will be processed for backend b. The optimized pipeline sizes its buffers for b
// at create_weights; the reference derives everything afresh and takes any backend.
std::unique_ptr<Pipeline> make_pipeline(const std::string& name, Backend b);

}  // namespace nvfp4
