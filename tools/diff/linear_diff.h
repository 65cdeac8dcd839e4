// One linear module of an engine dump against the checkpoint, decoded through the engine's
// conventions row (tools/diff/conventions.h: the packed weight's name and padding, where the
// swizzled block scales live and whether the loaded ones stay, how the scalars are derived;
// conventions_sglang.cpp and conventions_vllm.cpp hold the rows and their sources).
// Neither engine reconciles shards whose global scales differ: both keep the max decode scale
// (ModelOpt) or the max encode scale (compressed-tensors, so the *smallest* decode scale), and the
// block scales.
#pragma once
#include "core/checkpoint.h"
#include "core/module_map.h"
#include "tools/diff/conventions.h"
#include "tools/diff/engine_dump.h"
#include "tools/diff/module_diff.h"

namespace nvfp4::diff {

// `c` holds at least this module's tensors. Semantic: the engine's codes and block scales,
// decoded through its layout, dequantize under the common global scale its alpha carries to the
// checkpoint's own values (exactly where a shard's scale is the common one, within the E4M3
// rounding of a reconcile elsewhere), and its scalars are the ones the checkpoint implies.
// Layout: every tensor's bytes equal the reference's post-processing under the row's
// conventions, padding zero. Throws BadInput when a tensor's shape cannot come from this module.
ModuleDiff diff_linear(const LinearSpec& s, const Checkpoint& c, const EngineDump& d, const LinearConvention& row);

}  // namespace nvfp4::diff
