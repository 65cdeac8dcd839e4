// `nvfp4 process`'s streaming, apart so that tests can chunk a small checkpoint's experts at any
// byte size: every parameter after post-processing written to one safetensors file, unit by unit
// (core/module_map.h module_units). A linear module or a whole experts layer is loaded from a view
// holding only its tensors; a layer's experts larger than max_experts_bytes go a chunk of whole
// experts at a time (unit_view: renumbered from 0, carrying the layer's input-scale maxima), each
// [E, ...] parameter growing by the chunk's experts. Either way the file holds the bytes that
// processing the whole checkpoint in one pipeline writes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/checkpoint.h"
#include "core/pipeline.h"
#include "core/safetensors.h"

namespace nvfp4::cli {

struct ProcessedCounts {
  std::size_t params = 0, modules = 0;
  bool planned = false;  // written once, straight into place (below); false: through a temporary data file
};

// The file is planned first: one unit of each kind (the same tensors, dtypes and shapes up to the
// numbers in their names) is processed to learn every parameter's name, dtype and shape, so that
// the header is known and each unit's bytes go straight into place (PlannedSafetensorsWriter),
// written once. Where a unit fails to process while planning, or a later unit's parameters differ
// from its kind's, the file is written as before instead: every tensor appended to a temporary data
// file, then copied into the file in the header's order (StreamingSafetensorsWriter). Both give the
// same bytes.
// max_experts_bytes 0: whole layers. on_unit(name, units) after each unit is written, in order
// (units: how many in all). jobs: units processed at once on as many threads, each written in
// checkpoint order when its turn comes (the same file; memory bounded by `jobs` units); an error
// is the first failing unit's in checkpoint order, as one job would report it.
ProcessedCounts process_streaming(const Checkpoint& c, const std::string& pipeline, Backend b, const std::string& file,
                                  std::uint64_t max_experts_bytes,
                                  const std::function<void(const std::string& unit, std::size_t units)>& on_unit = {},
                                  int jobs = 1);

namespace process_testing {
// Called on every planned parameter (its name in the module, its shape, the parameter it aliases or
// "") of each kind's unit, before the file is planned from them (tests: a plan that the units then
// contradict, to see the fallback write the same bytes). Empty by default.
extern std::function<void(const std::string& parameter, Shape& shape, std::string& alias)> perturb_plan;
}  // namespace process_testing

}  // namespace nvfp4::cli
