// The registry of pipelines the CLI can run, by name.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/pipeline.h"

namespace nvfp4::cli {

std::vector<std::string> pipeline_names();
std::unique_ptr<Pipeline> make_pipeline(const std::string& name);

}  // namespace nvfp4::cli
