// One experts module of an engine dump against the checkpoint, decoded through the engine's
// conventions row (tools/diff/conventions.h: names, prefix, w13 row order, padding, layout, which
// global scale each half's alpha applies, how the scalars are derived; conventions_sglang.cpp and
// conventions_vllm.cpp hold the rows and their sources).
#pragma once
#include <string>

#include "core/checkpoint.h"
#include "core/module_map.h"
#include "tools/diff/conventions.h"
#include "tools/diff/engine_dump.h"
#include "tools/diff/module_diff.h"

namespace nvfp4::diff {

// As diff_linear: semantic (codes and block scales through the row's order, padding, shuffle and
// swizzle, dequantized under the global scale each half's alpha applies; scalars) and layout (bytes
// of the reference's post-processing under the row's conventions, no reconcile). Names in the
// result carry the row's prefix.
ModuleDiff diff_experts(const ExpertsSpec& s, const Checkpoint& c, const EngineDump& d, const ExpertsConvention& row);

}  // namespace nvfp4::diff
